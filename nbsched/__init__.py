"""nbsched: the scheduler that lives in your notebook.

An APScheduler-3-compatible engine (replace the import prefix ``apscheduler`` with
``nbsched``) plus a notebook layer: magics, widgets, per-job output and jobs that
survive kernel restarts.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from nbsched.notebook.kernel import KernelScheduler

#: The version as a tuple of ints, and as text (APScheduler exposes both names).
version_info: tuple[int, ...] = tuple(int(part) for part in __version__.split("."))
version: str = __version__

__all__ = [
    "__version__",
    "version",
    "version_info",
    "get_scheduler",
    "load_ipython_extension",
    "panel",
    "progress",
    "trigger_builder",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbsched``: start (or reuse) the kernel scheduler and add ``%schedule``.

    Imported lazily so ``import nbsched`` stays light (no IPython, no SQLAlchemy).
    """
    from nbsched.notebook.extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext nbsched``: remove the magics and stop the kernel scheduler."""
    from nbsched.notebook.extension import unload_ipython_extension as unload

    unload(ipython)


def get_scheduler() -> KernelScheduler:
    """The kernel's scheduler: created and started on first use, the same object after."""
    from nbsched.notebook.kernel import get_scheduler as get

    return get()


def __getattr__(name: str) -> Any:
    """Lazy access to the widget layer: ``nbsched.panel()``, ``nbsched.trigger_builder()``
    and ``nbsched.progress(done, total)`` import ipywidgets only when first used."""
    if name == "panel":
        from nbsched.notebook.panel import panel

        return panel
    if name == "trigger_builder":
        from nbsched.notebook.builder import trigger_builder

        return trigger_builder
    if name == "progress":
        import importlib

        # The module object is itself callable: nbsched.progress(done, total, message).
        return importlib.import_module("nbsched.progress")
    raise AttributeError(f"module 'nbsched' has no attribute {name!r}")
