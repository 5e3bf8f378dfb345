"""Time s2sad's gradient of an MLP loss against a hand-written backward pass.

    python benchmarks/mlp.py [--repeats N]

A 784-800-10 MLP (tanh) with softmax cross-entropy on a batch of 64, in
float64, single-threaded (this machine's BLAS thread pools are erratic).
Prints the median time per gradient of both, their ratio (target <= 1.15x)
and the time s2sad takes to build the gradient (target < 100 ms).  Then the
same for a Hessian-vector product w.r.t. W1: `s2sad.hvp(loss)` against a
hand-written R-operator pass, and JAX's `jvp(grad(loss))` where JAX is installed.
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import s2sad  # noqa: E402


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))    # timing, workloads
from timing import interleaved_times  # noqa: E402
from workloads import mlp_hand as hand_written, mlp_loss as loss  # noqa: E402
from workloads import mlp_problem as problem  # noqa: E402


def hand_written_hvp(W1, b1, W2, b2, x, y, V):
    """H @ V for the Hessian w.r.t. W1, by hand: the backward pass of
    workloads.mlp_hand and, alongside it, its directional derivative along V
    (Pearlmutter's R-operator, forward over reverse)."""
    h = np.tanh(x @ W1 + b1)
    rh = (1.0 - h * h) * (x @ V)                          # R{h}
    z = h @ W2 + b2
    rz = rh @ W2
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    rp = p * (rz - np.sum(p * rz, axis=1, keepdims=True))  # softmax's Jacobian times R{z}
    n = x.shape[0]
    dh = ((p - y) / n) @ W2.T
    rdh = (rp / n) @ W2.T
    rda = rdh * (1.0 - h * h) - dh * (2.0 * h * rh)
    return x.T @ rda


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    data = problem()

    start = time.perf_counter()
    dloss = s2sad.grad(loss, wrt=(0, 1, 2, 3))
    dloss(*data)                                     # builds, then runs once
    first_call = time.perf_counter() - start

    for ours, theirs in zip(dloss(*data), hand_written(*data)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)

    per_call = interleaved(calls=[(dloss, data), (hand_written, data)], repeats=args.repeats)
    t_s2sad, t_hand = (float(np.median(t)) for t in per_call)
    build = first_call - t_s2sad

    print("mlp 784-800-10, softmax cross-entropy, batch 64, float64, 1 thread")
    print("| system       | time per gradient | ratio to hand-written |")
    print("|--------------|------------------:|----------------------:|")
    print(f"| hand-written | {t_hand * 1e3:14.3f} ms | {1.0:20.2f}x |")
    print(f"| s2sad        | {t_s2sad * 1e3:14.3f} ms | {t_s2sad / t_hand:20.2f}x |")
    print(f"s2sad build time: {build * 1e3:.1f} ms (target < 100 ms); "
          f"ratio {t_s2sad / t_hand:.3f}x (target <= 1.15x)")
    hvp_benchmark(data, args.repeats)


def interleaved(calls, repeats):
    """Per-call seconds of each (function, args) after a warm-up, in rounds
    that call each once (rotating), so drift hits all alike."""
    for _ in range(10):
        for fn, args in calls:
            fn(*args)
    systems = {i: (lambda fn=fn, args=args: fn(*args)) for i, (fn, args) in enumerate(calls)}
    per_call = interleaved_times(systems, (), repeats)
    return [per_call[i] for i in range(len(calls))]


def jax_hvp_call(data, V):
    """JAX's forward over reverse, jitted, on device copies of the data; None without JAX."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def jax_loss(W1, b1, W2, b2, x, y):
        z = jnp.tanh(x @ W1 + b1) @ W2 + b2
        return -jnp.sum(jax.nn.log_softmax(z, axis=1) * y) / x.shape[0]

    @jax.jit
    def hvp(W1, b1, W2, b2, x, y, V):
        return jax.jvp(lambda w: jax.grad(jax_loss)(w, b1, W2, b2, x, y), (W1,), (V,))[1]

    args = tuple(jnp.asarray(a) for a in (*data, V))
    return (lambda *a: hvp(*a).block_until_ready()), args


def hvp_benchmark(data, repeats):
    """Hessian-vector product w.r.t. W1: s2sad.hvp against the R-operator by hand (and JAX)."""
    V = np.random.default_rng(1).normal(size=data[0].shape) / np.sqrt(data[0].shape[0])
    args = (*data, V)
    start = time.perf_counter()
    hvp = s2sad.hvp(loss, wrt=0)
    hvp(*args)
    first_call = time.perf_counter() - start
    np.testing.assert_allclose(hvp(*args), hand_written_hvp(*args), rtol=1e-8, atol=1e-12)

    calls, names = [(hand_written_hvp, args), (hvp, args)], ["hand-written", "s2sad.hvp"]
    jax_call = jax_hvp_call(data, V)
    if jax_call is None:
        print("\n(jax is not importable: no JAX row; pip install jax to add it)")
    else:
        calls.append(jax_call)
        names.append("jax jvp(grad)")
    times = [float(np.median(t)) for t in interleaved(calls, repeats)]
    print("\nHessian-vector product w.r.t. W1, same problem, float64, 1 thread")
    print("| system        | time per hvp      | ratio to hand-written |")
    print("|---------------|------------------:|----------------------:|")
    for label, t in zip(names, times):
        print(f"| {label:13} | {t * 1e3:14.3f} ms | {t / times[0]:20.2f}x |")
    print(f"s2sad.hvp build time: {(first_call - times[1]) * 1e3:.1f} ms; "
          f"ratio {times[1] / times[0]:.3f}x")


if __name__ == "__main__":
    main()
