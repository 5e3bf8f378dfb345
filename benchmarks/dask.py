"""Gradients on Dask arrays: s2sad against dask-glm's hand-written gradient.

    python benchmarks/dask.py [--rows 10000000] [--chunk 500000] [--repeats 5] [--quick]

The loss is dask-glm's logistic log-likelihood (`Logistic.pointwise_loss`: a
sum, no L2 term), written in NumPy for s2sad; dask-glm's gradient is its
hand-written `Logistic.pointwise_gradient`. Both run on the same chunked
`(rows, 20)` float64 dataset.

1. Threads (Dask's default scheduler), the data persisted in memory: the time
   of one gradient (graph building and compute), medians of interleaved rounds,
   against dask-glm's and against the hand-written NumPy gradient on one
   chunk times the number of chunks; the computes during s2sad's gradient
   call (Dask callbacks: 0 is the target).
   Run again with glibc's malloc told to keep freed memory
   (`MALLOC_MMAP_THRESHOLD_` and friends, `TUNED_MALLOC`): each temporary
   array of a chunk otherwise comes fresh from the kernel, and on a virtual
   machine its page faults cost more than the arithmetic (a 4 MB temporary:
   ~4 ms here, against 0.2 ms reused), which charges every extra
   temporary of a generated gradient ten times over.
2. A `distributed` cluster with worker processes (2 workers, 1 thread each),
   the data generated chunk by chunk inside the graph (never whole in
   memory): the gradient's time and each worker's peak resident memory
   (`ru_maxrss`) against the chunk and dataset sizes.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

# this file is named dask.py: its folder must not shadow the dask package
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import numpy as np  # noqa: E402

import s2sad  # noqa: E402

_spec = importlib.util.spec_from_file_location("timing", os.path.join(HERE, "timing.py"))
timing = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(timing)
interleaved_times = timing.interleaved_times

P = 20
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824",
                "MALLOC_TOP_PAD_": "268435456"}


def loss(beta, X, y):
    """dask-glm's `Logistic.pointwise_loss`, in NumPy."""
    z = X @ beta
    return np.sum(z + np.log1p(np.exp(-z))) - y @ z


def numpy_gradient(beta, X, y):
    """The hand-written gradient, as dask-glm writes it, on NumPy arrays."""
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    return X.T @ (p - y)


def make_data(rows, chunk, seed=0):
    import dask.array as da
    rng = da.random.default_rng(seed)
    X = rng.normal(size=(rows, P), chunks=(chunk, P))
    y = (rng.random(size=rows, chunks=chunk) < 0.5).astype(float)
    return X, y


def computes_during(fn, *args):
    from dask.callbacks import Callback

    class Count(Callback):
        count = 0

        def _start(self, dsk):
            Count.count += 1

    with Count():
        fn(*args)
    return Count.count


def threads(rows, chunk, repeats):
    from dask_glm.families import Logistic
    X, y = make_data(rows, chunk)
    X, y = X.persist(), y.persist()
    beta = np.linspace(-0.1, 0.1, P)
    grad = s2sad.grad(loss)
    np.testing.assert_allclose(grad(beta, X, y).compute(),
                               Logistic.pointwise_gradient(beta, X, y).compute(), rtol=1e-8)
    X0, y0 = X.blocks[0].compute(), y.blocks[0].compute()
    systems = {
        "s2sad": lambda: grad(beta, X, y).compute(),
        "dask-glm": lambda: Logistic.pointwise_gradient(beta, X, y).compute(),
        "NumPy, one chunk x chunks": lambda: [numpy_gradient(beta, X0, y0) for _ in range(X.numblocks[0])],
    }
    times = {k: float(np.median(v)) for k, v in interleaved_times(systems, (), repeats).items()}
    calls = computes_during(grad, beta, X, y)
    malloc = "tuned malloc" if all(os.environ.get(k) == v for k, v in TUNED_MALLOC.items()) \
        else "default malloc"
    print(f"\n1. threads ({os.cpu_count()} cores, {malloc}), {rows:,} x {P} rows persisted "
          f"({X.nbytes / 2**30:.2f} GiB), {X.numblocks[0]} chunks of {chunk:,} rows")
    print(f"   {'system':28s} {'gradient':>10s} {'ratio to dask-glm':>18s}")
    for name, t in times.items():
        print(f"   {name:28s} {t * 1e3:8.1f} ms {t / times['dask-glm']:17.2f}x")
    print(f"   computes during s2sad's gradient call: {calls}")
    return times, calls


def reset_peak():
    """Reset this process's peak resident memory (Linux: /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as out:
        out.write("5")


def peak_rss():
    """This process's peak resident memory since the last reset (VmHWM), and now (VmRSS)."""
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return tuple(int(status[k].split()[0]) * 1024 for k in ("VmHWM", "VmRSS"))


def workers(rows, chunk):
    import dask
    from dask_glm.families import Logistic
    from distributed import Client, LocalCluster
    beta = np.linspace(-0.1, 0.1, P)
    grad = s2sad.grad(loss)
    out = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit="8GiB") as cluster, Client(cluster) as client:
        for name, fn in (("s2sad", grad), ("dask-glm", Logistic.pointwise_gradient)):
            client.restart()                                   # fresh workers
            client.run(reset_peak)
            before = client.run(peak_rss)
            X, y = make_data(rows, chunk)
            start = time.perf_counter()
            dask.compute(fn(beta, X, y))
            seconds = time.perf_counter() - start
            after = client.run(peak_rss)
            out[name] = (seconds, max(peak for peak, _ in after.values()),
                         max(after[w][0] - before[w][1] for w in after))
    chunk_mib = chunk * P * 8 / 2**20
    print(f"\n2. distributed, 2 worker processes x 1 thread, data generated in the graph "
          f"({rows * P * 8 / 2**30:.2f} GiB in all, chunks of {chunk_mib:.0f} MiB)")
    print(f"   {'system':12s} {'gradient':>10s} {'peak RSS per worker':>20s} {'above idle':>12s}")
    for name, (seconds, peak, growth) in out.items():
        print(f"   {name:12s} {seconds:8.2f} s {peak / 2**20:16.0f} MiB {growth / 2**20:8.0f} MiB "
              f"({growth / (chunk * P * 8):.1f} chunks of X; the dataset: "
              f"{rows * P * 8 / 2**20:,.0f} MiB)")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 3 rounds, no cluster")
    parser.add_argument("--threads-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.chunk, args.repeats = 100_000, 25_000, 3
    times, calls = threads(args.rows, args.chunk, args.repeats)
    if not (args.quick or args.threads_only):
        import subprocess
        subprocess.run([sys.executable, os.path.abspath(__file__), "--threads-only", "--rows", str(args.rows),
                        "--chunk", str(args.chunk), "--repeats", str(args.repeats)],
                       env={**os.environ, **TUNED_MALLOC}, check=True)
        workers(args.rows, args.chunk)
    return times, calls


if __name__ == "__main__":
    main()
