"""Callable references and the signed, versioned job record that persistent stores keep.

Two ways to store *what* a job calls:

* **By reference** — ``"package.module:qualname"`` — for functions, classes and class-bound
  methods that another process can import. The record stays readable, survives code edits of
  the function body and needs no pickle of code.
* **By value** — cloudpickle of the function itself, plus its source text for display — for
  whatever another process could *not* import: functions defined in ``__main__`` or a notebook
  cell, lambdas, closures, ``functools.partial`` objects, methods bound to an instance and
  callable instances. A job defined in a notebook therefore keeps running after the kernel
  restarts, even though nothing re-defines the function.

Arguments and the trigger are pickled (cloudpickle, so classes defined in a notebook work).

Record layout (format version 3)::

    b"NBSJ" | version (1 byte) | HMAC-SHA256 tag (32 bytes) | body
    body = lengths of header, state and trigger (3 x 4 bytes, big endian)
           | header (UTF-8 JSON) | state pickle | trigger pickle | function pickle (by value)

The tag covers magic, version, the *binding* — the store's table name or key prefix and the
job id, given by the reader, not stored (:func:`record_binding`) — and the body, and is
checked (in constant time) before anything is unpickled. A record copied under another id or
into another store is refused with :class:`BindingError`; a record changed by anyone
without the user's key (see :mod:`nbsched.signing`) is refused with :class:`SignatureError`
and its pickles are never loaded. The JSON header holds
safe metadata — job id, name, the callable's name, reference or source text — that
:func:`describe_record` returns without unpickling anything, so a tool can show a quarantined
record to the user. Decoding never parses the header: the fixed-size lengths say where each
pickle is.

Speed matters because a store encodes a record on every add and update and decodes every
record it lists. So the trigger is pickled apart from the rest: nbsched's triggers are
immutable, so a trigger object is pickled once (the same job updated after each run, or many
jobs sharing a trigger) and identical trigger bytes are unpickled once per process. The next
run time is stored as plain numbers plus its zone key (see ``_pack_time``). Format 2 (the
same layout without a binding) and format 1 (one pickle for state and trigger, header listing
the parts) are still read.
"""

from __future__ import annotations

import importlib
import inspect
import json
import operator
import os
import pickle
import struct
import sys
import textwrap
import time
from datetime import datetime, timezone
from functools import partial
from json.encoder import encode_basestring_ascii as _encode_json_str
from typing import Any
from zoneinfo import ZoneInfo

import cloudpickle

from nbsched import __version__
from nbsched.signing import (
    SECRET_KEY_ENV,
    TAG_SIZE,
    get_key,
    key_file_path,
    key_id,
    sign,
    verify,
)

__all__ = [
    "MAGIC",
    "RECORD_VERSION",
    "BindingError",
    "RecordError",
    "RestoreError",
    "SignatureError",
    "callable_name",
    "decode_job_state",
    "describe_record",
    "encode_job_state",
    "is_by_reference",
    "looks_signed",
    "obj_to_ref",
    "record_binding",
    "record_key_id",
    "record_verifies",
    "ref_to_obj",
]

MAGIC = b"NBSJ"
#: The format :func:`encode_job_state` writes; :func:`decode_job_state` also reads formats 1
#: and 2. Format 3 has format 2's layout; its tag also covers the record's *binding* (the
#: store's table name or key prefix and the job id), which is not stored as bytes of its own
#: but given by the reader (the row's id, the store's name), so a record copied under another
#: id or into another store no longer verifies.
RECORD_VERSION = 3
_READABLE_VERSIONS = (1, 2, 3)
_PREFIX_V3 = MAGIC + bytes([RECORD_VERSION])
_VERSION_3_BYTE = bytes([3])
_BIND = struct.Struct(">II")
_PREFIX_SIZE = len(MAGIC) + 1
_BODY_OFFSET = _PREFIX_SIZE + TAG_SIZE
_HEADER_LEN = struct.Struct(">I")
_PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL


class RecordError(Exception):
    """A stored job record cannot be turned back into job state."""


class SignatureError(RecordError):
    """The record is unsigned, or its signature does not match: it was not left unpickled."""


class RestoreError(RecordError):
    """The record is authentic but cannot be restored here (missing module, unknown version)."""


class BindingError(RecordError):
    """The record is authentic but was signed for another job id or another store.

    Someone copied a signed record under another id (an SQL row, a Redis hash field) or into
    another table/key prefix. It was not unpickled.
    """


