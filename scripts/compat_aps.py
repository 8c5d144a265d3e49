"""Run APScheduler 3.11.3's own test suite against nbsched (``make compat-aps``).

What it does, step by step, so the result means what it says:

1. Takes APScheduler's source distribution (``pip download --no-binary :all:``; cached in
   ``.cache/compat-aps/``) and unpacks its ``tests/`` folder.
2. Copies the tests to a scratch folder and replaces the word ``apscheduler`` with ``nbsched``
   everywhere in them: imports, ``monkeypatch``/``patch`` targets and strings, exactly what a
   migrating user's search-and-replace would do.
3. Runs pytest on the copy (against the local Redis for the Redis store tests) and prints, per
   test file, how many tests passed, failed, errored and were skipped.

Options: ``--baseline`` also runs the untouched suite against APScheduler itself, side by side;
``--junit PATH`` keeps the JUnit XML; extra arguments after ``--`` go to pytest (``-- --tb=short``
shows why each test failed).

Exit code: 0 when every failing test is listed in ``tests/compat/KNOWN_FAILURES.md`` (section
"APScheduler's own test suite"), 1 otherwise -- so the command can gate CI.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

VERSION = "3.11.3"
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "compat-aps"
KNOWN = ROOT / "tests" / "compat" / "KNOWN_FAILURES.md"
_WORD = re.compile(r"\bapscheduler\b")
# A known-failure entry: a markdown list item whose first code span is a test node id.
_KNOWN_ENTRY = re.compile(r"^\s*[-*]\s+`(tests/[^`]+)`", re.MULTILINE)


def sdist_tests() -> Path:
    """Return the unpacked ``tests`` folder of APScheduler's sdist, downloading it once."""
    unpacked = CACHE / f"apscheduler-{VERSION}"
    if (unpacked / "tests").is_dir():
        return unpacked / "tests"
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = next(CACHE.glob(f"apscheduler-{VERSION}.tar.gz"), None)
    if archive is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", f"apscheduler=={VERSION}", "-d", str(CACHE)],
            check=True,
        )
        archive = next(CACHE.glob(f"apscheduler-{VERSION}.tar.gz"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name or m.name.endswith("/tests")]
        tar.extractall(CACHE, members=members, filter="data")
    return unpacked / "tests"


def rewrite(src: Path, dst: Path) -> None:
    """Copy the suite, replacing the import prefix in every Python file."""
    shutil.copytree(src, dst)
    for path in dst.rglob("*.py"):
        text = path.read_text()
        path.write_text(_WORD.sub("nbsched", text))


def run_pytest(tests: Path, junit: Path, extra: list[str]) -> int:
    """Run pytest on one copy of the suite; its own rootdir, no project conftest or ini."""
    ini = tests.parent / "pytest.ini"
    ini.write_text(
        "[pytest]\naddopts = -p no:cacheprovider -q --tb=no -rfE --continue-on-collection-errors\n"
        "timeout = 120\n"
        "markers =\n    external_service: needs a server\n"
    )
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", str(tests.parent),
           f"--junitxml={junit}", str(tests), *extra]
    return subprocess.run(cmd, cwd=tests.parent, env=env).returncode


def outcomes(junit: Path) -> dict[str, str]:
    """Map ``tests/file.py::Class::test[param]`` to passed/failed/error/skipped."""
    result: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        if not classname:  # a module that failed to import: pytest names it by module path
            classname, name = name, "<collection>"
        parts = classname.split(".")
        # classname is module path (tests.triggers.test_cron) plus optional class names.
        mod_parts: list[str] = []
        cls_parts: list[str] = []
        for part in parts:
            (cls_parts if (cls_parts or part[:1].isupper()) else mod_parts).append(part)
        node = "/".join(mod_parts) + ".py"
        node = "::".join([node, *cls_parts, name])
        state = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                state = "failed" if child.tag == "failure" else "error"
            elif child.tag == "skipped":
                state = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
        result[node] = state
    return result


