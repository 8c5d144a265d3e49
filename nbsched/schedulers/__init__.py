"""Schedulers: one engine core (``base``) and thin front ends that only decide how to sleep.

The two errors live here (not in ``base``) so code written for APScheduler 3, which imports
them from ``apscheduler.schedulers``, keeps working after the prefix switch.
"""

from __future__ import annotations

__all__ = ["SchedulerAlreadyRunningError", "SchedulerNotRunningError"]


class SchedulerAlreadyRunningError(Exception):
    """The scheduler was started (or reconfigured) while it is already running."""

    def __str__(self) -> str:
        return "Scheduler is already running"


class SchedulerNotRunningError(Exception):
    """An operation that needs a started scheduler (shutdown, pause) was called on a stopped one."""

    def __str__(self) -> str:
        return "Scheduler is not running"
