"""The fire-time walk the trigger tests compare: the same loop for nbsched's and APScheduler's
triggers (APScheduler's have no ``preview``), so both sides are asked the same questions."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def chain(trigger: Any, count: int, now: datetime) -> list[datetime]:
    """The first ``count`` fire times from ``now``, each asked as of the previous one."""
    times, previous = [], None
    for _ in range(count):
        fire_time = trigger.get_next_fire_time(previous, now)
        if fire_time is None:
            break
        times.append(fire_time)
        previous = now = fire_time
    return times
