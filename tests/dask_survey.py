"""Every case of the rule table on Dask arrays, tallied.

    python tests/dask_survey.py

Runs `test_rule_table.dask_case` on each float64 case (every axis chunked
in two) and prints the tally: right with no compute beyond what the
function itself does, right with computes, functions Dask cannot run
(skipped by the suite), gradients Dask cannot build, and wrong; then the
rows of each kind but the first: docs/dask.md's lists come from here.
"""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_rule_table as table  # noqa: E402


def main():
    tally, rows = collections.Counter(), collections.defaultdict(set)
    for case in table.CASES:
        index, row, spec, wrt = case.values
        if row.check is not None:
            continue
        outcome, detail = table.dask_case(index, row, spec, wrt)
        if outcome == "right" and detail:
            outcome = "right, with computes"
        elif outcome == "skip":
            outcome = "the function fails on Dask"
        elif outcome == "gap":
            outcome = f"the gradient fails on Dask ({type(detail).__name__})"
        tally[outcome] += 1
        if outcome != "right":
            rows[outcome].add(row.expr.replace("\n", "; "))
    for what, count in tally.most_common():
        print(f"{count:5d}  {what}")
    for what in sorted(rows):
        print(f"\n{what}:\n  " + "\n  ".join(sorted(rows[what])))


if __name__ == "__main__":
    main()
