"""ProcessPoolExecutor with real worker processes: by-value functions, crashes, transfer."""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from nbsched.executors.callpayload import (
    RemoteJobError,
    ResultNotTransferableError,
    WorkerCrashedError,
)
from nbsched.executors.pool import MAX_RESUBMITS, ProcessPoolExecutor, default_mp_context

REPO = Path(__file__).resolve().parents[2]


def power(base, exponent=2):
    return base**exponent


def worker_pid():
    return os.getpid()


def crash_hard(code):
    os._exit(code)


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def return_lock():
    return threading.Lock()


class NeedsTwoArgs(Exception):
    """Pickles but fails to unpickle (its __init__ needs two arguments)."""

    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


def raise_unloadable():
    raise NeedsTwoArgs("left", "right")


def raise_value_error():
    raise ValueError("plain error")


@pytest.fixture(scope="module")
def shared_pool(recording_scheduler):
    """One pool for the module: starting workers is the slow part."""
    scheduler = recording_scheduler()
    executor = ProcessPoolExecutor(max_workers=2)
    executor.start(scheduler, "processes")
    yield executor, scheduler
    executor.shutdown(wait=True)


@pytest.fixture
def pool(shared_pool):
    executor, scheduler = shared_pool
    with scheduler._cond:
        scheduler.events.clear()
    return executor, scheduler


def test_importable_function_runs_in_another_process(pool, make_job, now):
    executor, scheduler = pool
    executor.submit_job(make_job("pid", worker_pid), [now])
    executor.submit_job(make_job("pow", power, 3, kwargs={"exponent": 3}), [now])
    scheduler.wait_for_events(2)
    [pid_event] = scheduler.by_job("pid")
    assert pid_event.code == EVENT_JOB_EXECUTED
    assert pid_event.retval != os.getpid()
    assert scheduler.by_job("pow")[0].retval == 27
    assert pid_event.start_time <= pid_event.end_time


def test_lambda_closure_and_partial_are_sent_by_value(pool, make_job, now):
    executor, scheduler = pool
    offset = 100

    def closure(x):
        return x + offset

    executor.submit_job(make_job("lambda", lambda: "from lambda"), [now])
    executor.submit_job(make_job("closure", closure, 5), [now])
    executor.submit_job(make_job("partial", functools.partial(power, 2, 10)), [now])
    executor.submit_job(
        make_job("partial-lambda", functools.partial(lambda a, b: a * b, 6), 7), [now]
    )
    scheduler.wait_for_events(4)
    results = {e.job_id: (e.code, e.retval) for e in scheduler.events}
    assert results == {
        "lambda": (EVENT_JOB_EXECUTED, "from lambda"),
        "closure": (EVENT_JOB_EXECUTED, 105),
        "partial": (EVENT_JOB_EXECUTED, 1024),
        "partial-lambda": (EVENT_JOB_EXECUTED, 42),
    }


def test_picklable_exception_comes_back_as_itself(pool, make_job, now):
    executor, scheduler = pool
    executor.submit_job(make_job("err", raise_value_error), [now])
    [event] = scheduler.wait_for_events(1)
    assert event.code == EVENT_JOB_ERROR
    assert type(event.exception) is ValueError
    assert str(event.exception) == "plain error"
    assert "in raise_value_error" in event.traceback


def test_unloadable_exception_becomes_a_clear_stand_in(pool, make_job, now):
    executor, scheduler = pool
    executor.submit_job(make_job("weird", raise_unloadable), [now])
    [event] = scheduler.wait_for_events(1)
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, RemoteJobError)
    assert event.exception.type_name.endswith("NeedsTwoArgs")
    assert event.exception.message == "left/right"
    assert "in raise_unloadable" in event.exception.traceback_text
    assert "NeedsTwoArgs: left/right" in str(event.exception)


def test_unpicklable_return_value_is_a_clear_error(pool, make_job, now):
    executor, scheduler = pool
    executor.submit_job(make_job("lock", return_lock), [now])
    [event] = scheduler.wait_for_events(1)
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, ResultNotTransferableError)
    assert "'lock' returned a _thread.lock that cannot be sent back" in str(event.exception)
    assert event.retval is None


