"""Real-kernel fixtures for the notebook layer.

The notebook layer only means something inside a real ipykernel — its own asyncio loop, its
own iopub stream, its own restart — so these tests start one through ``jupyter_client`` rather
than faking an InteractiveShell. Each kernel gets a private data directory (signing key
through ``NBSCHED_SECRET_KEY``, jobs in ``<dir>/jobs.sqlite`` through ``NBSCHED_STORE_URL``)
and a private ``IPYTHONDIR``, so tests never see each other's jobs or the user's files.

Use ``kernel`` (a fresh kernel per test), ``module_kernel`` (one per test module) or
``kernel_factory`` (several kernels in one test, e.g. two sharing one store)::

    def test_something(kernel):
        outputs, error = kernel.execute("print(1 + 1)")
        assert error is None and kernel.text(outputs) == "2\\n"
        assert kernel.run("%load_ext nbsched") == ""
        kernel.restart()  # same data dir and store: stored jobs are still there
"""

from __future__ import annotations

import os
import queue
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
from jupyter_client.manager import start_new_kernel  # noqa: E402

#: Signing key used by every test kernel (matches the session-wide one in tests/conftest.py).
KERNEL_SECRET_KEY = "nbsched-test-suite-key"
STARTUP_TIMEOUT = 60


class CellError(AssertionError):
    """A cell run through :meth:`KernelSession.run` ended with an error."""


