"""Every registered rule, driven by one table (`rule_table.ROWS`): the
gradient of `np.sum(<call> * c)` against central differences, jvp against
the gradient, and the gradient on StrictArrays (`fdcheck.check_gradient`),
in float64 and float32; and a check that no registered rule lacks a row."""

import numpy as np
import pytest

import s2sad
from s2sad import rules

from fdcheck import check_gradient, cotangent
from fuzz.oracles import load
from rule_table import ROWS

HEADER = ("import math\nimport operator\n\nimport numpy as np\n\nfrom s2sad import runtime\n\n"
          "try:\n    import scipy.special as sp\nexcept ImportError:\n    sp = None\n")


def _loss_source(index, row):
    """`value_i(args)` and `loss_i(args, c) = np.sum(value * c)`, as source
    (s2sad reads a function's source)."""
    params = ", ".join(row.cases[0])
    if "\n" in row.expr:
        *body, last = row.expr.splitlines()
        assert last.startswith("return ")
        value = last[len("return "):]
    else:
        body, value = [], row.expr
    lines = "".join(f"    {line}\n" for line in body)
    return (f"\n\ndef value_{index}({params}):\n{lines}    return {value}\n"
            f"\n\ndef loss_{index}({params}, c):\n{lines}    return np.sum(({value}) * c)\n")


ACTIVE = [(i, row) for i, row in enumerate(ROWS) if row.fn is not None]
MODULE = load(HEADER + "".join(_loss_source(i, row) for i, row in ACTIVE if row.check is None))
CASES = [pytest.param(i, row, case, wrt, id=f"{i}-{row.name}-" + "-".join(s.id for s in case.values())
                      + (f"-wrt_{'_'.join(wrt)}" if isinstance(row.wrt, list) else ""))
         for i, row in ACTIVE for case in row.cases
         for wrt in (row.wrt if isinstance(row.wrt, list) else [row.wrt])]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("index, row, case, wrt", CASES)
def test_rule(index, row, case, wrt, dtype):
    """float32 arrays keep float32 gradients (compared loosely with float64 differences)."""
    rng = np.random.default_rng(index)
    args = [spec.draw(rng) for spec in case.values()]
    if row.check is not None:
        if dtype is not np.float64:
            pytest.skip("a row with a check of its own runs in float64")
        return row.check(*args)
    args = [a.astype(dtype) if isinstance(a, np.ndarray) else a for a in args]
    value = getattr(MODULE, f"value_{index}")(*args)
    c = cotangent(value, dtype=dtype, python_float_for_scalar=True)
    wrt = tuple(i for i, (n, a) in enumerate(zip(case, args))
                if isinstance(a, (float, np.ndarray)) and (wrt is None or n in wrt))
    check_gradient(getattr(MODULE, f"loss_{index}"), args + [c], wrt=wrt, strict=row.strict)


def _same(a, b):
    try:
        return a is b or a == b
    except Exception:
        return False


def test_every_registered_rule_has_a_row():
    builtin = [fn for fn in rules.registered() if rules.is_builtin(fn)]   # (not the tests' own)
    assert len(builtin) > 150
    missing = [fn for fn in builtin if not any(_same(row.fn, fn) for row in ROWS)]
    assert not missing, f"rules without a row in tests/rule_table.py: {missing}"


def test_the_table_names_registered_functions():
    # a row whose function has no rule tests nothing the registry promises
    stray = [row.expr for row in ROWS
             if row.fn is not None and rules.lookup_adjoint(row.fn) is None]
    assert not stray, stray


ELEMENTWISE = [(i, row) for i, row in ACTIVE if row.check is None and "\n" not in row.expr
               and rules.facts(row.fn).elementwise and not isinstance(row.args, list)]


@pytest.mark.parametrize("index, row", ELEMENTWISE, ids=[f"{i}-{row.name}" for i, row in ELEMENTWISE])
def test_elementwise_rules_are_inlined(index, row):
    """An elementwise rule's body is in the generated code (not a call of the
    rule), and an operand of a binary ufunc that has the result's shape gets
    no `unbroadcast`."""
    rng = np.random.default_rng(index)
    args = [spec.draw(rng) for spec in row.args.values()]
    value = getattr(MODULE, f"value_{index}")(*args)
    wrt = tuple(i for i, a in enumerate(args) if isinstance(a, (float, np.ndarray)))
    loss = getattr(MODULE, f"loss_{index}")
    text = s2sad.source(s2sad.grad(loss, wrt=wrt), *args, cotangent(value, python_float_for_scalar=True))
    assert "cotangents(" not in text and "_adjoint(" not in text, text
    if isinstance(row.fn, np.ufunc) and row.fn.nin == 2:
        for name, a in zip(row.args, args):
            if np.shape(a) == np.shape(value):
                assert f"d{name} = unbroadcast" not in text, text
