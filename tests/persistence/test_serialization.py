"""Callable references and the signed job record: round trips, source text, refusal of tampering."""

from __future__ import annotations

import functools
import json
import linecache
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nbsched import serialization
from nbsched.serialization import (
    MAGIC,
    RECORD_VERSION,
    RecordError,
    RestoreError,
    SignatureError,
    callable_name,
    decode_job_state,
    describe_record,
    encode_job_state,
    is_by_reference,
    obj_to_ref,
    ref_to_obj,
)
from nbsched.triggers.interval import IntervalTrigger

MODULE = __name__
NEXT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


# --- callables used by the tests ---------------------------------------------------------------


def add(x: int, y: int = 10) -> int:
    return x + y


class Greeter:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    def greet(self, name: str) -> str:
        return f"{self.greeting}, {name}"

    @classmethod
    def make(cls, greeting: str) -> str:
        return f"made {greeting}"

    @staticmethod
    def shout(text: str) -> str:
        return text.upper()

    class Inner:
        @staticmethod
        def deep() -> str:
            return "deep"


class CallableThing:
    def __call__(self, x: int) -> int:
        return x * 7


def make_closure(offset: int) -> Any:
    def shifted(x: int) -> int:
        return x + offset

    return shifted


class Evil:
    """Unpickling this creates a directory: proof of whether a payload was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def state_for(func: Any, *, args: tuple = (1,), kwargs: dict | None = None, **extra: Any) -> dict:
    state = {
        "version": 1,
        "id": "job-1",
        "func": func,
        "trigger": IntervalTrigger(minutes=5, start_date=NEXT, timezone="UTC"),
        "executor": "default",
        "args": args,
        "kwargs": kwargs or {},
        "name": "my job",
        "misfire_grace_time": 30.0,
        "coalesce": True,
        "max_instances": 2,
        "next_run_time": NEXT,
    }
    state.update(extra)
    return state


def call(state: dict) -> Any:
    func = state["func"]
    if isinstance(func, str):
        func = ref_to_obj(func)
    return func(*state["args"], **state["kwargs"])


def run_python(code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=env or os.environ.copy(), cwd=cwd, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- references -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "ref"),
    [
        (add, f"{MODULE}:add"),
        (Greeter, f"{MODULE}:Greeter"),
        (Greeter.make, f"{MODULE}:Greeter.make"),
        (Greeter.shout, f"{MODULE}:Greeter.shout"),
        (Greeter.Inner.deep, f"{MODULE}:Greeter.Inner.deep"),
        (len, "builtins:len"),
        (os.path.join, f"{os.path.join.__module__}:join"),
        (dict.fromkeys, "builtins:dict.fromkeys"),
        (json.dumps, "json:dumps"),
    ],
)
def test_obj_to_ref_round_trips(obj: Any, ref: str) -> None:
    assert obj_to_ref(obj) == ref
    assert ref_to_obj(ref) == obj
    assert is_by_reference(obj)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (lambda: None, "lambda"),
        (make_closure(1), "nested function"),
        (functools.partial(add, 1), "partial"),
        (Greeter("hi").greet, "bound to an instance of Greeter"),
        ([].append, "bound to an instance of list"),
        (CallableThing(), "instance of CallableThing"),
    ],
)
def test_obj_to_ref_refuses_what_cannot_be_imported(obj: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        obj_to_ref(obj)
    assert not is_by_reference(obj)


def test_obj_to_ref_refuses_a_name_that_leads_elsewhere() -> None:
    def impostor() -> None: ...

    impostor.__qualname__ = "add"  # claims to be this module's add()
    with pytest.raises(ValueError, match="names a different object"):
        obj_to_ref(impostor)


def test_obj_to_ref_rejects_non_callables() -> None:
    with pytest.raises(TypeError, match="must be callable"):
        obj_to_ref(42)


@pytest.mark.parametrize(
    ("ref", "error", "message"),
    [
        (42, TypeError, "References must be strings"),
        ("no_colon", ValueError, "Invalid reference"),
        (":add", ValueError, "Invalid reference"),
        ("json:", ValueError, "Invalid reference"),
        ("nbsched_no_such_module:f", LookupError, "could not import module"),
        ("json:no_such_function", LookupError, "has no no_such_function"),
    ],
)
def test_ref_to_obj_errors(ref: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        ref_to_obj(ref)


def test_is_by_reference_for_strings_and_main() -> None:
    assert is_by_reference("json:dumps")
    assert not is_by_reference("__main__:job")
    main = types.ModuleType("__main__")
    exec("def job():\n    return 1\n", main.__dict__)
    assert main.job.__module__ == "__main__"
    assert not is_by_reference(main.job)


def test_callable_name() -> None:
    assert callable_name(add) == "add"
    assert callable_name(Greeter("x").greet) == "Greeter.greet"
    assert callable_name(Greeter.make) == "Greeter.make"
    assert callable_name(Greeter.Inner.deep) == "Greeter.Inner.deep"
    assert callable_name(CallableThing()) == "CallableThing"
    assert callable_name(functools.partial(add, 1)) == "partial(add)"
    assert callable_name(len) == "len"
    with pytest.raises(TypeError, match="must be callable"):
        callable_name("not callable")


def test_callable_name_agrees_with_apscheduler_except_partial() -> None:
    apscheduler_util = pytest.importorskip("apscheduler.util")
    funcs = (add, Greeter("x").greet, Greeter.make, Greeter, CallableThing(), len, make_closure(1))
    for func in funcs:
        assert callable_name(func) == apscheduler_util.get_callable_name(func)


# --- round trips ---------------------------------------------------------------------------------


def test_module_function_is_stored_by_reference() -> None:
    for func in (add, f"{MODULE}:add"):
        payload = encode_job_state(state_for(func, args=(5,)))
        state = decode_job_state(payload)
        assert state["func"] == f"{MODULE}:add"
        assert call(state) == 15
        info = describe_record(payload)
        assert info["func_ref"] == f"{MODULE}:add"
        assert info["by_value"] is False
        assert info["source"] is None
        assert b"def add" not in payload


def test_every_state_entry_survives() -> None:
    original = state_for(add, args=(1, [2, 3]), kwargs={"y": {"deep": (4,)}}, extra_field="kept")
    state = decode_job_state(encode_job_state(original))
    assert set(state) == set(original)
    for key, value in original.items():
        if key != "func":
            assert state[key] == value, key
    assert state["next_run_time"].tzinfo is not None
    assert isinstance(state["args"], tuple)


def test_lambda_by_value_with_source() -> None:
    func = lambda x, y=10: x * y  # noqa: E731
    payload = encode_job_state(state_for(func, args=(4,)))
    state = decode_job_state(payload)
    assert callable(state["func"]) and call(state) == 40
    info = describe_record(payload)
    assert info["by_value"] is True
    assert "lambda x, y=10: x * y" in info["source"]


def test_closure_by_value_keeps_captured_values() -> None:
    payload = encode_job_state(state_for(make_closure(100), args=(1,)))
    assert call(decode_job_state(payload)) == 101
    assert "return x + offset" in describe_record(payload)["source"]


def test_partial_by_value() -> None:
    payload = encode_job_state(state_for(functools.partial(add, y=1000), args=(1,)))
    state = decode_job_state(payload)
    assert isinstance(state["func"], functools.partial)
    assert call(state) == 1001
    info = describe_record(payload)
    assert info["func"] == "partial(add)"
    assert "def add" in info["source"]


def test_bound_method_keeps_its_instance() -> None:
    payload = encode_job_state(state_for(Greeter("Ahoy").greet, args=("Ada",)))
    assert call(decode_job_state(payload)) == "Ahoy, Ada"
    assert "def greet" in describe_record(payload)["source"]


def test_class_bound_method_is_by_reference() -> None:
    state = decode_job_state(encode_job_state(state_for(Greeter.make, args=("x",))))
    assert state["func"] == f"{MODULE}:Greeter.make"
    assert call(state) == "made x"


def test_callable_instance_by_value() -> None:
    payload = encode_job_state(state_for(CallableThing(), args=(6,)))
    assert call(decode_job_state(payload)) == 42
    assert "class CallableThing" in describe_record(payload)["source"]


NOTEBOOK_CELL = '''
import math

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

def distance(p, scale=1):
    """Defined in a notebook cell."""
    return math.hypot(p.x, p.y) * scale
'''


def test_notebook_cell_function_restores_in_a_process_that_never_defined_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code run the way IPython runs a cell: in ``__main__``, source held by linecache."""
    filename = "<ipython-input-7-0123456789ab>"
    linecache.cache[filename] = (
        len(NOTEBOOK_CELL), None, NOTEBOOK_CELL.splitlines(keepends=True), filename
    )
    notebook_main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", notebook_main)
    try:
        exec(compile(NOTEBOOK_CELL, filename, "exec"), notebook_main.__dict__)
        func = notebook_main.distance
        assert not is_by_reference(func)
        payload = encode_job_state(
            state_for(func, args=(notebook_main.Point(3, 4),), kwargs={"scale": 2})
        )
    finally:
        linecache.cache.pop(filename, None)
    monkeypatch.undo()

    info = describe_record(payload)
    assert info["by_value"] and info["func"] == "distance"
    assert '"""Defined in a notebook cell."""' in info["source"]

    record = tmp_path / "record.bin"
    record.write_bytes(payload)
    out = run_python(
        f"""
        from pathlib import Path
        from nbsched.serialization import decode_job_state
        state = decode_job_state(Path({str(record)!r}).read_bytes())
        print(state["func"](*state["args"], **state["kwargs"]), type(state["args"][0]).__name__)
        """
    )
    assert out.split() == ["10.0", "Point"]


