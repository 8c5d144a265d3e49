"""The ``nbsched`` command against a real SQLite store in a temporary data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nbsched.cli import main
from nbsched.jobstores import store_for_url
from nbsched.jobstores.redis import RedisJobStore
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
from nbsched.schedulers.background import BackgroundScheduler


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def _add_jobs(url: str, **jobs: dict) -> None:
    scheduler = BackgroundScheduler(jobstores={"default": store_for_url(url)}, timezone="UTC")
    scheduler.start(paused=True)
    try:
        for job_id, options in jobs.items():
            scheduler.add_job(id=job_id, **options)
    finally:
        scheduler.shutdown()


def test_store_for_url_picks_the_backend(store_url: str) -> None:
    assert isinstance(store_for_url(store_url), SQLAlchemyJobStore)
    assert isinstance(store_for_url("redis://127.0.0.1:6379/0"), RedisJobStore)
    with pytest.raises(ValueError, match="store url: 'nonsense'"):
        store_for_url("nonsense")


def test_where_prints_the_default_url(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NBSCHED_STORE_URL", "sqlite:////somewhere/jobs.sqlite")
    assert main(["where"]) == 0
    assert capsys.readouterr().out.strip() == "sqlite:////somewhere/jobs.sqlite"


def test_list_shows_jobs_with_triggers_verbatim(capsys, store_url: str) -> None:
    _add_jobs(
        store_url,
        cwd={"func": "os:getcwd", "trigger": "interval", "minutes": 5},
        nine={"func": "os:getpid", "trigger": "cron", "hour": 9},
    )
    assert main(["--store", store_url, "list"]) == 0
    out = capsys.readouterr().out
    assert "cwd" in out and "interval[0:05:00]" in out
    assert "cron[hour='9']" in out  # not eaten as rich markup


def test_bad_store_is_one_line_and_exit_2(capsys) -> None:
    assert main(["--store", "nonsense", "list"]) == 2
    out = capsys.readouterr().out
    assert "cannot open store nonsense" in out and "Traceback" not in out


def test_run_executes_stored_jobs_until_sigterm(store_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    _add_jobs(
        store_url,
        touch={
            # os.mkdir takes a str on every Python (an unbound Path.touch needs a Path on 3.10)
            "func": "os:mkdir",
            "args": (str(marker),),
            "trigger": "interval",
            "seconds": 1,
        },
    )

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbsched.cli", "--store", store_url, "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not marker.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.05)  # polling a file another process writes; no event to await
        assert marker.exists(), "the stored job did not run"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "running the jobs of" in out
