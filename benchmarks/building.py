"""Time s2sad's gradient of a scalar building-thermal loop against hand-written ones.

    python benchmarks/building.py [--repeats N]

The room temperature of a building over T = 200 steps, one scalar update per
step, written as a user writes it in plain NumPy (indexing 1-D float64 arrays
inside a Python loop); the cost is the price of the heating plus a quadratic
comfort penalty, differentiated with respect to the heating schedule `heat`.
Single-threaded. Prints the median time (over rounds that call each system
once, so drift and other load hit all alike) of the forward function, of
s2sad's gradient (target: gradient / forward <= 3x), of two hand-written
reverse passes (one on NumPy scalars, one that converts the arrays to Python
lists first) and of HIPS autograd when `import autograd` works
(`pip install -e ".[bench]"`; target: s2sad at least 5x faster), the ratios
(medians of same-round ratios) and the time s2sad takes to build the gradient.
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
except ImportError:                                  # the bench extra is optional
    autograd = None


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))    # timing, workloads
from timing import interleaved_times  # noqa: E402
from workloads import building_hand as hand_lists, building_loss as cost  # noqa: E402
from workloads import building_problem as problem  # noqa: E402


def hand_numpy(heat, outdoor, price, temp0, R, C, dt, lam, target):
    """The reverse pass as a careful person writes it, indexing the arrays."""
    T = len(heat)
    RC = R * C
    temps = np.empty(T)                              # temperature after each step
    temp = temp0
    for t in range(T):
        temp = temp + dt * ((outdoor[t] - temp) / RC + heat[t] / C)
        temps[t] = temp
    dheat = np.empty(T)
    decay = 1.0 - dt / RC                            # d temp[t] / d temp[t-1]
    dt_over_C = dt / C                               # d temp[t] / d heat[t]
    two_lam = 2.0 * lam
    dtemp = 0.0
    for t in range(T - 1, -1, -1):
        dtemp = dtemp + two_lam * (temps[t] - target)
        dheat[t] = price[t] + dtemp * dt_over_C
        dtemp = dtemp * decay
    return dheat


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    data = problem()

    start = time.perf_counter()
    dcost = s2sad.grad(cost, wrt=0)
    dcost(*data)                                     # builds, then runs once
    first_call = time.perf_counter() - start

    expected = hand_numpy(*data)
    np.testing.assert_allclose(dcost(*data), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hand_lists(*data)[0], expected, rtol=1e-12, atol=1e-12)
    systems = {"forward (cost)": cost, "s2sad gradient": dcost,
               "hand, NumPy scalars": hand_numpy, "hand, lists": hand_lists}   # (a 1-tuple)
    if autograd is not None:
        dcost_autograd = autograd.grad(cost, 0)
        np.testing.assert_allclose(dcost_autograd(*data), expected, rtol=1e-10, atol=1e-12)
        systems["autograd"] = dcost_autograd

    for _ in range(10):                              # warm up all
        for fn in systems.values():
            fn(*data)
    per_call = interleaved_times(systems, data, args.repeats)
    times = {name: float(np.median(ts)) for name, ts in per_call.items()}

    def ratio(a, b):                                 # median of same-round ratios
        return float(np.median(per_call[a] / per_call[b]))

    build = first_call - times["s2sad gradient"]
    fwd, ours = "forward (cost)", "s2sad gradient"
    print(f"building thermal loop, T = {len(data[0])} scalar steps, d cost / d heat, "
          f"float64, 1 thread, {args.repeats} interleaved rounds")
    print("| system              | median time | ratio to forward | ratio to s2sad |")
    print("|---------------------|------------:|-----------------:|---------------:|")
    for name, t in times.items():
        print(f"| {name:19s} | {t * 1e6:8.1f} us | {ratio(name, fwd):15.2f}x | "
              f"{ratio(name, ours):13.2f}x |")
    print(f"s2sad build time: {build * 1e3:.1f} ms")
    print(f"gradient / forward: {ratio(ours, fwd):.2f}x (target <= 3x)")
    print(f"s2sad / hand (NumPy scalars): {ratio(ours, 'hand, NumPy scalars'):.2f}x; "
          f"s2sad / hand (lists): {ratio(ours, 'hand, lists'):.2f}x")
    if autograd is not None:
        print(f"autograd / s2sad: {ratio('autograd', ours):.1f}x (target >= 5x)")
    else:
        print("autograd: not installed (pip install -e \".[bench]\")")


if __name__ == "__main__":
    main()
