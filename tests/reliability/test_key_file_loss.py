"""Losing the key file condemns nothing; putting it back brings every job back (issue 11, 4).

Before the fix, deleting ``secret.key`` under a running scheduler made nbsched create a new
key with only an INFO log; every record then failed its signature and was quarantined, and
restoring the old key did not bring them back (each had to be retried by hand). And a process
asking for the key more often than once a second never re-checked the file at all (each call
pushed the next check a second further), so a replaced key file or one made 0644 went
unnoticed for as long as the process was busy.

Now verifying never creates a key (a new one verifies nothing), a key is never created for a
store that holds records, the store reports the missing key loudly (naming the file) and
quarantines nothing, and restoring the file makes the jobs run again by themselves.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from waiting import await_until

from nbsched.events import EVENT_JOB_EXECUTED
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
from nbsched.schedulers.background import BackgroundScheduler
from nbsched.signing import MissingKeyError, SigningKeyError, get_key, key_file_path

UTC = timezone.utc



@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data directory and no NBSCHED_SECRET_KEY: the key comes from the key file."""
    data = tmp_path / "data"
    monkeypatch.delenv("NBSCHED_SECRET_KEY", raising=False)
    monkeypatch.setenv("NBSCHED_DATA_DIR", str(data))
    return data


def _write_key(path: Path, key: bytes) -> None:
    tmp = path.with_name(".replacement")
    tmp.write_text(key.hex() + "\n")
    tmp.chmod(0o600)
    os.replace(tmp, path)


def test_a_busy_process_notices_the_key_file_replaced_or_made_readable(key_dir: Path) -> None:
    first = get_key()
    path = key_file_path()
    _write_key(path, bytes(range(32)))
    changed_at = time.monotonic()
    # Ask 100 times a second: more often than the once-a-second re-check.
    await_until(lambda: get_key() != first, 3, lambda: "get_key() to return the replaced key")
    noticed = time.monotonic() - changed_at
    print(f"FIGURE point 4 replaced key noticed after {noticed:.2f} s")
    assert get_key() == bytes(range(32))

    path.chmod(0o644)
    changed_at = time.monotonic()

    def refused() -> bool:
        try:
            get_key()
        except SigningKeyError:
            return True
        return False

    await_until(refused, 3, lambda: "get_key() to refuse the key file made 0644")
    print(f"FIGURE point 4 0644 key refused after {time.monotonic() - changed_at:.2f} s")
    assert time.monotonic() - changed_at < 2.5


def test_deleted_key_file_quarantines_nothing_and_its_return_resumes_the_jobs(
    key_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    ran: list[str] = []
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC",
                                    jobstore_retry_interval=0.2)
    scheduler.add_listener(lambda event: ran.append(event.job_id), EVENT_JOB_EXECUTED)
    scheduler.start(paused=True)
    try:
        now = datetime.now(UTC)
        for job_id in ("one", "two"):
            scheduler.add_job("os:getpid", "interval", hours=1, id=job_id, next_run_time=now,
                              misfire_grace_time=None)
        path = key_file_path()
        saved = path.read_bytes()
        path.unlink()

        def noticed() -> bool:  # the process re-checks the file within a second
            try:
                get_key(create=False)
            except MissingKeyError:
                return True
            return False

        await_until(noticed, 3, lambda: "the process to notice the deleted key file")
        with caplog.at_level(logging.WARNING):
            scheduler.resume()
            await_until(lambda: "does not exist" in caplog.text or ran
                   or store.get_quarantined_jobs() != [], 5,
                   lambda: "the scheduler to report the missing key")
            assert ran == []
            assert store.get_quarantined_jobs() == [], "the missing key condemned the jobs"
            assert not path.exists(), "a new key was created for a store with records"
            assert str(path) in caplog.text  # the message names the key file
            with pytest.raises(MissingKeyError, match="holds 2 records"):
                scheduler.add_job("os:getcwd", "interval", hours=1, id="three")
            assert not path.exists()

        path.write_bytes(saved)
        path.chmod(0o600)
        restored = time.monotonic()
        await_until(lambda: sorted(ran) == ["one", "two"], 10,
               lambda: f"both jobs to run after the key came back (ran: {ran})")
        print(f"FIGURE point 4 jobs ran {time.monotonic() - restored:.2f} s after the key "
              f"file came back; quarantined: {len(store.get_quarantined_jobs())}")
    finally:
        scheduler.shutdown(wait=False)


def test_a_new_key_is_created_loudly_and_only_for_an_empty_store(
    key_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
    scheduler.start(paused=True)
    try:
        with caplog.at_level(logging.WARNING, logger="nbsched.signing"):
            scheduler.add_job("os:getpid", "interval", hours=1, id="first")
        assert key_file_path().exists()
        assert "Created a new nbsched signing key" in caplog.text  # a warning, not INFO
        assert [job.id for job in scheduler.get_jobs()] == ["first"]
    finally:
        scheduler.shutdown(wait=False)


def test_verifying_never_creates_a_key(key_dir: Path) -> None:
    from nbsched.signing import verify

    done = threading.Event()
    with pytest.raises(MissingKeyError, match="does not exist"):
        verify(b"body", b"\0" * 32)
    done.set()
    assert not key_file_path().exists()
