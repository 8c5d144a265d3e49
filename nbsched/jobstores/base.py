"""The job store contract shared by every backend.

A store keeps jobs ordered by their next run time and answers the scheduler's questions
cheaply: what is due now, when is the next wake-up, and what jobs exist. The API is the one of
APScheduler 3.11 (so third-party code written against it keeps working) with three additions:

* ``get_due_jobs(now, limit=None)`` so the scheduler can fetch due jobs in batches;
* a *quarantine* for persistent stores: a record that cannot be decoded is set aside with the
  reason instead of being deleted or crashing the scheduler, and can be retried or removed;
* run-history hooks, so a persistent store can keep the run log next to the jobs.

Ordering rules every backend follows (and the shared test suite checks): due jobs and
``get_all_jobs()`` come in ascending next run time, ties in the order the jobs were added
(updating a job keeps its place among equals), paused jobs (``next_run_time is None``) last.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from nbsched.history import RunRecord  # re-exported: the record type of the history hooks

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from nbsched.job import Job

__all__ = [
    "BaseJobStore",
    "ConflictingIdError",
    "JobLookupError",
    "QuarantinedJob",
    "RUN_RECORD_FIELDS",
    "RunRecord",
    "run_record_from_plain",
    "run_record_to_plain",
    "TransientJobError",
    "MAX_JOB_ID_LENGTH",
    "check_job_id",
]

#: The longest job id every store accepts (characters): the longest utf8mb4 key InnoDB
#: indexes with older row formats, so the same limit holds on SQLite, PostgreSQL, MariaDB,
#: MySQL, Redis and in memory.
MAX_JOB_ID_LENGTH = 191


def check_job_id(job_id: Any) -> str:
    """Refuse a job id no store could keep the same way; return it.

    A job id is a non-empty string of at most :data:`MAX_JOB_ID_LENGTH` characters, without
    NUL characters (PostgreSQL cannot store them) and encodable as UTF-8 (no lone surrogates).

    :raises ValueError: naming the rule the id breaks
    """
    if type(job_id) is not str and not isinstance(job_id, str):
        raise ValueError(f"job id must be a string, got {type(job_id).__name__}")
    if not job_id or len(job_id) > MAX_JOB_ID_LENGTH:
        raise ValueError(
            f"job id must be 1 to {MAX_JOB_ID_LENGTH} characters long, got {len(job_id)}"
        )
    if "\x00" in job_id:
        raise ValueError("job id must not contain NUL characters ('\\x00')")
    if not job_id.isascii():
        try:
            job_id.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("job id must be valid Unicode (no lone surrogates)") from None
    return job_id


def valid_job_id(job_id: Any) -> bool:
    """Whether ``job_id`` could name a stored job (for look-ups: an invalid id is absent)."""
    try:
        check_job_id(job_id)
    except ValueError:
        return False
    return True



#: What rebuilding a job from an authentic record raises when the record does not fit this
#: process: an import that fails, a missing attribute or state entry, a value of the wrong kind.
_RESTORE_ERRORS = (ImportError, LookupError, AttributeError, TypeError, ValueError)
_job_class: Any = None  # nbsched.job.Job, imported on first use


class JobLookupError(KeyError):
    """The store has no job with the given id (raised by update, remove and friends)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job by the id of {job_id} was found")
        self.job_id = job_id


class ConflictingIdError(KeyError):
    """A job with the same id is already in the store; ids are unique per store."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job identifier ({job_id}) conflicts with an existing job")
        self.job_id = job_id


class TransientJobError(ValueError):
    """The job cannot be written to a persistent store because its callable cannot be saved."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"Job ({job_id}) cannot be added to this job store because a reference to the "
            "callable could not be determined."
        )
        self.job_id = job_id


@dataclass(frozen=True)
class QuarantinedJob:
    """A stored record that could not be turned back into a job.

    ``next_run_time`` is the raw value the store holds (epoch seconds, or None when paused):
    the record could not be decoded, so there is no trigger or time zone to interpret it with.
    """

    id: str
    reason: str
    next_run_time: float | None = None
    quarantined_at: float | None = None

    @property
    def next_run_time_utc(self) -> datetime | None:
        """The raw next run time as an aware UTC datetime, for display."""
        if self.next_run_time is None:
            return None
        from datetime import timezone

        return datetime.fromtimestamp(self.next_run_time, timezone.utc)


