"""%load_ext nbsched and the %schedule / %%schedule magics, driven through a real kernel.

One kernel serves the module (starting one costs seconds); every test uses its own job names
so the tests do not depend on each other's order.
"""

from __future__ import annotations

import pytest

SETUP = """
%load_ext nbsched
import nbsched, threading, os
def sched():
    return nbsched.get_scheduler()
def job(name):
    return next(j for j in sched().get_jobs() if j.name == name)
def runs(name, outcome="ok"):
    j = [x for x in sched().get_jobs() if x.name == name]
    job_id = j[0].id if j else name
    return [r for r in sched().get_run_history(job_id, 1000) if r.outcome == outcome]
def add(x, limit=1):
    return x * limit
"""


@pytest.fixture
def k(module_kernel):
    module_kernel.run(SETUP)
    return module_kernel


def usage_error(kernel, line: str) -> str:
    """Run ``line``; assert it failed with one UsageError line and no traceback; return it."""
    outputs, error = kernel.execute(line)
    assert error is not None, f"{line!r} did not fail: {kernel.text(outputs)!r}"
    assert error["ename"] == "UsageError", error
    assert error["traceback"] == [], error["traceback"]
    message = error["evalue"]
    assert message and "\n" not in message.strip(), message
    assert "Traceback" not in kernel.text(outputs)
    return message


# --- loading ---------------------------------------------------------------------------------


def test_load_twice_keeps_one_scheduler(k):
    first = k.value("id(nbsched.get_scheduler())")
    k.run("%load_ext nbsched")
    k.run(SETUP)  # re-running the setup cell
    k.run("nbsched.load_ipython_extension(get_ipython())")
    assert k.value("id(nbsched.get_scheduler())") == first
    assert k.value("sum(t.name == 'nbsched' for t in threading.enumerate())") == 1
    # %reload_ext stops the old scheduler before starting the next: still one clock
    k.run("%schedule every 1h --name survives-reload add(1)")
    k.run("%reload_ext nbsched")
    assert k.value("sum(t.name == 'nbsched' for t in threading.enumerate())") == 1
    assert k.value("[j.name for j in sched().get_jobs() if j.name == 'survives-reload']") == [
        "survives-reload"
    ]
    k.run("%schedule remove survives-reload")
    assert k.value("type(sched()).__name__") == "KernelScheduler"
    assert k.value("sorted(sched()._executors)") == ["asyncio", "default", "process"]
    assert k.value("type(sched()._jobstores['default']).__name__") == "SQLAlchemyJobStore"
    assert k.value("str(sched()._jobstores['default'].engine.url) == "
                   "os.environ['NBSCHED_STORE_URL']")
    # coroutine jobs belong on the kernel's own loop
    assert k.value("sched()._eventloop is __import__('asyncio').get_running_loop()")


def test_help_and_html_display(k):
    text = k.run("%schedule --help")
    assert "--misfire-grace" in text and "every 10m" in text and "history" in text
    outputs, error = k.execute("%schedule every 10m --name shown add(1)")
    assert error is None
    html = next(o["data"]["text/html"] for o in outputs if "data" in o)
    assert "every 10 minutes" in html and "<table" in html
    outputs, _ = k.execute("job('shown').trigger")
    assert "Next" in outputs[0]["data"]["text/html"] or "fire 1" in outputs[0]["data"]["text/html"]
    outputs, _ = k.execute("sched()")
    assert "KernelScheduler" in outputs[0]["data"]["text/html"]
    k.run("%schedule remove shown")


# --- the four schedule forms and the options ---------------------------------------------------


def test_every_captures_function_and_argument_values(k):
    k.run("data = [1, 2]\n%schedule every 10m --name every-form add(data, limit=2)")
    k.run("data.append(3)")  # captured at magic time: later changes do not reach the job
    assert k.value("job('every-form').trigger.interval.total_seconds()") == 600
    assert k.value("[list(job('every-form').args), job('every-form').kwargs]") == [
        [[1, 2]], {"limit": 2}
    ]
    # notebook functions are stored by value: the job holds a copy of `add`
    assert k.value("job('every-form').func.__qualname__") == "add"
    assert k.value("job('every-form').executor") == "default"
    k.run("%schedule remove every-form")


