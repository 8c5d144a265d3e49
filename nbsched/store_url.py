"""Where nbsched keeps its per-user files, and which store URL to use when none is given.

Both the signing key and the embedded SQLite store live in one per-user data directory so a
user can find, back up or wipe everything nbsched keeps in one place. ``NBSCHED_DATA_DIR``
overrides that directory (tests use it so they never touch the real key or store), and
``NBSCHED_STORE_URL`` overrides the store outright (e.g. to point every notebook at a shared
PostgreSQL database without changing code).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import platformdirs

__all__ = ["DATA_DIR_ENV", "STORE_URL_ENV", "data_dir", "default_store_url", "mask_url"]

DATA_DIR_ENV = "NBSCHED_DATA_DIR"
STORE_URL_ENV = "NBSCHED_STORE_URL"


def data_dir(create: bool = True) -> Path:
    """Return nbsched's per-user data directory, creating it (mode 0700) when asked.

    The directory holds the signing key, so it is created private to the user; an existing
    directory's mode is left alone (the key file's own permissions are checked separately).
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        path = Path(platformdirs.user_data_dir("nbsched", appauthor=False))
    path = path.absolute()
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def default_store_url() -> str:
    """Return the store URL to use when the user names none.

    ``NBSCHED_STORE_URL`` when set (used verbatim), else an SQLite file ``jobs.sqlite`` in
    :func:`data_dir` — which is created so the database file can be opened straight away.
    """
    url = os.environ.get(STORE_URL_ENV, "").strip()
    if url:
        return url
    return f"sqlite:///{(data_dir() / 'jobs.sqlite').as_posix()}"


_CREDENTIALS = re.compile(r"^(?P<scheme>[^:/?#]+://)(?P<user>[^:@/]*):(?P<password>[^@/]*)@")


def mask_url(url: object) -> str:
    """``url`` with its password replaced by ``***``, for every message that shows a URL.

    Store URLs often carry credentials (``postgresql://app:secret@db/jobs``,
    ``redis://:secret@cache:6379/0``); nothing nbsched prints or logs may echo them. Works on
    anything: a non-URL is returned as text, with a ``user:password@`` prefix masked too.
    """
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is not None and parts.scheme and parts.password is not None:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
    # Not parseable as a URL with a password (for example "postgres:pw@host/db"): mask any
    # "user:password@" that still reads like credentials.
    masked = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return re.sub(r"^([^:/@\s]+):([^@/\s]+)@", r"\1:***@", masked)
