"""Triggers pickled by an earlier nbsched (before custom-trigger support gave the
calendar-interval and combining triggers ``__slots__``) still load and work: stores keep
pickled triggers for as long as a job lives."""

from __future__ import annotations

import base64
import pickle
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from nbsched.triggers.calendarinterval import CalendarIntervalTrigger
from nbsched.triggers.combining import AndTrigger, OrTrigger
from nbsched.triggers.date import DateTrigger
from nbsched.triggers.interval import IntervalTrigger

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")

# pickle.dumps([date, interval, calendar, AndTrigger([interval, calendar], jitter=4),
# OrTrigger([date, calendar])], protocol=2), made by nbsched at commit bb917a2.
OLD = (
    'gAJdcQAoY25ic2NoZWQudHJpZ2dlcnMuZGF0ZQpEYXRlVHJpZ2dlcgpxASmBcQJ9cQMoWAgAAABydW5fZGF0ZXEE'
    'Y2RhdGV0aW1lCmRhdGV0aW1lCnEFY19jb2RlY3MKZW5jb2RlCnEGWAsAAAAHw6oMAQkAAAAAAHEHWAYAAABsYXRp'
    'bjFxCIZxCVJxCmNfX2J1aWx0aW5fXwpnZXRhdHRyCnELY3pvbmVpbmZvClpvbmVJbmZvCnEMWAkAAABfdW5waWNr'
    'bGVxDYZxDlJxD1gNAAAARXVyb3BlL0JlcmxpbnEQSwGGcRFScRKGcRNScRRYBwAAAHZlcnNpb25xFUsBdWJjbmJz'
    'Y2hlZC50cmlnZ2Vycy5pbnRlcnZhbApJbnRlcnZhbFRyaWdnZXIKcRYpgXEXfXEYKFgIAAAAdGltZXpvbmVxGWNk'
    'YXRldGltZQp0aW1lem9uZQpxGmNkYXRldGltZQp0aW1lZGVsdGEKcRtLAEsASwCHcRxScR2FcR5ScR9YCgAAAHN0'
    'YXJ0X2RhdGVxIGgFaAZYCwAAAAfDqgsZAAAAAAAAcSFoCIZxIlJxI2gfhnEkUnElWAgAAABlbmRfZGF0ZXEmaAVo'
    'BlgLAAAAB8OrAQEAAAAAAABxJ2gIhnEoUnEpaB+GcSpScStYCAAAAGludGVydmFscSxoG0sATVgCSwCHcS1ScS5Y'
    'BgAAAGppdHRlcnEvSwNoFUsBdWJjbmJzY2hlZC50cmlnZ2Vycy5jYWxlbmRhcmludGVydmFsCkNhbGVuZGFySW50'
    'ZXJ2YWxUcmlnZ2VyCnEwKYFxMX1xMihoGWgSWAUAAAB5ZWFyc3EzSwBYBgAAAG1vbnRoc3E0SwFYBQAAAHdlZWtz'
    'cTVLAFgEAAAAZGF5c3E2SwBYBAAAAGhvdXJxN0sJWAYAAABtaW51dGVxOEseWAYAAABzZWNvbmRxOUsAaCBjZGF0'
    'ZXRpbWUKZGF0ZQpxOmgGWAUAAAAHw6oBAXE7aAiGcTxScT2FcT5ScT9oJk5oL05oFUsBdWJjbmJzY2hlZC50cmln'
    'Z2Vycy5jb21iaW5pbmcKQW5kVHJpZ2dlcgpxQCmBcUF9cUIoWAgAAAB0cmlnZ2Vyc3FDaBdoMYZxRGgvSwRoFUsB'
    'dWJjbmJzY2hlZC50cmlnZ2Vycy5jb21iaW5pbmcKT3JUcmlnZ2VyCnFFKYFxRn1xRyhoQ2gCaDGGcUhoL05oFUsB'
    'dWJlLg=='
)


def test_old_pickles_load_as_equal_working_triggers():
    date_, interval, calendar, both, either = pickle.loads(base64.b64decode(OLD))
    fresh_date = DateTrigger("2026-12-01 09:00:00", timezone="Europe/Berlin")
    fresh_interval = IntervalTrigger(
        minutes=10, start_date="2026-11-25 00:00:00", end_date="2027-01-01", timezone="UTC",
        jitter=3,
    )
    fresh_calendar = CalendarIntervalTrigger(
        months=1, hour=9, minute=30, start_date="2026-01-01", timezone="Europe/Berlin"
    )
    assert (date_, interval, calendar) == (fresh_date, fresh_interval, fresh_calendar)
    assert both == AndTrigger([fresh_interval, fresh_calendar], jitter=4)
    assert either == OrTrigger([fresh_date, fresh_calendar])
    assert hash(calendar) == hash(fresh_calendar)
    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert interval.preview(2, now) == [now, now + timedelta(minutes=10)]
    assert calendar.preview(1, now) == [datetime(2026, 12, 1, 9, 30, tzinfo=BERLIN)]
    assert both.preview(1, now) == [datetime(2026, 12, 1, 9, 30, tzinfo=BERLIN)]
    # As in APScheduler, the calendar member continues from the OR's previous fire time
    # (the date member's), so its next date is a month after December 1.
    assert either.preview(2, now) == [
        datetime(2026, 12, 1, 9, tzinfo=BERLIN),
        datetime(2027, 1, 1, 9, 30, tzinfo=BERLIN),
    ]
    assert pickle.loads(pickle.dumps(both)) == both
