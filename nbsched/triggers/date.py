"""The date trigger: fire once, at one moment.

Drop-in for ``apscheduler.triggers.date.DateTrigger``: it fires at ``run_date`` when
asked without a previous fire time and never again once there is one. The only
behavioural difference (see docs/triggers.md) is that a naive ``run_date`` falling into
a DST gap is moved to the real instant it denotes, so listings never show a wall time
that does not exist (the instant is the same as APScheduler's).

The current time (default ``run_date``) is read through this module's ``datetime`` and
the local zone through its ``get_localzone``, the names APScheduler's tests patch.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from datetime import timezone as dt_timezone

from tzlocal import get_localzone

from nbsched.timezones import (
    as_timezone,
    datetime_repr,
    real_wall_time,
    timezone_name,
    to_datetime,
    usable_local_zone,
)
from nbsched.triggers.base import BaseTrigger

__all__ = ["DateTrigger"]


class DateTrigger(BaseTrigger):
    """Fire once at ``run_date`` (default: the moment of construction).

    ``run_date`` may be an aware or naive datetime, a date (midnight) or an ISO string
    (``"2026-12-01 09:00:00"``, optionally with ``Z`` or ``+HH:MM``). Naive values are
    read in ``timezone`` (a tzinfo or IANA name; default the machine's local zone); an
    aware value keeps its own zone.
    """

    __slots__ = ("run_date",)
    _state_version = 1
    _state_fields = ("run_date",)
    #: A job on this trigger is finished by any run, even one moved earlier than
    #: ``run_date`` (APScheduler's rule, applied by the scheduler core).
    _fires_once = True

    def __init__(
        self,
        run_date: datetime | date | str | None = None,
        timezone: tzinfo | str | None = None,
    ) -> None:
        tz = as_timezone(timezone) or usable_local_zone(get_localzone())
        if run_date is None:
            value = datetime.now(tz)
        else:
            value = to_datetime(run_date, tz, "run_date")
            assert value is not None
            value = real_wall_time(value)
        self._set("run_date", value)

    @property
    def timezone(self) -> tzinfo:
        """The zone of ``run_date`` (used by ``preview`` and ``describe``)."""
        return self.run_date.tzinfo

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # As APScheduler: run_date when there is no previous fire time (even when it is
        # past: the scheduler's misfire policy decides), else never again.
        return self.run_date if previous_fire_time is None else None

    def _pending_after(self, previous_fire_time: datetime | None) -> datetime | None:
        """``run_date`` unless ``previous_fire_time`` is at or after it.

        ``OrTrigger`` asks this instead of ``get_next_fire_time``: the OR's previous
        fire time may come from another member, and that must not finish this one.
        """
        if previous_fire_time is None or _utc(previous_fire_time) < _utc(self.run_date):
            return self.run_date
        return None

    def _state_values(self) -> tuple:
        # By instant and zone: == on datetimes sharing a tzinfo ignores ``fold``, which
        # would make the two 02:30s of a fall-back night the same trigger.
        return (_utc(self.run_date), self.run_date.tzinfo)

    def describe(self) -> str:
        return (
            f"once at {self.run_date:%Y-%m-%d %H:%M:%S} ({timezone_name(self.run_date.tzinfo)})"
        )

    def __str__(self) -> str:
        return f"date[{datetime_repr(self.run_date)}]"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (run_date='{datetime_repr(self.run_date)}')>"


def _utc(value: datetime) -> datetime:
    # Python compares datetimes sharing a tzinfo by wall reading, ignoring ``fold``.
    return value.astimezone(dt_timezone.utc)
