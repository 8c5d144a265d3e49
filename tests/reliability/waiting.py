"""One way for the reliability tests to await a condition another thread or process makes
true (a job ran, a file appeared): poll it with a deadline, fail naming what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable


def await_until(
    condition: Callable[[], bool], timeout: float, what: Callable[[], str], step: float = 0.02
) -> None:
    """Return once ``condition()`` is true; AssertionError with ``what()`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what()}")
        time.sleep(step)
