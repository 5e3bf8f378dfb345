"""Timing shared by the per-workload benchmark scripts."""

import time
import tracemalloc

import numpy as np


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


def peak_memory(fn, args):
    """Peak bytes tracemalloc sees allocated during one call (after a warm one)."""
    fn(*args)
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
