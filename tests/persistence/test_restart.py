"""Jobs survive a hard kill of their process, and a tampered record is never run.

The restart test runs ``restart_worker.py`` twice against one store: the first process defines
the job function in ``__main__``, schedules two interval jobs and is killed with SIGKILL; the
second process never defines the function, opens the store and must carry on: the same
schedule grid, the misfire policy of each job applied to the runs missed while nothing was
running, and no fire time that already ran running again.
"""

from __future__ import annotations

import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")

WORKER = Path(__file__).with_name("restart_worker.py")
INTERVAL = 1.0
GRACE = 0.3
TOLERANCE = 1e-3


# --- stores -----------------------------------------------------------------------------------


def _sqlalchemy_spec(url: str) -> dict[str, Any]:
    pytest.importorskip("nbsched.jobstores.sqlalchemy", reason="SQLAlchemyJobStore not landed")
    tablename = f"nbsched_restart_{uuid.uuid4().hex[:8]}"
    return {"kind": "sqlalchemy", "url": url, "tablename": tablename}


def _make_store(spec: dict[str, Any]) -> Any:
    spec = dict(spec)
    kind = spec.pop("kind")
    if kind == "sqlalchemy":
        from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

        return SQLAlchemyJobStore(**spec)
    from nbsched.jobstores.redis import RedisJobStore

    return RedisJobStore(**spec)


def _cleanup(spec: dict[str, Any], prefix: str = "") -> None:
    if spec["kind"] == "sqlalchemy":
        store = _make_store(spec)
        try:
            store._drop_tables()
        finally:
            store.engine.dispose()
    else:
        import redis

        client = redis.Redis.from_url(spec["url"])
        try:
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """How the worker builds its store (JSON-able keyword arguments), cleaned up afterwards."""
    prefix = f"nbsched.test.{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        spec = _sqlalchemy_spec(f"sqlite:///{(tmp_path / 'jobs.sqlite').as_posix()}")
    elif request.param == "postgresql":
        spec = _sqlalchemy_spec(request.getfixturevalue("postgres_url"))
    else:
        url = request.getfixturevalue("redis_url")
        pytest.importorskip("nbsched.jobstores.redis", reason="RedisJobStore not landed")
        spec = {
            "kind": "redis", "url": url, "jobs_key": f"{prefix}.jobs",
            "run_times_key": f"{prefix}.run_times",
        }
    try:
        yield spec
    finally:
        _cleanup(spec, prefix)


# --- the worker process -------------------------------------------------------------------------


class Worker:
    """One ``restart_worker.py`` process whose JSON event lines are read as they arrive."""

    def __init__(self, args: list[str], stderr_path: Path) -> None:
        self._stderr_path = stderr_path
        self._stderr = stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=os.environ.copy(),
        )
        self.events: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self._queue.put(json.loads(line))
        self._queue.put(None)

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.events):
            remaining = deadline - time.monotonic()
            try:
                event = self._queue.get(timeout=max(remaining, 0))
            except queue.Empty:
                event = None
                remaining = 0
            if event is None:
                self._stderr.flush()
                raise AssertionError(
                    f"worker {'exited' if remaining > 0 else 'timed out'}; events so far: "
                    f"{self.events}\nstderr:\n{self._stderr_path.read_text()[-4000:]}"
                )
            self.events.append(event)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._reader.join(10)
        while True:  # keep whatever arrived before the kill
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                break
            if event is not None:
                self.events.append(event)
        self._stderr.close()


def executed(events: list[dict[str, Any]], job: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == "executed" and e["job"] == job]


def of_job(events: list[dict[str, Any]], job: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("job") == job and e.get("event") != "started"]


def sleep_until_mid_interval(start: float) -> float:
    """Sleep to the middle of a schedule interval (never near a fire time); return that time.

    Killing between fire times keeps the test about restart semantics rather than about the
    instant a run is handed over.
    """
    now = time.time()
    target = start + (math.floor((now - start) / INTERVAL) + 0.5) * INTERVAL
    if target < now + 0.05:
        target += INTERVAL
    time.sleep(target - now)
    return target