# --- callable references --------------------------------------------------------------------


def callable_name(func: Any) -> str:
    """Return the best display name for ``func`` (the default job name).

    ``Class.method`` for bound methods, the qualified name of functions, classes and builtins,
    ``partial(name)`` for a ``functools.partial`` (APScheduler 3 says just ``partial``), and
    the class name of other callables.

    :raises TypeError: if ``func`` is not callable
    """
    if inspect.ismethod(func):
        owner = func.__self__
        cls = owner if inspect.isclass(owner) else type(owner)
        return f"{cls.__qualname__}.{func.__name__}"
    if inspect.isclass(func) or inspect.isfunction(func) or inspect.isbuiltin(func):
        return func.__qualname__
    if isinstance(func, partial):
        return f"partial({callable_name(func.func)})"
    if callable(func):
        return type(func).__qualname__
    raise TypeError(f"func must be callable, got {func!r} ({type(func).__name__})")


def obj_to_ref(obj: Any) -> str:
    """Return the ``"module:qualname"`` reference that :func:`ref_to_obj` resolves to ``obj``.

    The reference is checked to lead back to ``obj`` itself, so what is stored is what runs.
    A function in ``__main__`` gets a ``"__main__:name"`` reference (valid only in a process
    that defines it again, as APScheduler allows); use :func:`is_by_reference` to ask whether
    a reference is enough to store a job.

    :raises TypeError: if ``obj`` is not callable
    :raises ValueError: if ``obj`` cannot be named by reference (partial, lambda, nested
        function, method bound to an instance, callable instance, or a name that leads
        somewhere else)
    """
    if isinstance(obj, partial):
        raise ValueError("Cannot create a reference to a partial()")
    if not callable(obj):
        raise TypeError(f"obj must be callable, got {obj!r} ({type(obj).__name__})")

    if inspect.ismethod(obj) or (inspect.isbuiltin(obj) and not _is_module(obj.__self__)):
        owner = obj.__self__
        if not inspect.isclass(owner):
            raise ValueError(
                f"Cannot create a reference to {callable_name(obj)}: it is bound to an "
                f"instance of {type(owner).__qualname__}"
            )
        module_name = owner.__module__
        qualname = f"{owner.__qualname__}.{obj.__name__}"
    elif inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj):
        module_name = obj.__module__
        qualname = obj.__qualname__
    else:
        raise ValueError(
            f"Cannot create a reference to an instance of {type(obj).__qualname__}; "
            f"pass a module-level function instead"
        )

    if "<lambda>" in qualname:
        raise ValueError("Cannot create a reference to a lambda")
    if "<locals>" in qualname:
        raise ValueError("Cannot create a reference to a nested function")
    if not module_name:
        raise ValueError(f"Cannot create a reference to {qualname}: it has no module")

    ref = f"{module_name}:{qualname}"
    try:
        target = ref_to_obj(ref)
    except LookupError as exc:
        raise ValueError(f"Cannot create a reference to {qualname}: {exc}") from None
    if target is not obj and target != obj:
        raise ValueError(
            f"Cannot create a reference to {qualname}: {ref} names a different object"
        )
    return ref


