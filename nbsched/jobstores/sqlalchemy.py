"""A job store in a relational database (SQLite, PostgreSQL, MariaDB/MySQL) via SQLAlchemy Core.

Jobs survive restarts: each is one row holding the signed record made by
:func:`nbsched.serialization.encode_job_state`, its next run time as epoch seconds (indexed,
so the due query and the next wake-up are one index range scan) and an insertion sequence
number that breaks ties, so equal run times come back in the order the jobs were added on
every database.

Schema (``tablename`` defaults to ``nbsched_jobs``):

* ``<tablename>``: ``seq`` (autoincrement primary key), ``id`` (unique), ``next_run_time``
  (double, NULL while paused), ``job_state`` (the record), ``quarantine`` (NULL for a live job,
  else why the record could not be restored) and ``quarantined_at``;
* ``<tablename>_runs``: the run history, bounded to ``history_limit`` rows, created with the
  first record;
* ``nbsched_schema``: one row per job table in the database with its layout version, checked on
  start so an older nbsched refuses a table written by a newer one instead of misreading it.

Quarantine: a row whose record fails to verify or restore (tampered, written with another key,
its function's module gone) is never returned, executed or deleted. It is flagged, the error is
logged with the job id, and :meth:`get_quarantined_jobs`, :meth:`retry_quarantined` and
:meth:`remove_quarantined` let the user deal with it.

Speed: every ``add_job``/``update_job``/``remove_job`` is its own committed transaction (it is
durable when the call returns). For SQLite files the store switches the database to WAL with
``synchronous=NORMAL``: a commit then appends to the log without waiting for the disk, which is
what makes it an order of magnitude faster than the default rollback journal; a commit can be
lost only to an OS crash or power cut, never to the process dying.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    TypeDecorator,
    Unicode,
    UnicodeText,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    inspect,
    null,
    select,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from nbsched.jobstores.base import (
    BaseJobStore,
    ConflictingIdError,
    JobLookupError,
    QuarantinedJob,
    check_job_id,
    run_record_from_plain,
    run_record_to_plain,
    valid_job_id,
)
from nbsched.serialization import RecordError, SignatureError

if TYPE_CHECKING:  # pragma: no cover
    from nbsched.history import RunRecord
    from nbsched.job import Job

__all__ = ["SCHEMA_TABLE", "SCHEMA_VERSION", "SQLAlchemyJobStore"]

#: Version of the table layout written by this nbsched; bump it with a migration step.
SCHEMA_VERSION = 1
#: The table recording the layout version of every nbsched job table in the database.
SCHEMA_TABLE = "nbsched_schema"

_UTC = timezone.utc
_MAX_RESTORE_ROUNDS = 100
_PRUNE_EVERY = 100


def _timestamp(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _datetime(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, _UTC)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


#: Pages the SQLite WAL may grow to before it is copied back into the database (4 KiB each,
#: so about 40 MB). A checkpoint writes scattered pages and syncs twice; doing it every 10,000
#: pages instead of SQLite's 1,000 roughly halves the cost of a small commit.
SQLITE_WAL_AUTOCHECKPOINT = 10_000


#: SQLSTATE classes and codes that mean "this connection (and likely every other one to the
#: same server) is gone": 08 connection exception, 57P01 admin shutdown (pg_terminate_backend,
#: a restart), 57P02 crash shutdown, 57P03 cannot connect now (starting up, failing over).
_DISCONNECT_SQLSTATES = ("57P01", "57P02", "57P03")
#: MySQL/MariaDB client errors for a lost server: gone away, lost during query, can't connect,
#: server shutdown in progress.
_MYSQL_DISCONNECTS = frozenset({2003, 2006, 2013, 2055, 1053, 1927, 4031})
_DISCONNECT_TEXT = (
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "the connection is lost",
    "consuming input failed",
    "connection already closed",
    "lost connection",
    "server has gone away",
)


def _is_disconnect(exc: BaseException | None) -> bool:
    """Whether a driver error means the server connection was lost (restart, failover,
    ``pg_terminate_backend``): then every pooled connection is stale, not only this one."""
    seen = 0
    while exc is not None and seen < 5:
        seen += 1
        sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if isinstance(sqlstate, str) and (
            sqlstate.startswith("08") or sqlstate in _DISCONNECT_SQLSTATES
        ):
            return True
        args = getattr(exc, "args", ())
        if args and type(args[0]) is int and args[0] in _MYSQL_DISCONNECTS:
            return True
        text = str(exc).lower()
        if any(marker in text for marker in _DISCONNECT_TEXT):
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__
    return False


def _on_handle_error(context: Any) -> None:
    """SQLAlchemy ``handle_error``: count lost-server errors as disconnects (whole pool)."""
    if not context.is_disconnect and _is_disconnect(context.original_exception):
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = True


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL + synchronous=NORMAL: durable against process death, no fsync per commit."""
    cursor = dbapi_connection.cursor()
    try:
        # The busy timeout first: switching a fresh file to WAL needs an exclusive lock, and
        # several processes opening it at once must wait for each other, not fail.
        cursor.execute("PRAGMA busy_timeout=10000")
        deadline = time.monotonic() + 10
        while True:
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except Exception as exc:  # sqlite3.OperationalError: database is locked
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")
    finally:
        cursor.close()