def test_cron_at_in_forms(k):
    k.run('%schedule cron "*/5 9-17 * * mon-fri" --name cron-form add(1)')
    assert k.value("str(job('cron-form').trigger)") == (
        "cron[month='*', day='*', day_of_week='mon-fri', hour='9-17', minute='*/5']"
    ) or "mon-fri" in k.value("str(job('cron-form').trigger)")
    k.run("%schedule cron */10 * * * * --name cron-unquoted add(1)")
    assert "*/10" in k.value("str(job('cron-unquoted').trigger)")
    k.run("%schedule at 2099-12-01T09:00 --name at-form add(1)")
    assert k.value("job('at-form').next_run_time.strftime('%Y-%m-%d %H:%M')") == "2099-12-01 09:00"
    k.run("%schedule in 30s --name in-form add(1)")
    delay = k.value("(job('in-form').next_run_time - __import__('datetime').datetime.now("
                    "job('in-form').next_run_time.tzinfo)).total_seconds()")
    assert 25 < delay <= 30
    k.run("%schedule remove cron-form cron-unquoted at-form in-form")
    assert k.value("[j.name for j in sched().get_jobs() if j.name.endswith('-form')]") == []


def test_all_options(k):
    k.run(
        "%schedule --name opts --id opts-id --executor thread --timezone Asia/Tokyo "
        "--max-instances 3 --no-coalesce --misfire-grace 30 --jitter 2 "
        "--start 2099-01-01T00:00 --end 2099-12-31 --store memory every 1h add(1)"
    )
    j = "job('opts')"
    assert k.value(f"{j}.id") == "opts-id"
    assert k.value(f"[{j}.max_instances, {j}.coalesce, {j}.misfire_grace_time]") == [3, False, 30]
    assert k.value(f"{j}._jobstore_alias") == "memory"
    assert k.value(f"str({j}.trigger.timezone)") == "Asia/Tokyo"
    assert k.value(f"{j}.trigger.jitter") == 2
    assert k.value(f"{j}.trigger.start_date.isoformat()") == "2099-01-01T00:00:00+09:00"
    assert k.value(f"{j}.trigger.end_date.isoformat()").startswith("2099-12-31")
    # options may follow the call too
    k.run("%schedule every 2h add(2) --name trailing --misfire-grace none")
    assert k.value("job('trailing').misfire_grace_time") is None
    k.run("%schedule remove opts-id trailing")


def test_same_name_replaces_and_rerun_does_not_duplicate(k):
    k.run("%schedule every 10m --name dup add(1)")
    k.run("%schedule every 20m --name dup add(2)")
    assert k.value("len([j for j in sched().get_jobs() if j.name == 'dup'])") == 1
    assert k.value("job('dup').trigger.interval.total_seconds()") == 1200
    # without --name the call text names the job: re-running the cell replaces it
    for _ in range(2):
        k.run("%schedule every 10m add(7, limit=3)")
    assert k.value("len([j for j in sched().get_jobs() if j.name == 'add(7, limit=3)'])") == 1
    # moving a name to another store keeps one job
    k.run("%schedule every 10m --name dup --store memory add(1)")
    assert k.value("[j._jobstore_alias for j in sched().get_jobs() if j.name == 'dup']") == [
        "memory"
    ]
    k.run("%schedule remove dup\n%schedule remove 'add(7, limit=3)'")


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%schedule every 10x add(1)", "unknown unit 'x'"),
        ("%schedule every 10 add(1)", "missing a unit"),
        ('%schedule cron "61 * * * *" add(1)', "61"),
        ("%schedule every 10m no_such_function(1)", "unknown function 'no_such_function'"),
        ("%schedule every 10m add(no_such_value)", "unknown name 'no_such_value'"),
        ("%schedule every 10m add(threading.Lock())", "cannot be stored"),
        ("%schedule every 10m add(1, 2, 3, 4)", "add(1, 2, 3, 4)"),
        ("%schedule sometimes add(1)", "unknown schedule 'sometimes'"),
        ("%schedule every 10m", "missing the call"),
        ("%schedule every 10m add(1", "cannot read the call"),
        ("%schedule every 10m 42", "not a function call"),
        ("%schedule --executor gpu every 10m add(1)", "gpu"),
        ("%schedule --timezone Mars/Base every 1m add(1)", "unknown time zone"),
        ("%schedule at 2001-01-01T00:00 add(1)", "has passed"),
        ("%schedule at tomorrow add(1)", "not a date-time"),
        ("%schedule in 5m --start 2099-01-01 add(1)", "--start/--end"),
        ("%schedule --store nowhere every 1m add(1)", "no such job store"),
        ("%schedule --max-instances 0 every 1m add(1)", "at least 1"),
        ("%schedule --misfire-grace soon every 1m add(1)", "--misfire-grace soon"),
        ("%schedule pause no-such-job", "no job 'no-such-job'"),
        ("%schedule run", "needs a job"),
        ("%%schedule every 1m add(1)\nx = 1", "unexpected"),
        ("%%schedule every 1m --executor process\nx = 1", "--executor process"),
        ("%%schedule every 1m\nx = = 1", "does not compile"),
    ],
)
def test_bad_input_is_one_usage_error_line(k, line, expected):
    message = usage_error(k, line)
    assert expected in message


