"""Where nbsched keeps its files and which store it uses by default."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy

from nbsched.store_url import data_dir, default_store_url


@pytest.fixture
def fresh_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "not" / "yet" / "there"
    monkeypatch.setenv("NBSCHED_DATA_DIR", str(target))
    monkeypatch.delenv("NBSCHED_STORE_URL", raising=False)
    return target


def test_default_url_is_sqlite_file_in_data_dir(fresh_dir: Path) -> None:
    url = default_store_url()
    assert url == f"sqlite:///{(fresh_dir / 'jobs.sqlite').as_posix()}"
    assert fresh_dir.is_dir(), "the directory must exist so SQLite can create the file"


def test_default_url_opens_with_sqlalchemy(fresh_dir: Path) -> None:
    engine = sqlalchemy.create_engine(default_store_url())
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE t (x INTEGER)"))
    finally:
        engine.dispose()
    assert (fresh_dir / "jobs.sqlite").is_file()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_created_data_dir_is_private(fresh_dir: Path) -> None:
    data_dir()
    assert stat.S_IMODE(fresh_dir.stat().st_mode) & 0o077 == 0


def test_store_url_env_wins_verbatim(fresh_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBSCHED_STORE_URL", "postgresql+psycopg://u@db.example/jobs")
    assert default_store_url() == "postgresql+psycopg://u@db.example/jobs"
    assert not fresh_dir.exists(), "an explicit URL must not create the data directory"


def test_blank_store_url_env_is_ignored(fresh_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBSCHED_STORE_URL", "  ")
    assert default_store_url().startswith("sqlite:///")


def test_without_override_uses_platform_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platformdirs

    monkeypatch.delenv("NBSCHED_DATA_DIR")
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "pd"))
    assert data_dir() == tmp_path / "pd"
    assert (tmp_path / "pd").is_dir()


def test_data_dir_without_create_has_no_side_effect(fresh_dir: Path) -> None:
    assert data_dir(create=False) == fresh_dir
    assert not fresh_dir.exists()


def test_session_never_touches_the_real_data_dir() -> None:
    import platformdirs

    real = Path(platformdirs.user_data_dir("nbsched", appauthor=False)).absolute()
    assert data_dir(create=False) != real
    assert os.environ["NBSCHED_SECRET_KEY"]
