"""A job store in Redis: a hash of signed job records plus a sorted set of run times.

Keys (``jobs_key``/``run_times_key`` as in APScheduler; the others derive from ``jobs_key``):

* ``jobs_key`` — hash: job id → record (:func:`nbsched.serialization.encode_job_state`);
* ``run_times_key`` — sorted set scored by next run time (epoch seconds; ``+inf`` for paused
  jobs, so they sort last and are never due). Its members are ``<16 hex digits seq>:<id>``:
  Redis orders equal scores by member, and the zero-padded sequence number taken when the job
  was added makes that insertion order, as every nbsched store promises;
* ``<jobs_key>.order`` — hash: job id → its sorted-set member; ``<jobs_key>.seq`` — counter;
* ``<jobs_key>.quarantine`` — hash: job id → JSON (reason, raw score, time) for records that
  could not be restored; their member leaves the sorted set (never due, never listed) but the
  record stays in ``jobs_key`` until retried or removed;
* ``<jobs_key>.history`` — list of JSON run records, newest first, trimmed to
  ``history_limit``;
* ``<jobs_key>.bad_members`` — hash: sorted-set member that is not valid UTF-8 → JSON
  (reason, score, time): set aside, never decoded as an id, kept for inspection.

The sorted set is an unsigned index: the signed record is the truth. A member whose score
disagrees with its record is re-scored, a member without a record (or a second member for one
id) is removed, each with a warning, so a changed index can never make the scheduler spin.

Every change that touches several keys runs as one Lua script, so it is atomic: another
scheduler or a crash never sees a job in the hash without its run time or the other way round.
"""

from __future__ import annotations

import json
import pickle
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from redis import Redis

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

__all__ = ["RedisJobStore"]

_UTC = timezone.utc
_SEQ_WIDTH = 16
_ID_OFFSET = _SEQ_WIDTH + 1  # "<seq>:" prefix of every sorted-set member
_PAUSED = "+inf"
_MAX_RESTORE_ROUNDS = 100

# KEYS: jobs, run_times, order, seq   ARGV: id, record, score
_ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[4])
local member = string.format('%016x', seq) .. ':' .. ARGV[1]
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], member)
redis.call('ZADD', KEYS[2], ARGV[3], member)
return 1
"""

# KEYS: jobs, run_times, order, quarantine   ARGV: id, record, score
_UPDATE = """
local member = redis.call('HGET', KEYS[3], ARGV[1])
if not member then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], member)
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
"""

# KEYS: jobs, run_times, order, quarantine   ARGV: id, only_quarantined ("1"/"0")
_REMOVE = """
if ARGV[2] == '1' and redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then return 0 end
local member = redis.call('HGET', KEYS[3], ARGV[1])
if not member then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[2], member)
return 1
"""

# KEYS: jobs, run_times, order, quarantine   ARGV: id, record as read, reason, unix time
# Only quarantines the record that failed: a concurrent rewrite wins.
_QUARANTINE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local member = redis.call('HGET', KEYS[3], ARGV[1])
local score = ''
local previous = redis.call('HGET', KEYS[4], ARGV[1])
if previous then score = cjson.decode(previous)['score'] end
if member then
  local current = redis.call('ZSCORE', KEYS[2], member)
  if current then score = current end
  redis.call('ZREM', KEYS[2], member)
end
redis.call('HSET', KEYS[4], ARGV[1],
  cjson.encode({reason = ARGV[3], at = tonumber(ARGV[4]), score = score}))
return 1
"""

# KEYS: jobs, run_times, order, quarantine   ARGV: id, record as read, score
_RELEASE = """
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local member = redis.call('HGET', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], member)
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
"""


# KEYS: jobs, run_times, order   ARGV: id, member
# A member that does not belong to a live record: relink it, or drop it from the index.
_ORPHAN = """
local current = redis.call('HGET', KEYS[3], ARGV[1])
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if current == ARGV[2] and exists then return 0 end
if not current and exists then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
  return 2
end
if current == ARGV[2] then redis.call('HDEL', KEYS[3], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

# KEYS: jobs, run_times, order   ARGV: id, member, record as read, score from the record
# The member's score disagrees with the record: re-score the job's own member (relinking it
# if the order entry is missing), drop a member that belongs to another one (2).
_REINDEX = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[3] then return 0 end
local owner = redis.call('HGET', KEYS[3], ARGV[1])
if owner and owner ~= ARGV[2] then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 2
end
if not owner then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[2])
return 1
"""

