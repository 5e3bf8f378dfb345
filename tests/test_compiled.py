"""Compiled gradients, `grad(f, compile="numba" | "auto")`: equal to the plain
ones (1e-12 relative) on a sample of the control-flow and in-place test sets,
globals read at call time, what Numba does not compile refused (a
TransformError naming the user's line) or, with "auto", run plain after one
warning.  The whole sets: `S2SAD_CHECK_COMPILED=1 python -m pytest
tests/test_control_flow.py tests/test_in_place.py tests/test_control_flow_stress.py`
(`fdcheck.check_compiled` on every gradient they check)."""

import re
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest

import s2sad
from fdcheck import assert_same, check_compiled, check_gradient
import test_control_flow as cf
import test_in_place as ip

pytest.importorskip("numba")

from s2sad.compiled import CompileWarning  # noqa: E402


def rand(*shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def compiled_equals_plain(f, args, wrt=0):
    expected = s2sad.grad(f, wrt=wrt)(*args)
    assert check_compiled(f, args, wrt, expected), f"{f.__name__} did not compile"


# ---- a sample of the control-flow and in-place sets -------------------------------------

SAMPLE = [
    ("while", cf.f_while, (rand(3, seed=1) * 0.5,), 0),
    ("while_true_break", cf.f_while_true, (rand(3, seed=35) * 0.3, 0.01), 0),
    ("break_in_for", cf.f_break_in_for, (np.linspace(0.2, 0.6, 4), 10), 0),
    ("continue_masked", cf.f_continue_masked, (rand(6, seed=36), np.array([1, 0, 0, 1, 0, 1]) > 0), 0),
    ("continue_break_while", cf.f_continue_and_break_in_while, (np.array([0.3, -0.2, 0.5, 0.95, 0.4]),),
     0),
    ("elif", cf.f_elif, (rand(3, 4, seed=2),), 0),
    ("return_in_loop", cf.return_in_loop, (rand(6, seed=3), 1.5), 0),
    ("histogram_loop", ip.histogram_loop, (rand(6, seed=9), np.array([0, 1, 1, 3, 0, 1])), 0),
    ("recurrence", ip.recurrence, (rand(6, seed=11),), 0),
    ("mask_update", ip.mask_update, (rand(5, seed=12),), 0),
]


@pytest.mark.parametrize("f, args, wrt", [s[1:] for s in SAMPLE], ids=[s[0] for s in SAMPLE])
def test_compiled_equals_plain(f, args, wrt):
    compiled_equals_plain(f, args, wrt)


# ---- the scalar loop compiled, in the forms Numba compiles well ---------------------------

def building(heat, outdoor, temp0, R, C, dt, target):
    temp = temp0
    total = 0.0
    for t in range(len(heat)):
        temp = temp + dt * ((outdoor[t] - temp) / (R * C) + heat[t] / C)
        total = total + 0.2 * heat[t] + 0.1 * (temp - target) ** 2
    return total


def building_args(T=24):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 2, T), 5 + rng.normal(0, 1, T), 20.0, 2.0, 10.0, 0.5, 21.0


def test_scalar_loop_compiled_against_finite_differences():
    args = building_args()
    expected = check_gradient(building, args, strict=False)
    dc = s2sad.grad(building, compile="numba")
    assert_same(dc(*args), expected)
    text = s2sad.source(dc)
    # a stack of numbers preallocated, a reverse loop counting down: what is compiled
    assert "temp_stack = np.empty(max(len_heat, 0))" in text
    assert "temp_stack[temp_stack_size] = temp" in text
    assert "for t in range(len_heat - 1, -1, -1):" in text
    assert "reversed" not in text and ".append(" not in text
    assert "reversed(range(len_heat))" in s2sad.source(s2sad.grad(building), *args)   # plain: as it was


def test_loops_left_by_break_count_down_their_trips():
    dc = s2sad.grad(cf.f_break_in_for, compile="numba")
    x = np.linspace(0.2, 0.6, 4)
    for n in (0, 2, 10):
        assert_same(dc(x, n), s2sad.grad(cf.f_break_in_for)(x, n))
    text = s2sad.source(dc)
    assert "for i in range(min(n, trips) - 1, -1, -1):" in text     # reversed(range(n)[:trips])
    assert "y_stack = []" in text        # a stack of arrays stays a list (a typed list in Numba)


def counting_down_then_break(y, x):
    for i in reversed(range(y.shape[0])):         # (fuzz seed 52, program 1391)
        if np.all(y > -0.64):
            break
        y = x = x * 0.9 + y[i]
    return np.sum(y * y)