def ref_to_obj(ref: str) -> Any:
    """Import and return the object that ``ref`` (``"module:qualname"``) names.

    :raises TypeError: if ``ref`` is not a string
    :raises ValueError: if ``ref`` is not of the form ``module:qualname``
    :raises LookupError: if the module cannot be imported or has no such attribute
    """
    if not isinstance(ref, str):
        raise TypeError(f"References must be strings, got {ref!r} ({type(ref).__name__})")
    module_name, sep, rest = ref.partition(":")
    if not sep or not module_name or not rest:
        raise ValueError(f"Invalid reference {ref!r}: expected 'module:qualname'")

    try:
        obj = sys.modules.get(module_name) or importlib.import_module(module_name)
    except Exception as exc:
        raise LookupError(
            f"Error resolving reference {ref}: could not import module {module_name} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    try:
        for name in rest.split("."):
            obj = getattr(obj, name)
    except Exception as exc:
        raise LookupError(
            f"Error resolving reference {ref}: module {module_name} has no {rest}"
        ) from exc
    return obj


def is_by_reference(func: Any) -> bool:
    """Tell whether ``func`` can be stored as a textual reference another process resolves.

    False for anything defined in ``__main__`` (a script or notebook), in a module that was
    never imported from a file or package (no ``__spec__``), and for everything
    :func:`obj_to_ref` refuses. Strings are references already; only ``"__main__:..."`` ones
    are not portable.
    """
    if isinstance(func, str):
        return not func.startswith("__main__:")
    try:
        ref = obj_to_ref(func)
    except (TypeError, ValueError):
        return False
    module_name = ref.partition(":")[0]
    if module_name == "__main__" or _registered_by_value(module_name):
        return False
    module = sys.modules.get(module_name)
    return module is not None and (
        getattr(module, "__spec__", None) is not None or module_name in sys.builtin_module_names
    )


#: cloudpickle's registry of modules registered with ``register_pickle_by_value`` (a set it
#: updates in place). It is private to cloudpickle, so its absence means "nothing registered".
_by_value_modules: Any = getattr(cloudpickle.cloudpickle, "_PICKLE_BY_VALUE_MODULES", None)


def _registered_by_value(module_name: str) -> bool:
    """Whether the user registered this module with ``cloudpickle.register_pickle_by_value``."""
    registered = _by_value_modules
    if not registered:
        return False
    return any(
        module_name == name or module_name.startswith(name + ".") for name in registered
    )


def _is_module(obj: Any) -> bool:
    return inspect.ismodule(obj) or obj is None


def _source_text(func: Any) -> str | None:
    """The source of ``func`` for display (None when Python cannot find it)."""
    target = func
    while isinstance(target, partial):
        target = target.func
    if not (inspect.isfunction(target) or inspect.ismethod(target) or inspect.isclass(target)):
        target = type(target)
    try:
        return textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError):
        return None


def _display_name(func: Any) -> str:
    try:
        return callable_name(func)
    except TypeError:
        return repr(func)


# --- the job record --------------------------------------------------------------------------

#: ``>III``: lengths of the header, the state pickle and the trigger pickle (format 2); the
#: function pickle of a by-value callable takes the rest of the body.
_LAYOUT = struct.Struct(">III")
_HEADER_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
_VERSION_JSON = _HEADER_ENCODER.encode(__version__)
_CACHE_LIMIT = 2048
_ABSENT = object()

#: The keys of ``Job.__getstate__()`` (version 1). A state with exactly these keys is stored as
#: a tuple of values in _JOB_FIELD_NAMES order (trigger and next run time go apart).
_JOB_KEYS = frozenset(
    (
        "version", "id", "func", "trigger", "executor", "args", "kwargs", "name",
        "misfire_grace_time", "coalesce", "max_instances", "next_run_time",
    )
)
_JOB_FIELD_NAMES = (
    "func", "version", "id", "executor", "args", "kwargs", "name", "misfire_grace_time",
    "coalesce", "max_instances",
)
_job_fields = operator.itemgetter(*_JOB_FIELD_NAMES[1:])

# Per-object caches. Triggers are immutable, so one trigger object always pickles (and
# prints) the same, and identical authenticated trigger bytes always unpickle to an equal
# trigger — which can then be shared. Only nbsched's own trigger classes are cached: a
# third-party trigger might be mutable. Entries hold the trigger itself, so an ``id`` is never
# reused while its entry lives.
_trigger_out: dict[int, tuple[Any, bytes, str]] = {}
_trigger_in: dict[bytes, Any] = {}
_ref_headers: dict[str, str] = {}
_sources: dict[Any, str | None] = {}


def record_binding(scope: str | None, job_id: Any) -> bytes:
    """The bytes a format-3 tag covers besides the record: store name and job id.

    ``scope`` is the store's table name (SQL) or jobs key (Redis); None and "" are the same
    (a record made outside any store). A non-string id is bound by its JSON text.
    """
    scope_b = (scope or "").encode("utf-8", "surrogatepass")
    id_text = job_id if type(job_id) is str else _json(job_id)
    id_b = id_text.encode("utf-8", "surrogatepass")
    return _BIND.pack(len(scope_b), len(id_b)) + scope_b + id_b


