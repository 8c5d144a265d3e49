"""The per-user secret that signs job records, and the HMAC over them.

Job records hold pickles, and unpickling runs code. Anyone who can write to a job store (a
shared database, a Redis instance without a password, a copied SQLite file) could otherwise
make the scheduler run anything. Every record is therefore signed with HMAC-SHA256 under a key
only the user holds, and nothing is unpickled unless the tag verifies.

Where the key comes from, in order:

1. ``NBSCHED_SECRET_KEY`` — any string, hashed with SHA-256 to 32 bytes. Use it when several
   machines or users must read one store (give them all the same secret).
2. A key file ``secret.key`` in :func:`nbsched.store_url.data_dir` — 32 random bytes written as
   hex on first use with mode 0600. Creation is atomic and race-safe between processes: the key
   is written to a private temporary file which is then hard-linked into place, and linking
   fails if another process got there first, in which case its key is used. A key file that
   other users can read or write is refused, because a leaked key lets them forge records.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nbsched.store_url import DATA_DIR_ENV, data_dir

__all__ = [
    "KEY_FILE_NAME",
    "SECRET_KEY_ENV",
    "TAG_SIZE",
    "KeyMismatchError",
    "MissingKeyError",
    "SigningKeyError",
    "describe_key",
    "get_key",
    "key_file_path",
    "key_id",
    "sign",
    "verify",
]

SECRET_KEY_ENV = "NBSCHED_SECRET_KEY"
KEY_FILE_NAME = "secret.key"
TAG_SIZE = 32
_KEY_SIZE = 32

_logger = logging.getLogger("nbsched.signing")
_RECHECK_SECONDS = 1.0
_Identity = tuple[int, ...]
_cache: dict[Any, tuple[Path, _Identity, bytes, float]] = {}
_cache_lock = threading.Lock()
_env_keys: dict[Any, bytes] = {}


# Every record signed or verified asks for the key, and ``os.environ.get`` runs several Python
# frames (a Mapping method, key encoding) per call. ``os.environ`` keeps its raw mapping in
# ``_data`` (CPython, every platform) and updates it on every change, so reading that is
# equivalent; the public API is the fallback should it ever go away.
_environ_data: Any = getattr(os.environ, "_data", None)
_SECRET_RAW_NAME = os.environ.encodekey(SECRET_KEY_ENV)
_DATA_DIR_RAW_NAME = os.environ.encodekey(DATA_DIR_ENV)


def _getenv(raw_name: Any, name: str) -> Any:
    """The raw (undecoded) value of environment variable ``name``, or None; only compare it."""
    if _environ_data is None:  # pragma: no cover - not CPython's os module
        return os.environ.get(name)
    return _environ_data.get(raw_name)


class SigningKeyError(RuntimeError):
    """The signing key cannot be obtained safely (unsafe permissions, corrupt, unwritable)."""


class MissingKeyError(SigningKeyError):
    """There is no key file (and no ``NBSCHED_SECRET_KEY``) and creating one was not allowed.

    Verifying never creates a key: a new key verifies no existing record, so making one to
    read a store would only turn every record into a signature failure.
    """


class KeyMismatchError(SigningKeyError):
    """The current key verifies none of a store's records: a configuration error.

    Raised by a store instead of quarantining every record one by one; nothing is written.
    """


def key_file_path(create_dir: bool = False) -> Path:
    """Return where the per-user key file lives (whether or not it exists yet)."""
    return data_dir(create=create_dir) / KEY_FILE_NAME


def get_key(create: bool = True) -> bytes:
    """Return the 32-byte signing key, creating the per-user key file on first use.

    :param create: create the key file when there is none (signing); verifying passes False
        and gets :class:`MissingKeyError` instead, because a new key verifies nothing
    :raises SigningKeyError: if the key file is readable or writable by others, is not owned by
        the current user, is corrupt, or cannot be created
    """
    raw_secret = _getenv(_SECRET_RAW_NAME, SECRET_KEY_ENV)
    if raw_secret:
        key = _env_keys.get(raw_secret)
        if key is None:
            secret = raw_secret if isinstance(raw_secret, str) else os.environ[SECRET_KEY_ENV]
            key = hashlib.sha256(secret.encode("utf-8")).digest()
            _env_keys.clear()  # only ever the current secret
            _env_keys[raw_secret] = key
        return key

    # Keyed by the data-dir override so tests (and tools) that switch directories get the
    # right key. The file is re-checked (one stat) once a second *since the last check*, so a
    # process asking many times a second still notices it being replaced, removed or made
    # readable by others within about a second.
    cache_key = _getenv(_DATA_DIR_RAW_NAME, DATA_DIR_ENV)
    now = time.monotonic()
    with _cache_lock:
        entry = _cache.get(cache_key)
        if entry is not None:
            path, identity, key, checked = entry
            if now - checked < _RECHECK_SECONDS:
                return key
            if _identity(path) == identity:
                _cache[cache_key] = (path, identity, key, now)
                return key
            del _cache[cache_key]
        path = key_file_path(create_dir=True)
        identity, key = _load_or_create(path, create)
        _cache[cache_key] = (path, identity, key, now)
        return key


_key_ids: dict[bytes, str] = {}


def key_id(key: bytes | None = None) -> str:
    """A short public fingerprint of ``key`` (default: the current key), 16 hex digits.

    Written into every record's header, so a record that fails its signature can tell "signed
    with another key" from "changed after signing". It reveals nothing usable about the key
    (an HMAC of a fixed text under it).
    """
    if key is None:
        key = get_key()
    found = _key_ids.get(key)
    if found is None:
        found = hmac.digest(key, b"nbsched key id", "sha256")[:8].hex()
        if len(_key_ids) > 16:
            _key_ids.clear()
        _key_ids[key] = found
    return found


def describe_key() -> str:
    """Where the current key comes from, for messages: the variable or the key file's path."""
    if _getenv(_SECRET_RAW_NAME, SECRET_KEY_ENV):
        return f"the key from ${SECRET_KEY_ENV}"
    return f"the key file {key_file_path()}"