def test_unpicklable_argument_is_reported_not_raised(pool, make_job, now):
    executor, scheduler = pool
    executor.submit_job(make_job("arg", power, threading.Lock()), [now])
    [event] = scheduler.wait_for_events(1)
    assert event.code == EVENT_JOB_ERROR
    assert "job 'arg' cannot be sent to a worker process" in str(event.exception)
    assert executor._instances == {}


def test_misfire_is_checked_in_the_worker(pool, make_job, now):
    from datetime import timedelta

    executor, scheduler = pool
    late = now - timedelta(minutes=10)
    executor.submit_job(make_job("late", power, 2, misfire_grace_time=5), [late, now])
    events = scheduler.wait_for_events(2)
    assert [e.code for e in events] == [EVENT_JOB_MISSED, EVENT_JOB_EXECUTED]


@pytest.mark.parametrize("crasher", [functools.partial(crash_hard, 3), kill_self])
def test_dead_worker_is_an_error_event_and_the_pool_recovers(pool, make_job, now, crasher):
    executor, scheduler = pool
    broken = executor._pool
    executor.submit_job(make_job("crash", crasher), [now, now])
    events = scheduler.wait_for_events(2)
    assert [e.code for e in events] == [EVENT_JOB_ERROR, EVENT_JOB_ERROR]
    error = events[0].exception
    assert isinstance(error, WorkerCrashedError)
    assert "'crash'" in str(error) and "terminated abruptly" in str(error)
    assert "the pool has been replaced" in str(error)
    if crasher is kill_self:
        assert f"killed by signal {int(signal.SIGKILL)}" in str(error)
    else:
        assert "exited with code 3" in str(error)
    assert executor._pool is not broken
    assert executor._instances == {}
    # The next job runs normally in the replacement pool.
    executor.submit_job(make_job("after", power, 4), [now])
    assert scheduler.wait_for_events(3)[-1].retval == 16


def test_default_start_method_is_forkserver_or_spawn():
    assert default_mp_context().get_start_method() in {"forkserver", "spawn"}
    executor = ProcessPoolExecutor(1)
    assert executor.pool_kwargs["mp_context"].get_start_method() in {"forkserver", "spawn"}
    executor.shutdown()


def test_start_method_can_be_overridden_by_name(scheduler, make_job, now):
    executor = ProcessPoolExecutor(1, pool_kwargs={"mp_context": "spawn"})
    assert executor.pool_kwargs["mp_context"].get_start_method() == "spawn"
    executor.start(scheduler, "spawned")
    executor.submit_job(make_job("pow", power, 5), [now])
    assert scheduler.wait_for_events(1)[0].retval == 25
    executor.shutdown()


def test_unknown_start_method_is_named():
    with pytest.raises(ValueError, match=r"pool_kwargs\['mp_context'\]: unknown start method 'x'"):
        ProcessPoolExecutor(1, pool_kwargs={"mp_context": "x"})


MAIN_SCRIPT = textwrap.dedent(
    """
    import os
    import threading
    from datetime import datetime, timezone

    from nbsched.executors.pool import ProcessPoolExecutor


    class Recorder:
        def __init__(self):
            self.events = []
            self.cond = threading.Condition()

        def _create_lock(self):
            return threading.RLock()

        def _dispatch_event(self, event):
            with self.cond:
                self.events.append(event)
                self.cond.notify_all()


    class Job:
        def __init__(self, id, func, *args):
            self.id, self.func, self.args, self.kwargs = id, func, args, {}
            self.misfire_grace_time, self.max_instances = None, 1
            self._jobstore_alias = "default"


    SUFFIX = "!"


    def shout(word):
        return word.upper() + SUFFIX


    class Point:
        def __init__(self, x):
            self.x = x


    def make_point(x):
        return Point(x)


    def die():
        os._exit(7)


    if __name__ == "__main__":
        recorder = Recorder()
        executor = ProcessPoolExecutor(max_workers=1)
        executor.start(recorder, "processes")
        now = datetime.now(timezone.utc)
        for job in (Job("shout", shout, "hi"), Job("point", make_point, 3),
                    Job("die", die), Job("again", shout, "ok")):
            executor.submit_job(job, [now])
            with recorder.cond:
                assert recorder.cond.wait_for(lambda: len(recorder.events) >= 1, 30)
                event = recorder.events.pop()
            value = event.retval.x if event.job_id == "point" else event.retval
            kind = type(event.exception).__name__ if event.exception else "-"
            print(event.job_id, event.code, value, kind, isinstance(event.retval, Point))
        executor.shutdown()
    """
)