def test_loops_counting_down_reverse_right():
    y = np.array([-0.15, 0.07, 0.17, -0.82])
    for x in (np.array([-0.55, 0.2, -0.07, -0.54]), np.array([-0.9, -0.8, -0.7, -0.6])):
        compiled_equals_plain(counting_down_then_break, (y, x), (0, 1))
    dc = s2sad.grad(counting_down_then_break, compile="numba")
    code = [line for line in s2sad.source(dc, y, x).splitlines() if not line.strip().startswith("#")]
    assert not any("reversed" in line for line in code)


def shared_stack(x, n):
    s = 0.0
    for i in range(n):
        s = np.sin(s) + x * i          # the top and the end of each trip are both needed
    return s * s


def test_stacks_of_numbers_are_preallocated():
    dc = s2sad.grad(shared_stack, compile="numba")
    for n in (0, 1, 6):
        assert dc(0.7, n) == pytest.approx(s2sad.grad(shared_stack)(0.7, n), rel=1e-12)
    assert "np.empty(" in s2sad.source(dc) and ".append(" not in s2sad.source(dc)


def test_value_and_grad_and_jvp_compiled():
    args = building_args()
    value, g = s2sad.value_and_grad(building, compile="numba")(*args)
    assert value == pytest.approx(building(*args), rel=1e-12)
    assert_same(g, s2sad.grad(building)(*args))
    tangent = rand(len(args[0]), seed=4)
    v2, t2 = s2sad.jvp(building, compile="numba")(*args, tangent)
    v1, t1 = s2sad.jvp(building)(*args, tangent)
    assert v2 == pytest.approx(v1, rel=1e-12) and t2 == pytest.approx(t1, rel=1e-12)


def test_hvp_compiled():
    args = building_args()
    v = rand(len(args[0]), seed=3)
    hc = s2sad.hvp(building, compile="numba")
    np.testing.assert_allclose(hc(*args, v), s2sad.hvp(building)(*args, v), rtol=1e-12, atol=1e-300)
    assert "np.empty" in s2sad.source(hc)       # forward mode over the gradient in compiled forms


def test_checkpointed_loop_compiled():
    args = building_args(T=50)
    plain = s2sad.grad(building, checkpoint=True)(*args)
    dc = s2sad.grad(building, checkpoint=True, compile="numba")
    assert_same(dc(*args), plain)
    assert "reversed" not in s2sad.source(dc)


def test_keyword_and_default_arguments_compiled():
    def damped(x, k=0.5, *, steps=5):
        for _ in range(steps):
            x = x - k * np.sin(x)
        return x * x

    dc = s2sad.grad(damped, compile="numba")
    d = s2sad.grad(damped)
    assert dc(0.7) == pytest.approx(d(0.7), rel=1e-12)
    assert dc(0.7, steps=8, k=0.3) == pytest.approx(d(0.7, steps=8, k=0.3), rel=1e-12)


# ---- globals and closure cells are read at call time --------------------------------------

GAIN = 2.0
TABLE = np.array([1.0, 2.0, 3.0])


