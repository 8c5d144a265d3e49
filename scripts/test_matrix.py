"""Run the browser-free part of the suite on every other Python this machine has (``make test``).

``make test`` runs the whole suite on the main interpreter (the one in ``.venv``); this script
then runs :data:`SUBSET` -- the tests that need no browser, JupyterLab or kernel -- on each
*other* CPython >= 3.10 it can find, one after the other, each in its own virtualenv under
``.cache/venvs/py3.X`` (created on first use, reused while ``pyproject.toml`` and the
requirements stay the same).

Where interpreters come from, first found wins per minor version:
``NBSCHED_PYTHONS`` (paths, separated by spaces or ``os.pathsep``; when set, nothing else is
searched), pyenv's ``versions`` folder, uv's managed Pythons, then ``python3.X`` on ``PATH``
and in ``/usr/bin``. A supported version (:data:`SUPPORTED`) that none of these provides is
installed with uv, pyenv or apt-get when one of them is available.

Outcomes. Any test failure fails the run. An interpreter whose virtualenv cannot be set up,
or a supported version that cannot be found or installed, is a warning on a developer machine
and a failure under ``CI=true``: CI must not go green by testing fewer Pythons. pytest's exit
status 5 ("no tests collected") counts as a pass with a note -- it is what a subset that has
nothing for an interpreter returns -- while every other non-zero status is a failure.

Usage: ``python scripts/test_matrix.py [--list] [--only 3.12,3.13] [-- pytest args]``.
``NBSCHED_MATRIX=0`` skips the matrix (``make test`` then runs the main suite only).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".cache" / "venvs"

#: The minor versions nbsched supports (README, pyproject's requires-python) and tests.
SUPPORTED = ((3, 10), (3, 11), (3, 12), (3, 13))
MINIMUM = SUPPORTED[0]

#: Tests that run without a browser, JupyterLab or a kernel. Service-backed store tests are
#: included (``make test`` starts the services first).
SUBSET = [
    "tests/triggers",
    "tests/engine",
    "tests/executors",
    "tests/jobstores",
    "tests/persistence",
    "tests/reliability",
    "tests/test_cli.py",
    "tests/test_runcontext.py",
]

PYTEST_NO_TESTS = 5
SETUP_TIMEOUT = 1200
PROBE = "import sys, platform; print(platform.python_implementation(), *sys.version_info[:3])"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def dotted(minor: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in minor)


def log(message: str) -> None:
    print(f"[matrix] {message}", flush=True)


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: tuple[int, int, int]

    @property
    def minor(self) -> tuple[int, int]:
        return self.version[:2]

    @property
    def name(self) -> str:
        return dotted(self.minor)

    @property
    def venv(self) -> Path:
        return VENVS / f"py{self.name}"


def probe(path: str) -> Interpreter | None:
    """The interpreter at ``path`` if it is a working CPython >= 3.10, else None."""
    try:
        out = subprocess.run(
            [path, "-c", PROBE], capture_output=True, text=True, timeout=30, check=True
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) != 4 or out[0] != "CPython":
        return None
    version = tuple(int(part) for part in out[1:])
    if version[:2] < MINIMUM:
        return None
    return Interpreter(path, version)  # type: ignore[arg-type]


def candidate_paths() -> list[str]:
    explicit = os.environ.get("NBSCHED_PYTHONS", "").replace(os.pathsep, " ").split()
    if explicit:
        return explicit
    paths: list[str] = []
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    paths += sorted(glob.glob(os.path.join(pyenv_root, "versions", "*", "bin", "python3")))
    uv_dir = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.expanduser(
        "~/.local/share/uv/python"
    )
    paths += sorted(glob.glob(os.path.join(uv_dir, "cpython-*", "bin", "python3")))
    for minor in range(MINIMUM[1], 40):
        found = shutil.which(f"python3.{minor}")
        if found:
            paths.append(found)
        if os.path.exists(f"/usr/bin/python3.{minor}"):
            paths.append(f"/usr/bin/python3.{minor}")
    return paths


def discover() -> dict[tuple[int, int], Interpreter]:
    found: dict[tuple[int, int], Interpreter] = {}
    seen: set[str] = set()
    for path in candidate_paths():
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        interpreter = probe(path)
        if interpreter is not None and interpreter.minor not in found:
            found[interpreter.minor] = interpreter
    return found


def try_install(minor: tuple[int, int]) -> None:
    """Install a missing supported Python with whatever installer the machine has."""
    name = dotted(minor)
    attempts: list[list[str]] = []
    if shutil.which("uv"):
        attempts.append(["uv", "python", "install", name])
    if shutil.which("pyenv"):
        attempts.append(["pyenv", "install", "--skip-existing", name])
    if shutil.which("apt-get") and os.geteuid() == 0:
        available = subprocess.run(
            ["apt-cache", "show", f"python{name}-venv"], capture_output=True
        ).returncode == 0
        if available:
            attempts.append(
                ["apt-get", "install", "-y", "-q", f"python{name}", f"python{name}-venv"]
            )
    for command in attempts:
        log(f"Python {name} not found; trying: {' '.join(command)}")
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        except (OSError, subprocess.SubprocessError) as exc:
            log(f"  failed: {exc}")
            continue
        if result.returncode == 0:
            return
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
        log(f"  failed (exit {result.returncode}): {tail[0]}")


def install_spec() -> list[str]:
    """What to install into a matrix virtualenv: the project with its ``test`` extra."""
    return ["-e", ".[test]"]


def fingerprint(interpreter: Interpreter, spec: list[str]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([interpreter.path, interpreter.version, spec]).encode())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def setup_venv(interpreter: Interpreter) -> str | None:
    """Create or reuse the interpreter's virtualenv; return an error message or None."""
    venv, spec = interpreter.venv, install_spec()
    stamp = venv / ".nbsched-matrix"
    wanted = fingerprint(interpreter, spec)
    python = venv / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return None
    log(f"{interpreter.name}: setting up {venv.relative_to(ROOT)} ({interpreter.path})")
    steps = [
        [interpreter.path, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "--quiet", *spec],
    ]
    for command in steps:
        try:
            result = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, timeout=SETUP_TIMEOUT
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{' '.join(command[:4])}: {exc}"
        if result.returncode != 0:
            errors = [
                line for line in result.stderr.splitlines() if line.startswith("ERROR")
            ] or result.stderr.strip().splitlines()[-3:]
            return f"{' '.join(command[:5])} exited {result.returncode}: " + " | ".join(errors)
    stamp.write_text(wanted)
    return None


