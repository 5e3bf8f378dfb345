"""Every registered rule, driven by one table (`rule_table.ROWS`): the
gradient of `np.sum(<call> * c)` against central differences, jvp against
the gradient, and the gradient on StrictArrays (`fdcheck.check_gradient`),
in float64 and float32; and a check that no registered rule lacks a row."""

import os

import numpy as np
import pytest

import s2sad
from s2sad import rules

from fdcheck import check_gradient, cotangent, numerical_grad
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


# ---- the Dask leg ---------------------------------------------------------------------
#
# Each float64 case again with its arrays as Dask arrays, every axis chunked in
# two: the gradient builds a graph (it computes no more than the function itself
# does on Dask, plus one value per Python-float argument, whose gradient is a
# Python float) and gives the NumPy gradient, or, where Dask computes another
# function (QR's signs), the central differences of Dask's.  A function the
# loss itself cannot run on Dask is skipped (docs/dask.md lists them); a
# gradient Dask cannot build is in DASK_GRADIENT_GAPS, which must still fail.
# The default suite runs a sample; `S2SAD_DASK_ALL=1` every case.

DASK_ALL = os.environ.get("S2SAD_DASK_ALL") == "1"
DASK_CASES = CASES if DASK_ALL else CASES[::9]

# rows whose gradient fails on Dask (with an error) though the function runs there,
# and rows whose gradient computes on Dask; docs/dask.md lists both
_SQUARE = "Dask's np.linalg.inv needs square chunks"
DASK_GRADIENT_GAPS = {
    "np_linalg_cholesky__x___x_T____2": "Dask's cholesky returns the upper factor: refused",
    "np_linalg_det_x": _SQUARE, "np_linalg_det_a": _SQUARE, "np_linalg_slogdet_x__1": _SQUARE,
    "np_linalg_slogdet_a__1": _SQUARE, "return_logdet": _SQUARE, "return_sign___logdet": _SQUARE,
    "np_vdot_a__b": "Dask cannot reshape across these chunks",
    "np_pad_x___5__7___mode__reflect": "Dask's np.pad reflects widths beyond the array otherwise",
    "runtime_unrepeat_g__x___1__2__0": "Dask's np.repeat takes one count (a second-order rule)",
    "runtime_take_adjoint_g__x___3__0__3___None": "Dask's np.take needs an axis (a second-order rule)",
}
DASK_COMPUTES = {
    "np_cross_a__b": "Dask has no np.cross: the adjoint's crosses compute, as the function's does",
    "runtime_take_along_axis_adjoint_g__x__np_array__": "Dask has no np.take_along_axis",
    "sp_digamma_x": "scipy.special.polygamma is no ufunc: it computes a Dask array",
    "sp_polygamma_1__x": "scipy.special.polygamma is no ufunc", "sp_polygamma_3__x": "(the same)",
}


def to_dask(a):
    """`a` as a Dask array with every axis in two chunks (an array; else `a`)."""
    import dask.array as da
    if not isinstance(a, np.ndarray):
        return a
    return da.from_array(a, chunks=tuple(max(1, (n + 1) // 2) for n in a.shape))


def dask_case(index, row, case, wrt):
    """Run one case on Dask arrays: ("skip", why) where the function itself
    fails on Dask, ("gap", error) where only its gradient does, else
    ("right" or "WRONG", computes during the gradient call beyond the allowed)."""
    import warnings
    from test_dask import Computes
    if "mode='empty'" in row.expr:
        return "skip", "np.pad's mode 'empty' leaves values undefined"
    rng = np.random.default_rng(index)
    args = [spec.draw(rng) for spec in case.values()]
    value_fn, loss = getattr(MODULE, f"value_{index}"), getattr(MODULE, f"loss_{index}")
    value = value_fn(*args)
    c = cotangent(value, python_float_for_scalar=True)
    wrt = tuple(i for i, (n, a) in enumerate(zip(case, args))
                if isinstance(a, (float, np.ndarray)) and (wrt is None or n in wrt))
    lazy = [to_dask(a) for a in args + [c]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # (Dask's FutureWarnings on functions it lacks)
        try:
            with Computes() as forward:
                lazy_loss = loss(*lazy)
            on_dask = float(np.asarray(lazy_loss.compute() if hasattr(lazy_loss, "compute") else lazy_loss))
        except Exception as exc:            # noqa: BLE001  (Dask's own errors)
            return "skip", f"{type(exc).__name__}: {str(exc)[:120]}"
        try:
            with Computes() as computes:
                got = s2sad.grad(loss, wrt=wrt)(*lazy)
            got = [np.asarray(g.compute() if hasattr(g, "compute") else g) for g in got]
        except Exception as exc:            # noqa: BLE001
            return "gap", exc
    extra = computes.count - forward.count - sum(isinstance(args[i], float) for i in wrt)
    if np.isclose(on_dask, float(loss(*args, c)), rtol=1e-9, atol=1e-12):
        expected = s2sad.grad(loss, wrt=wrt)(*args, c)
        right = all(np.allclose(g, e, rtol=1e-9, atol=1e-12) for g, e in zip(got, expected))
    else:                                   # another function (QR's signs): its differences
        def on_dask_loss(*values):
            out = loss(*[to_dask(v) for v in values], lazy[-1])
            return out.compute() if hasattr(out, "compute") else out
        right = all(np.allclose(g, numerical_grad(on_dask_loss, args, i), rtol=1e-5, atol=1e-6)
                    for i, g in zip(wrt, got))
    return ("right" if right else "WRONG"), max(extra, 0)


@pytest.mark.parametrize("index, row, case, wrt", DASK_CASES)
def test_rule_on_dask(index, row, case, wrt):
    pytest.importorskip("dask.array")
    if row.check is not None:
        pytest.skip("a row with a check of its own runs on NumPy")
    outcome, detail = dask_case(index, row, case, wrt)
    if outcome == "skip":
        pytest.skip(f"Dask does not run the function itself: {detail}")
    if outcome == "gap":
        if row.name in DASK_GRADIENT_GAPS:
            pytest.xfail(DASK_GRADIENT_GAPS[row.name])
        raise detail
    assert outcome == "right", "the gradient on Dask arrays differs from NumPy's"
    if row.name not in DASK_COMPUTES:
        assert detail == 0, f"the gradient call computed {detail} more graph(s) than the function does"
