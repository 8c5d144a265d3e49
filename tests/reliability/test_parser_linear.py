"""A typo in a ``%schedule`` line must never freeze a kernel: parsing is linear in the line.

Before the fix, ``every 111…1- f()`` backtracked exponentially in the duration pattern
(2.3 s for 24 digits, doubling with each digit) and a huge number of seconds raised a raw
OverflowError instead of a one-line SpecError.
"""

from __future__ import annotations

import time

import pytest

from nbsched.notebook.spec import SpecError, parse_duration, parse_line


@pytest.mark.parametrize("digits", [24, 40, 5000])
def test_long_digit_run_with_a_typo_is_rejected_at_once(digits: int) -> None:
    line = "every " + "1" * digits + "- f()"
    start = time.process_time()
    with pytest.raises(SpecError):
        parse_line(line)
    # CPU time, not wall time: a busy machine cannot make this fail, exponential work does
    # (24 digits took 2.3 s of CPU before the fix).
    assert time.process_time() - start < 0.05


def test_parse_time_grows_linearly() -> None:
    def cpu(n: int) -> float:
        start = time.process_time()
        for _ in range(20):
            with pytest.raises(SpecError):
                parse_line("every " + "1" * n + "- f()")
        return time.process_time() - start

    small, large = cpu(500), cpu(8000)
    assert large < max(small, 0.001) * 16 * 4  # 16x the input: well under 64x the time


@pytest.mark.parametrize("text", ["99999999999999999999 s", "9999999999999999w", "9" * 400 + "d"])
def test_absurd_durations_are_a_spec_error(text: str) -> None:
    with pytest.raises(SpecError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"), [("10m", 600), ("1h30m", 5400), ("90 s", 90), ("500ms", 0.5)]
)
def test_valid_durations_still_parse(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds
