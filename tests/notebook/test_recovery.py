"""Restart recovery without a kernel: the run ledger, abandoned runs, missed-run reports.

A "dead kernel" here is a real child process that was SIGKILLed while its job ran, so the
ledger file it left is exactly what a crashed kernel leaves.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from nbsched.jobstores.memory import MemoryJobStore
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
from nbsched.notebook import recovery
from nbsched.notebook.recovery import mark_abandoned, missed_runs, recover
from nbsched.schedulers.background import BackgroundScheduler

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'jobs.sqlite').as_posix()}"


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    return tmp_path / "running"


@pytest.fixture
def paused_scheduler(store_url: str):
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=store_url)}, timezone="UTC"
    )
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


@pytest.fixture(autouse=True)
def fresh_state():
    recovery._ledgers.clear()
    recovery._reported.clear()
    yield
    recovery._ledgers.clear()
    recovery._reported.clear()


DEAD_KERNEL = textwrap.dedent(
    """
    import sys, time
    from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
    from nbsched.notebook.recovery import recover
    from nbsched.schedulers.background import BackgroundScheduler
    url, ledger_dir = sys.argv[1], sys.argv[2]
    s = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone="UTC")
    s.start(paused=True)
    recover(s, ledger_dir, out=None)
    s.add_job("time:sleep", "interval", seconds=60, args=[120], id="slow",
              next_run_time=__import__("datetime").datetime.now(s.timezone))
    s.resume()
    print("ready", flush=True)
    time.sleep(120)
    """
)


def run_and_kill(store_url: str, ledger_dir: Path) -> None:
    """Start a 'kernel' that runs a long job, wait until its ledger lists the run, kill it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", DEAD_KERNEL, store_url, str(ledger_dir)],
        stdout=subprocess.PIPE, env=env, text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 20
        while not list(ledger_dir.glob("*.json")):
            assert time.monotonic() < deadline, "the run never reached the ledger"
            time.sleep(0.02)  # polling a file another process writes: nothing to wait on
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def test_runs_of_a_killed_kernel_are_recorded_abandoned_once(
    store_url: str, ledger_dir: Path, paused_scheduler: BackgroundScheduler
) -> None:
    run_and_kill(store_url, ledger_dir)
    [entry] = json.loads(next(ledger_dir.glob("*.json")).read_text())["runs"]
    assert entry["job_id"] == "slow"

    lines: list[str] = []
    report = recover(paused_scheduler, ledger_dir, out=lines.append)
    assert [(r.job_id, r.outcome) for r in report.abandoned] == [("slow", "abandoned")]
    assert lines[0] == (
        "job slow: 1 run left unfinished by a kernel that exited; recorded as abandoned"
    )
    history = paused_scheduler.get_run_history("slow")
    assert [r.outcome for r in history] == ["abandoned"]
    assert history[0].scheduled_time.timestamp() == pytest.approx(entry["scheduled_time"])
    assert "exited before the run finished" in history[0].exception
    assert not list(ledger_dir.glob("*.json*"))  # claimed and consumed

    # Loading again (or a second kernel starting) records nothing new.
    again = recover(paused_scheduler, ledger_dir, out=None)
    assert again.abandoned == []
    assert [r.outcome for r in paused_scheduler.get_run_history("slow")] == ["abandoned"]


def write_ledger(folder: Path, pid: int, started: float | None, store: str,
                 alias: str = "default") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{__import__('socket').gethostname()}-{pid}-x.json"
    path.write_text(json.dumps({
        "pid": pid, "host": __import__("socket").gethostname(), "started": started,
        "runs": [{"store": store, "jobstore": alias, "job_id": "j",
                  "scheduled_time": time.time() - 5, "submitted": time.time() - 5}],
    }))
    return path


