"""Turning the many accepted forms of scheduler configuration into one plain dict.

APScheduler 3 accepts options as keywords, as a nested dict, and as a flat dict of dotted
keys with a prefix (``"apscheduler.job_defaults.coalesce": "false"``, typically read from an
INI file, hence string values). nbsched accepts all of them; with the default prefix both
``nbsched.`` and ``apscheduler.`` keys are picked up so configuration files written for
APScheduler keep working after the import switch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_PREFIXES", "as_bool", "as_int", "as_seconds", "flatten_config", "job_defaults"]

DEFAULT_PREFIXES = ("nbsched.", "apscheduler.")

_TRUE = frozenset({"true", "yes", "on", "y", "t", "1"})
_FALSE = frozenset({"false", "no", "off", "n", "f", "0"})


def as_bool(value: Any, name: str) -> bool:
    """Read a boolean option; strings such as ``"false"``/``"yes"`` are interpreted."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{name}: {value!r}: not a boolean (use true/false, yes/no, on/off, 1/0)")
    return bool(value)


def as_int(value: Any, name: str) -> int | None:
    """Read an integer option (``None`` passes through); numeric strings are converted."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(f"{name}: {value!r}: not an integer") from None
    raise TypeError(f"{name}: {value!r}: expected an integer, got {type(value).__name__}")


def as_seconds(value: Any, name: str) -> float | int | None:
    """Read a number of seconds (int or float; ``None`` passes through; strings converted)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name}: {value!r}: expected a number of seconds")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{name}: {value!r}: not a number of seconds") from None
    raise TypeError(f"{name}: {value!r}: expected a number of seconds, got {type(value).__name__}")


def flatten_config(
    gconfig: Mapping[str, Any], prefix: str | tuple[str, ...] | None, options: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge ``gconfig`` (filtered by ``prefix``, dotted keys expanded) with keyword ``options``.

    Keys not starting with the prefix are ignored, as APScheduler does (so an unprefixed dict
    given with the default prefix has no effect). An empty or None prefix takes every key.
    Keyword options override the dict.
    """
    if not isinstance(gconfig, Mapping):
        raise TypeError(f"gconfig: expected a dict, got {type(gconfig).__name__}")
    prefixes: tuple[str, ...] = (prefix,) if isinstance(prefix, str) else tuple(prefix or ())
    prefixes = tuple(p for p in prefixes if p)
    selected: dict[str, Any] = {}
    for key, value in gconfig.items():
        if not prefixes:
            selected[key] = value
            continue
        for candidate in prefixes:
            if key.startswith(candidate):
                selected[key[len(candidate):]] = value
                break

    config: dict[str, Any] = {}
    for key, value in selected.items():
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if isinstance(value, Mapping) and isinstance(node.get(leaf), dict):
            node[leaf].update(value)
        else:
            node[leaf] = dict(value) if isinstance(value, Mapping) else value
    config.update(options)
    return config


def job_defaults(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The validated ``job_defaults`` (misfire grace 1 s, coalesce on, one instance)."""
    raw = dict(raw or {})
    defaults = {
        "misfire_grace_time": as_seconds(
            raw.pop("misfire_grace_time", 1), "job_defaults.misfire_grace_time"
        ),
        "coalesce": as_bool(raw.pop("coalesce", True), "job_defaults.coalesce"),
        "max_instances": as_int(raw.pop("max_instances", 1), "job_defaults.max_instances"),
    }
    if raw:
        logging.getLogger("nbsched.scheduler").warning(
            "Ignoring unknown job_defaults: %s", ", ".join(sorted(raw))
        )
    if defaults["misfire_grace_time"] is not None and defaults["misfire_grace_time"] <= 0:
        raise ValueError(
            f"job_defaults.misfire_grace_time: {defaults['misfire_grace_time']!r}: must be "
            "positive or None"
        )
    if defaults["max_instances"] is None or defaults["max_instances"] <= 0:
        raise ValueError(
            f"job_defaults.max_instances: {defaults['max_instances']!r}: must be positive"
        )
    return defaults
