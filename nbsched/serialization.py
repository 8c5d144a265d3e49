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

Record layout (format version 1)::

    b"NBSJ" | version (1 byte) | HMAC-SHA256 tag (32 bytes) | body
    body = header length (4 bytes, big endian) | header (UTF-8 JSON) | pickled parts

The tag covers magic, version and body, and is checked (in constant time) before anything is
unpickled: a record changed by anyone without the user's key (see :mod:`nbsched.signing`) is
refused with :class:`SignatureError` and its pickles are never loaded. The JSON header holds
safe metadata — job id, name, the callable's name, reference or source text — that
:func:`describe_record` returns without unpickling anything, so a tool can show a quarantined
record to the user.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pickle
import struct
import sys
import textwrap
from datetime import datetime, timezone
from functools import partial
from typing import Any

import cloudpickle

from nbsched import __version__
from nbsched.signing import SECRET_KEY_ENV, TAG_SIZE, key_file_path, sign, verify

__all__ = [
    "MAGIC",
    "RECORD_VERSION",
    "RecordError",
    "RestoreError",
    "SignatureError",
    "callable_name",
    "decode_job_state",
    "describe_record",
    "encode_job_state",
    "is_by_reference",
    "obj_to_ref",
    "ref_to_obj",
]

MAGIC = b"NBSJ"
RECORD_VERSION = 1
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


def _registered_by_value(module_name: str) -> bool:
    """Whether the user registered this module with ``cloudpickle.register_pickle_by_value``.

    That registry is private to cloudpickle, so its absence just means "nothing registered".
    """
    registered = getattr(cloudpickle.cloudpickle, "_PICKLE_BY_VALUE_MODULES", None)
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


