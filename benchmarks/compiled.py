"""Compiled gradients (`compile="numba"`) on the scalar-loop workloads, against
the targets of the issue that built them, in one run.

    python benchmarks/compiled.py [--repeats 200] [--steps 10000]

Single-threaded. For `building`, `newton` and `pendulum` (benchmarks/workloads.py,
the pendulum also with `checkpoint=True`): the gradient through `df(*args)`,
plain and compiled, against the hand-written gradient and JAX jit's
`fori_loop` gradient where JAX is installed; grad / forward with both
compiled (the forward is `numba.njit` of the loss); the compile time (the
first call); the peak memory of one call (tracemalloc). Times are medians
of interleaved rounds.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s2sad  # noqa: E402
from timing import interleaved_times, peak_memory  # noqa: E402
from workloads import WORKLOADS  # noqa: E402


def jax_gradient(w):
    """JAX jit of the workload's `fori_loop` variant, or None without JAX."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    jitted = jax.jit(jax.grad(lambda *a: w.jax_loss(jax, *a), argnums=w.wrt))
    prepare = [jax.numpy.asarray(a) if isinstance(a, np.ndarray) else a for a in w.problem()]

    def gradient(*_):
        return jax.block_until_ready(jitted(*prepare))
    return gradient


def first_call(make, args):
    start = time.perf_counter()
    fn = make()
    fn(*args)
    return fn, time.perf_counter() - start


def measure(w, args, repeats, checkpoint=None):
    import numba
    systems, compile_s = {}, {}
    systems["hand"] = w.hand
    systems["s2sad"] = s2sad.grad(w.loss, wrt=w.wrt, checkpoint=checkpoint)
    systems["s2sad + numba"], compile_s["s2sad + numba"] = first_call(
        lambda: s2sad.grad(w.loss, wrt=w.wrt, checkpoint=checkpoint, compile="numba"), args)
    jax_grad = jax_gradient(w) if w.jax_loss is not None else None
    if jax_grad is not None:
        systems["jax jit"], compile_s["jax jit"] = first_call(lambda: jax_grad, args)
    forward, compile_s["forward (njit)"] = first_call(lambda: numba.njit(w.loss), args)
    systems["forward (njit)"] = forward
    expected = w.hand(*args)[0]
    for name in ("s2sad", "s2sad + numba"):
        got = systems[name](*args)
        got = got[0] if isinstance(got, tuple) else got
        assert np.allclose(got, expected, rtol=1e-8, atol=1e-10), f"{name} is wrong on {w.name}"
    for fn in systems.values():
        fn(*args)
    inner = {}
    for name, fn in systems.items():                  # calls per timing, about 2 ms of them
        start = time.perf_counter()
        fn(*args)
        inner[name] = int(np.clip(2e-3 / max(time.perf_counter() - start, 1e-9), 1, 200))
    batched = {name: (lambda fn, n: lambda *a: [fn(*a) for _ in range(n)])(fn, inner[name])
               for name, fn in systems.items()}
    times = interleaved_times(batched, args, repeats)
    per_call = {name: np.median(t) / inner[name] for name, t in times.items()}
    memory = {name: peak_memory(systems[name], args) for name in ("hand", "s2sad", "s2sad + numba")}
    return per_call, compile_s, memory


def fmt(s):
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--steps", type=int, default=10_000, help="the pendulum's Euler steps")
    opts = parser.parse_args()
    import numba
    print(f"# compiled gradients: Python {sys.version.split()[0]}, NumPy {np.__version__}, "
          f"Numba {numba.__version__}, 1 thread, {os.cpu_count()} CPUs\n")
    cases = [("building", WORKLOADS["building"], WORKLOADS["building"].problem(), None),
             ("newton", WORKLOADS["newton"], WORKLOADS["newton"].problem(), None),
             ("pendulum", WORKLOADS["pendulum"], WORKLOADS["pendulum"].problem(steps=opts.steps), None),
             ("pendulum, checkpoint=True", WORKLOADS["pendulum"],
              WORKLOADS["pendulum"].problem(steps=opts.steps), True)]
    print("| workload | hand | s2sad | s2sad + numba | jax jit | numba / hand | numba / jax jit "
          "| grad / forward (both njit) | compile | peak memory: s2sad, + numba |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, w, args, checkpoint in cases:
        t, c, m = measure(w, args, opts.repeats, checkpoint)
        compiled, jax_t = t["s2sad + numba"], t.get("jax jit")
        cells = [label, fmt(t["hand"]), fmt(t["s2sad"]), fmt(compiled), fmt(jax_t) if jax_t else "n/a",
                 f"{compiled / t['hand']:.3f}x", f"{compiled / jax_t:.2f}x" if jax_t else "n/a",
                 f"{compiled / t['forward (njit)']:.2f}x", f"{c['s2sad + numba']:.2f} s",
                 f"{m['s2sad'] / 1024:.0f} KiB, {m['s2sad + numba'] / 1024:.0f} KiB"]
        print("| " + " | ".join(cells) + " |", flush=True)
    print("\nTargets: building: numba <= 1/3 of jax jit and <= 1/10 of hand (a Python-list reverse "
          "pass), grad / forward <= 3, compile <= 2 s; newton: numba <= 0.5x hand (NumPy).")


if __name__ == "__main__":
    main()
