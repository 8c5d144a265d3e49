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
  ``history_limit``.

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
    run_record_from_plain,
    run_record_to_plain,
)
from nbsched.serialization import RecordError, encode_job_state

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
        **connect_args: Any,
    ) -> None:
        super().__init__()
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
        self._keys = [self.jobs_key, self.run_times_key, self.order_key, self.quarantine_key]
        register = self._redis.register_script
        self._add_script = register(_ADD)
        self._update_script = register(_UPDATE)
        self._remove_script = register(_REMOVE)
        self._quarantine_script = register(_QUARANTINE)
        self._release_script = register(_RELEASE)

    @property
    def redis(self) -> Redis:
        """The client (named as in APScheduler's store)."""
        return self._redis

    def shutdown(self) -> None:
        self._redis.close()

    def _delete_keys(self) -> None:
        """Delete every key of this store, history and counter included (tests, tooling)."""
        self._redis.delete(*self._keys, self.seq_key, self.history_key)

    # --- records --------------------------------------------------------------------------------

    def _encode_job(self, job: Job) -> bytes:
        return encode_job_state(job.__getstate__())

    def _restore_record(self, job_id: str, payload: bytes) -> Job | None:
        """The job from a stored record, or None after quarantining a record that fails.

        Only faults of the record quarantine it (see :meth:`BaseJobStore._job_from_record`);
        a setup problem such as an unusable signing key propagates.
        """
        try:
            return self._job_from_record(payload)
        except RecordError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self._logger.error(
                "Job %r could not be restored and was quarantined (not run, not deleted): %s",
                job_id,
                reason,
            )
            self._quarantine_script(keys=self._keys, args=[job_id, payload, reason, time.time()])
            return None

    def _restore_members(self, members: list[bytes]) -> tuple[list[Job], int]:
        """Jobs for sorted-set members, in order; also how many records failed."""
        if not members:
            return [], 0
        ids = [member[_ID_OFFSET:].decode("utf-8") for member in members]
        payloads = self._redis.hmget(self.jobs_key, ids)
        jobs: list[Job] = []
        failed = 0
        for job_id, payload in zip(ids, payloads):
            if payload is None:  # removed between the two reads
                continue
            job = self._restore_record(job_id, payload)
            if job is None:
                failed += 1
            else:
                jobs.append(job)
        return jobs, failed

    # --- the store API --------------------------------------------------------------------------

    def lookup_job(self, job_id: str) -> Job | None:
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
            members = self._redis.zrangebyscore(self.run_times_key, "-inf", timestamp)
            return self._restore_members(members)[0]
        jobs: list[Job] = []
        # Quarantined members leave the set, so refill the batch past them.
        for _ in range(_MAX_RESTORE_ROUNDS):
            want = limit - len(jobs)
            if want <= 0:
                break
            members = self._redis.zrangebyscore(
                self.run_times_key, "-inf", timestamp, start=len(jobs), num=want
            )
            restored, failed = self._restore_members(members)
            jobs.extend(restored)
            if not failed:
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
        args = [job.id, self._encode_job(job), _score(job.next_run_time)]
        if not self._add_script(keys=[*self._keys[:3], self.seq_key], args=args):
            raise ConflictingIdError(job.id)

    def update_job(self, job: Job) -> None:
        args = [job.id, self._encode_job(job), _score(job.next_run_time)]
        if not self._update_script(keys=self._keys, args=args):
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        if not self._remove_script(keys=self._keys, args=[job_id, "0"]):
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        self._redis.delete(*self._keys)

    def __len__(self) -> int:
        return int(self._redis.hlen(self.jobs_key))

    # --- quarantine -----------------------------------------------------------------------------

    def get_quarantined_jobs(self) -> list[QuarantinedJob]:
        entries = self._redis.hgetall(self.quarantine_key)
        if not entries:
            return []
        ids = [key.decode("utf-8") for key in entries]
        members = self._redis.hmget(self.order_key, ids)
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
        return result

    def retry_quarantined(self, job_id: str) -> Job:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hexists(self.quarantine_key, job_id)
        pipe.hget(self.jobs_key, job_id)
        quarantined, payload = pipe.execute()
        if not quarantined or payload is None:
            raise JobLookupError(job_id)
        try:
            job = self._job_from_record(payload)
        except RecordError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self._quarantine_script(keys=self._keys, args=[job_id, payload, reason, time.time()])
            raise
        self._release_script(keys=self._keys, args=[job_id, payload, _score(job.next_run_time)])
        self._logger.info("Quarantined job %r restored", job_id)
        return job

    def remove_quarantined(self, job_id: str) -> None:
        if not self._remove_script(keys=self._keys, args=[job_id, "1"]):
            raise JobLookupError(job_id)

    # --- run history ----------------------------------------------------------------------------

    def record_run(self, record: RunRecord) -> None:
        if self.history_limit == 0:
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