def encode_job_state(state: dict[str, Any], *, scope: str | None = None) -> bytes:
    """Serialize and sign a job's ``__getstate__()`` dict.

    The signature is bound to ``state["id"]`` and to ``scope`` (the store's table name or key
    prefix): :func:`decode_job_state` given another id or scope refuses the record with
    :class:`BindingError`.

    ``state["func"]`` may be a ``"module:qualname"`` string or the callable; it is stored by
    reference when :func:`is_by_reference` allows and by value otherwise (a ``"__main__:name"``
    string is resolved in this process and stored by value).

    :raises TypeError: if ``state`` is not a dict or lacks ``func``
    :raises ValueError: if the callable or an argument cannot be serialized; the message names
        the job and the part that failed
    """
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    if "func" not in state:
        raise TypeError("state must contain a 'func' entry")
    job_id = state.get("id")
    # The cache look-ups are inlined: this runs for every add and update of a persistent job.
    func = state["func"]
    func_json = _ref_headers.get(func) if type(func) is str else None
    if func_json is not None:
        func_ref, func_part = func, b""
    else:
        func_json, func_ref, func_part = _encode_func(func, job_id)

    trigger = state.get("trigger", _ABSENT)
    entry = _trigger_out.get(id(trigger))
    if entry is not None and entry[0] is trigger:
        trigger_part, trigger_json = entry[1], entry[2]
    elif trigger is _ABSENT:
        trigger_part, trigger_json = b"", "null"
    else:
        trigger_part, trigger_json = _encode_trigger(trigger, job_id)
    next_run_time = state.get("next_run_time")
    packed_time = _pack_time(next_run_time) if type(next_run_time) is datetime else None
    if len(state) == len(_JOB_KEYS) and state.keys() == _JOB_KEYS:
        # A Job's state: the values alone, in a fixed order (no key names in every record).
        fields: Any = (func_ref, *_job_fields(state))
        when = next_run_time if packed_time is None else packed_time
    else:
        fields = {key: value for key, value in state.items() if key != "trigger"}
        if func_ref is None:
            del fields["func"]
        else:
            fields["func"] = func_ref
        if packed_time is not None:
            del fields["next_run_time"]
        when = packed_time
    state_part = _dumps((fields, when), job_id, "arguments or options")

    name = state.get("name")
    executor = state.get("executor")
    header = "".join(
        (
            '{"format":3,"store":',
            _encode_json_str(scope) if type(scope) is str else '""',
            ',"id":',
            _encode_json_str(job_id) if type(job_id) is str else _json(job_id),
            ',"name":',
            _encode_json_str(name) if type(name) is str else _json(name),
            ',"func":',
            func_json,
            ',"trigger":',
            trigger_json,
            ',"executor":',
            _encode_json_str(executor) if type(executor) is str else _json(executor),
            ',"next_run_time":',
            _json(next_run_time.isoformat()) if isinstance(next_run_time, datetime) else "null",
            ',"written_at":',
            repr(time.time()),
            ',"nbsched":',
            _VERSION_JSON,
            ',"key":"',
            key_id(),
            '"}',
        )
    ).encode("utf-8")
    body = b"".join(
        (
            _LAYOUT.pack(len(header), len(state_part), len(trigger_part)),
            header,
            state_part,
            trigger_part,
            func_part,
        )
    )
    prefix = _PREFIX_V3
    return prefix + sign(prefix + record_binding(scope, job_id) + body) + body


def decode_job_state(
    payload: bytes, *, resolve: bool = True, job_id: Any = None, scope: str | None = None
) -> dict[str, Any]:
    """Verify a record made by :func:`encode_job_state` and return the job state dict.

    ``job_id`` and ``scope`` are where the record was found (the row's id, the store's table
    name or key prefix). A format-3 record verifies only there; None means "whatever the
    record says" (a record handled outside a store). Formats 1 and 2 carry no binding: the
    caller compares the decoded ``state["id"]`` with the id it found the record under.

    A by-reference callable comes back as its ``"module:qualname"`` string (checked to
    resolve when ``resolve`` is true); a by-value callable comes back as the callable.

    :raises SignatureError: if the payload is not a signed nbsched record or its tag does not
        match — nothing in it has been unpickled
    :raises BindingError: if the record is authentic but was signed for another id or store
    :raises RestoreError: if the record is authentic but cannot be restored here (unknown
        format version, missing module, a pickle that fails to load)
    """
    if type(payload) is not bytes or payload[4:5] != _VERSION_3_BYTE or payload[:4] != MAGIC:
        payload = _check_payload(payload)  # the checks, and the errors, for anything unusual
    version = payload[len(MAGIC)]
    state = _decode_v1(payload) if version == 1 else _decode_v2(payload, version, job_id, scope)
    if resolve:
        func = state.get("func")
        if isinstance(func, str):
            try:
                ref_to_obj(func)
            except (LookupError, ValueError) as exc:
                raise RestoreError(f"cannot restore job {state.get('id')!r}: {exc}") from exc
    return state


