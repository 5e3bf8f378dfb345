"""Single stages on small inputs: what normalisation produces (the core
form), what the analysis concludes (versions, kinds, activity), and why the
inliner calls a rule rather than inline it."""

import numpy as np
import pytest

from s2sad.build import Builder
from s2sad.kinds import Array, Scalar, kind_of
from s2sad.normalize import normalize
from s2sad.parse import parse_function
from s2sad.refs import Ref, Version
from s2sad.templates import CallSite, GaveUp, Inlined, Operand, inline
from s2sad.trees import name, unparse


def mlp(x, W, b):
    h = np.tanh(x @ W + b)
    return np.sum(h * h)


def swap_and_add(x, y):
    a, b = x * 2.0, y
    a += b
    return np.sum(a)


def while_loop(x, n):
    s = 0.0
    i = 0
    while i < n:
        s = s + np.sum(x) * i
        i += 1
    return s


def unused_branch(x, c):
    y = x * 2.0
    z = c * 3.0
    return np.sum(y) + z


CORE_FORMS = [
    # one operation per statement, temporaries named after what they hold
    (mlp, ["xW = x @ W", "xW_plus_b = xW + b", "h = np.tanh(xW_plus_b)", "hh = h * h",
           "sum_hh = np.sum(hh)", "return sum_hh"]),
    # a tuple target unpacked, `a += b` as `a = a + b`
    (swap_and_add, ["x2 = x * 2.0", "a = x2", "b = y", "a = a + b", "sum_a = np.sum(a)",
                    "return sum_a"]),
    # a while loop's test computed before the loop and again at the end of each trip
    (while_loop, ["s = 0.0", "i = 0", "cond = i < n",
                  "while cond:\n    sum_x = np.sum(x)\n    sum_xi = sum_x * i\n    s = s + sum_xi\n"
                  "    i = i + 1\n    cond = i < n", "return s"]),
]


@pytest.mark.parametrize("f, expected", CORE_FORMS, ids=[f.__name__ for f, _ in CORE_FORMS])
def test_normalize_gives_the_core_form(f, expected):
    core = normalize(parse_function(f))
    assert [unparse(s) for s in core.body] == expected


def _facts(f, args, wrt):
    core = normalize(parse_function(f))
    kinds = list(zip(core.params, [kind_of(a) for a in args]))
    return Builder().analysis(f, kinds, wrt)


def test_analysis_versions_kinds_and_activity():
    core, facts = _facts(unused_branch, [np.ones(3), 2.0], ("x",))
    by_text = {unparse(s): facts.stmts[id(s)] for s in core.body}
    y, z, total = by_text["y = x * 2.0"], by_text["z = c * 3.0"], by_text["sum_y_plus_z = sum_y + z"]
    assert (y.reads, y.writes) == ({"x": 0}, {"y": 0})
    assert y.active and y.active_inputs == {("x", 0, ())}
    assert not z.active and not z.active_inputs            # c is not differentiated
    assert total.active_inputs == {("sum_y", 0, ())}        # z gets no adjoint
    assert facts.kinds[("x", 0)] == Array(ndim=1, dtype="float64", ones=(False,))
    assert facts.kinds[("z", 0)] == Scalar(dtype="float")
    assert ("z", 0, ()) not in facts.varied
    (ref,) = y.active_inputs                                # refs are named tuples
    assert isinstance(ref, Ref) and (ref.name, ref.version, ref.path) == ("x", 0, ())
    assert ref.local == Version("x", 0) and ref.local.leaf((1,)) == Ref("x", 0, (1,))
    assert isinstance(facts.output, Version)


def test_analysis_gives_a_loop_its_carried_versions():
    core, facts = _facts(while_loop, [np.ones(3), 3], ("x",))
    loop = next(s for s in core.body if unparse(s).startswith("while"))
    carried = facts.stmts[id(loop)].carried          # name: [top of trip, before, end of trip]
    assert carried["s"] == carried["i"] == carried["cond"] == [1, 0, 2]
    assert carried["sum_x"] == [0, None, 1]            # made in the loop: none before it
    body = {unparse(s): facts.stmts[id(s)] for s in loop.body}
    assert (body["s = s + sum_xi"].reads, body["s = s + sum_xi"].writes) == \
        ({"s": 1, "sum_xi": 1}, {"s": 2})               # reads the top of the trip's s


def _site(*kinds):
    atoms = [name(f"a{i}") for i in range(len(kinds))]
    return CallSite([Operand(a, k, True) for a, k in zip(atoms, kinds)], {}, name("g"), name("r"),
                    kinds[0], lambda atom: None, lambda obj, preferred: preferred, lambda hint: hint)


def rule_by_rank(g, result, x):
    if np.ndim(x) == 2:                      # the kinds decide this branch
        return g.T
    return g


def rule_on_data(g, result, x):
    if np.all(x > 0.0):                      # the data decide this one
        return g
    return -g


def test_inline_folds_what_the_kinds_decide_and_says_why_it_gives_up():
    matrix = Array(ndim=2, dtype="float64", ones=(False, False))
    inlined = inline(rule_by_rank, _site(matrix))
    assert isinstance(inlined, Inlined) and unparse(inlined.outputs[0]) == "g.T"
    gave_up = inline(rule_on_data, _site(matrix))
    assert isinstance(gave_up, GaveUp) and not gave_up
    assert gave_up.reason == "its body branches on what the argument kinds do not decide"
    assert inline(rule_by_rank, _site(matrix, matrix)).reason == \
        "the call passes more arguments than it has parameters"
