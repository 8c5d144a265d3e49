"""Smoke tests for the benchmark scripts: tiny sizes, proving the scripts run and report
sensible figures. No timing assertions: the machine is shared and the sizes are too small."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
TINY = 0.0005  # add: 50 jobs, dispatch: 2, catch-up: 43 s behind, memory: 500 jobs


def _load(name: str):
    path = BENCHMARKS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_smoke_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_engine():
    return _load("bench_engine")


def test_engine_benchmark_measures_apscheduler(bench_engine) -> None:
    result = bench_engine.run(scale=TINY, libraries=("apscheduler",))
    assert set(result["cases"]) == {"add", "dispatch", "catchup", "memory"}
    for case, entry in result["cases"].items():
        figures = entry["apscheduler"]
        assert "error" not in figures, (case, figures)
        assert figures["seconds"] > 0
        assert figures["n"] == entry["n"] >= 1
    assert result["cases"]["memory"]["apscheduler"]["bytes_per_job"] > 100
    table = bench_engine.format_table(result)
    assert "APScheduler 3.11" in table and "speed-up" in table


def test_engine_benchmark_measures_nbsched(bench_engine) -> None:
    result = bench_engine.run(scale=TINY)
    for case, entry in result["cases"].items():
        assert "error" not in entry["nbsched"], (case, entry["nbsched"])
        assert entry["speedup"] is not None and entry["speedup"] > 0


def test_engine_benchmark_reports_a_missing_library_instead_of_crashing(bench_engine) -> None:
    result = bench_engine.run(scale=TINY, cases=("add",), libraries=("apscheduler", "nosuchlib"))
    assert "ModuleNotFoundError" in result["cases"]["add"]["nosuchlib"]["error"]
    assert result["cases"]["add"]["speedup"] is None


def test_engine_benchmark_rejects_bad_sizes(bench_engine, monkeypatch) -> None:
    with pytest.raises(ValueError, match="cases"):
        bench_engine.run(scale=TINY, cases=("warp",))
    monkeypatch.setenv("NBSCHED_BENCH_SCALE", "lots")
    with pytest.raises(ValueError, match=r"NBSCHED_BENCH_SCALE.*'lots'"):
        bench_engine.run(cases=("add",))


def test_run_all_runs_the_engine_module(capsys, monkeypatch) -> None:
    run_all = _load("run_all")
    monkeypatch.setenv("NBSCHED_BENCH_SCALE", "1")  # restored after the test
    assert {p.stem for p in run_all.discover()} >= {"bench_engine"}
    status = run_all.main(["--scale", str(TINY), "--only", "engine"])
    out = capsys.readouterr().out
    assert "=== bench_engine ===" in out
    assert "dispatch" in out
    assert status == 0
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nonexistent"])