def _decode_v2(payload: bytes, version: int, job_id: Any, scope: str | None) -> dict[str, Any]:
    """Formats 2 and 3 (one layout; format 3's tag also covers the binding)."""
    if len(payload) < _BODY_OFFSET:
        _check_payload(payload)  # raises: too short to hold a tag
    body = _verified_body_v3(payload, job_id, scope) if version == 3 else _verified_body(payload)
    try:
        header_len, state_len, trigger_len = _LAYOUT.unpack_from(body)
        start = _LAYOUT.size + header_len
        trigger_start = start + state_len
        func_start = trigger_start + trigger_len
        if func_start > len(body):
            raise ValueError("part lengths do not add up")
    except Exception as exc:
        raise RestoreError(f"malformed nbsched job record: {type(exc).__name__}: {exc}") from exc
    try:
        loaded = _loads(body[start:trigger_start], None, "arguments or options")
    except RestoreError as exc:
        job_id = _read_header(2, body, verified=True).get("id")
        raise RestoreError(str(exc).replace("job None", f"job {job_id!r}", 1)) from exc.__cause__
    try:
        fields, when = loaded
        if type(fields) is tuple:
            if len(fields) != len(_JOB_FIELD_NAMES):
                raise ValueError(f"{len(fields)} job fields instead of {len(_JOB_FIELD_NAMES)}")
            state = dict(zip(_JOB_FIELD_NAMES, fields))
        else:
            state = dict(fields)
    except (TypeError, ValueError) as exc:
        raise RestoreError(f"job record holds no job state ({exc})") from None
    job_id = state.get("id")
    if type(when) is tuple:
        state["next_run_time"] = _unpack_time(when, job_id)
    elif type(fields) is tuple:
        state["next_run_time"] = when
    if state.get("func", _ABSENT) is None:
        del state["func"]  # stored by value, in the function part
    if trigger_len:
        state["trigger"] = _decode_trigger(body[trigger_start:func_start], job_id)
    if "func" not in state:
        state["func"] = _loads(body[func_start:], job_id, "function")
    elif func_start != len(body):
        raise RestoreError(f"malformed nbsched job record {job_id!r}: trailing bytes")
    return state


def _decode_v1(payload: bytes) -> dict[str, Any]:
    """Format 1 (nbsched 0.1): JSON header listing the parts, one pickle for the state."""
    header, parts = _open_record(payload, verified=True)
    job_id = header.get("id")
    state = _loads(parts.get("state"), job_id, "arguments, trigger or options")
    if not isinstance(state, dict):
        raise RestoreError(f"job record {job_id!r} holds a {type(state).__name__}, not a dict")
    func_header = header.get("func") or {}
    if func_header.get("kind") == "value":
        state["func"] = _loads(parts.get("func"), job_id, "function")
    else:
        ref = func_header.get("ref")
        if not isinstance(ref, str):
            raise RestoreError(f"job record {job_id!r} names no function")
        state["func"] = ref
    return state


def describe_record(payload: bytes, *, verify: bool = True) -> dict[str, Any]:
    """Return a record's safe metadata without unpickling anything.

    Keys: ``format``, ``verified``, ``id``, ``name``, ``func`` (display name), ``func_ref``
    (reference or None), ``by_value``, ``source`` (source text of a by-value callable or
    None), ``trigger`` (its ``str``), ``executor``, ``next_run_time`` (ISO text or None),
    ``written_at`` (ISO text), ``nbsched`` (version that wrote it). With ``verify=False`` the
    signature is checked but not required; ``verified`` says whether it matched — never trust
    the metadata of an unverified record beyond displaying it.

    :raises SignatureError: if ``verify`` is true and the signature does not match
    :raises RecordError: if the payload is not an nbsched record at all
    """
    payload = _check_payload(payload)
    version = payload[len(MAGIC)]
    try:
        body = _verified_body_v3(payload) if version == 3 else _verified_body(payload)
        verified = True
    except SignatureError:
        if verify:
            raise
        body = payload[_BODY_OFFSET:]
        verified = False
    header = _read_header(version, body, verified=verified)
    func = header.get("func") or {}
    written_at = header.get("written_at")
    if isinstance(written_at, (int, float)) and not isinstance(written_at, bool):
        written_at = datetime.fromtimestamp(written_at, timezone.utc).isoformat()
    return {
        "format": header.get("format"),
        "verified": verified,
        "store": header.get("store"),
        "id": header.get("id"),
        "name": header.get("name"),
        "func": func.get("name"),
        "func_ref": func.get("ref"),
        "by_value": func.get("kind") == "value",
        "source": func.get("source"),
        "trigger": header.get("trigger"),
        "executor": header.get("executor"),
        "next_run_time": header.get("next_run_time"),
        "written_at": written_at,
        "nbsched": header.get("nbsched"),
    }