@pytest.mark.parametrize("how", ["file", "command"])
def test_function_defined_in_main(tmp_path, how):
    """``__main__`` functions run in workers, from a script file or, like a notebook's
    ``__main__``, from a module with no file behind it (``python -c``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if how == "file":
        script = tmp_path / "user_script.py"
        script.write_text(MAIN_SCRIPT)
        command, stdin = [sys.executable, str(script)], None
    else:
        command, stdin = [sys.executable, "-c", MAIN_SCRIPT], None
    result = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    executed, error = str(EVENT_JOB_EXECUTED), str(EVENT_JOB_ERROR)
    assert lines == [
        ["shout", executed, "HI!", "-", "False"],
        # A class defined in __main__ comes back as the parent's own class.
        ["point", executed, "3", "-", "True"],
        ["die", error, "None", "WorkerCrashedError", "False"],
        ["again", executed, "OK!", "-", "False"],
    ]


def set_worker_flag(value):
    os.environ["NBSCHED_TEST_WORKER_FLAG"] = value


def read_worker_flag():
    return os.environ.get("NBSCHED_TEST_WORKER_FLAG")


@pytest.fixture
def one_worker(scheduler):
    """A fresh single-worker pool: which run a crash takes down is then deterministic."""
    executor = ProcessPoolExecutor(max_workers=1)
    executor.start(scheduler, "one")
    yield executor
    executor.shutdown(wait=True)


def await_exit(pid, timeout=30):
    """Wait for any process (not only a child) to end; True once it has."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def test_runs_queued_behind_a_crash_move_to_the_replacement_pool(
    one_worker, scheduler, make_job, now
):
    """The dying worker had begun only the crashing run; the runs queued behind it in the
    broken pool never started, so they run (once each) in the replacement pool."""
    broken = one_worker._pool
    one_worker.submit_job(make_job("crash", crash_hard, 5), [now])
    for index in range(3):
        one_worker.submit_job(make_job(f"queued-{index}", worker_pid), [now])
    events = scheduler.wait_for_events(4)
    by_id = {e.job_id: e for e in events}
    assert len(events) == 4 and set(by_id) == {"crash", "queued-0", "queued-1", "queued-2"}
    assert by_id["crash"].code == EVENT_JOB_ERROR
    assert isinstance(by_id["crash"].exception, WorkerCrashedError)
    pids = {by_id[f"queued-{i}"].retval for i in range(3)}
    assert all(by_id[f"queued-{i}"].code == EVENT_JOB_EXECUTED for i in range(3))
    assert len(pids) == 1 and os.getpid() not in pids
    assert one_worker._pool is not broken
    assert one_worker._instances == {}


def test_job_submitted_after_an_idle_worker_was_killed_runs(one_worker, scheduler, make_job, now):
    """APScheduler's test_broken_pool: a worker dies between jobs; the next job runs in a new
    pool instead of failing with WorkerCrashedError."""
    one_worker.submit_job(make_job("first", worker_pid), [now])
    [first] = scheduler.wait_for_events(1)
    os.kill(first.retval, signal.SIGKILL)
    assert await_exit(first.retval)
    one_worker.submit_job(make_job("second", worker_pid), [now])
    second = scheduler.wait_for_events(2)[1]
    assert second.code == EVENT_JOB_EXECUTED, second.exception
    assert second.retval not in (first.retval, os.getpid())


def test_a_pool_that_breaks_before_running_anything_is_not_replaced_forever(
    scheduler, make_job, now
):
    executor = ProcessPoolExecutor(1, pool_kwargs={"initializer": os._exit, "initargs": (3,)})
    executor.start(scheduler, "doomed")
    try:
        executor.submit_job(make_job("never", worker_pid), [now])
        [event] = scheduler.wait_for_events(1)
        assert event.code == EVENT_JOB_ERROR
        assert isinstance(event.exception, WorkerCrashedError)
        assert "job 'never' did not run" in str(event.exception)
        assert f"broke {MAX_RESUBMITS + 1} times before it could start" in str(event.exception)
        assert len(executor._retired) <= MAX_RESUBMITS + 1
    finally:
        executor.shutdown()
    assert executor._retired == []