def uses_globals(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + GAIN * TABLE[i] * x[i] ** 2
    return s


def scaled(a):
    return GAIN * a * a


def weight_of(i, scale=1.0):             # called as it is (on no value with a gradient)
    return scale * GAIN * (i + 1)


def weighted_by_helper(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + weight_of(i, scale=0.5) * x[i] ** 2
    return s


def helper_reads_global(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + scaled(x[i])
    return s


def test_globals_changed_between_calls_are_honoured():
    global GAIN
    x = rand(3, seed=6)
    dc = s2sad.grad(uses_globals, compile="numba")
    np.testing.assert_allclose(dc(x), 2 * GAIN * TABLE * x, rtol=1e-12)
    try:
        GAIN = -3.0
        np.testing.assert_allclose(dc(x), 2 * GAIN * TABLE * x, rtol=1e-12)
        TABLE[1] = 10.0                      # an array changed in place
        np.testing.assert_allclose(dc(x), 2 * GAIN * TABLE * x, rtol=1e-12)
        np.testing.assert_allclose(s2sad.grad(helper_reads_global, compile="numba")(x),
                                   2 * GAIN * x, rtol=1e-12)     # read by a helper's kernel
        dw = s2sad.grad(weighted_by_helper, compile="numba")
        np.testing.assert_allclose(dw(x), GAIN * np.arange(1, 4) * x, rtol=1e-12)
        GAIN = 5.0                           # read by a function called as it is, compiled too
        np.testing.assert_allclose(dw(x), GAIN * np.arange(1, 4) * x, rtol=1e-12)
        assert "def weight_of(i, scale=1.0, GAIN=None):" in s2sad.source(dw)
    finally:
        GAIN = 2.0
        TABLE[1] = 2.0
    assert re.search(r"def duses_globals\(x, (GAIN, TABLE|TABLE, GAIN)\):", s2sad.source(dc))


def test_closure_cells_read_at_call_time():
    scale = 1.5

    def f(x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + scale * x[i] ** 3
        return s

    x = rand(4, seed=7)
    dc = s2sad.grad(f, compile="numba")
    np.testing.assert_allclose(dc(x), 3 * scale * x ** 2, rtol=1e-12)
    scale = 4.0
    np.testing.assert_allclose(dc(x), 3 * scale * x ** 2, rtol=1e-12)


# ---- np.add.at: a scatter-add of Numba's own --------------------------------------------

def add_at(w, idx):
    h = np.zeros(3)
    np.add.at(h, idx, w)
    return np.sum(h * h)


def add_rows_at(W, idx, c):
    H = np.zeros((3, W.shape[1]))
    np.add.at(H, idx, W)
    np.add.at(H, 0, c)
    return np.sum(H ** 2)


def test_np_add_at_compiles_and_checks_its_index():
    w, idx = rand(4, seed=8), np.array([0, 2, 2, -1])
    compiled_equals_plain(add_at, (w, idx))
    compiled_equals_plain(add_rows_at, (rand(4, 2, seed=9), idx, rand(2, seed=10)), (0, 2))
    assert "add_at(h, idx, w)" in s2sad.source(s2sad.grad(add_at, compile="numba"), w, idx)
    with pytest.raises(IndexError):                     # as NumPy: not a write out of bounds
        s2sad.grad(add_at, compile="numba")(w, np.array([0, 3, 1, 1]))


# ---- what does not compile ----------------------------------------------------------------

def unbiased(x):
    return np.var(x * x, ddof=1)


def test_numba_refuses_with_the_users_line():
    with pytest.raises(s2sad.TransformError) as info:
        s2sad.grad(unbiased, compile="numba")(rand(4))
    text = str(info.value)
    assert "in unbiased" in text and "test_compiled.py" in text and "np.var(" in text
    assert "compile='auto'" in text                       # says what to do
    assert info.value.lineno == unbiased.__code__.co_firstlineno + 1


def test_recursive_helpers_are_refused():
    with pytest.raises(s2sad.TransformError, match="recursive helper"):
        s2sad.grad(cf.mutual_recursion, compile="numba")(rand(3, seed=51) * 0.5, 3)


def test_auto_falls_back_with_one_warning():
    x = rand(4, seed=8)
    da = s2sad.grad(unbiased, compile="auto")
    with pytest.warns(CompileWarning, match=r"np\.var\("):
        got = da(x)
    assert_same(got, s2sad.grad(unbiased)(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # once: not again at the next call
        assert_same(da(x), got)
    assert "KindChanged" not in s2sad.source(da)          # the plain code runs


def test_auto_compiles_where_it_can():
    args = building_args()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        da = s2sad.grad(building, compile="auto")
        assert_same(da(*args), s2sad.grad(building)(*args))
    assert "np.empty" in s2sad.source(da)


def test_bad_compile_option():
    with pytest.raises(TypeError, match="compile must be"):
        s2sad.grad(building, compile="jit")


# ---- the fast path: Numba's dispatch on types, the kernel's check of size-one dimensions ----

def test_calls_with_other_kinds_get_their_own_builds():
    dc, d = s2sad.grad(building, compile="numba"), s2sad.grad(building)
    long, one = building_args(), building_args(T=1)
    for args in (long, one, long, one, long[:3] + (2, 10, 0.5, 21.0)):     # R an int at last
        assert_same(dc(*args), d(*args))
    assert "if heat.shape[0] == 1 or outdoor.shape[0] == 1:" in s2sad.source(dc, *long)
    assert "if heat.shape[0] != 1 or outdoor.shape[0] != 1:" in s2sad.source(dc, *one)


def matrix_loop(W, x):
    h = x
    for _ in range(3):
        h = np.tanh(W @ h)
    return np.sum(h)


def test_auto_leaves_matrix_products_to_numpy():
    W, x = rand(3, 3, seed=1), rand(3, seed=2)
    with pytest.warns(CompileWarning, match="multiplies matrices"):
        got = s2sad.grad(matrix_loop, compile="auto")(W, x)
    assert_same(got, s2sad.grad(matrix_loop)(W, x))


# ---- pytrees flattened at the boundary -----------------------------------------------------

@dataclass
class Params:
    w: np.ndarray
    c: float


class Pair(NamedTuple):
    a: float
    b: np.ndarray


def tree_loop(p, q, n):
    s = 0.0
    for i in range(n):
        s = s + p.c * np.sum(p.w * q.b) * q.a ** i
    return s


def dict_loop(p, xs):
    s = 0.0
    for t in range(xs.shape[0]):
        s = s + np.sum(np.tanh(p["W"] * xs[t] + p["b"]) ** 2)
    return s


def test_pytrees_go_in_as_leaves_and_come_out_rebuilt():
    args = (Params(np.arange(3.0), 0.5), Pair(0.9, np.ones(3)), 4)
    value, g = s2sad.value_and_grad(tree_loop, wrt=(0, 1), compile="numba")(*args)
    value0, g0 = s2sad.value_and_grad(tree_loop, wrt=(0, 1))(*args)
    assert value == pytest.approx(value0, rel=1e-12)
    assert type(g[0]) is Params and type(g[1]) is Pair
    for got, expected in zip((g[0].w, g[0].c, g[1].a, g[1].b), (g0[0].w, g0[0].c, g0[1].a, g0[1].b)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    p, xs = {"W": rand(3, seed=1), "b": rand(3, seed=2)}, rand(5, 3, seed=3)
    dc = s2sad.grad(dict_loop, compile="numba")
    assert_same(dc(p, xs), s2sad.grad(dict_loop)(p, xs))
    assert "def ddict_loop(p_W, p_b, xs):" in s2sad.source(dc)


def tree_passed_whole(p, x):
    return np.sum(x * p["w"]) * len(p)


def test_a_pytree_used_whole_is_refused():
    with pytest.raises(s2sad.TransformError, match="other than leaf by leaf"):
        s2sad.grad(tree_passed_whole, compile="numba")({"w": rand(3)}, rand(3))


def test_without_numba(monkeypatch):
    import s2sad.compiled as compiled
    monkeypatch.setattr(compiled, "numba_available", lambda: False)
    with pytest.raises(ImportError, match=r"pip install 's2sad\[numba\]'"):
        s2sad.grad(building, compile="numba")

    def cubes(x):                      # (a function of its own: builds are shared by function)
        s = 0.0
        for i in range(x.shape[0]):
            s = s + x[i] ** 3
        return s

    x = rand(4, seed=9)
    with pytest.warns(CompileWarning, match="Numba is not installed"):
        got = s2sad.grad(cubes, compile="auto")(x)
    np.testing.assert_allclose(got, 3 * x ** 2, rtol=1e-12)


def sines(w, x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sin(w * x[i])
    return s


dsines = s2sad.grad(sines, compile="numba")


def penalty(w, x):
    g = dsines(w, x)                   # a compiled gradient inside a loss
    return g * g


def test_a_loss_calling_a_compiled_gradient_is_differentiated_through_its_plain_code():
    x = np.linspace(0.0, 1.0, 5)
    expected = 2 * dsines(0.3, x) * np.sum(-x * x * np.sin(0.3 * x))
    assert s2sad.grad(penalty)(0.3, x) == pytest.approx(expected, rel=1e-12)


@dataclass
class Model:
    w: np.ndarray
    k: float

    def loss(self, x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + self.k * np.sum(self.w * x[i]) ** 2
        return s


class PlainModel:
    def __init__(self):
        self.w = np.ones(3)

    def loss(self, x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + np.sum(self.w * x[i]) ** 2
        return s


def test_methods_compiled_self_read_at_call_time():
    x, m = rand(4, 3, seed=2), Model(rand(3, seed=3), 2.0)
    dc = s2sad.grad(m.loss, compile="numba")
    np.testing.assert_allclose(dc(x), s2sad.grad(m.loss)(x), rtol=1e-12)
    m.k = 5.0                                            # self's attributes: read at each call
    np.testing.assert_allclose(dc(x), s2sad.grad(m.loss)(x), rtol=1e-12)
    g = s2sad.grad(Model.loss, compile="numba")(m, x)    # with respect to self: a Model
    assert type(g) is Model and g.k == pytest.approx(s2sad.grad(Model.loss)(m, x).k, rel=1e-12)
    with pytest.raises(s2sad.TransformError, match="Python object Numba cannot type"):
        s2sad.grad(PlainModel().loss, compile="numba")(x)


def with_aux(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] ** 2
    return s, {"n": x.shape[0] * 1.0, "last": x[-1]}


def test_aux_dicts_come_back_as_dicts():
    x = np.linspace(0.0, 1.0, 5)
    dc = s2sad.grad(with_aux, has_aux=True, compile="numba")
    for _ in range(2):                               # (the second call: the fast path's way)
        g, aux = dc(x)
        assert type(aux) is dict and aux == {"n": 5.0, "last": 1.0}
        np.testing.assert_allclose(g, 2 * x, rtol=1e-12)