def encode_job_state(state: dict[str, Any]) -> bytes:
    """Serialize and sign a job's ``__getstate__()`` dict.

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
    func = state["func"]

    func_header, func_part = _encode_func(func, job_id)
    parts: list[tuple[str, bytes]] = []
    if func_part is not None:
        parts.append(("func", func_part))

    # One pickle for everything but the callable: pickling is most of the cost of a record.
    rest = {key: value for key, value in state.items() if key != "func"}
    parts.append(("state", _dumps(rest, job_id, "arguments, trigger or options")))

    next_run_time = state.get("next_run_time")
    header = {
        "format": RECORD_VERSION,
        "id": job_id,
        "name": state.get("name"),
        "func": func_header,
        "trigger": _safe_str(state.get("trigger")),
        "executor": state.get("executor"),
        "next_run_time": (
            next_run_time.isoformat() if isinstance(next_run_time, datetime) else None
        ),
        "written_at": datetime.now(timezone.utc).isoformat(),
        "nbsched": __version__,
        "parts": [[name, len(data)] for name, data in parts],
    }
    header_bytes = json.dumps(header, default=str, separators=(",", ":")).encode("utf-8")
    body = b"".join([_HEADER_LEN.pack(len(header_bytes)), header_bytes, *(d for _, d in parts)])
    prefix = MAGIC + bytes([RECORD_VERSION])
    return prefix + sign(prefix + body) + body


def decode_job_state(payload: bytes, *, resolve: bool = True) -> dict[str, Any]:
    """Verify a record made by :func:`encode_job_state` and return the job state dict.

    A by-reference callable comes back as its ``"module:qualname"`` string (checked to
    resolve when ``resolve`` is true); a by-value callable comes back as the callable.

    :raises SignatureError: if the payload is not a signed nbsched record or its tag does not
        match — nothing in it has been unpickled
    :raises RestoreError: if the record is authentic but cannot be restored here (unknown
        format version, missing module, a pickle that fails to load)
    """
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
        if resolve:
            try:
                ref_to_obj(ref)
            except (LookupError, ValueError) as exc:
                raise RestoreError(f"cannot restore job {job_id!r}: {exc}") from exc
        state["func"] = ref
    return state


def describe_record(payload: bytes, *, verify: bool = True) -> dict[str, Any]:
    """Return a record's safe metadata without unpickling anything.

    Keys: ``format``, ``verified``, ``id``, ``name``, ``func`` (display name), ``func_ref``
    (reference or None), ``by_value``, ``source`` (source text of a by-value callable or
    None), ``trigger`` (its ``str``), ``executor``, ``next_run_time`` (ISO text or None),
    ``written_at``, ``nbsched`` (version that wrote it). With ``verify=False`` the signature is
    checked but not required; ``verified`` says whether it matched — never trust the
    metadata of an unverified record beyond displaying it.

    :raises SignatureError: if ``verify`` is true and the signature does not match
    :raises RecordError: if the payload is not an nbsched record at all
    """
    try:
        header, _parts = _open_record(payload, verified=True)
        verified = True
    except SignatureError:
        if verify:
            raise
        header, _parts = _open_record(payload, verified=False)
        verified = False
    func = header.get("func") or {}
    return {
        "format": header.get("format"),
        "verified": verified,
        "id": header.get("id"),
        "name": header.get("name"),
        "func": func.get("name"),
        "func_ref": func.get("ref"),
        "by_value": func.get("kind") == "value",
        "source": func.get("source"),
        "trigger": header.get("trigger"),
        "executor": header.get("executor"),
        "next_run_time": header.get("next_run_time"),
        "written_at": header.get("written_at"),
        "nbsched": header.get("nbsched"),
    }


# --- internals -------------------------------------------------------------------------------


def _encode_func(func: Any, job_id: Any) -> tuple[dict[str, Any], bytes | None]:
    """Return the callable's header entry and, when stored by value, its pickle."""
    if isinstance(func, str):
        module_name, sep, qualname = func.partition(":")
        if not (module_name and sep and qualname):
            raise ValueError(
                f"func of job {job_id!r} must be a 'module:qualname' reference, got {func!r}"
            )
        if is_by_reference(func):
            return {"kind": "ref", "ref": func, "name": qualname}, None
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
            return {"kind": "ref", "ref": ref, "name": callable_name(func)}, None
        func_obj = func
        hint = None
    data = _dumps(func_obj, job_id, "function")
    header = {
        "kind": "value",
        "ref": hint,
        "name": _display_name(func_obj),
        "module": getattr(func_obj, "__module__", None),
        "source": _source_text(func_obj),
    }
    return header, data


def _dumps(obj: Any, job_id: Any, what: str) -> bytes:
    """Pickle ``obj`` so that another process can load it.

    Plain pickle is tried first because it is several times faster than cloudpickle; its
    result is kept only when it does not refer to ``__main__`` (which another process does not
    share) and no module was registered with ``cloudpickle.register_pickle_by_value``.
    Anything plain pickle refuses or that mentions ``__main__`` — notebook classes and
    functions, lambdas, closures — goes through cloudpickle, which pickles those by value.
    """
    data = None
    if not getattr(cloudpickle.cloudpickle, "_PICKLE_BY_VALUE_MODULES", None):
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


def _open_record(payload: bytes, *, verified: bool) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Check framing (and the tag when ``verified``); return the header and the raw parts."""
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
    if version != RECORD_VERSION:
        raise RestoreError(
            f"job record format version {version} is not known to nbsched {__version__} "
            f"(it reads version {RECORD_VERSION}); was it written by a newer nbsched?"
        )
    tag = payload[_PREFIX_SIZE:_BODY_OFFSET]
    body = payload[_BODY_OFFSET:]
    if verified and not verify(payload[:_PREFIX_SIZE] + body, tag):
        raise SignatureError(
            "job record signature does not match: the record was changed after it was "
            f"written, or it was signed with a different key than {_key_source()}; "
            "it was not unpickled"
        )
    try:
        (header_len,) = _HEADER_LEN.unpack_from(body)
        header = json.loads(body[_HEADER_LEN.size : _HEADER_LEN.size + header_len].decode())
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        offset = _HEADER_LEN.size + header_len
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