class BaseJobStore(ABC):
    """Abstract base of every job store; see the module docstring for the ordering rules."""

    _scheduler: Any = None
    _alias: str | None = None
    _logger: logging.Logger = logging.getLogger("nbsched.jobstores")
    #: A read-only store never writes: no tables created, nothing quarantined, no index
    #: repaired. Records that fail are skipped and logged (``nbsched list``, tools).
    read_only: bool = False
    #: The key that verified at least one record of this store (persistent stores).
    _key_seen: bytes | None = None
    #: What a record's signature is bound to besides the job id (a table name, a key
    #: prefix): a record copied into another store does not verify there.
    _scope: str | None = None

    def start(self, scheduler: Any, alias: str) -> None:
        """Bind the store to ``scheduler`` under ``alias``.

        Called when the scheduler starts, or when the store is added to a running scheduler.
        Persistent stores create their tables/connections here or in ``__init__``.
        """
        self._scheduler = scheduler
        self._alias = alias
        self._logger = logging.getLogger(f"nbsched.jobstores.{alias}")

    def shutdown(self) -> None:
        """Release connections and other resources; the default has nothing to free."""
        return None

    # --- the APScheduler 3.11 API -------------------------------------------------------

    @abstractmethod
    def lookup_job(self, job_id: str) -> Job | None:
        """The job with ``job_id``, or None if the store has none."""

    @abstractmethod
    def get_due_jobs(self, now: datetime, limit: int | None = None) -> list[Job]:
        """Jobs whose next run time is at or before ``now``, earliest first, at most ``limit``.

        Ties keep insertion order. Records that fail to decode are quarantined, not returned.
        """

    @abstractmethod
    def get_next_run_time(self) -> datetime | None:
        """The earliest next run time of any scheduled job (None if all are paused or none)."""

    @abstractmethod
    def get_all_jobs(self) -> list[Job]:
        """Every job: scheduled ones by next run time (ties in insertion order), then paused."""

    @abstractmethod
    def add_job(self, job: Job) -> None:
        """Store a new job; raises :class:`ConflictingIdError` if the id is taken."""

    @abstractmethod
    def update_job(self, job: Job) -> None:
        """Replace the stored job with the same id; raises :class:`JobLookupError` if absent."""

    @abstractmethod
    def remove_job(self, job_id: str) -> None:
        """Delete the job; raises :class:`JobLookupError` if absent."""

    @abstractmethod
    def remove_all_jobs(self) -> None:
        """Delete every job (quarantined records too)."""

    # --- restoring stored jobs ------------------------------------------------------------

    def _restore_job(self, state: dict[str, Any]) -> Job:
        """Rebuild a Job from ``Job.__getstate__()`` output and bind it to this store.

        Imported lazily: the Job module imports the scheduler machinery, and stores are
        importable (and testable) on their own.
        """
        global _job_class
        if _job_class is None:
            from nbsched.job import Job

            _job_class = Job
        job = _job_class.__new__(_job_class)
        job.__setstate__(state)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    def _job_from_record(
        self, payload: bytes, job_id: str | None = None, scope: str | None = None
    ) -> Job:
        """Verify, decode and restore a stored record (persistent stores).

        Every fault *of the record* comes out as :class:`nbsched.serialization.RecordError`:
        a bad signature, a pickle that fails to load, and — wrapped in ``RestoreError`` — a
        callable or state that :meth:`_restore_job` cannot rebuild (module gone, missing
        entry). Stores quarantine exactly those. Anything else, such as an unusable signing
        key (``SigningKeyError``: a setup problem that would condemn every record), propagates.
        """
        from nbsched.serialization import BindingError, RestoreError, decode_job_state

        # resolve=False: restoring imports the callable anyway; failing there is wrapped below.
        state = decode_job_state(payload, resolve=False, job_id=job_id, scope=scope)
        if job_id is not None and state.get("id") != job_id:
            # Formats 1 and 2 do not bind the tag to the id: compare the authenticated state.
            raise BindingError(
                f"job record of job {state.get('id')!r} was found as job {job_id!r} (copied "
                f"there?); not run"
            )
        try:
            return self._restore_job(state)
        except _RESTORE_ERRORS as exc:
            raise RestoreError(
                f"cannot restore job {state.get('id')!r}: {type(exc).__name__}: {exc}"
            ) from exc

    @property
    def skipped_records(self) -> list[QuarantinedJob]:
        """Records a read-only store could not restore and left as they were (not quarantined).

        What a writable store would have quarantined; ``nbsched list`` shows them.
        """
        return list(getattr(self, "_skipped", {}).values())

    def _skip_record(self, job_id: str, reason: str, next_run_time: float | None = None) -> None:
        """A read-only store's stand-in for quarantine: log the record, list it, write nothing."""
        self._logger.error(
            "Job %r could not be restored (skipped; read-only, not quarantined): %s",
            job_id,
            reason,
        )
        skipped = self.__dict__.setdefault("_skipped", {})
        skipped[job_id] = QuarantinedJob(job_id, reason, next_run_time, None)

    def _scan_payloads(self) -> Any:
        """Every stored record (persistent stores): for :meth:`_check_key_fault`."""
        return iter(())

    def _store_label(self) -> str:
        return f"{self!r} (alias {self._alias!r})"

    def _check_key_fault(self, payload: Any = None) -> None:
        """After a record failed its signature: raise if the *key* is what is wrong.

        A key that verifies none of the store's records is a configuration error (another
        user's key, ``nbsched list`` run without the owner's ``NBSCHED_SECRET_KEY``, a key file
        deleted and made anew), not a reason to quarantine every record: it raises
        :class:`~nbsched.signing.KeyMismatchError`, naming the key and the store, and nothing
        is written. Once one record has verified under the current key — or the failing
        record names the current key's fingerprint (format 3) — a record that does not verify
        is a fault of that record and is quarantined as before.
        """
        from nbsched.serialization import looks_signed, record_key_id, record_verifies
        from nbsched.signing import KeyMismatchError, describe_key, get_key, key_id

        key = get_key(create=False)
        if self._key_seen == key or (payload is not None and not looks_signed(payload)):
            return
        if payload is not None and record_key_id(payload) == key_id(key):
            return  # signed with this very key, then changed: a fault of the record
        total = 0
        for stored in self._scan_payloads():
            if not looks_signed(stored):
                continue  # garbage says nothing about the key
            total += 1
            if record_verifies(stored):
                self._key_seen = key
                return
        if not total:
            return
        raise KeyMismatchError(
            f"{describe_key()} verifies none of the {total} records in job store "
            f"{self._store_label()}: they were signed with another key. Nothing was "
            f"quarantined or changed. Use the key the store's owner signs with (the same "
            f"key file, or the same NBSCHED_SECRET_KEY); see docs/security.md"
        )

    def _release_verifiable(self, candidates: Any, release: Any) -> int:
        """On start: lift the quarantine of records set aside for a signature failure that
        verify and restore now (the key is back; a reader with the wrong key quarantined
        them before nbsched refused to). ``candidates`` yields ``(id, payload, reason)``,
        ``release(id, payload, job)`` lifts one. Never fails a start: a key problem here is
        reported by the first read instead."""
        from nbsched.serialization import RecordError
        from nbsched.signing import SigningKeyError

        released = 0
        try:
            for job_id, payload, reason in candidates:
                if not str(reason or "").startswith("SignatureError"):
                    continue
                try:
                    job = self._job_from_record(payload, job_id, self._scope)
                except RecordError:
                    continue
                if release(job_id, payload, job):
                    released += 1
        except SigningKeyError:
            return released
        if released:
            self._logger.warning(
                "Released %d records quarantined for a signature failure: they verify under "
                "the current key (it had been missing or another one was used)",
                released,
            )
        return released

    def _encode_job(self, job: Any) -> bytes:
        """The signed record of ``job``, bound to its id and this store's ``_scope``
        (persistent stores set it: a table name, a key prefix)."""
        from nbsched.serialization import encode_job_state

        self._guard_new_key()
        return encode_job_state(job.__getstate__(), scope=self._scope)

    def _refuse_write(self) -> None:
        """Persistent stores call this before any write: a read-only store never writes."""
        if self.read_only:
            raise PermissionError(f"job store {self!r} was opened read-only")

    def _guard_new_key(self) -> None:
        """Before writing a record: never create a key silently for a store that has records.

        A new key verifies none of them, so creating one here would strand them all.
        """
        from nbsched.signing import MissingKeyError, get_key, key_file_path

        try:
            get_key(create=False)
            return
        except MissingKeyError:
            pass
        total = sum(1 for _ in self._scan_payloads())
        if total:
            raise MissingKeyError(
                f"the nbsched key file {key_file_path()} is missing but job store "
                f"{self._store_label()} holds {total} records signed with a key: restore the "
                f"key file (mode 0600) or set NBSCHED_SECRET_KEY; no new key was created"
            )
        get_key(create=True)

    # --- quarantine (persistent stores override) ----------------------------------------------

    def get_quarantined_jobs(self) -> list[QuarantinedJob]:
        """Records set aside because they could not be decoded; a live store has none."""
        return []

    def retry_quarantined(self, job_id: str) -> Job:
        """Try to decode a quarantined record again; on success it is a normal job again.

        Raises :class:`JobLookupError` if no such quarantined record exists, or the decoding
        error if it still fails (the record then stays quarantined with the new reason).
        """
        raise JobLookupError(job_id)

    def remove_quarantined(self, job_id: str) -> None:
        """Delete a quarantined record for good; :class:`JobLookupError` if there is none."""
        raise JobLookupError(job_id)

    # --- run history (persistent stores override) -----------------------------------------------

    def record_run(self, record: RunRecord) -> None:
        """Keep one run record. The default keeps nothing (see :meth:`get_run_history`)."""
        return None

    def get_run_history(
        self, job_id: str | None = None, limit: int = 100
    ) -> list[RunRecord] | None:
        """Recorded runs, newest first; None means "this store keeps no history".

        The scheduler then answers from its own in-memory log.
        """
        return None

    def __bool__(self) -> bool:
        # Stores that define ``__len__`` would otherwise be falsy while empty, and code
        # written for APScheduler tests stores with ``if store:``/``store or default``.
        return True

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"


