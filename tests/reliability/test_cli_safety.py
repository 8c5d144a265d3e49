"""The ``nbsched`` command never shows a password, never dumps a traceback for a problem the
user can fix, and never sends control characters from a store to the terminal (issue 11,
points 13-15). Real stores: SQLite files, the local Redis, and ports where nothing listens."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nbsched.cli import main
from nbsched.jobstores import store_for_url
from nbsched.schedulers.background import BackgroundScheduler
from nbsched.store_url import mask_url

SECRET = "s3cretPW"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "nbsched.cli", *args], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://app:{SECRET}@127.0.0.1:1/jobs",
        f"mysql+pymysql://root:{SECRET}@127.0.0.1:1/test",
        f"redis://:{SECRET}@127.0.0.1:1/0",
        f"rediss://user:{SECRET}@127.0.0.1:1/0?ssl_cert_reqs=none",
    ],
)
def test_mask_url_hides_the_password(url: str) -> None:
    masked = mask_url(url)
    assert SECRET not in masked and ":***@" in masked


def test_where_masks_the_password(capsys, monkeypatch) -> None:
    monkeypatch.setenv("NBSCHED_STORE_URL", f"postgresql+psycopg://app:{SECRET}@db/jobs")
    assert main(["where"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and "app:***@db/jobs" in out


@pytest.mark.parametrize("command", ["list", "history"])
def test_unreachable_server_is_one_line_and_status_2(command: str) -> None:
    port = _free_port()
    for url in (f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:{port}/test",
                f"redis://:{SECRET}@127.0.0.1:{port}/0"):
        result = _cli("--store", url, command)
        assert result.returncode == 2, result
        text = result.stdout + result.stderr
        assert "Traceback" not in text
        assert SECRET not in text
        assert len(text.strip().splitlines()) == 1, text
        assert "***" in text


def test_wrong_redis_password_is_one_line_and_status_2(redis_url: str) -> None:
    # No such ACL user on the local Redis: AUTH is refused with WRONGPASS.
    url = redis_url.replace("redis://", f"redis://nbsched-no-such-user:{SECRET}@")
    result = _cli("--store", url, "list")
    assert result.returncode == 2, result
    text = result.stdout + result.stderr
    assert "Traceback" not in text and SECRET not in text
    assert len(text.strip().splitlines()) == 1, text


def test_run_banner_and_failure_mask_the_password() -> None:
    port = _free_port()
    result = _cli("--store", f"postgresql+psycopg://app:{SECRET}@127.0.0.1:{port}/x", "run")
    text = result.stdout + result.stderr
    assert result.returncode == 2, result
    assert SECRET not in text and "Traceback" not in text


def test_store_for_url_error_does_not_echo_a_password() -> None:
    with pytest.raises(ValueError) as info:
        store_for_url(f"postgres:{SECRET}@host/db")
    assert SECRET not in str(info.value)


def test_crafted_quarantined_id_cannot_inject_terminal_escapes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    scheduler = BackgroundScheduler(jobstores={"default": store_for_url(url)}, timezone="UTC")
    scheduler.start(paused=True)
    scheduler.add_job("os:getpid", "interval", minutes=5, id="honest")
    scheduler.shutdown()
    crafted = "evil\x1b]0;owned\x07\x1b[2J\x1b[31mred"
    with sqlite3.connect(tmp_path / "jobs.sqlite") as db:
        db.execute(
            "INSERT INTO nbsched_jobs (id, next_run_time, job_state) VALUES (?, ?, ?)",
            (crafted, 1.0, b"not a signed record"),
        )
    result = _cli("--store", url, "list")
    assert result.returncode == 0, result
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "evil\\x1b]0;owned\\x07" in result.stdout  # shown, visibly escaped