def run_subset(interpreter: Interpreter, pytest_args: list[str]) -> int:
    command = [
        str(interpreter.venv / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider",
        "-q", *SUBSET, *pytest_args,
    ]
    log(f"{interpreter.name}: {' '.join(command[1:])}")
    return subprocess.run(command, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="show the interpreters and exit")
    parser.add_argument("--only", help="comma-separated minor versions to run, e.g. 3.12,3.13")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    if os.environ.get("NBSCHED_MATRIX", "1").strip() in ("0", "no", "false"):
        log("NBSCHED_MATRIX=0: skipped")
        return 0

    main_minor = sys.version_info[:2]
    found = discover()
    problems: list[str] = []
    if not os.environ.get("NBSCHED_PYTHONS"):
        missing = [m for m in SUPPORTED if m not in found and m != main_minor]
        for minor in missing:
            try_install(minor)
        if missing:
            found = discover()
        for minor in missing:
            if minor not in found:
                problems.append(f"Python {dotted(minor)}: not found and could not be installed")

    others = [found[m] for m in sorted(found) if m != main_minor]
    if args.only:
        wanted = {tuple(int(p) for p in v.split(".")) for v in args.only.split(",")}
        others = [i for i in others if i.minor in wanted]
    listed = ", ".join(f"{i.name} ({i.path})" for i in others) or "none"
    log(f"main interpreter {dotted(main_minor)} runs the full suite; subset on: {listed}")
    if args.list:
        return 0

    results: list[tuple[str, str, float]] = []
    for interpreter in others:
        started = time.monotonic()
        error = setup_venv(interpreter)
        setup_time = time.monotonic() - started
        if error is not None:
            problems.append(f"Python {interpreter.name}: set-up failed: {error}")
            results.append((interpreter.name, "SET-UP FAILED", setup_time))
            continue
        started = time.monotonic()
        code = run_subset(interpreter, args.pytest_args)
        elapsed = time.monotonic() - started
        if code == 0:
            outcome = "passed"
        elif code == PYTEST_NO_TESTS:
            outcome = "no tests collected (exit 5), counted as passed"
        else:
            outcome = f"FAILED (pytest exit {code})"
        if setup_time >= 1:
            outcome += f", set-up {setup_time:.0f} s"
        results.append((interpreter.name, outcome, elapsed))

    log("summary:")
    for name, outcome, elapsed in results:
        log(f"  Python {name}: {outcome} in {elapsed:.0f} s")
    failed = any(outcome.startswith("FAILED") for _, outcome, _ in results)
    for problem in problems:
        log(("ERROR: " if in_ci() else "warning: ") + problem)
    if problems and in_ci():
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