def test_main_function_from_a_script_restores_here(tmp_path: Path) -> None:
    """A script defines a job function in ``__main__``; this process decodes and runs it."""
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from pathlib import Path
            from nbsched.serialization import encode_job_state

            FACTOR = 3

            def scaled(x):
                return x * FACTOR

            for name, func in (("obj", scaled), ("ref", "__main__:scaled")):
                state = {"id": name, "func": func, "args": (14,), "kwargs": {}}
                Path(sys.argv[1], name).write_bytes(encode_job_state(state))
            """
        )
    )
    subprocess.run(
        [sys.executable, str(script), str(tmp_path)], check=True, capture_output=True, timeout=60
    )
    assert not hasattr(sys.modules["__main__"], "scaled")
    for name in ("obj", "ref"):
        payload = (tmp_path / name).read_bytes()
        state = decode_job_state(payload)
        assert callable(state["func"])
        assert call(state) == 42
        info = describe_record(payload)
        assert "return x * FACTOR" in info["source"]
    assert describe_record((tmp_path / "ref").read_bytes())["func_ref"] == "__main__:scaled"


def test_unknown_main_reference_is_refused_at_encode() -> None:
    with pytest.raises(ValueError, match="not defined in this process"):
        encode_job_state(state_for("__main__:nbsched_no_such_function"))


def test_describe_record_reports_header_fields() -> None:
    info = describe_record(encode_job_state(state_for(add)))
    assert info["format"] == RECORD_VERSION
    assert info["verified"] is True
    assert info["id"] == "job-1"
    assert info["name"] == "my job"
    assert info["func"] == "add"
    assert info["executor"] == "default"
    assert info["next_run_time"] == NEXT.isoformat()
    assert "interval" in info["trigger"]
    assert datetime.fromisoformat(info["written_at"]).tzinfo is not None


def test_real_job_round_trip() -> None:
    job_module = pytest.importorskip("nbsched.job")
    from nbsched.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    job = job_module.Job(
        scheduler, id="real", func=make_closure(5), args=(1,), trigger=IntervalTrigger(seconds=3),
        executor="default", misfire_grace_time=1, coalesce=False, max_instances=1,
        name="real job", next_run_time=NEXT,
    )
    restored = job_module.Job.__new__(job_module.Job)
    restored.__setstate__(decode_job_state(encode_job_state(job.__getstate__())))
    assert restored.id == "real" and restored.name == "real job"
    assert restored.func(*restored.args) == 6
    assert restored.next_run_time == NEXT
    assert restored.trigger == job.trigger


# --- refusal and errors -------------------------------------------------------------------------


@pytest.fixture
def unpickle_spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = pickle.loads

    def spy(data: bytes, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(serialization.pickle, "loads", spy)
    return calls


def evil_payload(marker: Path) -> bytes:
    return encode_job_state(state_for(add, args=(Evil(marker),)))


def test_evil_payload_would_run_when_authentic(tmp_path: Path) -> None:
    """Control for the tamper tests: the same payload, correctly signed, does run code."""
    marker = tmp_path / "marker"
    decode_job_state(evil_payload(marker))
    assert marker.exists()


def _flip_positions(payload: bytes) -> dict[str, int]:
    header_len, state_len, trigger_len = (
        int.from_bytes(payload[at : at + 4], "big") for at in (37, 41, 45)
    )
    state_start = 49 + header_len
    trigger_start = state_start + state_len
    return {
        "magic": 0,
        "tag first": 5,
        "tag last": 36,
        "header length": 40,
        "state length": 44,
        "trigger length": 48,
        "header": 49 + header_len // 2,
        "state pickle start": state_start,
        "state pickle middle": state_start + state_len // 2,
        "trigger pickle": trigger_start + trigger_len // 2,
        "last byte": len(payload) - 1,
    }


def test_every_flipped_byte_is_refused_before_unpickling(
    tmp_path: Path, unpickle_spy: list[int]
) -> None:
    marker = tmp_path / "marker"
    payload = evil_payload(marker)
    for where, index in _flip_positions(payload).items():
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(payload)
            tampered[index] ^= mask
            with pytest.raises(SignatureError) as info:
                decode_job_state(bytes(tampered))
            assert "not unpickled" in str(info.value), where
    assert unpickle_spy == []
    assert not marker.exists()


def test_flipped_version_byte_is_refused_before_unpickling(
    tmp_path: Path, unpickle_spy: list[int]
) -> None:
    marker = tmp_path / "marker"
    payload = evil_payload(marker)
    tampered = bytearray(payload)
    tampered[4] = 0
    with pytest.raises(RestoreError, match="format version 0 is not known"):
        decode_job_state(bytes(tampered))
    tampered[4] = 1  # a version this nbsched reads: the tag covers the version byte
    with pytest.raises(SignatureError, match="not unpickled"):
        decode_job_state(bytes(tampered))
    assert unpickle_spy == [] and not marker.exists()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p[:-1],
        lambda p: p + b"\0",
        lambda p: p[:20],
        lambda p: b"",
        lambda p: pickle.dumps({"func": "json:dumps"}),
    ],
    ids=["truncated", "appended", "short", "empty", "raw pickle"],
)
def test_mangled_payloads_are_refused(tmp_path: Path, unpickle_spy: list[int], mangle: Any) -> None:
    marker = tmp_path / "marker"
    with pytest.raises(SignatureError):
        decode_job_state(mangle(evil_payload(marker)))
    assert unpickle_spy == [] and not marker.exists()


def test_wrong_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unpickle_spy: list[int]
) -> None:
    marker = tmp_path / "marker"
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "the attacker's key")
    forged = evil_payload(marker)
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "the user's key")
    with pytest.raises(SignatureError, match="different key than the one from NBSCHED_SECRET_KEY"):
        decode_job_state(forged)
    with pytest.raises(SignatureError):
        describe_record(forged)
    info = describe_record(forged, verify=False)
    assert info["verified"] is False and info["id"] == "job-1"
    assert unpickle_spy == [] and not marker.exists()


def test_signature_errors_are_record_errors() -> None:
    assert issubclass(SignatureError, RecordError)
    assert issubclass(RestoreError, RecordError)


def test_future_version_is_a_restore_error() -> None:
    payload = bytearray(encode_job_state(state_for(add)))
    payload[len(MAGIC)] = RECORD_VERSION + 1
    with pytest.raises(RestoreError, match="newer nbsched"):
        decode_job_state(bytes(payload))


def test_missing_function_module_is_a_restore_error() -> None:
    payload = encode_job_state(state_for("nbsched_no_such_module:job"))
    with pytest.raises(RestoreError, match="could not import module nbsched_no_such_module"):
        decode_job_state(payload)
    assert decode_job_state(payload, resolve=False)["func"] == "nbsched_no_such_module:job"


def test_missing_argument_module_is_a_restore_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "nbsched_vanishing.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import nbsched_vanishing  # type: ignore[import-not-found]

    payload = encode_job_state(state_for(add, args=(nbsched_vanishing.Thing(),)))
    monkeypatch.undo()
    del sys.modules["nbsched_vanishing"]
    (tmp_path / "nbsched_vanishing.py").unlink()
    with pytest.raises(RestoreError, match="module 'nbsched_vanishing' is not installed"):
        decode_job_state(payload)


def test_by_value_function_needing_a_missing_module(tmp_path: Path) -> None:
    """A notebook function whose module-level import is gone on the restoring side."""
    (tmp_path / "nbsched_helper_mod.py").write_text("def helper():\n    return 1\n")
    script = f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import nbsched_helper_mod
        from nbsched.serialization import encode_job_state
        def job():
            return nbsched_helper_mod.helper()
        sys.stdout.buffer.write(encode_job_state({{"id": "j", "func": job}}).hex().encode())
    """
    payload = bytes.fromhex(run_python(script))
    with pytest.raises(RestoreError, match=r"function of job 'j'.*nbsched_helper_mod"):
        decode_job_state(payload)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(TypeError, match="payload must be bytes"):
        decode_job_state("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="state must be a dict"):
        encode_job_state([("func", add)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'func' entry"):
        encode_job_state({"id": "x"})
    with pytest.raises(ValueError, match="'module:qualname' reference, got 'nocolon'"):
        encode_job_state(state_for("nocolon"))
    with pytest.raises(TypeError, match="must be callable or a reference"):
        encode_job_state(state_for(42))


def test_unpicklable_argument_names_the_job() -> None:
    with pytest.raises(ValueError, match=r"cannot serialize the arguments.*'job-1'"):
        encode_job_state(state_for(add, args=(threading.Lock(),)))


def test_record_is_compact_and_fast_enough() -> None:
    """Guard against accidental bloat: a by-reference record stays small."""
    payload = encode_job_state(state_for(add, trigger=None))
    assert len(payload) < 1024
    start = datetime.now()
    for _ in range(200):
        decode_job_state(encode_job_state(state_for(add)))
    assert datetime.now() - start < timedelta(seconds=5)


def test_modules_registered_with_cloudpickle_are_stored_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cloudpickle.register_pickle_by_value`` is honoured for the function and arguments."""
    import cloudpickle

    (tmp_path / "nbsched_byvalue_mod.py").write_text(
        "class Box:\n    def __init__(self, v):\n        self.v = v\n\n"
        "def unbox(box):\n    return box.v + 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import nbsched_byvalue_mod as mod  # type: ignore[import-not-found]

    cloudpickle.register_pickle_by_value(mod)
    try:
        assert not is_by_reference(mod.unbox)
        payload = encode_job_state(state_for(mod.unbox, args=(mod.Box(41),)))
    finally:
        cloudpickle.unregister_pickle_by_value(mod)
    assert describe_record(payload)["by_value"]
    record = tmp_path / "record.bin"
    record.write_bytes(payload)
    (tmp_path / "nbsched_byvalue_mod.py").unlink()  # the other process cannot import it
    out = run_python(
        f"""
        from pathlib import Path
        from nbsched.serialization import decode_job_state
        state = decode_job_state(Path({str(record)!r}).read_bytes())
        print(state["func"](*state["args"]))
        """,
        cwd=tmp_path,
    )
    assert out.strip() == "42"


def test_function_from_a_real_ipython_cell(tmp_path: Path) -> None:
    """A function typed into an IPython shell is stored by value with the cell's source."""
    pytest.importorskip("IPython")
    out = run_python(
        """
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        cell = "def tripled(x):\\n    # typed in a cell\\n    return 3 * x\\n"
        assert shell.run_cell(cell).success
        result = shell.run_cell(
            "from nbsched.serialization import encode_job_state\\n"
            "payload = encode_job_state({'id': 'nb', 'func': tripled, 'args': (14,), "
            "'kwargs': {}})"
        )
        assert result.success, result.error_in_exec
        print(shell.user_ns["payload"].hex())
        """,
        cwd=tmp_path,
    )
    payload = bytes.fromhex(out.strip().splitlines()[-1])
    info = describe_record(payload)
    assert info["by_value"] and info["func"] == "tripled"
    assert "# typed in a cell" in info["source"]
    assert call(decode_job_state(payload)) == 42


# --- format 2: layout, caches, format 1 still read -------------------------------------------

#: A format-1 record written by nbsched 0.1 (signed with V1_KEY): operator.add(1, 2), an
#: interval trigger and a Europe/Paris next run time.
V1_KEY = "nbsched v1 fixture key"
V1_RECORD = bytes.fromhex(
    "4e42534a018087131ee7977f08ef60f3c83561f231670548217efb530d0e4128fe4a6a86fe0000011c7b2266"
    "6f726d6174223a312c226964223a2276312d6a6f62222c226e616d65223a226f6c64206a6f62222c2266756e"
    "63223a7b226b696e64223a22726566222c22726566223a226f70657261746f723a616464222c226e616d6522"
    "3a22616464227d2c2274726967676572223a22696e74657276616c5b303a30353a30305d222c226578656375"
    "746f72223a2264656661756c74222c226e6578745f72756e5f74696d65223a22323033302d30312d30325430"
    "333a30343a30352b30313a3030222c227772697474656e5f6174223a22323032362d31312d32355431343a30"
    "373a31382e3438353730362b30303a3030222c226e627363686564223a22302e312e30222c22706172747322"
    "3a5b5b227374617465222c3531315d5d7d800595f4010000000000007d94288c0776657273696f6e944b018c"
    "026964948c0676312d6a6f62948c0774726967676572948c196e6273636865642e74726967676572732e696e"
    "74657276616c948c0f496e74657276616c547269676765729493942981947d94288c0874696d657a6f6e6594"
    "8c086461746574696d65948c0874696d657a6f6e65949394680b8c0974696d6564656c74619493944b004b00"
    "4b0087945294859452948c0a73746172745f6461746594680b8c086461746574696d65949394430a07ee0102"
    "030405000000946813869452948c08656e645f64617465944e8c08696e74657276616c94680f4b004d2c014b"
    "00879452948c066a6974746572944e68014b0175628c086578656375746f72948c0764656661756c74948c04"
    "61726773944b014b0286948c066b7761726773947d948c046e616d65948c076f6c64206a6f62948c126d6973"
    "666972655f67726163655f74696d659447403e0000000000008c08636f616c6573636594888c0d6d61785f69"
    "6e7374616e636573944b028c0d6e6578745f72756e5f74696d65946816430a07ee0102030405000000948c08"
    "6275696c74696e73948c07676574617474729493948c087a6f6e65696e666f948c085a6f6e65496e666f9493"
    "948c095f756e7069636b6c6594869452948c0c4575726f70652f5061726973944b018694529486945294752e"
)


def test_format_1_records_are_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBSCHED_SECRET_KEY", V1_KEY)
    assert V1_RECORD[4] == 1 and RECORD_VERSION == 3
    state = decode_job_state(V1_RECORD)
    assert state["func"] == "operator:add" and state["args"] == (1, 2)
    assert state["id"] == "v1-job" and state["name"] == "old job"
    assert state["next_run_time"] == datetime(2030, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("Europe/Paris"))
    assert state["trigger"] == IntervalTrigger(minutes=5, start_date=NEXT, timezone="UTC")
    info = describe_record(V1_RECORD)
    assert info["format"] == 1 and info["verified"] and info["func_ref"] == "operator:add"
    assert datetime.fromisoformat(info["written_at"]).tzinfo is not None


def test_format_1_records_are_still_verified(
    monkeypatch: pytest.MonkeyPatch, unpickle_spy: list[int]
) -> None:
    monkeypatch.setenv("NBSCHED_SECRET_KEY", V1_KEY)
    for index in (5, 40, 200, len(V1_RECORD) - 1):
        tampered = bytearray(V1_RECORD)
        tampered[index] ^= 0x01
        with pytest.raises(SignatureError, match="not unpickled"):
            decode_job_state(bytes(tampered))
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "another key")
    with pytest.raises(SignatureError):
        decode_job_state(V1_RECORD)
    assert unpickle_spy == []


def test_new_records_are_format_3() -> None:
    payload = encode_job_state(state_for(add))
    assert payload[:5] == MAGIC + bytes([3])
    assert describe_record(payload)["format"] == 3


def _as_format_2(payload: bytes) -> bytes:
    """The same body signed as format 2 (no binding), as nbsched 0.2 wrote it."""
    from nbsched.signing import sign

    prefix = MAGIC + bytes([2])
    body = payload[37:]
    return prefix + sign(prefix + body) + body


def test_format_2_records_are_still_read_without_a_binding() -> None:
    state = state_for(add)
    old = _as_format_2(encode_job_state(state, scope="nbsched_jobs"))
    assert decode_job_state(old)["id"] == state["id"]
    # No binding in format 2: any id and store verify; the store compares the state's id.
    assert decode_job_state(old, job_id="other", scope="elsewhere")["id"] == state["id"]


def test_format_3_records_are_bound_to_id_and_store() -> None:
    from nbsched.serialization import BindingError

    state = state_for(add)
    payload = encode_job_state(state, scope="nbsched_jobs")
    assert decode_job_state(payload, job_id=state["id"], scope="nbsched_jobs")["id"]
    assert decode_job_state(payload)["id"] == state["id"]  # no context: what it claims
    with pytest.raises(BindingError, match="found as job 'copy'"):
        decode_job_state(payload, job_id="copy", scope="nbsched_jobs")
    with pytest.raises(BindingError, match="in store 'other_table'"):
        decode_job_state(payload, job_id=state["id"], scope="other_table")
    assert describe_record(payload)["store"] == "nbsched_jobs"


@pytest.mark.parametrize(
    "when",
    [
        NEXT,
        datetime(2030, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Paris"), fold=1),
        datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=-3))),
        datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=ZoneInfo("UTC")),
        datetime(2030, 1, 2, 3, 4, 5),
        None,
    ],
    ids=["utc", "zoneinfo fold", "fixed offset", "zoneinfo utc", "naive", "paused"],
)
def test_next_run_time_round_trips_exactly(when: datetime | None) -> None:
    restored = decode_job_state(encode_job_state(state_for(add, next_run_time=when)))
    value = restored["next_run_time"]
    assert value == when and repr(value) == repr(when)
    if when is not None:
        assert value.tzinfo is when.tzinfo or value.tzinfo == when.tzinfo
        assert value.fold == when.fold


