"""The per-user signing key: where it comes from, how it is created and when it is refused."""

from __future__ import annotations

import hashlib
import hmac
import multiprocessing
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from nbsched import signing
from nbsched.signing import SigningKeyError, get_key, key_file_path, sign, verify

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory and no NBSCHED_SECRET_KEY, so the key file is used."""
    monkeypatch.delenv("NBSCHED_SECRET_KEY", raising=False)
    directory = tmp_path / "data"
    monkeypatch.setenv("NBSCHED_DATA_DIR", str(directory))
    return directory


def _write_key(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    old = time.time() - 60
    os.utime(path, (old, old))  # not a file some writer is still filling


# --- key from the environment -----------------------------------------------------------------


def test_env_key_is_sha256_of_the_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "correct horse")
    assert get_key() == hashlib.sha256(b"correct horse").digest()
    tag = sign(b"body")
    assert tag == hmac.new(get_key(), b"body", hashlib.sha256).digest()
    assert verify(b"body", tag)
    assert not verify(b"body!", tag)


def test_env_key_does_not_create_a_key_file(key_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "x")
    sign(b"body")
    assert not (key_dir / "secret.key").exists()


def test_tag_from_other_key_does_not_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "alice")
    tag = sign(b"body")
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "mallory")
    assert not verify(b"body", tag)


def test_verify_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    assert verify(b"x", sign(b"x"))
    assert len(calls) == 1


def test_bad_argument_types_are_named() -> None:
    with pytest.raises(TypeError, match="body must be bytes"):
        sign("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tag must be bytes"):
        verify(b"x", "tag")  # type: ignore[arg-type]


# --- key file ---------------------------------------------------------------------------------


@posix_only
def test_key_file_created_on_first_use_with_0600(key_dir: Path) -> None:
    assert not key_dir.exists()
    key = get_key()
    path = key_dir / "secret.key"
    assert key_file_path() == path
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert bytes.fromhex(path.read_text().strip()) == key
    assert get_key() == key
    assert [p.name for p in key_dir.iterdir()] == ["secret.key"], "no temporary files left"


def test_key_file_is_reused_by_another_process(key_dir: Path) -> None:
    key = get_key()
    out = subprocess.run(
        [sys.executable, "-c", "from nbsched.signing import get_key; print(get_key().hex())"],
        capture_output=True, text=True, check=True, env=os.environ.copy(),
    )
    assert out.stdout.strip() == key.hex()


def test_existing_key_file_is_used(key_dir: Path) -> None:
    _write_key(key_dir / "secret.key", "ab" * 32 + "\n", 0o600)
    assert get_key() == bytes.fromhex("ab" * 32)


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_key_file_open_to_others_is_refused(key_dir: Path, mode: int) -> None:
    path = key_dir / "secret.key"
    _write_key(path, "ab" * 32, mode)
    with pytest.raises(SigningKeyError, match=r"chmod 600") as info:
        get_key()
    assert str(path) in str(info.value)
    assert f"{mode:04o}" in str(info.value)
    with pytest.raises(SigningKeyError):
        sign(b"anything")


@posix_only
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_key_file_owned_by_someone_else_is_refused(key_dir: Path) -> None:
    path = key_dir / "secret.key"
    _write_key(path, "ab" * 32, 0o600)
    os.chown(path, 54321, -1)
    with pytest.raises(SigningKeyError, match="owned by uid 54321"):
        get_key()


@pytest.mark.parametrize("content", ["not hex at all", "ab" * 16, "ab" * 33, ""])
def test_corrupt_key_file_is_refused(key_dir: Path, content: str) -> None:
    _write_key(key_dir / "secret.key", content, 0o600)
    with pytest.raises(SigningKeyError, match="corrupt"):
        get_key()


def test_reader_waits_for_a_writer_still_filling_the_file(key_dir: Path) -> None:
    """Fallback file systems create the file before writing it: a young short file is awaited."""
    key_dir.mkdir()
    path = key_dir / "secret.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    reading = threading.Event()
    result: list[bytes] = []

    def reader() -> None:
        reading.set()
        result.append(get_key())

    thread = threading.Thread(target=reader)
    thread.start()
    reading.wait()
    os.write(fd, ("cd" * 32 + "\n").encode())
    os.close(fd)
    thread.join(10)
    assert result == [bytes.fromhex("cd" * 32)]


def test_losing_the_creation_race_uses_the_winners_key(
    key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process links its key in between our existence check and our link."""
    winner = "ef" * 32
    real_link = os.link

    def link_after_rival(src: str, dst: str) -> None:
        _write_key(Path(dst), winner + "\n", 0o600)
        real_link(src, dst)  # raises FileExistsError, as it would in the real race

    monkeypatch.setattr(signing.os, "link", link_after_rival)
    assert get_key() == bytes.fromhex(winner)
    assert [p.name for p in key_dir.iterdir()] == ["secret.key"]


@posix_only
def test_without_hard_links_falls_back_to_exclusive_create(
    key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: str, dst: str) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(signing.os, "link", no_links)
    key = get_key()
    path = key_dir / "secret.key"
    assert bytes.fromhex(path.read_text().strip()) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in key_dir.iterdir()] == ["secret.key"]


def test_unwritable_directory_gives_a_clear_error(
    key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(signing.tempfile, "mkstemp", refuse)
    with pytest.raises(SigningKeyError, match="cannot create the nbsched key file"):
        get_key()


def test_replaced_key_file_is_noticed(key_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_key()
    path = key_dir / "secret.key"
    path.unlink()
    _write_key(path, "12" * 32, 0o600)
    monkeypatch.setattr(signing, "_RECHECK_SECONDS", 0.0)
    assert get_key() == bytes.fromhex("12" * 32) != first


def _race_worker(barrier: Any, queue: Any) -> None:
    barrier.wait()
    queue.put(get_key().hex())


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_concurrent_first_use_from_several_processes_yields_one_key(key_dir: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    count = 6
    barrier = ctx.Barrier(count)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(barrier, queue)) for _ in range(count)]
    for proc in procs:
        proc.start()
    keys = [queue.get(timeout=30) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert len(set(keys)) == 1
    assert (key_dir / "secret.key").read_text().strip() == keys[0]
    assert [p.name for p in key_dir.iterdir()] == ["secret.key"]