def test_unpicklable_argument_is_fine_in_the_memory_store(k):
    k.run("%schedule every 1h --name lockjob --store memory add(threading.Lock())")
    assert k.value("job('lockjob')._jobstore_alias") == "memory"
    k.run("%schedule remove lockjob")


# --- runs and subcommands --------------------------------------------------------------------


def test_runs_show_in_history_and_subcommands(k):
    k.run("%schedule every 1s --name sub add(21, limit=2)")
    k.wait_for("len(runs('sub')) >= 1")
    text = k.run("%schedule history sub")
    assert "ok" in text and "42" in text
    listing = k.run("%schedule")
    assert "sub" in listing and "every second" in listing
    assert listing == k.run("%schedule list") or "sub" in k.run("%schedule list")

    k.run("%schedule pause sub")
    assert k.value("job('sub').next_run_time") is None
    count = k.value("len(runs('sub'))")
    k.run("%schedule run sub")  # runs now even though paused; the schedule stays paused
    k.wait_for(f"len(runs('sub')) > {count}")
    assert k.value("job('sub').next_run_time") is None
    k.run("%schedule resume sub")
    assert k.value("job('sub').next_run_time is not None")
    log = k.run("%schedule log sub")
    assert "Output of sub" in log
    k.run("%schedule remove sub")
    assert k.value("[j.name for j in sched().get_jobs() if j.name == 'sub']") == []
    assert "ok" in k.run("%schedule history sub")  # a removed job keeps its history


def test_log_shows_what_the_job_printed(k):
    k.run("def loud(word):\n    print('job says', word)\n"
          "%schedule every 1s --name loud loud('hello')")
    k.wait_for("len(runs('loud')) >= 1")
    log = k.run("%schedule log loud")
    assert "job says hello" in log and "stdout" in log
    k.run("%schedule remove loud")


def test_cell_magic_runs_body_in_user_namespace(k):
    k.run("%%schedule every 1s --name cellbody\ncell_hits = globals().get('cell_hits', 0) + 1\n"
          "cell_hits * 10")
    k.wait_for("globals().get('cell_hits', 0) >= 1")
    assert k.value("job('cellbody').func_ref") == "nbsched.notebook.magics:run_cell_source"
    k.wait_for("any(r.retval_repr.isdigit() for r in runs('cellbody'))")
    k.run("%schedule remove cellbody")


def test_coroutine_job_runs_on_the_kernel_loop(k):
    k.run(
        "import asyncio\n"
        "async def on_loop():\n"
        "    await asyncio.sleep(0)\n"
        "    return (threading.current_thread().name,\n"
        "            asyncio.get_running_loop() is sched()._eventloop)\n"
        "%schedule every 1s --name coro on_loop()"
    )
    assert k.value("job('coro').executor") == "asyncio"
    k.wait_for("len(runs('coro')) >= 1")
    assert k.value("runs('coro')[0].retval_repr") == "('MainThread', True)"
    k.run("%%schedule every 1s --name acell\nawait asyncio.sleep(0)\n"
          "acell_hits = globals().get('acell_hits', 0) + 1")
    assert k.value("job('acell').executor") == "asyncio"
    k.wait_for("globals().get('acell_hits', 0) >= 1")
    k.run("%schedule remove coro acell")
    usage_error(k, "%schedule --executor thread every 1s on_loop()")


def test_process_executor_runs_a_notebook_function(k):
    k.run(
        "def crunch(n):\n"
        "    import os\n"
        "    return os.getpid(), sum(i * i for i in range(n))\n"
        "%schedule --executor process every 1s --name crunch crunch(1000)"
    )
    assert k.value("job('crunch').executor") == "process"
    k.wait_for("len(runs('crunch')) >= 1", timeout=30)
    pid, total = k.value("eval(runs('crunch')[0].retval_repr)")
    assert total == sum(i * i for i in range(1000))
    assert pid != k.value("os.getpid()")
    k.run("%schedule remove crunch")


def test_panel_subcommand_shows_the_job_panel(k):
    k.run("%schedule every 1h --name in-panel add(1)")
    outputs, error = k.execute("%schedule panel")
    assert error is None, error
    widget = next(o["data"] for o in outputs if "application/vnd.jupyter.widget-view+json" in
                  o.get("data", {}))
    assert widget["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert k.value("'nbsched-panel' in _._dom_classes")
    k.run("_.close()\n%schedule remove in-panel")