def known_failures() -> set[str]:
    """Entries of KNOWN_FAILURES.md's section on this suite: node ids, where ``name[*]``
    stands for every parametrization of ``name`` and ``file.py`` for every test in it."""
    if not KNOWN.exists():
        return set()
    text = KNOWN.read_text()
    start = text.find("## APScheduler's own test suite")
    return set(_KNOWN_ENTRY.findall(text[start:])) if start >= 0 else set()


def is_listed(node: str, known: set[str]) -> bool:
    if node in known:
        return True
    file_part = node.split("::")[0]
    base = node.split("[")[0]
    return file_part in known or f"{base}[*]" in known


def table(results: dict[str, dict[str, str]]) -> None:
    """Print per-file counts, one column group per run."""
    files: dict[str, dict[str, Counter[str]]] = defaultdict(dict)
    for label, res in results.items():
        for node, state in res.items():
            files[node.split("::")[0]].setdefault(label, Counter())[state] += 1
    labels = list(results)
    header = f"{'file':<40}" + "".join(f"{lab + ' pass/fail/err/skip':>34}" for lab in labels)
    print(header)
    print("-" * len(header))
    totals = {lab: Counter() for lab in labels}
    for name in sorted(files):
        row = f"{name:<40}"
        for lab in labels:
            c = files[name].get(lab, Counter())
            totals[lab].update(c)
            row += f"{c['passed']:>16}/{c['failed']}/{c['error']}/{c['skipped'] + c['xfailed']}"
            row = row.ljust(40 + 34 * (labels.index(lab) + 1))
        print(row)
    row = f"{'total':<40}"
    for lab in labels:
        c = totals[lab]
        row += f"{c['passed']:>16}/{c['failed']}/{c['error']}/{c['skipped'] + c['xfailed']}"
        row = row.ljust(40 + 34 * (labels.index(lab) + 1))
    print(row)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="store_true", help="also run it on APScheduler")
    parser.add_argument("--junit", type=Path, help="keep nbsched's JUnit XML here")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    src = sdist_tests()
    results: dict[str, dict[str, str]] = {}
    # APScheduler's Redis tests use the default keys of database 0: two runs at once would
    # see each other's jobs, so runs on one machine take turns.
    lock = open(CACHE / "run.lock", "w")  # noqa: SIM115 - held for the whole run
    fcntl.flock(lock, fcntl.LOCK_EX)
    with tempfile.TemporaryDirectory(prefix="nbsched-compat-aps-") as tmp:
        work = Path(tmp)
        if args.baseline:
            base = work / "aps"
            base.mkdir()
            shutil.copytree(src, base / "tests")
            run_pytest(base / "tests", base / "junit.xml", args.pytest_args)
            results["apscheduler"] = outcomes(base / "junit.xml")
        ours = work / "nbs"
        ours.mkdir()
        rewrite(src, ours / "tests")
        junit = ours / "junit.xml"
        run_pytest(ours / "tests", junit, args.pytest_args)
        results["nbsched"] = outcomes(junit)
        if args.junit:
            shutil.copy(junit, args.junit)

    print()
    table(results)
    known = known_failures()
    bad = sorted(n for n, s in results["nbsched"].items() if s in ("failed", "error"))
    unlisted = [n for n in bad if not is_listed(n, known)]
    passing = [n for n, s in results["nbsched"].items() if s == "passed"]
    fixed = sorted(k for k in known if any(is_listed(n, {k}) for n in passing)
                   and not any(is_listed(n, {k}) for n in bad))
    print(f"\n{len(bad)} failing, {len(bad) - len(unlisted)} of them listed in {KNOWN.name}")
    for node in unlisted:
        print(f"  NOT LISTED: {node}")
    for node in fixed:
        print(f"  listed but passes now (remove it): {node}")
    return 1 if unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