def test_user_initializer_still_runs_in_each_worker(scheduler, make_job, now):
    executor = ProcessPoolExecutor(
        1, pool_kwargs={"initializer": set_worker_flag, "initargs": ("ready",)}
    )
    executor.start(scheduler, "init")
    try:
        executor.submit_job(make_job("flag", read_worker_flag), [now])
        assert scheduler.wait_for_events(1)[0].retval == "ready"
    finally:
        executor.shutdown()


def test_initializer_must_be_callable():
    with pytest.raises(TypeError, match=r"pool_kwargs\['initializer'\]: expected a callable"):
        ProcessPoolExecutor(1, pool_kwargs={"initializer": "nope"})


CRASH_THEN_EXIT_SCRIPT = textwrap.dedent(
    """
    import json
    import multiprocessing
    import os
    import sys
    import threading
    from datetime import datetime, timezone

    from nbsched.executors.pool import ProcessPoolExecutor


    def pid():
        return os.getpid()


    def die():
        os._exit(7)


    def with_executor():
        events, cond = [], threading.Condition()

        class Recorder:
            def _create_lock(self):
                return threading.RLock()

            def _dispatch_event(self, event):
                with cond:
                    events.append(event)
                    cond.notify_all()

        class Job:
            def __init__(self, id, func):
                self.id, self.func, self.args, self.kwargs = id, func, (), {}
                self.misfire_grace_time, self.max_instances = None, 1
                self._jobstore_alias = "default"

        executor = ProcessPoolExecutor(max_workers=1)
        executor.start(Recorder(), "processes")
        now = datetime.now(timezone.utc)
        for count, jobs in ((1, ["before"]), (3, ["die", "queued"]), (4, ["after"])):
            for name in jobs:
                executor.submit_job(Job(name, die if name == "die" else pid), [now])
            with cond:
                assert cond.wait_for(lambda: len(events) >= count, 60), events
        executor.shutdown()
        return events


    def with_scheduler():
        from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
        from nbsched.schedulers.background import BackgroundScheduler

        events, cond = [], threading.Condition()

        def listener(event):
            with cond:
                events.append(event)
                cond.notify_all()

        scheduler = BackgroundScheduler(executors={"default": ProcessPoolExecutor(1)})
        scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        scheduler.start()
        for count, jobs in ((1, ["before"]), (3, ["die", "queued"]), (4, ["after"])):
            for name in jobs:
                scheduler.add_job(die if name == "die" else pid, "date", id=name)
            with cond:
                assert cond.wait_for(lambda: len(events) >= count, 60), events
        scheduler.shutdown()
        return events


    if __name__ == "__main__":
        events = with_scheduler() if sys.argv[1] == "scheduler" else with_executor()
        from multiprocessing import forkserver, resource_tracker

        report = {
            "results": sorted(
                [e.job_id, type(e.exception).__name__ if e.exception else e.retval is not None]
                for e in events
            ),
            "worker_pids": sorted({e.retval for e in events if e.job_id != "die"}),
            "threads": sorted(t.name for t in threading.enumerate()),
            "active_children": [p.pid for p in multiprocessing.active_children()],
            "helpers": [
                pid for pid in (
                    getattr(forkserver._forkserver, "_forkserver_pid", None),
                    getattr(resource_tracker._resource_tracker, "_pid", None),
                ) if pid
            ],
        }
        print(json.dumps(report), flush=True)
    """
)