def _set_sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    """A read-only store's SQLite connection: refuses every write, changes no setting."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


class _JobId(TypeDecorator):
    """A job id column that compares ids as exact strings on every database.

    191 characters: the longest utf8mb4 key InnoDB indexes with older row formats. MySQL and
    MariaDB compare text case-insensitively and ignore trailing spaces by default, which would
    make "Report", "report" and "report " one id; a binary NO PAD collation keeps them apart.
    """

    impl = Unicode(191)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name not in ("mysql", "mariadb"):
            return dialect.type_descriptor(Unicode(191))
        if getattr(dialect, "is_mariadb", False):
            collation = "utf8mb4_nopad_bin"
        elif (getattr(dialect, "server_version_info", None) or (0,)) >= (8,):
            collation = "utf8mb4_0900_bin"
        else:  # MySQL 5.7 has no NO PAD binary collation; case still counts
            collation = "utf8mb4_bin"
        return dialect.type_descriptor(
            mysql.VARCHAR(191, charset="utf8mb4", collation=collation)
        )


class _Prepared:
    """One statement compiled for a dialect: SQL text plus how to lay out its parameters."""

    __slots__ = ("defaults", "names", "sql")

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        # Literal values SQLAlchemy turned into parameters (LIMIT 1, ...); ours come per call.
        self.defaults = {
            name: bind.value
            for name, bind in compiled.binds.items()
            if not bind.required and bind.value is not None
        }
        self.names = tuple(compiled.positiontup) if compiled.positional else None

    def params(self, values: dict[str, Any] | None) -> Any:
        if values and self.names is not None and not self.defaults:
            return tuple([values[name] for name in self.names])
        merged = {**self.defaults, **values} if values else dict(self.defaults)
        if self.names is None:
            return merged
        return tuple(merged[name] for name in self.names)


class SQLAlchemyJobStore(BaseJobStore):
    """Stores jobs in a database table through SQLAlchemy Core. Plugin alias: ``sqlalchemy``.

    :param url: database URL; None means :func:`nbsched.store_url.default_store_url` (an
        SQLite file in the user's data directory, or ``NBSCHED_STORE_URL``)
    :param engine: an existing :class:`~sqlalchemy.engine.Engine` (or a ``"module:name"``
        reference to one) to use instead of ``url``
    :param tablename: name of the jobs table (the run history and schema tables derive theirs
        from it)
    :param metadata: a :class:`~sqlalchemy.schema.MetaData` to define the tables in
    :param pickle_protocol: accepted for APScheduler compatibility; nbsched's signed record
        format chooses its own pickle protocol
    :param tableschema: database schema (e.g. PostgreSQL schema) holding the tables
    :param engine_options: keyword arguments for :func:`~sqlalchemy.create_engine` (only when
        the store creates the engine)
    :param history_limit: run records kept in the history table (oldest pruned first)
    :param read_only: never write: no tables are created (a missing table reads as an empty
        store), records that fail to verify are skipped and logged instead of quarantined,
        and the SQLite connection runs with ``query_only``; for ``nbsched list`` and tools
    """

    def __init__(
        self,
        url: str | None = None,
        engine: Engine | str | None = None,
        tablename: str = "nbsched_jobs",
        metadata: MetaData | None = None,
        pickle_protocol: int = pickle.HIGHEST_PROTOCOL,
        tableschema: str | None = None,
        engine_options: dict[str, Any] | None = None,
        *,
        history_limit: int = 10_000,
        read_only: bool = False,
    ) -> None:
        super().__init__()
        self.read_only = bool(read_only)
        #: What a record's signature is bound to besides the job id (docs/security.md).
        self._scope = f"{tableschema}.{tablename}" if tableschema else tablename
        self._absent = False
        if not isinstance(tablename, str) or not tablename:
            raise ValueError(f"tablename must be a non-empty string, got {tablename!r}")
        if not isinstance(history_limit, int) or history_limit < 0:
            raise ValueError(
                f"history_limit must be a non-negative int, got {history_limit!r}"
            )
        self.pickle_protocol = pickle_protocol
        self.history_limit = history_limit
        self._owns_engine = engine is None
        self.engine = self._make_engine(url, engine, engine_options, self.read_only)
        if not event.contains(self.engine, "handle_error", _on_handle_error):
            event.listen(self.engine, "handle_error", _on_handle_error)

        metadata = metadata if metadata is not None else MetaData()
        self.metadata = metadata
        state_type = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
        key_type = BigInteger().with_variant(Integer(), "sqlite")
        id_type = _JobId()
        self.jobs_t = Table(
            tablename,
            metadata,
            Column("seq", key_type, primary_key=True, autoincrement=True),
            Column("id", id_type, nullable=False, unique=True),
            Column("next_run_time", Double()),
            Column("job_state", state_type, nullable=False),
            Column("quarantine", UnicodeText()),
            Column("quarantined_at", Double()),
            Index(f"ix_{tablename}_due", "next_run_time", "seq"),
            schema=tableschema,
        )
        self.runs_t = Table(
            f"{tablename}_runs",
            metadata,
            Column("seq", key_type, primary_key=True, autoincrement=True),
            Column("job_id", id_type, nullable=False),
            Column("jobstore", Unicode(191)),
            Column("scheduled_time", Double(), nullable=False),
            Column("start_time", Double()),
            Column("end_time", Double()),
            Column("outcome", Unicode(32), nullable=False),
            Column("retval_repr", UnicodeText()),
            Column("exception", UnicodeText()),
            Column("traceback", UnicodeText()),
            Index(f"ix_{tablename}_runs_job", "job_id", "seq"),
            schema=tableschema,
        )
        self.schema_t = Table(
            SCHEMA_TABLE,
            metadata,
            Column("name", Unicode(191), primary_key=True),
            Column("version", Integer(), nullable=False),
            schema=tableschema,
            keep_existing=True,  # shared by every job table (and store) in the database
        )
        self._runs_ready = False
        self._runs_create_lock = threading.Lock()
        self._pruned_block: int | None = None
        self._build_statements()

    # --- setup ----------------------------------------------------------------------------------

    @staticmethod
    def _make_engine(
        url: str | None,
        engine: Engine | str | None,
        engine_options: dict[str, Any] | None,
        read_only: bool = False,
    ) -> Engine:
        if engine is not None:
            if isinstance(engine, str):
                from nbsched.serialization import ref_to_obj

                engine = ref_to_obj(engine)
            if not isinstance(engine, Engine):
                raise TypeError(
                    f"engine must be an SQLAlchemy Engine, got {type(engine).__name__}"
                )
            return engine
        if url is None:
            from nbsched.store_url import default_store_url

            url = default_store_url()
        if not isinstance(url, str) or not url:
            raise ValueError(f"url must be a database URL string, got {url!r}")
        created = create_engine(url, **(engine_options or {}))
        if created.dialect.name == "sqlite":
            pragmas = _set_sqlite_read_only if read_only else _set_sqlite_pragmas
            event.listen(created, "connect", pragmas)
        return created

    def _build_statements(self) -> None:
        """Compile the hot-path statements once for this engine's dialect."""
        c = self.jobs_t.c
        live = c.quarantine.is_(None)
        dialect = self.engine.dialect
        due = (
            select(c.id, c.job_state, c.next_run_time)
            .where(live, c.next_run_time <= bindparam("b_now"))
            .order_by(c.next_run_time, c.seq)
        )
        self._sql = {
            "insert": self.jobs_t.insert().values(
                id=bindparam("b_id"),
                next_run_time=bindparam("b_time"),
                job_state=bindparam("b_state"),
            ),
            "update": update(self.jobs_t)
            .where(c.id == bindparam("b_id"))
            .values(
                job_state=bindparam("b_state"),
                next_run_time=bindparam("b_time"),
                quarantine=null(),
                quarantined_at=null(),
            ),
            "delete": delete(self.jobs_t).where(c.id == bindparam("b_id")),
            "delete_all": delete(self.jobs_t),
            "lookup": select(c.job_state).where(c.id == bindparam("b_id"), live),
            "due": due,
            "due_limit": due.limit(bindparam("b_limit")).offset(bindparam("b_offset")),
            "next": select(c.next_run_time)
            .where(live, c.next_run_time.is_not(None))
            .order_by(c.next_run_time, c.seq)
            .limit(1),
            "all": select(c.id, c.job_state)
            .where(live)
            .order_by(c.next_run_time.is_(None), c.next_run_time, c.seq),
            "scan": select(c.job_state),
            "count": select(func.count()).select_from(self.jobs_t),
            "reindex": update(self.jobs_t)
            .where(c.id == bindparam("b_id"), c.job_state == bindparam("b_state"))
            .values(next_run_time=bindparam("b_time")),
        }
        self._prepared = {name: _Prepared(stmt, dialect) for name, stmt in self._sql.items()}
        self._integrity_error = dialect.loaded_dbapi.IntegrityError
        self._held: Any = None
        self._held_lock = threading.Lock() if dialect.name == "sqlite" else None

    def _run(
        self, name: str, values: dict[str, Any] | None = None, *, write: bool = False
    ) -> Any:
        """Run a prepared statement on a DBAPI connection, in its own transaction.

        Returns the fetched rows for reads and the row count for writes. SQLAlchemy's
        execution layer costs more than an SQLite insert itself, so the hot paths skip it; the
        statements are still generated by SQLAlchemy for each dialect.

        SQLite serializes writers anyway, so the store keeps one connection for all its calls
        (behind a lock) instead of checking one out of the pool each time; server databases
        use the engine's pool and can run calls from several threads at once.
        """
        prepared = self._prepared[name]
        params = prepared.params(values)
        if self._held_lock is None:
            raw = self.engine.raw_connection()
            try:
                result = self._execute(raw, prepared.sql, params, write)
            except self._integrity_error:
                raw.close()  # the pool rolls back on return
                raise
            except BaseException as exc:
                raw.invalidate()  # maybe broken (server restart, network): never reuse it
                if _is_disconnect(exc):
                    self._invalidate_pool(exc)
                raise
            raw.close()
            return result
        with self._held_lock:
            raw = self._held
            if raw is None:
                raw = self._held = self.engine.raw_connection()
            # The sqlite3 connection itself: its execute/commit are C calls, the pool's
            # proxy adds Python frames to every call.
            conn = raw.dbapi_connection
            try:
                cursor = conn.execute(prepared.sql, params)
                if write:
                    count = cursor.rowcount
                    conn.commit()
                    return count
                return cursor.fetchall()
            except self._integrity_error:
                conn.rollback()
                raise
            except BaseException:
                self._held = None
                raw.invalidate()
                raise

    def _invalidate_pool(self, exc: BaseException) -> None:
        """The server went away: every pooled connection is stale, so none is reused.

        What SQLAlchemy does for a disconnect seen through its execution layer
        (``invalidate_pool_on_disconnect``): connections older than now are replaced at their
        next checkout, so the next attempt after a restart or failover connects afresh
        instead of failing once per stale pooled connection.
        """
        logging.getLogger("nbsched.jobstores").warning(
            "Lost the database connection (%s: %s); reconnecting every pooled connection",
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
        )
        pool = self.engine.pool
        invalidate = getattr(pool, "_invalidate", None)
        if invalidate is not None:
            invalidate(None, exc)
        else:  # pragma: no cover - a pool without SQLAlchemy's private hook
            self.engine.dispose(close=False)

    @staticmethod
    def _execute(raw: Any, sql: str, params: Any, write: bool) -> Any:
        cursor = raw.cursor()
        try:
            cursor.execute(sql, params)
            if write:
                count = cursor.rowcount
                raw.commit()
                return count
            return cursor.fetchall()
        finally:
            cursor.close()

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        if self.read_only:
            self._open_read_only()
        else:
            self._create_tables()
            self._release_verifiable(self._signature_quarantined(), self._release_row)

    def _signature_quarantined(self) -> Any:
        c = self.jobs_t.c
        stmt = select(c.id, c.job_state, c.quarantine).where(
            c.quarantine.like("SignatureError%")
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return ((job_id, bytes(payload), reason) for job_id, payload, reason in rows)

    def _release_row(self, job_id: str, payload: bytes, job: Job) -> bool:
        c = self.jobs_t.c
        with self.engine.begin() as conn:
            result = conn.execute(
                update(self.jobs_t)
                .where(c.id == job_id, c.job_state == payload, c.quarantine.is_not(None))
                .values(quarantine=None, quarantined_at=None)
            )
        return result.rowcount == 1

    def _open_read_only(self) -> None:
        """Look, never create: a store that does not exist yet reads as empty."""
        url = self.engine.url
        if self.engine.dialect.name == "sqlite":
            database = url.database or ""
            plain_file = database not in ("", ":memory:") and not database.startswith("file:")
            if plain_file and not os.path.exists(database):
                self._absent = True  # connecting would create the file
                return
        if not inspect(self.engine).has_table(self.jobs_t.name, schema=self.jobs_t.schema):
            self._absent = True
            return
        self._check_columns()

    def _create_safely(self, tables: list[Table]) -> None:
        """CREATE TABLE that tolerates other processes creating the same tables at once.

        ``checkfirst`` looks before it creates, so two processes starting together on a fresh
        database both decide to create: the loser fails with "already exists"
        (SQLite, MySQL) or DuplicateTable/UniqueViolation on the catalog (PostgreSQL). Such an
        error is harmless when the tables exist now; the creation is then looked at again.
        """
        schema = tables[0].schema
        deadline = time.monotonic() + 15  # a busy machine: the winner may be slow to commit
        delay = 0.01
        while True:
            try:
                self.metadata.create_all(self.engine, tables=tables, checkfirst=True)
                return
            except DBAPIError as exc:
                existing = set(inspect(self.engine).get_table_names(schema=schema))
                if all(table.name in existing for table in tables):
                    return
                if time.monotonic() > deadline or exc.connection_invalidated:
                    raise
                time.sleep(delay)  # the winner is committing its DDL
                delay = min(delay * 2, 0.2)

    def _create_tables(self) -> None:
        name = self.jobs_t.name
        if inspect(self.engine).has_table(name, schema=self.jobs_t.schema):
            self._check_columns()
        self._create_safely([self.jobs_t, self.schema_t])
        version_query = select(self.schema_t.c.version).where(self.schema_t.c.name == name)
        with self.engine.connect() as conn:
            version = conn.execute(version_query).scalar()
        if version is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(self.schema_t.insert().values(name=name, version=SCHEMA_VERSION))
            except IntegrityError:  # another process registered the table first
                pass
            return
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"job table {name!r} has schema version {version}, written by a newer nbsched; "
                f"this nbsched understands up to version {SCHEMA_VERSION}. Upgrade nbsched."
            )
        # version < SCHEMA_VERSION: migration steps go here when the layout changes.

    def _check_columns(self) -> None:
        """Refuse a pre-existing table with another layout (an APScheduler table, say)."""
        existing = {
            col["name"]
            for col in inspect(self.engine).get_columns(
                self.jobs_t.name, schema=self.jobs_t.schema
            )
        }
        missing = {col.name for col in self.jobs_t.columns} - existing
        if missing:
            raise ValueError(
                f"tablename: table {self.jobs_t.name!r} exists but is not an nbsched job table "
                f"(missing columns {sorted(missing)}); choose another tablename"
            )

    def shutdown(self) -> None:
        if self._held_lock is not None:
            with self._held_lock:
                if self._held is not None:
                    self._held.close()
                    self._held = None
        # An engine the caller gave us is theirs to dispose of.
        if self._owns_engine:
            self.engine.dispose()

    def _drop_tables(self) -> None:
        """Drop this store's tables (tests and tooling; not part of the scheduler API)."""
        self.metadata.drop_all(self.engine, tables=[self.jobs_t, self.runs_t], checkfirst=True)
        self._runs_ready = False
        if inspect(self.engine).has_table(self.schema_t.name, schema=self.schema_t.schema):
            with self.engine.begin() as conn:
                conn.execute(
                    delete(self.schema_t).where(self.schema_t.c.name == self.jobs_t.name)
                )

    def _runs_table_exists(self, create: bool) -> bool:
        """The history table is made on the first record: most stores never need one."""
        if not self._runs_ready:
            # Runs finish on executor threads: two first records at once must not both
            # issue CREATE TABLE (the loser's record would be lost).
            with self._runs_create_lock:
                if self._runs_ready:
                    return True
                if create:
                    self._create_safely([self.runs_t])
                elif self._absent or not inspect(self.engine).has_table(
                    self.runs_t.name, schema=self.runs_t.schema
                ):
                    return False
                self._runs_ready = True
        return True

    # --- records --------------------------------------------------------------------------------

    def _scan_payloads(self) -> Any:
        if self._absent:
            return iter(())
        return (bytes(row[0]) for row in self._run("scan"))

    def _restore_row(self, job_id: str, payload: bytes) -> Job | None:
        """The job from a stored record, or None after quarantining a record that fails.

        Only faults of the record quarantine it (see :meth:`BaseJobStore._job_from_record`);
        a setup problem such as an unusable signing key propagates instead of condemning
        every record, and so does a key that verifies none of the store's records
        (:meth:`BaseJobStore._check_key_fault`).
        """
        try:
            job = self._job_from_record(payload, job_id, self._scope)
        except SignatureError as exc:
            self._check_key_fault(payload)  # raises if it is the key that is wrong
            self._quarantine(job_id, payload, exc)
            return None
        except RecordError as exc:
            self._quarantine(job_id, payload, exc)
            return None
        if self._key_seen is None:
            from nbsched.signing import get_key

            self._key_seen = get_key(create=False)
        return job

    def _quarantine(self, job_id: str, payload: bytes, exc: BaseException) -> None:
        reason = _reason(exc)
        if self.read_only:
            self._skip_record(job_id, reason)
            return
        self._logger.error(
            "Job %r could not be restored and was quarantined (not run, not deleted): %s",
            job_id,
            reason,
        )
        c = self.jobs_t.c
        with self.engine.begin() as conn:
            # Only if nobody rewrote the row since we read it.
            conn.execute(
                update(self.jobs_t)
                .where(c.id == job_id, c.job_state == payload)
                .values(quarantine=reason, quarantined_at=time.time())
            )

    def _repair_index(self, job: Job, payload: bytes, indexed: float | None) -> None:
        """The next_run_time column disagrees with the signed record: the record wins."""
        actual = _timestamp(job.next_run_time)
        self._logger.warning(
            "Job %r: the next_run_time column says %r but its signed record says %r; the "
            "column was changed outside nbsched and is repaired from the record",
            job.id,
            indexed,
            actual,
        )
        if not self.read_only:
            self._run(
                "reindex", {"b_id": job.id, "b_state": payload, "b_time": actual}, write=True
            )

    # --- the store API --------------------------------------------------------------------------

    def lookup_job(self, job_id: str) -> Job | None:
        if self._absent or not valid_job_id(job_id):
            return None
        rows = self._run("lookup", {"b_id": job_id})
        return self._restore_row(job_id, rows[0][0]) if rows else None

    def get_due_jobs(self, now: datetime, limit: int | None = None) -> list[Job]:
        if limit is not None and (type(limit) is not int or limit < 0):
            raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
        if self._absent:
            return []
        timestamp = now.timestamp()
        if limit is None:
            return self._restore_due(self._run("due", {"b_now": timestamp}), timestamp)[0]
        jobs: list[Job] = []
        # Quarantined rows and rows whose index was wrong drop out of the query, so refill
        # the batch past them.
        offset = 0
        for _ in range(_MAX_RESTORE_ROUNDS):
            want = limit - len(jobs)
            if want <= 0:
                break
            rows = self._run(
                "due_limit", {"b_now": timestamp, "b_limit": want, "b_offset": offset}
            )
            restored, kept_in_index = self._restore_due(rows, timestamp)
            jobs.extend(restored)
            offset += kept_in_index
            if len(restored) == len(rows):
                break
        return jobs

    def _restore_due(self, rows: list[Any], now: float) -> tuple[list[Job], int]:
        """Due jobs from due rows; also how many of the rows are still due in the index.

        The next_run_time column is an unsigned index: a row made to look due (a paused job
        given a past time, say) would come back on every query and make the scheduler spin.
        The signed record is the truth: such a row is repaired and not returned.
        """
        jobs = []
        kept = 0
        for job_id, payload, indexed in rows:
            job = self._restore_row(job_id, payload)
            if job is None:
                continue
            run_time = job.next_run_time
            actual = None if run_time is None else run_time.timestamp()
            if actual != indexed:
                self._repair_index(job, payload, indexed)
                if actual is None or actual > now:
                    if self.read_only:
                        kept += 1
                    continue
            kept += 1
            jobs.append(job)
        return jobs, kept

    def get_next_run_time(self) -> datetime | None:
        if self._absent:
            return None
        rows = self._run("next")
        return _datetime(rows[0][0]) if rows else None

    def get_all_jobs(self) -> list[Job]:
        if self._absent:
            return []
        return self._restore_rows(self._run("all"))

    def _restore_rows(self, rows: list[Any]) -> list[Job]:
        jobs = []
        for job_id, payload in rows:
            job = self._restore_row(job_id, payload)
            if job is not None:
                jobs.append(job)
        return jobs

    def add_job(self, job: Job) -> None:
        self._refuse_write()
        check_job_id(job.id)
        values = {
            "b_id": job.id,
            "b_time": _timestamp(job.next_run_time),
            "b_state": self._encode_job(job),
        }
        try:
            self._run("insert", values, write=True)
        except self._integrity_error as exc:
            raise ConflictingIdError(job.id) from exc

    def update_job(self, job: Job) -> None:
        self._refuse_write()
        if not valid_job_id(job.id):
            raise JobLookupError(job.id)
        values = {
            "b_id": job.id,
            "b_state": self._encode_job(job),
            "b_time": _timestamp(job.next_run_time),
        }
        if self._run("update", values, write=True) == 0:
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        self._refuse_write()
        if not valid_job_id(job_id) or self._run("delete", {"b_id": job_id}, write=True) == 0:
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        self._refuse_write()
        self._run("delete_all", write=True)

    def __len__(self) -> int:
        if self._absent:
            return 0
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self.jobs_t)).scalar() or 0

    # --- quarantine -----------------------------------------------------------------------------

    def get_quarantined_jobs(self) -> list[QuarantinedJob]:
        if self._absent:
            return []
        c = self.jobs_t.c
        stmt = (
            select(c.id, c.quarantine, c.next_run_time, c.quarantined_at)
            .where(c.quarantine.is_not(None))
            .order_by(c.seq)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [QuarantinedJob(*row) for row in rows]

    def retry_quarantined(self, job_id: str) -> Job:
        self._refuse_write()
        if not valid_job_id(job_id):
            raise JobLookupError(job_id)
        c = self.jobs_t.c
        with self.engine.connect() as conn:
            payload = conn.execute(
                select(c.job_state).where(c.id == job_id, c.quarantine.is_not(None))
            ).scalar()
        if payload is None:
            raise JobLookupError(job_id)
        try:
            job = self._job_from_record(bytes(payload), job_id, self._scope)
        except RecordError as exc:
            if isinstance(exc, SignatureError):
                self._check_key_fault(bytes(payload))
            with self.engine.begin() as conn:
                conn.execute(
                    update(self.jobs_t)
                    .where(c.id == job_id)
                    .values(quarantine=_reason(exc), quarantined_at=time.time())
                )
            raise
        with self.engine.begin() as conn:
            conn.execute(
                update(self.jobs_t)
                .where(c.id == job_id, c.job_state == payload)
                .values(quarantine=None, quarantined_at=None)
            )
        self._logger.info("Quarantined job %r restored", job_id)
        return job

    def remove_quarantined(self, job_id: str) -> None:
        self._refuse_write()
        if not valid_job_id(job_id):
            raise JobLookupError(job_id)
        c = self.jobs_t.c
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(self.jobs_t).where(c.id == job_id, c.quarantine.is_not(None))
            )
        if result.rowcount == 0:
            raise JobLookupError(job_id)

    # --- run history ----------------------------------------------------------------------------

    def record_run(self, record: RunRecord) -> None:
        if self.history_limit == 0 or self.read_only:
            return
        row = run_record_to_plain(record)
        self._runs_table_exists(create=True)
        with self.engine.begin() as conn:
            seq = conn.execute(self.runs_t.insert(), row).inserted_primary_key[0]
            # Prune when seq crosses into a new block of _PRUNE_EVERY (not on exact multiples:
            # server sequences may skip numbers, and a skipped multiple would never prune).
            block = None if seq is None else seq // _PRUNE_EVERY
            if block is not None and block != self._pruned_block and seq > self.history_limit:
                self._pruned_block = block
                conn.execute(
                    delete(self.runs_t).where(self.runs_t.c.seq <= seq - self.history_limit)
                )

    def get_run_history(self, job_id: str | None = None, limit: int = 100) -> list[RunRecord]:

        if type(limit) is not int or limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        if not self._runs_table_exists(create=False):
            return []
        r = self.runs_t.c
        stmt = select(
            r.job_id,
            r.jobstore,
            r.scheduled_time,
            r.start_time,
            r.end_time,
            r.outcome,
            r.retval_repr,
            r.exception,
            r.traceback,
        ).order_by(r.seq.desc())
        if job_id is not None:
            stmt = stmt.where(r.job_id == job_id)
        stmt = stmt.limit(min(limit, self.history_limit))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [run_record_from_plain(row) for row in rows]

    def __repr__(self) -> str:
        # Explicitly masked: a repr ends up in logs and tracebacks.
        url = self.engine.url.render_as_string(hide_password=True)
        return f"<{self.__class__.__name__} (url={url})>"
