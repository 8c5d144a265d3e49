"""Find trigger, executor and job store classes by their short alias (``"interval"``).

Aliases are entry points (groups ``nbsched.triggers``, ``nbsched.executors``,
``nbsched.jobstores``), so third-party packages can add their own. Reading entry-point
metadata is slow (milliseconds), and ``add_job(func, "interval", ...)`` resolves an alias on
every call, so both the alias table of a group and each loaded class are cached.
"""

from __future__ import annotations

import threading
from importlib.metadata import EntryPoint, entry_points
from typing import Any

__all__ = ["clear_cache", "known_aliases", "load_plugin"]

_KINDS = {
    "nbsched.triggers": "trigger",
    "nbsched.executors": "executor",
    "nbsched.jobstores": "job store",
}

_groups: dict[str, dict[str, EntryPoint]] = {}
_classes: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _entry_points(group: str) -> dict[str, EntryPoint]:
    table = _groups.get(group)
    if table is None:
        with _lock:
            table = _groups.get(group)
            if table is None:
                table = {ep.name: ep for ep in entry_points(group=group)}
                _groups[group] = table
    return table


def known_aliases(group: str) -> list[str]:
    """The aliases registered in ``group``, sorted."""
    return sorted(_entry_points(group))


def load_plugin(group: str, alias: str) -> Any:
    """Return the class registered as ``alias`` in entry-point ``group``.

    :raises LookupError: if no such alias exists; the message lists the known ones
    """
    key = (group, alias)
    try:
        return _classes[key]
    except KeyError:
        pass
    table = _entry_points(group)
    entry = table.get(alias) if isinstance(alias, str) else None
    if entry is None:
        kind = _KINDS.get(group, group)
        known = ", ".join(sorted(table)) or "(none)"
        raise LookupError(f"No {kind} by the name {alias!r} was found; known: {known}")
    cls = entry.load()
    _classes[key] = cls
    return cls


def clear_cache() -> None:
    """Forget cached entry points and classes (after installing a plugin at run time)."""
    with _lock:
        _groups.clear()
        _classes.clear()