def grid_index(scheduled: float, start: float) -> int:
    index = (scheduled - start) / INTERVAL
    assert abs(index - round(index)) < TOLERANCE, f"{scheduled} is off the schedule grid"
    return round(index)


# --- the restart test --------------------------------------------------------------------------


def test_jobs_keep_running_after_sigkill(store_spec: dict[str, Any], tmp_path: Path) -> None:
    runs_file = tmp_path / "runs.txt"
    start = math.ceil(time.time()) + 1.0
    spec_json = json.dumps(store_spec)

    first = Worker(
        ["define", spec_json, str(runs_file), str(start), str(INTERVAL), str(GRACE)],
        tmp_path / "first.err",
    )
    try:
        first.wait_for(
            lambda ev: len(executed(ev, "coalescing")) >= 2 and len(executed(ev, "strict")) >= 2
        )
        killed_at = sleep_until_mid_interval(start)
    finally:
        first.kill()
    phase1 = first.events
    last_before_kill = math.floor((killed_at - start) / INTERVAL)

    # Down for two whole intervals: fire times last+1 and last+2 pass with nothing running.
    time.sleep(max(0.0, killed_at + 2 * INTERVAL - time.time()))
    second = Worker(["resume", spec_json, str(runs_file)], tmp_path / "second.err")
    try:

        def enough(ev: list[dict[str, Any]]) -> bool:
            return len(executed(ev, "coalescing")) >= 3 and len(executed(ev, "strict")) >= 2

        second.wait_for(enough)
        sleep_until_mid_interval(start)
    finally:
        second.kill()
    phase2 = second.events

    started = [e for e in phase2 if e.get("event") == "started"]
    assert started and started[0]["jobs"] == ["coalescing", "strict"]
    assert not [e for e in phase1 + phase2 if e.get("event") == "error"]

    # The function ran in the second process, which never defined it.
    pids: dict[int, list[str]] = {}
    for line in runs_file.read_text().splitlines():
        label, pid, _when = line.split()
        pids.setdefault(int(pid), []).append(label)
    assert set(pids) == {first.proc.pid, second.proc.pid}
    for worker in (first, second):
        for job in ("coalescing", "strict"):
            # One recorded run per execution event: nothing ran twice or silently.
            assert pids[worker.proc.pid].count(job) == len(executed(worker.events, job)), job

    for job in ("coalescing", "strict"):
        ran = [grid_index(e["scheduled"], start) for e in executed(phase1 + phase2, job)]
        assert len(ran) == len(set(ran)), f"{job}: a completed run was repeated: {ran}"
        assert all(i <= last_before_kill for i in ran[: len(executed(phase1, job))])

    # coalescing (coalesce=True, no grace limit): the missed fire times collapse into one run,
    # then the job is back on its grid.
    coalescing = [grid_index(e["scheduled"], start) for e in of_job(phase2, "coalescing")]
    assert all(e["event"] == "executed" for e in of_job(phase2, "coalescing"))
    assert coalescing[0] >= last_before_kill + 2, "the catch-up run is for the latest fire time"
    assert coalescing == list(range(coalescing[0], coalescing[0] + len(coalescing)))
    assert last_before_kill + 1 not in coalescing

    # strict (no coalescing, grace 0.3 s): every fire time from the first missed one on is
    # accounted for exactly once, as missed (too late) or run (within the grace time).
    strict = of_job(phase2, "strict")
    indexes = [grid_index(e["scheduled"], start) for e in strict]
    assert sorted(indexes) == list(range(last_before_kill + 1, last_before_kill + 1 + len(strict)))
    assert strict[0]["event"] == "missed", "a fire time 1.5 intervals old is past the grace time"
    for event in strict:
        if event["event"] == "executed":
            assert event["start"] - event["scheduled"] <= GRACE + 0.2, event

    # Back on schedule: the latest runs of both jobs start close to their fire times.
    for job in ("coalescing", "strict"):
        for event in executed(phase2, job)[-2:]:
            assert event["start"] - event["scheduled"] < 0.5, event