@pytest.mark.parametrize("front", ["executor", "scheduler"])
def test_after_a_crash_shutdown_leaves_nothing_and_the_program_exits(tmp_path, front):
    """After a worker crash, shutdown() leaves no thread or worker process, and the program
    exits at once (on 3.12+ the broken pool used to deadlock its manager thread, which the
    interpreter then waited for at exit forever)."""
    script = tmp_path / "crash_then_exit.py"
    script.write_text(CRASH_THEN_EXIT_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(script), front],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 90)
        assert ready, "no report within 90 s: the jobs did not finish or shutdown() hung"
        line = proc.stdout.readline()  # printed after shutdown(), just before exiting
        assert line, proc.communicate(timeout=30)[1]
        try:
            # From the report to the end of the process is only interpreter exit.
            _, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the program did not exit within 10 s of shutdown()")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    report = json.loads(line)
    assert report["results"] == [
        ["after", True],
        ["before", True],
        ["die", "WorkerCrashedError"],
        ["queued", True],
    ]
    assert report["threads"] == ["MainThread"]
    assert report["active_children"] == []
    assert len(report["worker_pids"]) == 2  # the pool's first worker and its replacement's
    # Every process the program started is gone: the workers of both pools, and the fork
    # server and resource tracker that multiprocessing shares across pools.
    for pid in report["worker_pids"] + report["helpers"]:
        assert await_exit(pid, timeout=10), f"process {pid} outlived the program"
    assert "leaked semaphore" not in stderr


def test_default_start_method_never_forks_a_threaded_process(scheduler, make_job, now):
    """Python 3.12+ warns when a multi-threaded process forks (a worker can inherit a held
    lock). The default start method never forks the scheduler's process, so no such warning
    comes, even with other threads running and a pool replaced from its manager thread."""
    busy = threading.Event()
    helper = threading.Thread(target=busy.wait, daemon=True)
    helper.start()
    executor = ProcessPoolExecutor(1)
    executor.start(scheduler, "nofork")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            executor.submit_job(make_job("crash", crash_hard, 2), [now])
            executor.submit_job(make_job("after", power, 3), [now])
            events = scheduler.wait_for_events(2)
    finally:
        executor.shutdown()
        busy.set()
    codes = {e.job_id: e.code for e in events}
    assert codes == {"crash": EVENT_JOB_ERROR, "after": EVENT_JOB_EXECUTED}
    assert [str(w.message) for w in caught if "fork" in str(w.message)] == []


def _count_lines(path):
    try:
        with open(path) as file:
            return sum(1 for _ in file)
    except FileNotFoundError:
        return 0


def _poll(predicate, cap=30.0):
    deadline = time.monotonic() + cap
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def victim(runs, markers):
    """Record a run; while the crash it waits for has not happened, stay running."""
    with open(runs, "a") as file:
        file.write("run\n")
    number = _count_lines(runs)
    marker = f"{markers}-{number}"
    if number <= 2:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # terminated with its pool long before
            time.sleep(0.01 if not os.path.exists(marker) else 0.05)
    return number


def crash_after(runs, count, marker, code):
    _poll(lambda: _count_lines(runs) >= count)
    Path(marker).write_text("crashed")
    os._exit(code)


def test_a_run_interrupted_by_another_workers_crash_is_run_again_only_once(
    scheduler, make_job, now, tmp_path, caplog
):
    runs, markers = str(tmp_path / "runs"), str(tmp_path / "crashed")
    executor = ProcessPoolExecutor(max_workers=2)
    executor.start(scheduler, "two")
    try:
        executor.submit_job(make_job("victim", victim, runs, markers), [now])
        executor.submit_job(make_job("crash-1", crash_after, runs, 1, f"{markers}-1", 2), [now])
        _poll(lambda: _count_lines(runs) >= 2)  # the victim runs again in the new pool
        executor.submit_job(make_job("crash-2", crash_after, runs, 2, f"{markers}-2", 3), [now])
        events = scheduler.wait_for_events(3)
    finally:
        executor.shutdown()
    by_id = {e.job_id: e for e in events}
    assert set(by_id) == {"victim", "crash-1", "crash-2"}
    assert all(e.code == EVENT_JOB_ERROR for e in events)
    assert "exited with code 2" in str(by_id["crash-1"].exception)
    assert "exited with code 3" in str(by_id["crash-2"].exception)
    error = by_id["victim"].exception
    assert isinstance(error, WorkerCrashedError)
    assert "'victim' was run again after a worker crash" in str(error)
    assert "not run a third time" in str(error)
    assert _count_lines(runs) == 2
    warned = [r.getMessage() for r in caplog.records if "run again" in r.getMessage()]
    assert len(warned) == 1 and "Job victim " in warned[0]