# --- internals -------------------------------------------------------------------------------


def _encode_func(func: Any, job_id: Any) -> tuple[str, str | None, bytes]:
    """The callable's header entry (JSON text), reference (None: by value) and pickle.

    The pickle is empty for a callable stored by reference.
    """
    if isinstance(func, str):
        cached = _ref_headers.get(func)
        if cached is not None:
            return cached, func, b""
        module_name, sep, qualname = func.partition(":")
        if not (module_name and sep and qualname):
            raise ValueError(
                f"func of job {job_id!r} must be a 'module:qualname' reference, got {func!r}"
            )
        if is_by_reference(func):
            text = _HEADER_ENCODER.encode({"kind": "ref", "ref": func, "name": qualname})
            _remember(_ref_headers, func, text)
            return text, func, b""
        try:
            func_obj = ref_to_obj(func)
        except LookupError as exc:
            raise ValueError(
                f"cannot store job {job_id!r}: its function {func} is not defined in this "
                f"process ({exc})"
            ) from exc
        hint = func
    else:
        if not callable(func):
            raise TypeError(f"func of job {job_id!r} must be callable or a reference string")
        if is_by_reference(func):
            ref = obj_to_ref(func)
            text = _HEADER_ENCODER.encode(
                {"kind": "ref", "ref": ref, "name": callable_name(func)}
            )
            return text, ref, b""
        func_obj = func
        hint = None
    data = _dumps(func_obj, job_id, "function")
    header = {
        "kind": "value",
        "ref": hint,
        "name": _display_name(func_obj),
        "module": getattr(func_obj, "__module__", None),
        "source": _cached_source(func_obj),
    }
    return _HEADER_ENCODER.encode(header), None, data


def _cached_source(func: Any) -> str | None:
    """:func:`_source_text`, remembered per code object (``inspect.getsource`` reads files)."""
    target = func
    while isinstance(target, partial):
        target = target.func
    code = getattr(getattr(target, "__func__", target), "__code__", None)
    if code is None:
        return _source_text(func)
    try:
        return _sources[code]
    except KeyError:
        pass
    text = _source_text(func)
    _remember(_sources, code, text)
    return text


def _is_own_trigger(trigger: Any) -> bool:
    """nbsched's trigger classes are immutable; a third-party one might not be."""
    return type(trigger).__module__.startswith("nbsched.triggers.")


def _encode_trigger(trigger: Any, job_id: Any) -> tuple[bytes, str]:
    """The trigger's pickle and its ``str`` as JSON text, remembered per trigger object."""
    entry = _trigger_out.get(id(trigger))
    if entry is not None and entry[0] is trigger:
        return entry[1], entry[2]
    data = _dumps(trigger, job_id, "trigger")
    text = _json(_safe_str(trigger))
    if _is_own_trigger(trigger):
        _remember(_trigger_out, id(trigger), (trigger, data, text))
    return data, text


def _decode_trigger(data: bytes, job_id: Any) -> Any:
    """Unpickle an (already authenticated) trigger; equal bytes share one immutable trigger."""
    trigger = _trigger_in.get(data)
    if trigger is None:
        trigger = _loads(data, job_id, "trigger")
        if _is_own_trigger(trigger):
            _remember(_trigger_in, data, trigger)
    return trigger


