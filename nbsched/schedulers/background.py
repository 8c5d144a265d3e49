"""BackgroundScheduler: the core runs in its own thread; ``start()`` returns at once."""

from __future__ import annotations

import threading
from typing import Any

from nbsched.schedulers.base import BaseScheduler
from nbsched.schedulers.blocking import BlockingScheduler
from nbsched.schedulers.config import as_bool

__all__ = ["BackgroundScheduler"]


class BackgroundScheduler(BlockingScheduler):
    """A scheduler whose loop runs in a background thread.

    Extra option: ``daemon`` (default True) — whether that thread is a daemon thread, so a
    program can exit without calling ``shutdown()``.
    """

    _thread: threading.Thread | None = None

    def _configure(self, config: dict[str, Any]) -> None:
        self._daemon = as_bool(config.pop("daemon", True), "daemon")
        super()._configure(config)

    def start(self, paused: bool = False) -> None:
        self._prepare_event()
        BaseScheduler.start(self, paused)
        thread = threading.Thread(target=self._main_loop, name="nbsched", daemon=self._daemon)
        try:
            thread.start()
        except BaseException:
            BaseScheduler.shutdown(self, wait=False)  # no thread: undo the start
            raise
        self._thread = thread

    def shutdown(self, wait: bool = True) -> None:
        try:
            super().shutdown(wait)
        finally:
            thread, self._thread = self._thread, None
            if thread is not None and thread is not threading.current_thread():
                thread.join()