class KernelSession:
    """One real ipykernel and a blocking client to it.

    ``data_dir`` holds the store (``jobs.sqlite``) and survives :meth:`restart`, which is the
    point: a restarted kernel must find its jobs again.
    """

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store_url = f"sqlite:///{(self.data_dir / 'jobs.sqlite').as_posix()}"
        ipython_dir = self.data_dir / "ipython"
        ipython_dir.mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update(
            {
                "NBSCHED_DATA_DIR": str(self.data_dir),
                "NBSCHED_STORE_URL": self.store_url,
                "NBSCHED_SECRET_KEY": KERNEL_SECRET_KEY,
                "IPYTHONDIR": str(ipython_dir),
                "PYTHONUNBUFFERED": "1",
                # the kernel must import the nbsched of this checkout
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(Path(__file__).resolve().parents[2]),
                                env.get("PYTHONPATH", "")) if p
                ),
            }
        )
        env.update(extra_env or {})
        self.env = env
        self.km, self.kc = start_new_kernel(
            startup_timeout=STARTUP_TIMEOUT,
            kernel_name="python3",
            env=env,
            cwd=str(self.data_dir),
            extra_arguments=[],
        )
        self._warm_up()

    def _warm_up(self) -> None:
        # ipykernel may still be wiring up iopub; one trivial round trip settles it.
        self.execute("pass", timeout=STARTUP_TIMEOUT)

    # --- running code ---------------------------------------------------------------------

    def execute(self, code: str, timeout: float = 30) -> tuple[list[dict[str, Any]], dict | None]:
        """Run ``code`` as one cell; return ``(outputs, error)``.

        ``outputs`` are the cell's iopub outputs as nbformat-like dicts (``output_type``
        ``stream`` with ``name``/``text``; ``display_data``/``execute_result`` with ``data``;
        ``error`` with ``ename``/``evalue``/``traceback``), only those whose parent is this
        cell. ``error`` is the execute reply's ``{"ename", "evalue", "traceback"}`` or None.
        """
        msg_id = self.kc.execute(code, store_history=True, allow_stdin=False)
        deadline = time.monotonic() + timeout
        outputs: list[dict[str, Any]] = []
        idle = False
        while not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"cell did not finish within {timeout} s: {code[:200]!r}")
            try:
                msg = self.kc.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            content = msg["content"]
            if kind == "status":
                idle = content["execution_state"] == "idle"
            elif kind == "stream":
                outputs.append(
                    {"output_type": "stream", "name": content["name"], "text": content["text"]}
                )
            elif kind in ("display_data", "execute_result", "update_display_data"):
                outputs.append(
                    {"output_type": kind, "data": content.get("data", {}),
                     "metadata": content.get("metadata", {})}
                )
            elif kind == "error":
                outputs.append(
                    {"output_type": "error", "ename": content["ename"],
                     "evalue": content["evalue"], "traceback": content["traceback"]}
                )
            elif kind == "clear_output":
                outputs.append({"output_type": "clear_output"})
        reply = self._reply(msg_id, max(deadline - time.monotonic(), 5))
        error = None
        if reply["content"].get("status") == "error":
            content = reply["content"]
            error = {"ename": content.get("ename"), "evalue": content.get("evalue"),
                     "traceback": content.get("traceback", [])}
        return outputs, error

    def _reply(self, msg_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no execute_reply from the kernel")
            msg = self.kc.get_shell_msg(timeout=remaining)
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg

    @staticmethod
    def text(outputs: list[dict[str, Any]], streams: tuple[str, ...] = ("stdout", "stderr"),
             mime: str = "text/plain") -> str:
        """The outputs as text: stream text of ``streams`` plus each rich output's ``mime``."""
        parts: list[str] = []
        for out in outputs:
            if out["output_type"] == "stream" and out["name"] in streams:
                parts.append(out["text"])
            elif "data" in out and mime in out["data"]:
                value = out["data"][mime]
                parts.append(value if isinstance(value, str) else str(value))
                if mime == "text/plain" and not parts[-1].endswith("\n"):
                    parts[-1] += "\n"
        return "".join(parts)

    def run(self, code: str, timeout: float = 30) -> str:
        """Run ``code``; raise :class:`CellError` with the traceback if it failed; return text."""
        outputs, error = self.execute(code, timeout)
        if error is not None:
            raise CellError(
                f"cell failed: {error['ename']}: {error['evalue']}\n"
                + "\n".join(error["traceback"])
                + f"\n--- cell ---\n{code}"
            )
        return self.text(outputs)

    def value(self, expression: str, timeout: float = 30) -> Any:
        """Evaluate ``expression`` in the kernel and return it (it must be JSON-serializable)."""
        import json

        code = f"import json as __j; print('@@' + __j.dumps({expression}))"
        text = self.run(code, timeout)
        for line in text.splitlines():
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise CellError(f"no value printed for {expression!r}: {text!r}")

    def wait_for(self, expression: str, timeout: float = 15, interval: float = 0.1) -> Any:
        """Re-evaluate ``expression`` in the kernel until it is truthy; return its value.

        For conditions only the kernel can observe (a job's run history filling up); each
        attempt is one cell, so ``interval`` paces the round trips, it does not synchronise.
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.value(expression)
            if last:
                return last
            time.sleep(interval)
        raise TimeoutError(f"{expression!r} still {last!r} after {timeout} s")

    # --- life cycle -------------------------------------------------------------------------

    def restart(self) -> None:
        """Restart the kernel process (same env, same data dir) and wait until it answers."""
        self.km.restart_kernel(now=True)
        self.kc.stop_channels()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        self._warm_up()

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)


KernelFactory = Callable[..., KernelSession]


@pytest.fixture
def kernel_factory(tmp_path: Path) -> Iterator[KernelFactory]:
    """``kernel_factory(data_dir=None, env=None)`` starts kernels that are shut down after."""
    sessions: list[KernelSession] = []

    def start(data_dir: Path | None = None, env: dict[str, str] | None = None) -> KernelSession:
        session = KernelSession(data_dir or tmp_path / f"kernel{len(sessions)}", env)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.shutdown()


@pytest.fixture
def kernel(kernel_factory: KernelFactory) -> KernelSession:
    """A fresh kernel with its own empty data directory and store."""
    return kernel_factory()


@pytest.fixture(scope="module")
def module_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelSession]:
    """One kernel shared by the tests of a module (cheaper; tests must not rely on order)."""
    session = KernelSession(tmp_path_factory.mktemp("module-kernel"))
    yield session
    session.shutdown()


@pytest.fixture(scope="session")
def python_executable() -> str:
    return sys.executable