# KEYS: run_times, bad_members   ARGV: member, reason, unix time
_SET_ASIDE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1],
  cjson.encode({reason = ARGV[2], at = tonumber(ARGV[3]), score = score}))
return 1
"""


def _score(run_time: datetime | None) -> float | str:
    return _PAUSED if run_time is None else run_time.timestamp()


def _timestamp(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _datetime(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, _UTC)


class RedisJobStore(BaseJobStore):
    """Stores jobs in Redis (see the module docstring for the layout). Plugin alias: ``redis``.

    :param db: database number (ignored when ``url`` names one)
    :param jobs_key: key of the hash holding the job records
    :param run_times_key: key of the sorted set of next run times
    :param pickle_protocol: accepted for APScheduler compatibility; nbsched's signed record
        format chooses its own pickle protocol
    :param url: ``redis://`` URL, instead of ``connect_args`` host/port/password
    :param history_limit: run records kept (oldest dropped first)
    :param read_only: never write: records that fail to verify are skipped and logged instead
        of quarantined, the index is not repaired (``nbsched list``, tools)
    :param connect_args: keyword arguments for :class:`redis.Redis`
    """

    def __init__(
        self,
        db: int = 0,
        jobs_key: str = "nbsched.jobs",
        run_times_key: str = "nbsched.run_times",
        pickle_protocol: int = pickle.HIGHEST_PROTOCOL,
        *,
        url: str | None = None,
        history_limit: int = 1_000,
        read_only: bool = False,
        **connect_args: Any,
    ) -> None:
        super().__init__()
        self.read_only = bool(read_only)
        for name, value in (("jobs_key", jobs_key), ("run_times_key", run_times_key)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if jobs_key == run_times_key:
            raise ValueError(f"jobs_key and run_times_key must differ, both are {jobs_key!r}")
        if not isinstance(history_limit, int) or history_limit < 0:
            raise ValueError(f"history_limit must be a non-negative int, got {history_limit!r}")
        try:
            db = int(db)
        except (TypeError, ValueError):
            raise ValueError(f"db must be a database number, got {db!r}") from None
        connect_args.pop("decode_responses", None)  # records are bytes
        if url is not None:
            if db:
                connect_args["db"] = db
            self._redis = Redis.from_url(url, **connect_args)
        else:
            self._redis = Redis(db=db, **connect_args)
        self.pickle_protocol = pickle_protocol
        self.history_limit = history_limit
        self.jobs_key = jobs_key
        self.run_times_key = run_times_key
        self.order_key = f"{jobs_key}.order"
        self.seq_key = f"{jobs_key}.seq"
        self.quarantine_key = f"{jobs_key}.quarantine"
        self.history_key = f"{jobs_key}.history"
        self.bad_members_key = f"{jobs_key}.bad_members"
        self._scope = jobs_key  # what a record's signature is bound to besides the id
        self._keys = [self.jobs_key, self.run_times_key, self.order_key, self.quarantine_key]
        register = self._redis.register_script
        self._add_script = register(_ADD)
        self._update_script = register(_UPDATE)
        self._remove_script = register(_REMOVE)
        self._quarantine_script = register(_QUARANTINE)
        self._release_script = register(_RELEASE)
        self._orphan_script = register(_ORPHAN)
        self._reindex_script = register(_REINDEX)
        self._set_aside_script = register(_SET_ASIDE)

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        if not self.read_only:
            self._release_verifiable(self._signature_quarantined(), self._release_member)

    def _signature_quarantined(self) -> Any:
        for raw_id, raw in self._redis.hgetall(self.quarantine_key).items():
            try:
                job_id = raw_id.decode("utf-8")
                reason = json.loads(raw).get("reason", "")
            except (UnicodeDecodeError, ValueError, AttributeError):
                continue
            payload = self._redis.hget(self.jobs_key, job_id)
            if payload is not None:
                yield job_id, payload, reason

    def _release_member(self, job_id: str, payload: bytes, job: Job) -> bool:
        args = [job_id, payload, _score(job.next_run_time)]
        return bool(self._release_script(keys=self._keys, args=args))

    @property
    def redis(self) -> Redis:
        """The client (named as in APScheduler's store)."""
        return self._redis

    def shutdown(self) -> None:
        self._redis.close()

    def _delete_keys(self) -> None:
        """Delete every key of this store, history and counter included (tests, tooling)."""
        self._redis.delete(*self._keys, self.seq_key, self.history_key, self.bad_members_key)

    # --- records --------------------------------------------------------------------------------

    def _scan_payloads(self) -> Any:
        return (payload for _, payload in self._redis.hscan_iter(self.jobs_key, count=500))

    def _restore_record(self, job_id: str, payload: bytes) -> Job | None:
        """The job from a stored record, or None after quarantining a record that fails.

        Only faults of the record quarantine it (see :meth:`BaseJobStore._job_from_record`);
        a setup problem such as an unusable signing key propagates, and so does a key that
        verifies none of the store's records (:meth:`BaseJobStore._check_key_fault`).
        """
        try:
            job = self._job_from_record(payload, job_id, self._scope)
        except RecordError as exc:
            if isinstance(exc, SignatureError):
                self._check_key_fault(payload)  # raises if it is the key that is wrong
            reason = f"{type(exc).__name__}: {exc}"
            if self.read_only:
                self._skip_record(job_id, reason)
                return None
            self._logger.error(
                "Job %r could not be restored and was quarantined (not run, not deleted): %s",
                job_id,
                reason,
            )
            self._quarantine_script(keys=self._keys, args=[job_id, payload, reason, time.time()])
            return None
        if self._key_seen is None:
            from nbsched.signing import get_key

            self._key_seen = get_key(create=False)
        return job

    def _set_aside_member(self, member: bytes, exc: Exception) -> None:
        """A sorted-set member that is not ``<seq>:<UTF-8 id>``: no job can own it."""
        reason = f"sorted-set member is not a job id: {type(exc).__name__}: {exc}"
        shown = member.decode("utf-8", "backslashreplace")
        if self.read_only:
            self._skip_record(shown, reason)
            return
        self._logger.error(
            "Index member %r of %s set aside in %s (never run): %s",
            shown,
            self.run_times_key,
            self.bad_members_key,
            reason,
        )
        self._set_aside_script(
            keys=[self.run_times_key, self.bad_members_key], args=[member, reason, time.time()]
        )

    def _restore_members(
        self, entries: list[bytes], now: float | None = None
    ) -> tuple[list[Job], int, int]:
        """Jobs for sorted-set members, in order.

        Also returns how many records failed and how many entries are still in the index
        range they were read from (for refilling a batch). ``now`` given (the members were
        read as due by then): only jobs whose *signed* next run time is due by then come
        back, and a member that made a job look due is re-scored from its record. The index
        is checked against the records as it is read, at no extra round trip: a member
        without a record and a second member for one id are removed. (Scores are not read:
        redis-py parses ``WITHSCORES`` replies several times slower than bare members.)
        """
        if not entries:
            return [], 0, 0
        ids: list[str] = []
        kept_entries: list[bytes] = []
        read_only = self.read_only
        kept = 0
        for member in entries:
            try:
                ids.append(member[_ID_OFFSET:].decode("utf-8"))
            except UnicodeDecodeError as exc:
                self._set_aside_member(member, exc)
                kept += read_only
                continue
            kept_entries.append(member)
        if not ids:
            return [], 0, kept
        payloads = self._redis.hmget(self.jobs_key, ids)
        jobs: list[Job] = []
        members: dict[str, bytes] = {}
        failed = 0
        for job_id, member, payload in zip(ids, kept_entries, payloads):
            if payload is None:
                self._orphan(job_id, member)
                kept += read_only
                continue
            if job_id in members:  # two members for one id: keep the one the order names
                owner = self._redis.hget(self.order_key, job_id)
                if owner != member:
                    self._orphan(job_id, member)
                    kept += read_only
                    continue
                self._orphan(job_id, members.pop(job_id))
                jobs = [job for job in jobs if job.id != job_id]
            job = self._restore_record(job_id, payload)
            if job is None:
                failed += 1
                kept += read_only
                continue
            if now is not None:
                run_time = job.next_run_time
                actual = float("inf") if run_time is None else run_time.timestamp()
                if actual > now:  # the index says due, the signed record does not
                    self._reindex(job, member, payload, now, actual)
                    kept += read_only
                    continue
            kept += 1
            jobs.append(job)
            members[job_id] = member
        return jobs, failed, kept

    def _orphan(self, job_id: str, member: bytes) -> None:
        if self.read_only:
            return
        outcome = self._orphan_script(keys=self._keys[:3], args=[job_id, member])
        if outcome == 1:
            self._logger.warning(
                "Removed index member %r of %s: it belongs to no job record (changed outside "
                "nbsched, or a duplicate)",
                member.decode("utf-8", "backslashreplace"),
                self.run_times_key,
            )
        elif outcome == 2:
            self._logger.warning("Job %r: relinked its index member %r", job_id, member)

    def _reindex(
        self, job: Job, member: bytes, payload: bytes, due_by: float, actual: float
    ) -> int:
        """Repair a member whose score disagrees with the signed record; 2: it was a stray
        member of another job's id and was removed."""
        if self.read_only:
            return 0
        value = _PAUSED if actual == float("inf") else actual
        outcome = self._reindex_script(
            keys=self._keys[:3], args=[job.id, member, payload, value]
        )
        if outcome == 2:
            self._logger.warning(
                "Removed index member %r of %s: it belongs to no job record (changed outside "
                "nbsched, or a duplicate)",
                member.decode("utf-8", "backslashreplace"),
                self.run_times_key,
            )
        else:
            self._logger.warning(
                "Job %r: its score in %s says it is due by %r but its signed record says %r; "
                "the index was changed outside nbsched and is repaired from the record",
                job.id,
                self.run_times_key,
                due_by,
                actual,
            )
        return int(outcome)

    # --- the store API --------------------------------------------------------------------------

    def lookup_job(self, job_id: str) -> Job | None:
        if not valid_job_id(job_id):
            return None
        pipe = self._redis.pipeline(transaction=True)
        pipe.hget(self.jobs_key, job_id)
        pipe.hexists(self.quarantine_key, job_id)
        payload, quarantined = pipe.execute()
        if payload is None or quarantined:
            return None
        return self._restore_record(job_id, payload)

    def get_due_jobs(self, now: datetime, limit: int | None = None) -> list[Job]:
        if limit is not None and (type(limit) is not int or limit < 0):
            raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
        timestamp = now.timestamp()
        if limit is None:
            entries = self._redis.zrangebyscore(self.run_times_key, "-inf", timestamp)
            return self._restore_members(entries, timestamp)[0]
        jobs: list[Job] = []
        offset = 0
        # Quarantined and orphan members leave the set, re-scored ones the due range: refill
        # the batch past them.
        for _ in range(_MAX_RESTORE_ROUNDS):
            want = limit - len(jobs)
            if want <= 0:
                break
            entries = self._redis.zrangebyscore(
                self.run_times_key, "-inf", timestamp, start=offset, num=want
            )
            restored, _failed, kept = self._restore_members(entries, timestamp)
            jobs.extend(restored)
            offset += kept
            if len(restored) == len(entries):
                break
        return jobs

    def get_next_run_time(self) -> datetime | None:
        first = self._redis.zrange(self.run_times_key, 0, 0, withscores=True)
        if not first or first[0][1] == float("inf"):
            return None
        return _datetime(first[0][1])

    def get_all_jobs(self) -> list[Job]:
        return self._restore_members(self._redis.zrange(self.run_times_key, 0, -1))[0]

    def add_job(self, job: Job) -> None:
        self._refuse_write()
        check_job_id(job.id)
        args = [job.id, self._encode_job(job), _score(job.next_run_time)]
        if not self._add_script(keys=[*self._keys[:3], self.seq_key], args=args):
            raise ConflictingIdError(job.id)

    def update_job(self, job: Job) -> None:
        self._refuse_write()
        if not valid_job_id(job.id):
            raise JobLookupError(job.id)
        args = [job.id, self._encode_job(job), _score(job.next_run_time)]
        if not self._update_script(keys=self._keys, args=args):
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        self._refuse_write()
        if not valid_job_id(job_id) or not self._remove_script(keys=self._keys, args=[job_id, "0"]):
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        self._refuse_write()
        self._redis.delete(*self._keys, self.bad_members_key)

    def __len__(self) -> int:
        return int(self._redis.hlen(self.jobs_key))

    # --- quarantine -----------------------------------------------------------------------------

    def get_quarantined_jobs(self) -> list[QuarantinedJob]:
        entries = self._redis.hgetall(self.quarantine_key)
        bad = self._redis.hgetall(self.bad_members_key)
        if not entries and not bad:
            return []
        ids = [key.decode("utf-8", "backslashreplace") for key in entries]
        members = self._redis.hmget(self.order_key, ids) if ids else []
        result = []
        for job_id, raw, _member in sorted(
            zip(ids, entries.values(), members), key=lambda item: item[2] or b""
        ):
            info = json.loads(raw)
            score = info.get("score")
            next_run_time = None
            if score not in (None, "", "inf", "+inf"):
                next_run_time = float(score)
            result.append(
                QuarantinedJob(
                    id=job_id,
                    reason=info.get("reason", ""),
                    next_run_time=next_run_time,
                    quarantined_at=info.get("at"),
                )
            )
        for member, raw in bad.items():
            info = json.loads(raw)
            score = info.get("score")
            result.append(
                QuarantinedJob(
                    id=member.decode("utf-8", "backslashreplace"),
                    reason=info.get("reason", ""),
                    next_run_time=None if score in (None, "", "inf") else float(score),
                    quarantined_at=info.get("at"),
                )
            )
        return result

    def retry_quarantined(self, job_id: str) -> Job:
        self._refuse_write()
        if not valid_job_id(job_id):
            raise JobLookupError(job_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hexists(self.quarantine_key, job_id)
        pipe.hget(self.jobs_key, job_id)
        quarantined, payload = pipe.execute()
        if not quarantined or payload is None:
            raise JobLookupError(job_id)
        try:
            job = self._job_from_record(payload, job_id, self._scope)
        except RecordError as exc:
            if isinstance(exc, SignatureError):
                self._check_key_fault(payload)
            reason = f"{type(exc).__name__}: {exc}"
            self._quarantine_script(keys=self._keys, args=[job_id, payload, reason, time.time()])
            raise
        self._release_script(keys=self._keys, args=[job_id, payload, _score(job.next_run_time)])
        self._logger.info("Quarantined job %r restored", job_id)
        return job

    def remove_quarantined(self, job_id: str) -> None:
        self._refuse_write()
        for member in self._redis.hkeys(self.bad_members_key):
            if member.decode("utf-8", "backslashreplace") == job_id:
                self._redis.hdel(self.bad_members_key, member)
                return
        if not valid_job_id(job_id) or not self._remove_script(
            keys=self._keys, args=[job_id, "1"]
        ):
            raise JobLookupError(job_id)

    # --- run history ----------------------------------------------------------------------------

    def record_run(self, record: RunRecord) -> None:
        if self.history_limit == 0 or self.read_only:
            return
        entry = json.dumps(run_record_to_plain(record), separators=(",", ":"))
        pipe = self._redis.pipeline(transaction=True)
        pipe.lpush(self.history_key, entry)
        pipe.ltrim(self.history_key, 0, self.history_limit - 1)
        pipe.execute()

    def get_run_history(self, job_id: str | None = None, limit: int = 100) -> list[RunRecord]:

        if type(limit) is not int or limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        if limit == 0:
            return []
        end = limit - 1 if job_id is None else -1
        records = []
        for raw in self._redis.lrange(self.history_key, 0, end):
            data = json.loads(raw)
            if job_id is not None and data["job_id"] != job_id:
                continue
            records.append(run_record_from_plain(data))
            if len(records) >= limit:
                break
        return records
