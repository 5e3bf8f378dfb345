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
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import s2sad  # noqa: E402

try:
    import autograd  # noqa: E402
    import autograd.numpy as anp  # noqa: E402
except ImportError:                                  # the bench extra is optional
    autograd = None


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))    # timing, workloads
from timing import interleaved_times  # noqa: E402
from workloads import rebind, rnn_hand as hand_written, rnn_loss as loss  # noqa: E402
from workloads import rnn_problem as problem  # noqa: E402

loss_autograd = rebind(loss, anp) if autograd is not None else None   # the same source


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
