"""Every case of the rule table on Dask arrays: a tally, not yet a test.

    python tests/dask_survey.py

Each float64 case of `test_rule_table.py` (the loss `np.sum(<call> * c)`)
is differentiated with its arrays as Dask arrays chunked in two along the
first axis, counting the graphs Dask computes during the gradient call; the
gradient is compared with the NumPy one. Prints the tally (correct with no
compute, correct with computes, Dask's errors, wrong) and the rows that are
not correct without a compute: the work list of issue 20's Dask leg.
"""

import collections
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dask.array as da  # noqa: E402

import s2sad  # noqa: E402
import test_rule_table as table  # noqa: E402
from fdcheck import cotangent  # noqa: E402
from test_dask import Computes, chunked  # noqa: E402


def lazy(a):
    if isinstance(a, np.ndarray) and a.ndim >= 1 and a.shape[0] >= 2:
        return chunked(a, parts=2)
    return da.from_array(a) if isinstance(a, np.ndarray) else a


def main():
    tally, rows = collections.Counter(), collections.defaultdict(set)
    for case in table.CASES:
        index, row, spec, wrt = case.values
        if row.check is not None:
            continue
        rng = np.random.default_rng(index)
        args = [s.draw(rng) for s in spec.values()]
        c = cotangent(getattr(table.MODULE, f"value_{index}")(*args), python_float_for_scalar=True)
        wrt = tuple(i for i, (n, a) in enumerate(zip(spec, args))
                    if isinstance(a, (float, np.ndarray)) and (wrt is None or n in wrt))
        loss = getattr(table.MODULE, f"loss_{index}")
        expected = s2sad.grad(loss, wrt=wrt)(*args, c)
        try:
            with warnings.catch_warnings(), Computes() as computes:
                warnings.simplefilter("ignore")
                got = s2sad.grad(loss, wrt=wrt)(*[lazy(a) for a in args], lazy(c))
            got = [np.asarray(g.compute() if hasattr(g, "compute") else g) for g in got]
            right = all(np.allclose(g, e, rtol=1e-9, atol=1e-12) for g, e in zip(got, expected))
            what = ("right" if right else "WRONG") + (f", {computes.count} computes" if computes.count else "")
        except Exception as exc:              # noqa: BLE001  (Dask's own errors, tallied)
            what = f"Dask raises {type(exc).__name__}"
        tally[what] += 1
        if what != "right":
            rows[what].add(row.name)
    for what, count in tally.most_common():
        print(f"{count:5d}  {what}")
    for what in sorted(rows):
        print(f"\n{what}: {', '.join(sorted(rows[what]))}")


if __name__ == "__main__":
    main()