def _remember(cache: dict, key: Any, value: Any) -> None:
    """Bounded caches: start over when full (cheap, and the hot entries come straight back)."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def _pack_time(value: datetime) -> tuple | None:
    """An aware UTC or zoneinfo datetime as plain numbers plus the zone key.

    Pickling ``timezone.utc`` or a ``ZoneInfo`` imports and looks up their classes on every
    call, which costs several times more than the rest of a job's options; plain numbers do
    not. None means "pickle it as it is" (naive, fixed-offset or third-party zones).
    """
    tz = value.tzinfo
    if tz is timezone.utc:
        key = None
    elif type(tz) is ZoneInfo and tz.key and ZoneInfo(tz.key) is tz:
        key = tz.key
    else:
        return None
    return (
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, value.fold, key,
    )


def _unpack_time(packed: Any, job_id: Any) -> datetime:
    try:
        *fields, fold, key = packed
        tz = timezone.utc if key is None else ZoneInfo(key)
        return datetime(*fields, tzinfo=tz, fold=fold)
    except Exception as exc:
        raise RestoreError(
            f"cannot restore the next run time of job {job_id!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _json(value: Any) -> str:
    if type(value) is str:
        return _encode_json_str(value)
    if value is None:
        return "null"
    return _HEADER_ENCODER.encode(value)


def _dumps(obj: Any, job_id: Any, what: str) -> bytes:
    """Pickle ``obj`` so that another process can load it.

    Plain pickle is tried first because it is several times faster than cloudpickle; its
    result is kept only when it does not refer to ``__main__`` (which another process does not
    share) and no module was registered with ``cloudpickle.register_pickle_by_value``.
    Anything plain pickle refuses or that mentions ``__main__`` — notebook classes and
    functions, lambdas, closures — goes through cloudpickle, which pickles those by value.
    """
    data = None
    if not _by_value_modules:
        try:
            data = pickle.dumps(obj, _PICKLE_PROTOCOL)
        except Exception:
            data = None
    if data is not None and b"__main__" not in data:
        return data
    try:
        return cloudpickle.dumps(obj, _PICKLE_PROTOCOL)
    except Exception as exc:
        raise ValueError(
            f"cannot serialize the {what} of job {job_id!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _loads(data: bytes | None, job_id: Any, what: str) -> Any:
    if data is None:
        raise RestoreError(f"job record {job_id!r} has no {what} part")
    try:
        return pickle.loads(data)
    except ModuleNotFoundError as exc:
        raise RestoreError(
            f"cannot restore the {what} of job {job_id!r}: module {exc.name!r} is not "
            f"installed or importable here"
        ) from exc
    except Exception as exc:
        raise RestoreError(
            f"cannot restore the {what} of job {job_id!r}: {type(exc).__name__}: {exc}"
        ) from exc




def _check_payload(payload: Any) -> bytes:
    """Check the type, the record marker and the format version (nothing is trusted yet)."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
    if type(payload) is not bytes:
        payload = bytes(payload)
    if len(payload) < _BODY_OFFSET or payload[: len(MAGIC)] != MAGIC:
        raise SignatureError(
            "not a signed nbsched job record (missing the record marker); it was written by "
            "another program or damaged, and was not unpickled"
        )
    version = payload[len(MAGIC)]
    if version not in _READABLE_VERSIONS:
        raise RestoreError(
            f"job record format version {version} is not known to nbsched {__version__} "
            f"(it reads versions {', '.join(map(str, _READABLE_VERSIONS))}); was it written "
            f"by a newer nbsched?"
        )
    return payload


def _verified_body(payload: bytes) -> bytes:
    """The body of a checked payload, after its tag verified in constant time."""
    body = payload[_BODY_OFFSET:]
    if not verify(payload[:_PREFIX_SIZE] + body, payload[_PREFIX_SIZE:_BODY_OFFSET]):
        raise SignatureError(
            "job record signature does not match: the record was changed after it was "
            f"written, or it was signed with a different key than {_key_source()}; "
            "it was not unpickled"
        )
    return body


def _verified_body_v3(
    payload: bytes, job_id: Any = None, scope: str | None = None
) -> bytes:
    """The body of a format-3 record whose tag verifies for ``job_id`` in ``scope``.

    None takes the id or store the record's header claims. On a mismatch the header's claim is
    tried too (the failure path only), to tell a copied record (:class:`BindingError`) from a
    changed one or another key (:class:`SignatureError`).
    """
    body = payload[_BODY_OFFSET:]
    prefix = payload[:_PREFIX_SIZE]
    tag = payload[_PREFIX_SIZE:_BODY_OFFSET]
    header = None
    if job_id is None or scope is None:
        header = _claimed_header(body)
        if job_id is None:
            job_id = header.get("id")
        if scope is None:
            scope = header.get("store")
    if verify(prefix + record_binding(scope, job_id) + body, tag):
        return body
    if header is None:
        header = _claimed_header(body)
    claimed_id, claimed_scope = header.get("id"), header.get("store")
    if (claimed_id, claimed_scope) != (job_id, scope) and verify(
        prefix + record_binding(claimed_scope, claimed_id) + body, tag
    ):
        raise BindingError(
            f"job record signed for job {claimed_id!r} in store {claimed_scope!r} was found "
            f"as job {job_id!r} in store {scope!r} (copied there?); it was not unpickled"
        )
    claimed_key, current_key = header.get("key"), key_id(get_key(create=False))
    if isinstance(claimed_key, str) and claimed_key != current_key:
        cause = (
            f"it was signed with a different key than {_key_source()} (the record names key "
            f"{claimed_key[:16]!r}, this process uses key {current_key!r})"
        )
    else:
        cause = (
            "the record was changed after it was written, or it was signed with a different "
            f"key than {_key_source()}"
        )
    raise SignatureError(f"job record signature does not match: {cause}; it was not unpickled")


