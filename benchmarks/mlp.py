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
import time  # noqa: E402

import numpy as np  # noqa: E402

import s2sad  # noqa: E402


def loss(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(logp * y) / x.shape[0]


def hand_written(W1, b1, W2, b2, x, y):
    """The backward pass as a person writes it (softmax and cross-entropy fused)."""
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    dz = (p - y) / x.shape[0]
    dW2 = h.T @ dz
    db2 = dz.sum(axis=0)
    da = (dz @ W2.T) * (1.0 - h * h)
    dW1 = x.T @ da
    db1 = da.sum(axis=0)
    return dW1, db1, dW2, db2


def hand_written_hvp(W1, b1, W2, b2, x, y, V):
    """H @ V for the Hessian w.r.t. W1, by hand: the backward pass above and,
    alongside it, its directional derivative along V (Pearlmutter's R-operator,
    forward over reverse)."""
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


def problem(seed=0, batch=64, n_in=784, n_hidden=800, n_out=10):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in)
    b1 = np.zeros(n_hidden)
    W2 = rng.normal(size=(n_hidden, n_out)) / np.sqrt(n_hidden)
    b2 = np.zeros(n_out)
    x = rng.normal(size=(batch, n_in))
    y = np.eye(n_out)[rng.integers(0, n_out, size=batch)]
    return W1, b1, W2, b2, x, y


def median_time(fn, args, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


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

    for _ in range(10):                              # warm up both
        dloss(*data), hand_written(*data)
    t_s2sad, t_hand = [], []
    for _ in range(5):                               # interleaved, so drift hits both alike
        t_s2sad.append(median_time(dloss, data, args.repeats // 5))
        t_hand.append(median_time(hand_written, data, args.repeats // 5))
    t_s2sad, t_hand = float(np.median(t_s2sad)), float(np.median(t_hand))
    build = first_call - t_s2sad

    print("mlp 784-800-10, softmax cross-entropy, batch 64, float64, 1 thread")
    print(f"| system       | time per gradient | ratio to hand-written |")
    print(f"|--------------|------------------:|----------------------:|")
    print(f"| hand-written | {t_hand * 1e3:14.3f} ms | {1.0:20.2f}x |")
    print(f"| s2sad        | {t_s2sad * 1e3:14.3f} ms | {t_s2sad / t_hand:20.2f}x |")
    print(f"s2sad build time: {build * 1e3:.1f} ms (target < 100 ms); "
          f"ratio {t_s2sad / t_hand:.3f}x (target <= 1.15x)")
    hvp_benchmark(data, args.repeats)


def interleaved(calls, repeats):
    """Median seconds per call of each (function, args), interleaved so drift hits all alike."""
    for _ in range(10):
        for fn, args in calls:
            fn(*args)
    times = [[] for _ in calls]
    for _ in range(5):
        for t, (fn, args) in zip(times, calls):
            t.append(median_time(fn, args, max(repeats // 5, 1)))
    return [float(np.median(t)) for t in times]


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
    times = interleaved(calls, repeats)
    print("\nHessian-vector product w.r.t. W1, same problem, float64, 1 thread")
    print("| system        | time per hvp      | ratio to hand-written |")
    print("|---------------|------------------:|----------------------:|")
    for label, t in zip(names, times):
        print(f"| {label:13} | {t * 1e3:14.3f} ms | {t / times[0]:20.2f}x |")
    print(f"s2sad.hvp build time: {(first_call - times[1]) * 1e3:.1f} ms; "
          f"ratio {times[1] / times[0]:.3f}x")


if __name__ == "__main__":
    main()