# --- a tampered record in a real store ---------------------------------------------------------


class RawRecords:
    """Read and overwrite a stored record behind the store's back, like an intruder would."""

    def __init__(self, spec: dict[str, Any], store: Any) -> None:
        self.spec = spec
        self.store = store

    def get(self, job_id: str) -> bytes:
        if self.spec["kind"] == "redis":
            import redis

            with redis.Redis.from_url(self.spec["url"]) as client:
                return bytes(client.hget(self.spec["jobs_key"], job_id))
        import sqlalchemy

        table = self.store.jobs_t
        with self.store.engine.connect() as conn:
            return bytes(
                conn.execute(
                    sqlalchemy.select(table.c.job_state).where(table.c.id == job_id)
                ).scalar_one()
            )

    def put(self, job_id: str, payload: bytes) -> None:
        if self.spec["kind"] == "redis":
            import redis

            with redis.Redis.from_url(self.spec["url"]) as client:
                assert client.hset(self.spec["jobs_key"], job_id, payload) == 0
            return
        import sqlalchemy

        table = self.store.jobs_t
        with self.store.engine.begin() as conn:
            result = conn.execute(
                sqlalchemy.update(table).where(table.c.id == job_id).values(job_state=payload)
            )
            assert result.rowcount == 1


class Evil:
    """Unpickling this creates a directory: proof of whether a record was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def test_tampered_record_is_quarantined_and_never_run(
    store_spec: dict[str, Any], tmp_path: Path
) -> None:
    from nbsched.events import EVENT_JOB_EXECUTED
    from nbsched.schedulers.background import BackgroundScheduler

    unpickled = tmp_path / "unpickled"
    ran = tmp_path / "ran"
    store = _make_store(store_spec)
    raw = RawRecords(store_spec, store)
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_jobstore(store)
    healthy_done = threading.Event()
    scheduler.add_listener(
        lambda e: e.job_id == "healthy" and healthy_done.set(), EVENT_JOB_EXECUTED
    )
    scheduler.start(paused=True)
    try:
        due = datetime.now(timezone.utc) - timedelta(seconds=1)
        scheduler.add_job(
            lambda _evil: ran.touch(), "date", run_date=due, id="victim", args=(Evil(unpickled),),
            misfire_grace_time=None,
        )
        scheduler.add_job(
            "os.path:join", "date", run_date=due, id="healthy", args=("a", "b"),
            misfire_grace_time=None,
        )
        if unpickled.exists():  # the scheduler may have read the authentic record back
            unpickled.rmdir()

        original = raw.get("victim")
        tampered = bytearray(original)
        tampered[-10] ^= 0x01  # inside the pickled arguments
        raw.put("victim", bytes(tampered))

        scheduler.resume()
        assert healthy_done.wait(20), "the healthy job in the same store did not run"
        # The victim was due in the same batch as the healthy job, so it has been looked at.
        quarantined = {q.id: q for q in _quarantined(scheduler, store)}
        assert set(quarantined) == {"victim"}
        assert "signature" in quarantined["victim"].reason
        assert not ran.exists(), "a tampered record was executed"
        assert not unpickled.exists(), "a tampered record was unpickled"
        assert "victim" not in [job.id for job in scheduler.get_jobs()]
        assert raw.get("victim") == bytes(tampered), "a quarantined record is kept as it was"

        # Put the authentic bytes back: the record restores again.
        scheduler.pause()
        raw.put("victim", original)
        restored = store.retry_quarantined("victim")
        assert restored.id == "victim"
        assert store.get_quarantined_jobs() == []
    finally:
        scheduler.shutdown(wait=False)


def _quarantined(scheduler: Any, store: Any) -> list[Any]:
    getter = getattr(scheduler, "get_quarantined_jobs", None)
    return list(getter()) if getter is not None else list(store.get_quarantined_jobs())
