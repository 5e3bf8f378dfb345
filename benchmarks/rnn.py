"""Time s2sad's gradient of a vanilla RNN loss against hand-written BPTT.

    python benchmarks/rnn.py [--repeats N]

A tanh RNN (input 32, hidden 128) run for T = 50 steps on a batch of 16, the
loss the mean over the batch of the squared error of the last hidden state;
gradient with respect to Wxh (32x128), Whh (128x128) and bh (128), in float64,
single-threaded. Prints the median time (over rounds that call each system
once, so drift and other load hit all alike) of the forward loss, of s2sad's
gradient, of a hand-written backpropagation through time (target: s2sad /
hand <= 1.2x) and of HIPS autograd when `import autograd` works
(`pip install -e ".[bench]"`), the ratios (medians of same-round ratios:
gradient / forward target <= 3x) and the time s2sad takes to build the
gradient.
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import s2sad  # noqa: E402

try:
    import autograd  # noqa: E402
    import autograd.numpy as anp  # noqa: E402
except ImportError:                                  # the bench extra is optional
    autograd = None


def loss(Wxh, Whh, bh, x, y):
    h = np.zeros((x.shape[1], Whh.shape[0]))
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ Wxh + h @ Whh + bh)
    return np.sum((h - y) ** 2) / x.shape[1]


def loss_autograd(Wxh, Whh, bh, x, y):
    """`loss` again, on autograd's wrapped NumPy."""
    h = anp.zeros((x.shape[1], Whh.shape[0]))
    for t in range(x.shape[0]):
        h = anp.tanh(x[t] @ Wxh + h @ Whh + bh)
    return anp.sum((h - y) ** 2) / x.shape[1]


def hand_written(Wxh, Whh, bh, x, y):
    """Backpropagation through time as a person writes it: keep the states, walk back."""
    T, batch = x.shape[0], x.shape[1]
    h = np.zeros((batch, Whh.shape[0]))
    hs = [h]
    for t in range(T):
        h = np.tanh(x[t] @ Wxh + h @ Whh + bh)
        hs.append(h)
    dh = 2.0 * (h - y) / batch
    dWxh = np.zeros_like(Wxh)
    dWhh = np.zeros_like(Whh)
    dbh = np.zeros_like(bh)
    for t in range(T - 1, -1, -1):
        h = hs[t + 1]
        da = dh * (1.0 - h * h)
        dWxh += x[t].T @ da
        dWhh += hs[t].T @ da
        dbh += da.sum(axis=0)
        dh = da @ Whh.T
    return dWxh, dWhh, dbh


def problem(seed=0, T=50, batch=16, n_in=32, n_hidden=128):
    rng = np.random.default_rng(seed)
    Wxh = rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in)
    Whh = rng.normal(size=(n_hidden, n_hidden)) / np.sqrt(n_hidden)
    bh = rng.normal(size=n_hidden) * 0.1
    x = rng.normal(size=(T, batch, n_in))
    y = rng.uniform(-0.5, 0.5, size=(batch, n_hidden))
    return Wxh, Whh, bh, x, y


def interleaved_times(systems, args, repeats):
    """Time each system once per round, `repeats` rounds, rotating the order, so
    that drift and other load hit all of them alike; per-call times in arrays."""
    names = list(systems)
    times = {name: [] for name in names}
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            fn = systems[name]
            start = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - start)
    return {name: np.array(ts) for name, ts in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    data = problem()

    start = time.perf_counter()
    dloss = s2sad.grad(loss, wrt=(0, 1, 2))
    dloss(*data)                                     # builds, then runs once
    first_call = time.perf_counter() - start

    expected = hand_written(*data)
    for ours, theirs in zip(dloss(*data), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    systems = {"forward (loss)": loss, "s2sad gradient": dloss, "hand-written BPTT": hand_written}
    if autograd is not None:
        dloss_autograd = autograd.grad(loss_autograd, (0, 1, 2))
        for ours, theirs in zip(dloss_autograd(*data), expected):
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
        systems["autograd"] = dloss_autograd

    for _ in range(5):                               # warm up all
        for fn in systems.values():
            fn(*data)
    per_call = interleaved_times(systems, data, args.repeats)
    times = {name: float(np.median(ts)) for name, ts in per_call.items()}

    def ratio(a, b):                                 # median of same-round ratios
        return float(np.median(per_call[a] / per_call[b]))

    build = first_call - times["s2sad gradient"]
    fwd, ours, hand = "forward (loss)", "s2sad gradient", "hand-written BPTT"
    T, batch, n_in = data[3].shape
    print(f"rnn {n_in}-{data[1].shape[0]}, tanh, T = {T}, batch {batch}, "
          f"d loss / d (Wxh, Whh, bh), float64, 1 thread, {args.repeats} interleaved rounds")
    print("| system            | median time | ratio to forward | ratio to hand-written |")
    print("|-------------------|------------:|-----------------:|----------------------:|")
    for name, t in times.items():
        print(f"| {name:17s} | {t * 1e3:8.3f} ms | {ratio(name, fwd):15.2f}x | "
              f"{ratio(name, hand):20.2f}x |")
    print(f"s2sad build time: {build * 1e3:.1f} ms")
    print(f"s2sad / hand: {ratio(ours, hand):.3f}x (target <= 1.2x); "
          f"gradient / forward: {ratio(ours, fwd):.2f}x (target <= 3x)")
    if autograd is not None:
        print(f"autograd / s2sad: {ratio('autograd', ours):.2f}x")
    else:
        print("autograd: not installed (pip install -e \".[bench]\")")


if __name__ == "__main__":
    main()