def sign(body: bytes) -> bytes:
    """Return the HMAC-SHA256 tag of ``body`` under the current key."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(f"body must be bytes, not {type(body).__name__}")
    return hmac.digest(get_key(), body, "sha256")


def verify(body: bytes, tag: bytes) -> bool:
    """Tell whether ``tag`` is the HMAC of ``body`` under the current key (constant-time)."""
    if type(tag) is not bytes:
        if not isinstance(tag, (bytearray, memoryview)):
            raise TypeError(f"tag must be bytes, not {type(tag).__name__}")
        tag = bytes(tag)
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(f"body must be bytes, not {type(body).__name__}")
    return hmac.compare_digest(hmac.digest(get_key(create=False), body, "sha256"), tag)


def _identity(path: Path) -> _Identity | None:
    """What identifies one version of the key file, so a replaced or removed file is noticed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return _stat_identity(st)


def _stat_identity(st: os.stat_result) -> _Identity:
    # The mode and owner are part of it: a key file made 0644 (or given away) is re-read,
    # and then refused, within a second.
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode,
            st.st_uid)


class _IncompleteKeyFile(Exception):
    """The key file is shorter than a key and young: a writer may still be filling it."""


def _load_or_create(path: Path, create: bool = True) -> tuple[_Identity, bytes]:
    deadline = time.monotonic() + 2.0
    while True:
        try:
            return _read_key_file(path)
        except FileNotFoundError:
            if not create:
                raise MissingKeyError(
                    f"there is no nbsched signing key: the key file {path} does not exist and "
                    f"{SECRET_KEY_ENV} is not set. Records signed before cannot be verified "
                    f"without their key: restore the key file (mode 0600) or set "
                    f"{SECRET_KEY_ENV} to the secret the store's owner uses"
                ) from None
            if _create_key_file(path):
                _logger.warning(
                    "Created a new nbsched signing key at %s; records signed with any "
                    "earlier key will not verify under it",
                    path,
                )
            # Won or lost the race, the file now exists: read it back like everyone else.
        except _IncompleteKeyFile:
            if time.monotonic() > deadline:
                raise SigningKeyError(
                    f"the nbsched key file {path} stays incomplete; remove it to generate a "
                    f"new key or set {SECRET_KEY_ENV}"
                ) from None
            time.sleep(0.01)


def _read_key_file(path: Path) -> tuple[_Identity, bytes]:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        _check_permissions(path, st)
        raw = b""
        while chunk := os.read(fd, 4096):
            raw += chunk
    finally:
        os.close(fd)
    text = raw.decode("ascii", errors="replace").strip()
    if len(text) < 2 * _KEY_SIZE and time.time() - st.st_mtime < 2.0:
        raise _IncompleteKeyFile
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != _KEY_SIZE:
        raise SigningKeyError(
            f"the nbsched key file {path} is corrupt (expected {2 * _KEY_SIZE} hex digits); "
            f"remove it to generate a new key (records signed with the old key will then be "
            f"refused) or set {SECRET_KEY_ENV}"
        )
    return _stat_identity(st), key


def _check_permissions(path: Path, st: os.stat_result) -> None:
    if os.name != "posix":
        return  # NTFS ACLs: the per-user profile directory is already private
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SigningKeyError(
            f"refusing to use the nbsched key file {path}: its mode is {mode:04o}, so other "
            f"users can read or change it and forge job records; run `chmod 600 {path}` "
            f"(and consider replacing the key)"
        )
    if st.st_uid != os.geteuid():
        raise SigningKeyError(
            f"refusing to use the nbsched key file {path}: it is owned by uid {st.st_uid}, "
            f"not by the current user (uid {os.geteuid()})"
        )


def _create_key_file(path: Path) -> bool:
    """Atomically create the key file; return False if another process created it first."""
    content = (secrets.token_bytes(_KEY_SIZE).hex() + "\n").encode("ascii")
    try:
        # mkstemp opens with O_CREAT | O_EXCL and mode 0600.
        fd, tmp_name = tempfile.mkstemp(prefix=".secret-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SigningKeyError(
            f"cannot create the nbsched key file in {path.parent}: {exc}"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(content)
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)
            return True
        except FileExistsError:
            return False
        except OSError:
            return _create_exclusive(path, content)
    finally:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass


def _create_exclusive(path: Path, content: bytes) -> bool:
    """Fallback for file systems without hard links: O_CREAT | O_EXCL straight on the target.

    A reader may briefly see a short file; it waits for the writer rather than calling the file
    corrupt (see :class:`_IncompleteKeyFile`).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise SigningKeyError(f"cannot create the nbsched key file {path}: {exc}") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    return True
