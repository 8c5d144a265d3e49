"""Shared test configuration: isolation from the user's real nbsched files, service fixtures.

Every test session gets its own data directory and signing key, so no test reads or writes the
user's key file or default job store. Tests that need PostgreSQL, MariaDB or Redis take the
``postgres_url`` / ``mysql_url`` / ``redis_url`` fixtures (or call :func:`require_service`):
when the server is unreachable they are skipped with the reason — except under ``CI=true``,
where a missing service is a failure, because CI must never go green by skipping the backends.
``scripts/services.sh`` starts (or installs) the three services on loopback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

POSTGRES_URL_ENV = "NBSCHED_TEST_POSTGRES_URL"
MYSQL_URL_ENV = "NBSCHED_TEST_MYSQL_URL"
REDIS_URL_ENV = "NBSCHED_TEST_REDIS_URL"

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

#: The signing key every test process uses (subprocesses inherit it through the environment).
TEST_SECRET_KEY = "nbsched-test-suite-key"

_CONNECT_TIMEOUT = 3
_service_status: dict[tuple[str, str], str | None] = {}


def postgres_url_from_env() -> str:
    return os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


def mysql_url_from_env() -> str:
    return os.environ.get(MYSQL_URL_ENV) or DEFAULT_MYSQL_URL


def redis_url_from_env() -> str:
    return os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _probe(name: str, url: str) -> None:
    """Connect to the service and run a trivial command; raise on any failure."""
    if name == "redis":
        import redis

        client = redis.Redis.from_url(
            url, socket_connect_timeout=_CONNECT_TIMEOUT, socket_timeout=_CONNECT_TIMEOUT
        )
        try:
            client.ping()
        finally:
            client.close()
        return

    import sqlalchemy

    # psycopg and PyMySQL both take connect_timeout (seconds).
    engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": _CONNECT_TIMEOUT})
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    finally:
        engine.dispose()


def require_service(name: str, url: str) -> str:
    """Make sure the service ``name`` answers at ``url``; return the URL.

    ``name`` is ``"postgresql"``, ``"mysql"`` or ``"redis"`` (used to pick the probe and in
    messages). Unreachable: ``pytest.fail`` when ``CI=true``, else ``pytest.skip`` with the
    reason. The result is cached per session so a dead server costs one timeout, not one per
    test.
    """
    if name not in ("postgresql", "mysql", "redis"):
        raise ValueError(f"name must be 'postgresql', 'mysql' or 'redis', got {name!r}")
    key = (name, url)
    if key not in _service_status:
        try:
            _probe(name, url)
            _service_status[key] = None
        except Exception as exc:
            _service_status[key] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    problem = _service_status[key]
    if problem is not None:
        message = (
            f"{name} is not reachable at {url} ({problem}); run scripts/services.sh "
            f"or point the NBSCHED_TEST_* variables at a server"
        )
        if in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_service("postgresql", postgres_url_from_env())


@pytest.fixture(scope="session")
def mysql_url() -> str:
    return require_service("mysql", mysql_url_from_env())


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_service("redis", redis_url_from_env())


@pytest.fixture(scope="session", autouse=True)
def _isolated_nbsched_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point nbsched's data directory and signing key away from the user's real ones."""
    data_dir = tmp_path_factory.mktemp("nbsched-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBSCHED_DATA_DIR", str(data_dir))
        mp.setenv("NBSCHED_SECRET_KEY", TEST_SECRET_KEY)
        mp.delenv("NBSCHED_STORE_URL", raising=False)
        yield


@pytest.fixture(scope="session")
def service_check():
    """:func:`require_service` as a fixture, for test modules that cannot import conftest."""
    return require_service
