"""Differential compatibility suite: every program in ``programs/`` is written against
APScheduler 3.11 imports. It runs once as written (under APScheduler) and once with the import
prefix switched to ``nbsched``; a migrating user expects identical output, so stdout and the exit
code must match exactly.

Programs that nbsched still gets wrong are listed in ``KNOWN_FAILURES`` below (and explained in
KNOWN_FAILURES.md). They are strict xfails: when a fix lands, the XPASS fails the suite so the
entry gets removed rather than silently rotting.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS_DIR = Path(__file__).parent / "programs"
PROGRAMS = sorted(p for p in PROGRAMS_DIR.glob("p*.py"))
TIMEOUT = 90

# program stem -> cause (keep in step with KNOWN_FAILURES.md). Empty: every program matches.
KNOWN_FAILURES: dict[str, str] = {}

_IMPORT_LINE = re.compile(r"^(\s*(?:from|import)\s+)apscheduler\b", re.MULTILINE)

pytestmark = pytest.mark.compat


def to_nbsched(source: str) -> str:
    """Switch the import prefix the way a migrating user would: only import statements change.

    String literals (for example flat ``apscheduler.``-prefixed configuration keys) are left as
    they are, because a user who only edits imports keeps them.
    """
    return _IMPORT_LINE.sub(r"\1nbsched", source)


def run_program(path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(PYTHONHASHSEED="0", TZ="UTC", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=path.parent,
        env=env,
    )


def test_programs_found() -> None:
    assert len(PROGRAMS) >= 10, PROGRAMS


def test_prefix_switch_only_touches_imports() -> None:
    source = (
        "from apscheduler.schedulers.background import BackgroundScheduler\n"
        "import apscheduler.events as ev\n"
        "    from apscheduler import events\n"
        "config = {'apscheduler.timezone': 'UTC'}\n"
    )
    assert to_nbsched(source) == (
        "from nbsched.schedulers.background import BackgroundScheduler\n"
        "import nbsched.events as ev\n"
        "    from nbsched import events\n"
        "config = {'apscheduler.timezone': 'UTC'}\n"
    )


def _params() -> list:
    params = []
    for path in PROGRAMS:
        marks = []
        if path.stem in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[path.stem], strict=True))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.mark.parametrize("path", _params())
def test_program_matches_apscheduler(path: Path, tmp_path: Path) -> None:
    reference = run_program(path)
    # The reference run must itself be clean, otherwise the comparison proves nothing.
    assert reference.returncode == 0, reference.stderr
    assert reference.stdout.strip(), "program printed nothing"

    migrated = tmp_path / path.name
    migrated.write_text(to_nbsched(path.read_text()))
    ours = run_program(migrated)

    assert ours.stdout == reference.stdout, (
        f"stdout differs from APScheduler's\n--- nbsched stderr ---\n{ours.stderr[-3000:]}"
    )
    assert ours.returncode == reference.returncode, ours.stderr[-3000:]


def _show_differences(names: list[str]) -> None:
    """Print a unified diff per program (APScheduler vs nbsched) for writing KNOWN_FAILURES.md."""
    import difflib
    import tempfile

    for path in PROGRAMS:
        if names and path.stem not in names:
            continue
        reference = run_program(path)
        with tempfile.TemporaryDirectory() as directory:
            migrated = Path(directory) / path.name
            migrated.write_text(to_nbsched(path.read_text()))
            ours = run_program(migrated)
        same = ours.stdout == reference.stdout and ours.returncode == reference.returncode
        print(f"=== {path.stem}: {'same' if same else 'DIFFERENT'} "
              f"(exit {reference.returncode} / {ours.returncode})")
        if not same:
            sys.stdout.writelines(difflib.unified_diff(
                reference.stdout.splitlines(keepends=True), ours.stdout.splitlines(keepends=True),
                "apscheduler", "nbsched"))
            print("--- nbsched stderr (tail) ---")
            print(ours.stderr[-1500:])


if __name__ == "__main__":
    _show_differences(sys.argv[1:])
