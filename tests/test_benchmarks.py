"""benchmarks/run.py's machinery, run small: every system's gradient is
checked before it is timed, and the CuPy backend's code path (device arrays
in, synchronised calls, device memory, results back on the host) runs on the
CuPy-like StrictArray, so a workload that makes host arrays fails visibly."""

import dataclasses
import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from strict_array import StrictArray, wrap

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
QUICK = types.SimpleNamespace(warmup=1, budget=0.0, min_rounds=2, max_rounds=2)


@pytest.fixture(scope="module")
def run():
    """benchmarks/run.py as a module (it sets thread variables on import:
    they are put back)."""
    saved = dict(os.environ)
    spec = importlib.util.spec_from_file_location("benchmarks_run", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield module
    sys.path.remove(str(BENCHMARKS))


def strict_backend(run):
    class Strict(run.CupyBackend):
        """The CuPy backend with StrictArrays in place of CuPy arrays."""
        name = "strict"
        synced_calls = 0

        def load(self):
            pass

        def to_device(self, value):
            return wrap(value)

        def to_host(self, value):
            assert isinstance(value, StrictArray), f"a {type(value).__name__} came back"
            return value.data

        def sync(self):
            type(self).synced_calls += 1

        def peak_memory(self, fn, args):
            return run.Backend.peak_memory(self, fn, args)     # StrictArrays hold NumPy arrays

        def describe(self):
            return "StrictArray"
    return Strict()


def small(run, name, **sizes):
    w = run.DEVICE_WORKLOADS[name]
    problem = {"mlp": "mlp_problem", "rnn": "rnn_problem"}[name]
    make = getattr(sys.modules["workloads"], problem)
    return dataclasses.replace(w, problem=lambda: make(**sizes))


def test_device_workloads_run_on_device_arrays(run, capsys):
    backend = strict_backend(run)
    systems = run.load_systems({"s2sad"}, backend)
    assert [s.name for s in systems] == ["hand", "s2sad"]
    results = {}
    for w in (small(run, "mlp", batch=8, n_in=12, n_hidden=16),
              small(run, "rnn", T=4, batch=5, n_in=3, n_hidden=6)):
        results[w.name] = cells = run.run_workload(w, systems, QUICK, backend)
        for name in ("hand", "s2sad"):
            assert cells[name]["status"] == "ok", cells[name]
            assert cells[name]["time_s"] > 0 and cells[name]["peak_bytes"] > 0
        assert cells["s2sad"]["repeat_cache_hit"]
    assert backend.synced_calls > 20                 # every timed call synchronised
    run.report(results, systems, backend)
    out = capsys.readouterr().out
    assert "| mlp " in out and "| rnn " in out and backend.memory_title in out


def test_a_workload_that_makes_host_arrays_fails_on_the_device(run):
    """The CPU RNN starts from `np.zeros(shape)`, a host array: on device
    arrays that is an error, reported in the cell, not a crash or a pass."""
    backend = strict_backend(run)
    systems = run.load_systems({"s2sad"}, backend)
    cpu_rnn = dataclasses.replace(run.WORKLOADS["rnn"],
                                  problem=lambda: sys.modules["workloads"].rnn_problem(
                                      T=3, batch=2, n_in=3, n_hidden=4))
    cells = run.run_workload(cpu_rnn, systems, QUICK, backend)
    assert cells["s2sad"]["status"] == "fails"
    assert "HostTransferError" in cells["s2sad"]["reason"]
    assert cells["hand"]["status"] == "fails"        # its forward is the same loss


def test_numpy_workloads_check_then_time(run):
    systems = run.load_systems({"s2sad"}, run.BACKENDS["numpy"])
    w = run.WORKLOADS["ols"]
    cells = run.run_workload(w, systems, QUICK)
    assert cells["s2sad"]["status"] == "ok"
    assert cells["s2sad"]["ratio_to_hand"] > 0 and cells["s2sad"]["repeat_cache_hit"]


def _doubled_ols(beta, X, y):
    r = X @ beta - y
    return 2.0 * np.sum(r ** 2) / y.shape[0]


def test_a_wrong_gradient_is_reported_not_timed(run):
    systems = run.load_systems({"s2sad"}, run.BACKENDS["numpy"])
    wrong = dataclasses.replace(run.WORKLOADS["ols"], loss=_doubled_ols)
    cells = run.run_workload(wrong, systems, QUICK)
    assert cells["s2sad"]["status"] == "fails" and "wrong gradient" in cells["s2sad"]["reason"]


def test_nested_benchmark_runs_and_checks_its_systems(capsys):
    """benchmarks/nested.py --quick: each workload's gradient through a
    gradient, checked against the others before timing (those installed)."""
    saved = dict(os.environ)
    spec = importlib.util.spec_from_file_location("benchmarks_nested", BENCHMARKS / "nested.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        assert module.main(["--quick"]) == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.path.remove(str(BENCHMARKS))
    out = capsys.readouterr().out
    for name in ("gradient penalty", "MAML, 1 step", "MAML, 2 steps"):
        assert f"| {name} | s2sad |" in out


def test_compiled_column_and_the_pendulum(run):
    pytest.importorskip("numba")
    systems = run.load_systems({"s2sad", "s2sad-numba"}, run.BACKENDS["numpy"])
    make = sys.modules["workloads"].pendulum_problem
    pendulum = dataclasses.replace(run.WORKLOADS["pendulum"], problem=lambda: make(steps=300))
    cells = run.run_workload(pendulum, systems, QUICK)     # each checked against the hand-written
    assert cells["s2sad"]["status"] == "ok" and cells["s2sad-numba"]["status"] == "ok"
    assert "pendulum" not in run.S2sadNumba.refused
    make = sys.modules["workloads"].rnn_problem
    rnn = dataclasses.replace(run.WORKLOADS["rnn"], problem=lambda: make(T=3, batch=2, n_in=3, n_hidden=4))
    assert run.run_workload(rnn, systems, QUICK)["s2sad-numba"]["status"] == "ok"
    assert "multiplies matrices" in run.S2sadNumba.refused["rnn"]      # "auto" ran the plain code


def test_compiled_benchmark_measures_and_checks():
    pytest.importorskip("numba")
    spec = importlib.util.spec_from_file_location("benchmarks_compiled", BENCHMARKS / "compiled.py")
    module = importlib.util.module_from_spec(spec)
    saved = dict(os.environ)
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    w = module.WORKLOADS["pendulum"]
    times, compile_s, memory = module.measure(w, w.problem(steps=40), repeats=2, checkpoint=True)
    assert times["s2sad + numba"] > 0 and compile_s["s2sad + numba"] > 0
    assert memory["s2sad + numba"] > 0