#: The fields of a run record in the order persistent stores keep them.
RUN_RECORD_FIELDS = (
    "job_id",
    "jobstore",
    "scheduled_time",
    "start_time",
    "end_time",
    "outcome",
    "retval_repr",
    "exception",
    "traceback",
)
_RUN_RECORD_TIMES = frozenset({"scheduled_time", "start_time", "end_time"})


def run_record_to_plain(record: RunRecord) -> dict[str, Any]:
    """A run record as plain values (times as epoch seconds), for a table row or JSON.

    One encoding for every persistent store, so a history written by one backend reads the
    same through another and the two directions cannot drift apart.
    """
    plain = {}
    for name in RUN_RECORD_FIELDS:
        value = getattr(record, name)
        if name in _RUN_RECORD_TIMES and value is not None:
            value = value.timestamp()
        plain[name] = value
    return plain


def run_record_from_plain(values: Any) -> RunRecord:
    """Rebuild a run record from :func:`run_record_to_plain` output (a mapping) or from a
    row whose columns follow :data:`RUN_RECORD_FIELDS`."""
    if not hasattr(values, "keys"):
        values = dict(zip(RUN_RECORD_FIELDS, values))
    fields = {}
    for name in RUN_RECORD_FIELDS:
        value = values[name]
        if name in _RUN_RECORD_TIMES and value is not None:
            value = datetime.fromtimestamp(value, timezone.utc)
        fields[name] = value
    return RunRecord(**fields)
