"""Run every ``benchmarks/bench_*.py`` module and print its table.

Each module exposes ``run() -> dict``. For printing, a module may offer ``format_table(result)``
(returns text) or ``_print(result)`` (prints); otherwise the raw dict is pretty-printed. A module
that fails is reported and the others still run, so one broken benchmark never hides the rest.

Sizes: ``--scale`` sets ``NBSCHED_BENCH_SCALE`` for the modules that honour it (bench_engine
does), e.g. ``--scale 0.01`` for a quick smoke run. ``--only engine,cron`` picks modules.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pprint
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def discover(only: set[str] | None = None) -> list[Path]:
    """The benchmark modules, in name order; ``only`` filters by the part after ``bench_``."""
    paths = sorted(HERE.glob("bench_*.py"))
    if only:
        paths = [p for p in paths if p.stem.removeprefix("bench_") in only]
    return paths


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load benchmark module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def show(module: ModuleType, result: object) -> None:
    if hasattr(module, "format_table"):
        print(module.format_table(result))
    elif hasattr(module, "_print"):
        module._print(result)
    else:
        pprint.pprint(result)


def run_all(only: set[str] | None = None) -> dict[str, object]:
    """Run each module's ``run()``; returns {module name: result or the error text}."""
    results: dict[str, object] = {}
    for path in discover(only):
        print(f"\n=== {path.stem} ===", flush=True)
        began = time.perf_counter()
        try:
            module = load(path)
            result = module.run()
        except Exception:
            results[path.stem] = traceback.format_exc()
            print(f"FAILED:\n{results[path.stem]}")
            continue
        results[path.stem] = result
        show(module, result)
        print(f"({path.stem} took {time.perf_counter() - began:.1f} s)", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run all nbsched benchmarks.")
    parser.add_argument("--scale", type=float, default=None,
                        help="size multiplier passed as NBSCHED_BENCH_SCALE (e.g. 0.01)")
    parser.add_argument("--only", default="",
                        help="comma-separated module names without 'bench_' (e.g. engine,cron)")
    args = parser.parse_args(argv)
    if args.scale is not None:
        if args.scale <= 0:
            parser.error(f"--scale must be positive, got {args.scale}")
        os.environ["NBSCHED_BENCH_SCALE"] = str(args.scale)
    only = {name for name in args.only.split(",") if name} or None
    if only:
        known = {p.stem.removeprefix("bench_") for p in discover()}
        if only - known:
            parser.error(f"--only: unknown {sorted(only - known)}, available {sorted(known)}")
    results = run_all(only)
    failed = [name for name, value in results.items() if isinstance(value, str)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
