"""Trigger builder: inline validation with the triggers' own messages, description, preview
in the chosen time zone, the function picker, and job creation."""

from __future__ import annotations

import functools
import math
from datetime import timedelta

import pytest

from nbsched.notebook.builder import TriggerBuilder, build_trigger, namespace_callables


def report():
    return "done"


async def fetch():
    return 1


class Thing:
    pass


@pytest.fixture
def namespace():
    return {"report": report, "fetch": fetch, "Thing": Thing, "math": math, "_hidden": report,
            "get_ipython": report, "halve": functools.partial(divmod, 2), "value": 3}


@pytest.fixture
def builder(scheduler, namespace):
    form = TriggerBuilder(scheduler, namespace=namespace)
    yield form
    form.close()


def test_function_picker_lists_the_users_functions(builder):
    assert [name for name, _ in builder.function.options] == ["fetch", "halve", "report"]
    assert builder.function.value == "fetch"
    assert namespace_callables({"len": len})["len"] is len


def test_default_form_is_valid_and_previews_five_times(builder):
    assert builder.kind.value == "interval"
    assert builder.error is None
    assert "every 5 minutes" in builder.description.value
    assert builder.preview.value.count("<li>") == 5
    assert not builder.create.disabled


@pytest.mark.parametrize(("kind", "field", "value", "message"), [
    ("interval", "minutes", -1, "minutes: -1"),
    ("cron", "minute", "70", "minute: '70'"),
    ("cron", "day_of_week", "funday", "day_of_week"),
    ("calendarinterval", "days", -2, "days: -2"),
])
def test_field_errors_show_next_to_the_field(builder, kind, field, value, message):
    builder.kind.value = kind
    builder.fields[kind][field].value = value
    assert builder.trigger is None
    assert message in builder.error
    assert message.split(":")[0] in builder._messages[kind][field].value
    assert builder.create.disabled
    assert builder.preview.value == ""


def test_form_level_errors_and_time_zone_errors(builder):
    builder.kind.value = "date"
    assert "run_date" in builder.error
    builder.fields["date"]["run_date"].value = "not a date"
    assert builder.trigger is None and "run_date" in builder._messages["date"]["run_date"].value
    builder.kind.value = "interval"
    builder.timezone.value = "Mars/Olympus_Mons"
    assert builder.trigger is None
    assert "Mars/Olympus_Mons" in builder.error


def test_preview_is_in_the_chosen_time_zone(builder):
    builder.kind.value = "cron"
    builder.fields["cron"]["crontab"].value = "30 9 * * 1-5"
    builder.timezone.value = "Asia/Tokyo"
    trigger = builder.trigger
    assert trigger is not None and str(trigger.timezone) == "Asia/Tokyo"
    times = trigger.preview(5)
    assert all(t.utcoffset() == timedelta(hours=9) for t in times)
    assert builder.preview.value.count("09:30:00 JST") == 5
    assert trigger.describe() in builder.description.value


def test_calendar_interval_and_date_kinds(builder):
    builder.kind.value = "calendarinterval"
    builder.fields["calendarinterval"]["months"].value = 1
    builder.fields["calendarinterval"]["hour"].value = 6
    assert builder.error is None and builder.preview.value.count("06:00:00") == 5
    builder.kind.value = "date"
    builder.fields["date"]["run_date"].value = "2099-01-01 12:00:00"
    assert builder.error is None and builder.preview.value.count("<li>") == 1


def test_create_button_adds_the_job(scheduler, builder):
    builder.function.value = "report"
    builder.job_id.value = "nightly-report"
    builder.job_name.value = "Nightly report"
    builder.kind.value = "cron"
    builder.fields["cron"]["hour"].value = "2"
    builder.fields["cron"]["minute"].value = "0"
    builder.create.click()
    job = scheduler.get_job("nightly-report")
    assert job is not None and job.func is report and job.name == "Nightly report"
    assert (job.next_run_time.hour, job.next_run_time.minute) == (2, 0)
    assert builder.last_job.id == "nightly-report"
    assert "Created job Nightly report" in builder.result.value
    builder.create.click()  # same id again: the scheduler's error is shown, not raised
    assert "ConflictingIdError" in builder.result.value
    builder.replace.value = True
    builder.create.click()
    assert "Created" in builder.result.value


def test_submit_refuses_an_invalid_form(builder):
    builder.fields["interval"]["seconds"].value = -5
    with pytest.raises(ValueError, match="seconds"):
        builder.submit()


def test_builder_without_functions_cannot_create(scheduler):
    form = TriggerBuilder(scheduler, namespace={})
    try:
        assert form.trigger is not None and form.create.disabled
        with pytest.raises(ValueError, match="function"):
            form.submit()
    finally:
        form.close()


def test_build_trigger_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        build_trigger("hourly", {}, "UTC")