def test_state_without_optional_entries_round_trips() -> None:
    state = decode_job_state(encode_job_state({"id": "bare", "func": add}))
    assert state == {"id": "bare", "func": f"{MODULE}:add"}


@pytest.mark.parametrize("func", [add, lambda: 5], ids=["by reference", "by value"])
def test_state_with_other_keys_round_trips(func: Any) -> None:
    """Only a Job's exact key set is stored as a bare tuple; anything else keeps its keys."""
    state = {"id": "odd", "func": func, "next_run_time": NEXT, "extra": [1, 2], "args": ()}
    restored = decode_job_state(encode_job_state(state))
    func_back = restored.pop("func")
    assert func_back == f"{MODULE}:add" if func is add else func_back() == 5
    del state["func"]
    assert restored == state
    assert restored["next_run_time"].tzinfo is timezone.utc


def test_job_state_record_carries_no_key_names() -> None:
    payload = encode_job_state(state_for(add))
    assert b"misfire_grace_time" not in payload and len(payload) < 700
    assert decode_job_state(payload) == {**state_for(add), "func": f"{MODULE}:add"}


def test_a_trigger_object_is_pickled_once() -> None:
    trigger = IntervalTrigger(minutes=7, start_date=NEXT, timezone="UTC")
    first = encode_job_state(state_for(add, trigger=trigger))
    dumps_calls: list[Any] = []
    real = serialization.pickle.dumps

    def spy(obj: Any, *args: Any, **kwargs: Any) -> bytes:
        dumps_calls.append(obj)
        return real(obj, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(serialization.pickle, "dumps", spy)
        second = encode_job_state(state_for(add, trigger=trigger, id="job-2"))
    assert trigger not in dumps_calls
    a, b = decode_job_state(first), decode_job_state(second)
    assert a["trigger"] == trigger and a["trigger"] is b["trigger"]  # immutable: shared


class MutableTrigger:
    """A third-party trigger that changes in place: never cached."""

    def __init__(self) -> None:
        self.minutes = 1

    def __str__(self) -> str:
        return f"every {self.minutes} min"


def test_third_party_triggers_are_not_cached() -> None:
    trigger = MutableTrigger()
    first = decode_job_state(encode_job_state(state_for(add, trigger=trigger)))
    trigger.minutes = 9
    payload = encode_job_state(state_for(add, trigger=trigger))
    second = decode_job_state(payload)
    assert first["trigger"].minutes == 1 and second["trigger"].minutes == 9
    assert second["trigger"] is not decode_job_state(payload)["trigger"]
    assert describe_record(payload)["trigger"] == "every 9 min"


def test_by_value_source_is_looked_up_once_per_function(monkeypatch: pytest.MonkeyPatch) -> None:
    func = make_closure(3)
    encode_job_state(state_for(func))
    calls: list[Any] = []
    monkeypatch.setattr(serialization.inspect, "getsource", lambda obj: calls.append(obj) or "")
    payload = encode_job_state(state_for(func))
    assert calls == []
    assert "return x + offset" in describe_record(payload)["source"]
