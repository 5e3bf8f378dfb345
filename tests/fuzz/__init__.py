"""A differential fuzzer for s2sad: random programs, oracles, shrinking.

* `generate.py` writes random differentiable programs from a typed grammar
  that covers what docs/subset.md says works (every construct it uses is
  counted in `Program.features`);
* `rewrite.py` rewrites programs without changing their meaning (renaming,
  temporaries, unrolling, moving a block into a helper) and instruments
  them to measure how far inputs are from every comparison and kink;
* `oracles.py` runs one program through the checks (finite differences,
  structure, jvp, value, purity, metamorphic, other sizes and globals, hvp)
  and returns an `Outcome`;
* `shrink.py` reduces a failing program to a minimal one and prints it as a
  regression test;
* `campaign.py` runs many programs (`python -m tests.fuzz --count N --seed S`).
"""
