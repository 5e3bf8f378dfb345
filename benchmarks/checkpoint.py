"""Checkpointing a long loop: peak memory and time of the RNN gradient with
and without `checkpoint=True`.

    python benchmarks/checkpoint.py [--steps 5000] [--repeats 5]

A vanilla RNN (hidden 128, input 32, batch 16) over T steps, float64,
single-threaded. Peak memory is what tracemalloc sees NumPy allocate during
one gradient call. Targets: checkpointed peak <= 1/10 of the plain one, at
no more than 2.5x its time.
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import s2sad  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import peak_memory  # noqa: E402


def loss(x, Wxh, Whh, bh):
    h = np.zeros((x.shape[1], Whh.shape[0]))
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ Wxh + h @ Whh + bh)
    return np.sum(h ** 2)


def problem(steps, seed=0, batch=16, n_in=32, hidden=128):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(steps, batch, n_in)), rng.normal(size=(n_in, hidden)) / np.sqrt(n_in),
            rng.normal(size=(hidden, hidden)) / np.sqrt(hidden), np.zeros(hidden))


def median_time(fns, args, repeats):
    """Median seconds per call of each function, calls interleaved round by round."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn(*args)
            times[i].append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    opts = parser.parse_args()
    args = problem(opts.steps)
    plain = s2sad.grad(loss, wrt=(1, 2, 3))
    checkpointed = s2sad.grad(loss, wrt=(1, 2, 3), checkpoint=True)
    for a, b in zip(plain(*args), checkpointed(*args)):
        np.testing.assert_allclose(b, a, rtol=1e-10)
    peaks = [peak_memory(fn, args) for fn in (plain, checkpointed)]
    times = median_time([plain, checkpointed], args, opts.repeats)
    print(f"rnn 32-128, batch 16, T = {opts.steps}, float64, 1 thread, median of {opts.repeats}")
    print("| gradient          | peak memory | time per call |")
    print("|-------------------|------------:|--------------:|")
    for label, peak, t in zip(("plain", "checkpoint=True"), peaks, times):
        print(f"| {label:<17} | {peak / 2**20:8.1f} MiB | {t * 1e3:10.1f} ms |")
    print(f"memory ratio {peaks[1] / peaks[0]:.3f} (target <= 0.1); "
          f"time ratio {times[1] / times[0]:.2f}x (target <= 2.5x)")


if __name__ == "__main__":
    main()