def test_ledger_of_a_live_process_is_left_alone(
    ledger_dir: Path, paused_scheduler: BackgroundScheduler
) -> None:
    store = recovery.store_identity(paused_scheduler._jobstores["default"])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = recovery.process_start_time(sleeper.pid)
        path = write_ledger(ledger_dir, sleeper.pid, started, store)
        assert mark_abandoned(paused_scheduler, ledger_dir) == []
        assert path.exists()
        # The same pid with another start time is a reused pid: its writer is gone.
        path.unlink()
        write_ledger(ledger_dir, sleeper.pid, started - 1000, store)
        assert [r.job_id for r in mark_abandoned(paused_scheduler, ledger_dir)] == ["j"]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_runs_of_other_stores_stay_in_the_ledger(
    ledger_dir: Path, paused_scheduler: BackgroundScheduler
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    path = write_ledger(ledger_dir, int(dead.stdout), 1.0, "<SQLAlchemyJobStore (url=other)>")
    assert mark_abandoned(paused_scheduler, ledger_dir) == []
    assert json.loads(path.read_text())["runs"][0]["store"].endswith("(url=other)>")
    assert paused_scheduler.get_run_history("j") == []


RELEASE = threading.Event()


def wait_for_release() -> None:
    RELEASE.wait(10)


def test_ledger_lists_runs_in_flight_and_is_removed_when_they_end(
    store_url: str, ledger_dir: Path
) -> None:
    from nbsched.events import EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED

    RELEASE.clear()
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=store_url), "mem": MemoryJobStore()},
        timezone="UTC",
    )
    scheduler.start(paused=True)
    try:
        recover(scheduler, ledger_dir, out=None)
        ledger = recovery._ledgers[str(ledger_dir)]
        submitted = threading.Event()
        finished = threading.Event()
        # Listeners run in the order added: when these fire, the ledger's already did.
        scheduler.add_listener(
            lambda e: submitted.set() if e.job_id == "persisted" else None, EVENT_JOB_SUBMITTED
        )
        scheduler.add_listener(
            lambda e: finished.set() if e.job_id == "persisted" else None, EVENT_JOB_EXECUTED
        )
        scheduler.add_job(wait_for_release, id="persisted")
        scheduler.add_job(wait_for_release, id="memory-job", jobstore="mem")
        scheduler.resume()
        assert submitted.wait(10)
        # The persistent job in flight is listed; the memory-store job never is.
        assert [r["job_id"] for r in ledger.in_flight()] == ["persisted"]
        on_disk = json.loads(ledger.path.read_text())
        assert on_disk["pid"] == os.getpid()
        assert [r["job_id"] for r in on_disk["runs"]] == ["persisted"]
        RELEASE.set()
        assert finished.wait(10)
        assert ledger.in_flight() == []
        assert not ledger.path.exists()
    finally:
        RELEASE.set()
        scheduler.shutdown()


def test_missed_runs_follow_the_policy_and_are_reported_once(
    paused_scheduler: BackgroundScheduler, ledger_dir: Path
) -> None:
    now = datetime.now(UTC)
    hour_ago = now - timedelta(hours=1)
    common = dict(trigger="interval", minutes=10, next_run_time=hour_ago)
    paused_scheduler.add_job("time:time", id="coalesced", misfire_grace_time=None, **common)
    paused_scheduler.add_job("time:time", id="replayed", coalesce=False,
                             misfire_grace_time=None, **common)
    paused_scheduler.add_job("time:time", id="too-late", misfire_grace_time=60, **common)
    paused_scheduler.add_job("time:time", "interval", minutes=10, id="on-time")

    found = {m.job_id: m for m in missed_runs(paused_scheduler, now.timestamp(), now)}
    assert set(found) == {"coalesced", "replayed", "too-late"}
    assert found["coalesced"].missed == 7 and found["coalesced"].will_run == 1
    assert found["replayed"].will_run == 7
    assert found["too-late"].will_run in (0, 1)  # 1 only if a fire time is within 60 s

    lines: list[str] = []
    recover(paused_scheduler, ledger_dir, out=lines.append)
    assert "job coalesced missed 7 runs while the kernel was down; ran once (coalesce)" in lines
    assert "job replayed missed 7 runs while the kernel was down; ran 7 (no coalesce)" in lines
    assert len(lines) == 3
    # %load_ext run again in the same kernel: nothing is reported twice.
    assert recover(paused_scheduler, ledger_dir, out=lines.append).lines == []
    assert len(lines) == 3


def test_a_run_that_ends_before_its_submission_is_noted_is_not_left_in_flight(
    paused_scheduler: BackgroundScheduler, ledger_dir: Path
) -> None:
    # EVENT_JOB_SUBMITTED is published after the executor took the run; a quick run's
    # EVENT_JOB_EXECUTED (from the pool thread) can come first.
    ledger = recovery.RunLedger(ledger_dir)
    ledger.attach(paused_scheduler)
    when = datetime.now(UTC)
    ledger.ended_run("quick", "default", when)
    ledger.started_runs("quick", "default", [when])
    assert ledger.in_flight() == []
    assert not ledger.path.exists()
    ledger.started_runs("slow", "default", [when])
    assert [r["job_id"] for r in ledger.in_flight()] == ["slow"]
    ledger.ended_run("slow", "default", when)
    assert ledger.in_flight() == [] and not ledger.path.exists()
    ledger.detach(paused_scheduler)
