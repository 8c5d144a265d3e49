"""``%load_ext nbsched``: wire the kernel scheduler, output capture, magics and display.

Loading is idempotent per shell: a second ``%load_ext nbsched`` (or a direct call of
:func:`load_ipython_extension`, or re-running the setup cell) reuses the one kernel scheduler
and registers nothing twice. Stored jobs come back simply because the scheduler's default
store is the persistent one — after a kernel restart, loading the extension is all it takes.
"""

from __future__ import annotations

import logging
from typing import Any

from nbsched.notebook import display
from nbsched.notebook.kernel import get_scheduler, reset_scheduler

__all__ = ["load_ipython_extension", "loaded_state", "unload_ipython_extension"]

logger = logging.getLogger("nbsched.notebook")

#: id(shell) -> what was installed into it (the scheduler, magics object, capture).
_loaded: dict[int, dict[str, Any]] = {}


def loaded_state(shell: Any) -> dict[str, Any] | None:
    """What :func:`load_ipython_extension` installed into ``shell`` (None if not loaded)."""
    return _loaded.get(id(shell))


def _install_capture(shell: Any, scheduler: Any) -> Any:
    """Install (or get) the kernel's output capture watching ``scheduler``; None if missing."""
    try:
        from nbsched.notebook.capture import install_capture
    except ImportError:
        return None
    try:
        return install_capture(shell, scheduler)
    except Exception:
        logger.exception("Output capture could not be installed; job output may reach cells")
        return None


def load_ipython_extension(shell: Any) -> None:
    """Get or create the kernel scheduler; install capture, ``%schedule`` and formatters."""
    from nbsched.notebook.magics import ScheduleMagics

    # A new scheduler starts paused: capture is installed before any stored job runs.
    scheduler = get_scheduler(setup=lambda new: _install_capture(shell, new))
    state = _loaded.get(id(shell))
    if state is not None and state["scheduler"] is scheduler:
        return
    capture = _install_capture(shell, scheduler)  # idempotent: the one installed above
    magics = ScheduleMagics(shell, scheduler, capture)
    shell.register_magics(magics)
    display.register_formatters(shell)
    _loaded[id(shell)] = {"scheduler": scheduler, "magics": magics, "capture": capture}
    logger.info("nbsched loaded: %d stored jobs", len(scheduler.get_jobs()))


def unload_ipython_extension(shell: Any) -> None:
    """Remove the magics, formatters and capture and stop the kernel scheduler.

    Stored jobs stay in their persistent store: loading the extension again resumes them.
    """
    state = _loaded.pop(id(shell), None)
    if state is None:
        return
    manager = shell.magics_manager
    for kind in ("line", "cell"):
        table = manager.magics.get(kind, {})
        if table.get("schedule") == getattr(state["magics"], "schedule", None):
            table.pop("schedule", None)
    display.unregister_formatters(shell)
    capture = state.get("capture")
    if capture is not None:
        try:
            capture.uninstall()
        except Exception:
            logger.exception("Error uninstalling the output capture")
    reset_scheduler(wait=False)