def _claimed_header(body: bytes) -> dict[str, Any]:
    """The (not yet verified) header of a format 2/3 body; {} if it cannot be read."""
    try:
        return _read_header(3, body, verified=False)
    except RecordError:
        return {}


def record_key_id(payload: Any) -> str | None:
    """The key fingerprint a format-3 record's (unverified) header claims, or None.

    Only a hint for messages and for telling a wrong key from a changed record; never trusted
    for anything else.
    """
    if not looks_signed(payload) or payload[len(MAGIC)] != 3:
        return None
    claimed = _claimed_header(bytes(payload[_BODY_OFFSET:])).get("key")
    return claimed if isinstance(claimed, str) else None


def looks_signed(payload: Any) -> bool:
    """Whether ``payload`` has the shape of a signed record (marker, known version, a tag).

    Garbage (another program's value, a truncated write) is a fault of that record; a
    well-formed record whose tag fails may instead mean the reader has the wrong key.
    """
    return (
        isinstance(payload, (bytes, bytearray, memoryview))
        and len(payload) > _BODY_OFFSET
        and bytes(payload[: len(MAGIC)]) == MAGIC
        and payload[len(MAGIC)] in _READABLE_VERSIONS
    )


def record_verifies(payload: Any) -> bool:
    """Whether ``payload`` is a record whose tag verifies under the current key.

    Only the signature is checked (a format-3 record against the binding it claims); nothing
    is unpickled. Stores use it to tell "this record is bad" from "this key is wrong".
    """
    try:
        payload = _check_payload(payload)
        if payload[len(MAGIC)] == 3:
            _verified_body_v3(payload)
        else:
            _verified_body(payload)
        return True
    except (RecordError, TypeError):
        return False


def _read_header(version: int, body: bytes, *, verified: bool) -> dict[str, Any]:
    """The JSON header of a version 1 or 2 body (never unpickles)."""
    try:
        if version == 1:
            offset = _HEADER_LEN.size
            (header_len,) = _HEADER_LEN.unpack_from(body)
        else:
            offset = _LAYOUT.size
            header_len = _LAYOUT.unpack_from(body)[0]
        if offset + header_len > len(body):
            raise ValueError("the header is longer than the record")
        header = json.loads(body[offset : offset + header_len].decode())
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except Exception as exc:
        error = RestoreError if verified else RecordError
        raise error(f"malformed nbsched job record: {type(exc).__name__}: {exc}") from exc
    return header


def _open_record(payload: bytes, *, verified: bool) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Format 1: verify (when ``verified``), return the header and the raw parts."""
    body = _verified_body(payload) if verified else payload[_BODY_OFFSET:]
    header = _read_header(1, body, verified=verified)
    try:
        offset = _HEADER_LEN.size + _HEADER_LEN.unpack_from(body)[0]
        parts: dict[str, bytes] = {}
        for name, length in header["parts"]:
            parts[name] = body[offset : offset + length]
            offset += length
        if offset != len(body):
            raise ValueError("part lengths do not add up")
    except Exception as exc:
        error = RestoreError if verified else RecordError
        raise error(f"malformed nbsched job record: {type(exc).__name__}: {exc}") from exc
    return header, parts


def _key_source() -> str:
    if os.environ.get(SECRET_KEY_ENV):
        return f"the one from {SECRET_KEY_ENV}"
    return f"the one in {key_file_path()}"


def _safe_str(obj: Any) -> str | None:
    if obj is None:
        return None
    try:
        return str(obj)
    except Exception:
        return f"<{type(obj).__qualname__}>"
