"""Custom rules (API.md "Extending and steering the gradient"):
`@s2sad.adjoint(fn)`, `@s2sad.tangent(fn)` and `s2sad.stop_gradient`.

Every value is checked in float64 against central finite differences
(`fdcheck.numerical_grad`, and `directional` below for forward mode) or
against a closed form.  Rules registered on shared objects (`scipy.special.erf`,
module-level partials) are undone after each test by `isolated_registry`, so
no test leaks a rule into another.
"""

import functools
import inspect
import re

import numpy as np
import pytest

import s2sad
from s2sad import rules as registry
from fdcheck import assert_close, check_gradient, numerical_grad

rng = np.random.default_rng(2024)


@pytest.fixture(autouse=True)
def isolated_registry():
    """Restore the rule registry after each test (the registry is process-wide)."""
    state = registry.snapshot()
    yield
    registry.restore(state)                  # (builds made with a test's rules are stale)


def directional(f, args, i, v, eps=1e-6):
    """d/dt sum(f(..., args[i] + t v, ...)) at t = 0 by central differences (float64)."""
    def at(t):
        moved = list(args)
        moved[i] = args[i] + t * v
        return float(np.sum(f(*moved)))
    return (at(eps) - at(-eps)) / (2 * eps)


def check_jvp_fd(f, args, i=0, seed=3):
    """`s2sad.jvp(f, wrt=i)` returns (f(*args), tangent) with the tangent equal to
    the directional finite difference along a random direction."""
    v = np.random.default_rng(seed).normal(size=np.shape(args[i]))
    v = float(v) if isinstance(args[i], float) else v
    value, t = s2sad.jvp(f, wrt=i)(*args, v)
    assert_close(value, f(*args), rtol=1e-12, atol=1e-12)
    assert_close(np.sum(t), directional(f, args, i, v), rtol=1e-6, atol=1e-8)
    return t


# ---- a function without source: a partial of a ufunc ---------------------------------------

double = functools.partial(np.multiply, 2.0)


def register_double(adjoint=True, tangent=True):
    if adjoint:
        @s2sad.adjoint(double)
        def _(g, result, x):
            return 2.0 * g

    if tangent:
        @s2sad.tangent(double)
        def _(tangents, result, x):
            (dx,) = tangents
            return 2.0 * dx


def partial_in_expression(x, y):
    return np.sum(np.tanh(double(x) * y + 1.0) ** 2)


def partial_in_loop(x, y):
    s = 0.0
    h = x
    for _ in range(3):
        h = np.sin(double(h)) * y
        s = s + np.sum(h * h)
    return s


def partial_broadcast(x, y):                  # x (3, 1), y (4,): the result is (3, 4)
    return np.sum(np.cos(double(x) + y) * double(y))


def partial_of_float(x, y):
    return double(x) * double(x) * np.sum(y)


PARTIAL_CASES = [
    (partial_in_expression, lambda: (rng.normal(size=(2, 3)), rng.normal(size=(2, 3)))),
    (partial_in_loop, lambda: (rng.normal(size=4), rng.normal(size=4))),
    (partial_broadcast, lambda: (rng.normal(size=(3, 1)), rng.normal(size=4))),
    (partial_of_float, lambda: (0.7, rng.normal(size=3))),
]
PARTIAL_IDS = ["expression", "loop", "broadcast", "float"]


def test_a_partial_of_a_ufunc_has_no_gradient_until_registered():
    x, y = rng.normal(size=3), rng.normal(size=3)
    with pytest.raises(s2sad.TransformError, match="no gradient rule"):
        s2sad.grad(partial_in_expression)(x, y)
    register_double(tangent=False)
    assert_close(s2sad.grad(partial_in_expression)(x, y), numerical_grad(partial_in_expression, (x, y), 0))


@pytest.mark.parametrize("f, make", PARTIAL_CASES, ids=PARTIAL_IDS)
def test_partial_adjoint(f, make):
    register_double()
    args = make()
    check_gradient(f, args, (0, 1))          # FD, dtype/shape, jvp == grad.v, StrictArray


@pytest.mark.parametrize("f, make", PARTIAL_CASES, ids=PARTIAL_IDS)
def test_partial_tangent(f, make):
    register_double()
    args = make()
    check_jvp_fd(f, args, 0)
    check_jvp_fd(f, args, 1)


def test_partial_rule_is_what_runs():
    """A deliberately wrong rule shows that the registered rule, not some
    built-in knowledge of np.multiply, gives the gradient and the tangent."""
    @s2sad.adjoint(double)
    def _(g, result, x):
        return 5.0 * g

    @s2sad.tangent(double)
    def _(tangents, result, x):
        return 7.0 * tangents[0]

    def f(x):
        return np.sum(double(x))

    x = rng.normal(size=3)
    assert_close(s2sad.grad(f)(x), np.full(3, 5.0))
    value, t = s2sad.jvp(f)(x, np.ones(3))
    assert_close(value, 2.0 * np.sum(x))
    assert_close(t, 21.0)


# ---- a function without source: scipy.special.erf ---------------------------------------


@pytest.fixture
def erf():
    special = pytest.importorskip("scipy.special")

    @s2sad.adjoint(special.erf)
    def _(g, result, x):
        return g * (2.0 / np.sqrt(np.pi)) * np.exp(-x * x)

    @s2sad.tangent(special.erf)
    def _(tangents, result, x):
        (dx,) = tangents
        return dx * (2.0 / np.sqrt(np.pi)) * np.exp(-x * x)

    return special.erf


def test_erf_gradient_and_tangent_in_expressions_loops_and_broadcasting(erf):
    def gelu_like(x, w):
        return np.sum(0.5 * x * (1.0 + erf(x @ w / np.sqrt(2.0))))

    def looped(x, y):
        s = 0.0
        for k in range(1, 4):
            s = s + np.sum(erf(x * k + y) * y)
        return s

    def broadcast(x, y):                      # (3, 1) with (4,)
        return np.sum(erf(x - y) ** 2)

    cases = [(gelu_like, (rng.normal(size=(2, 3)), rng.normal(size=(3, 3)))),
             (looped, (rng.normal(size=4), rng.normal(size=4))),
             (broadcast, (rng.normal(size=(3, 1)), rng.normal(size=4))),
             (lambda x, y: erf(x) * np.sum(erf(y)), (0.3, rng.normal(size=2)))]
    for f, args in cases:
        check_gradient(f, args, (0, 1), strict=False)     # scipy's erf needs host arrays
        check_jvp_fd(f, args, 0)
        check_jvp_fd(f, args, 1)


def test_erf_gradient_matches_the_closed_form(erf):
    def f(x):
        return np.sum(erf(x))

    x = np.linspace(-2.0, 2.0, 7)
    assert_close(s2sad.grad(f)(x), 2.0 / np.sqrt(np.pi) * np.exp(-x * x), rtol=1e-12, atol=0)
    _, t = s2sad.jvp(f)(x, np.ones_like(x))
    assert_close(t, np.sum(2.0 / np.sqrt(np.pi) * np.exp(-x * x)), rtol=1e-12, atol=0)


# ---- a registered rule wins over the function's own source ---------------------------------


def ste_round(x):
    return np.round(x)


def test_straight_through_estimator_overrides_the_source():
    def f(x, w):
        return np.sum(ste_round(x * 3.0) * w)

    x, w = rng.normal(size=5), rng.normal(size=5)
    assert_close(s2sad.grad(f)(x, w), np.zeros(5))       # the source: round is flat

    @s2sad.adjoint(ste_round)
    def _(g, result, x):
        return g

    assert_close(s2sad.grad(f)(x, w), 3.0 * w, rtol=1e-12, atol=0)   # the rule: identity
    assert_close(s2sad.grad(f, wrt=1)(x, w), np.round(3.0 * x), rtol=1e-12, atol=0)

    @s2sad.tangent(ste_round)
    def _(tangents, result, x):
        return tangents[0]

    v = rng.normal(size=5)
    value, t = s2sad.jvp(f)(x, w, v)
    assert_close(value, f(x, w))
    assert_close(t, np.sum(3.0 * w * v), rtol=1e-12, atol=1e-12)


def naive_softplus(x):
    return np.log(1.0 + np.exp(x))


def test_safer_softplus_gradient_overrides_the_source():
    def f(x):
        return np.sum(naive_softplus(x))

    x = np.array([-800.0, -3.0, 0.0, 2.0, 800.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = s2sad.grad(f)(x)
    assert not np.isfinite(naive[-1])                    # exp(800) overflows: inf / inf

    @s2sad.adjoint(naive_softplus)
    def _(g, result, x):
        return g * 0.5 * (1.0 + np.tanh(0.5 * x))       # the sigmoid, overflow-free

    @s2sad.tangent(naive_softplus)
    def _(tangents, result, x):
        return tangents[0] * 0.5 * (1.0 + np.tanh(0.5 * x))

    sigmoid = 0.5 * (1.0 + np.tanh(0.5 * x))
    with np.errstate(over="ignore"):                     # the forward value still overflows
        assert_close(s2sad.grad(f)(x), sigmoid, rtol=1e-12, atol=1e-300)
        _, t = s2sad.jvp(f)(x, np.ones_like(x))
    assert_close(t, np.sum(sigmoid), rtol=1e-12, atol=0)
    y = rng.normal(size=(2, 3))                          # and it is right where FD works
    check_gradient(f, (y,), 0)
    check_jvp_fd(f, (y,), 0)


def safe_norm(x):
    return np.sqrt(np.sum(x * x))


def test_safe_norm_with_a_custom_gradient_at_zero():
    def f(x, y):
        return safe_norm(x) * 2.0 + np.sum(y * x)

    zero, y = np.zeros(3), rng.normal(size=3)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert not np.all(np.isfinite(s2sad.grad(f)(zero, y)))    # the source: 0 / 0

    @s2sad.adjoint(safe_norm)
    def _(g, result, x):
        return g * x / np.where(result == 0.0, 1.0, result)

    assert_close(s2sad.grad(f)(zero, y), y, rtol=1e-12, atol=0)
    x = rng.normal(size=3)
    assert_close(s2sad.grad(f)(x, y), 2.0 * x / np.linalg.norm(x) + y, rtol=1e-12, atol=0)
    assert_close(s2sad.grad(f)(x, y), numerical_grad(f, (x, y), 0))


class Ops:
    @classmethod
    def snap(cls, x):
        return np.round(x)

    @staticmethod
    def snap_static(x):
        return np.round(x)


def test_rules_on_a_classmethod_and_a_staticmethod():
    """`Ops.snap` is a new bound-method object at every access: the rule must
    still be found at the call site."""
    @s2sad.adjoint(Ops.snap)
    def _(g, result, x):
        return g * 5.0

    @s2sad.adjoint(Ops.snap_static)
    def _(g, result, x):
        return g * 6.0

    def f(x):
        return np.sum(Ops.snap(x) + Ops.snap_static(x) * x)

    x = rng.normal(size=3)
    assert_close(s2sad.grad(f)(x), 5.0 + 6.0 * x + np.round(x), rtol=1e-12, atol=0)


def test_jvp_does_not_silently_use_the_source_an_adjoint_overrides():
    @s2sad.adjoint(ste_round)
    def _(g, result, x):
        return g

    def f(x):
        return np.sum(ste_round(x) * 2.0)

    x, v = np.array([0.3, 1.7]), np.array([1.0, -0.5])
    assert_close(s2sad.grad(f)(x), np.full(2, 2.0))
    try:
        _, t = s2sad.jvp(f)(x, v)
    except s2sad.TransformError as exc:
        assert "tangent" in str(exc) and "ste_round" in str(exc)
    else:
        assert_close(t, np.sum(2.0 * v))                # == grad . v


# ---- how arguments reach a rule and what it may return ---------------------------------------


def test_keywords_arrive_by_name():
    def affine_sq(x, factor=1.0, *, shift=0.0):
        return (x * factor + shift) ** 2

    @s2sad.adjoint(affine_sq)                 # uses factor and shift, not `result`
    def _(g, result, x, factor=1.0, *, shift=0.0):
        return g * 2.0 * (x * factor + shift) * factor

    def by_keyword(x):
        return np.sum(affine_sq(x, factor=3.0, shift=5.0))

    def by_position(x):
        return np.sum(affine_sq(x, 3.0, shift=5.0))

    def keywords_reversed(x):
        return np.sum(affine_sq(x, shift=-2.0, factor=0.5))

    def with_defaults(x):
        return np.sum(affine_sq(x))

    x = rng.normal(size=4)
    expected = {by_keyword: 2 * (3 * x + 5) * 3, by_position: 2 * (3 * x + 5) * 3,
                keywords_reversed: 2 * (0.5 * x - 2) * 0.5, with_defaults: 2 * x}
    for f, closed_form in expected.items():
        g = s2sad.grad(f)(x)
        assert_close(g, closed_form, rtol=1e-12, atol=1e-12)
        assert_close(g, numerical_grad(f, (x,), 0))


def test_keywords_reach_a_rule_taking_kwargs():
    def power_of(x, p=2.0):
        return x ** p

    @s2sad.adjoint(power_of)
    def _(g, result, x, **kwargs):
        p = kwargs.get("p", 2.0)
        return g * p * x ** (p - 1.0)

    def f(x):
        return np.sum(power_of(x, p=3.0)) + np.sum(power_of(x))

    x = rng.uniform(0.5, 2.0, size=3)
    assert_close(s2sad.grad(f)(x), 3.0 * x ** 2 + 2.0 * x, rtol=1e-12, atol=0)


def test_a_keyword_passed_to_a_sourceless_function():
    special = pytest.importorskip("scipy.special")

    @s2sad.adjoint(special.xlogy)            # xlogy(x, y) = x log y; a ufunc: out=, where=...
    def _(g, result, x, y, **kwargs):
        return g * np.log(y), g * x / y

    def f(x, y):
        return np.sum(special.xlogy(x, y, dtype=np.float64))

    x, y = rng.uniform(0.5, 2.0, size=3), rng.uniform(0.5, 2.0, size=3)
    assert_close(s2sad.grad(f, wrt=(0, 1))(x, y)[0], np.log(y), rtol=1e-12, atol=0)
    assert_close(s2sad.grad(f, wrt=(0, 1))(x, y)[1], x / y, rtol=1e-12, atol=0)


def test_none_means_no_gradient_for_that_argument():
    def repeat_scale(x, n):
        return x * n

    @s2sad.adjoint(repeat_scale)
    def _(g, result, x, n):
        return g * n, None                   # n is a count: no gradient

    def f(x, n):
        return np.sum(repeat_scale(x, n) ** 2)

    x, n = rng.normal(size=3), 3.0
    assert_close(s2sad.grad(f)(x, n), 2.0 * x * n * n, rtol=1e-12, atol=0)
    assert_close(s2sad.grad(f, wrt=1)(x, n), 0.0)        # no gradient reaches n
    gx, gn = s2sad.grad(f, wrt=(0, 1))(x, n)
    assert_close(gx, 2.0 * x * n * n, rtol=1e-12, atol=0)
    assert_close(gn, 0.0)


def test_none_for_one_argument_of_a_sourceless_function():
    add_then = functools.partial(np.add)                  # two inputs, no source

    @s2sad.adjoint(add_then)
    def _(g, result, x, y):
        return g, None

    def f(x, y):
        return np.sum(np.sin(add_then(x, y)))

    x, y = rng.normal(size=3), rng.normal(size=3)
    assert_close(s2sad.grad(f)(x, y), np.cos(x + y), rtol=1e-12, atol=0)
    assert_close(s2sad.grad(f, wrt=1)(x, y), np.zeros(3))


@pytest.mark.parametrize("form", ["bare", "tuple"])
def test_one_argument_rule_returns_a_bare_value_or_a_1_tuple(form):
    def cube(x):
        return x * x * x

    if form == "bare":
        @s2sad.adjoint(cube)
        def _(g, result, x):
            return g * 3.0 * x * x
    else:
        @s2sad.adjoint(cube)
        def _(g, result, x):
            return (g * 3.0 * x * x,)

    def f(x):
        return np.sum(np.sin(cube(x)))

    x = rng.normal(size=(2, 2))
    assert_close(s2sad.grad(f)(x), np.cos(x ** 3) * 3.0 * x * x, rtol=1e-12, atol=0)
    g = s2sad.grad(lambda x: cube(x) * 2.0)(0.5)
    assert isinstance(g, float) and g == pytest.approx(1.5, rel=1e-12)


@pytest.mark.parametrize("form", ["bare", "tuple"])
def test_one_argument_rule_called_not_inlined_returns_a_bare_value_or_a_1_tuple(form):
    def cube(x):
        return x * x * x

    def three(x):
        return 3.0 * x * x

    @s2sad.adjoint(cube)
    def _(g, result, x):
        if np.all(x > 100.0):                 # a data-dependent branch: called, not inlined
            return g * 0.0 if form == "bare" else (g * 0.0,)
        return g * three(x) if form == "bare" else (g * three(x),)

    def f(x):
        return np.sum(cube(x))

    x = rng.normal(size=3)
    df = s2sad.grad(f)
    assert_close(df(x), 3.0 * x * x, rtol=1e-12, atol=0)
    assert "cotangents(" in s2sad.source(df, x)          # it was called at run time
    g = s2sad.grad(lambda x: cube(x) * 2.0)(0.5)
    assert isinstance(g, float) and g == pytest.approx(1.5, rel=1e-12)


def blocky(x):
    return np.floor(x)


def blocky_rule(g, result, x):
    if np.all(x > 1e9):                       # data-dependent: called, not inlined
        return g * 0.0
    return g * 4.0


def blocky_tangent(tangents, result, x):
    if np.all(x > 1e9):
        return tangents[0] * 0.0
    return tangents[0] * 4.0


def uses_blocky(x):
    return np.sum(blocky(x))


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_a_called_rule_does_not_depend_on_the_users_global_name(mode):
    s2sad.adjoint(blocky)(blocky_rule)
    s2sad.tangent(blocky)(blocky_tangent)
    x = rng.normal(size=3)
    d = s2sad.grad(uses_blocky) if mode == "grad" else s2sad.jvp(uses_blocky)
    args = (x,) if mode == "grad" else (x, np.ones(3))
    first = d(*args)
    saved = globals()["blocky_rule"], globals()["blocky_tangent"]
    globals()["blocky_rule"] = globals()["blocky_tangent"] = 0      # the user rebinds the names
    try:
        again = d(*args)
    finally:
        globals()["blocky_rule"], globals()["blocky_tangent"] = saved
    assert_close(again[-1] if mode == "jvp" else again, first[-1] if mode == "jvp" else first)


# ---- registering discards gradients built before --------------------------------------------


def test_registering_an_adjoint_discards_built_gradients():
    def h(x):
        return np.sin(x)

    def f(x):
        return np.sum(h(x) * 2.0)

    df, vg = s2sad.grad(f), s2sad.value_and_grad(f)
    x, m = rng.normal(size=3), rng.normal(size=(2, 2))
    assert_close(df(x), 2.0 * np.cos(x))                  # built from h's source
    assert_close(df(m), 2.0 * np.cos(m))                  # another kind, another build
    assert_close(vg(x)[1], 2.0 * np.cos(x))

    @s2sad.adjoint(h)
    def _(g, result, x):
        return g * 10.0

    assert_close(df(x), np.full(3, 20.0))                 # both builds are rebuilt
    assert_close(df(m), np.full((2, 2), 20.0))
    assert_close(vg(x)[1], np.full(3, 20.0))
    assert "10.0" in s2sad.source(df, x)

    @s2sad.adjoint(h)                                     # and replaced once more
    def _(g, result, x):
        return g * -1.0

    assert_close(df(x), np.full(3, -2.0))


def test_registering_a_tangent_discards_built_forward_derivatives():
    @s2sad.adjoint(double)
    def _(g, result, x):
        return 2.0 * g

    @s2sad.tangent(double)
    def _(tangents, result, x):
        return 2.0 * tangents[0]

    def f(x):
        return np.sum(double(x) ** 2)

    jf, x, v = s2sad.jvp(f), rng.normal(size=3), rng.normal(size=3)
    assert_close(jf(x, v)[1], np.sum(8.0 * x * v))

    @s2sad.tangent(double)
    def _(tangents, result, x):
        return 4.0 * tangents[0]

    assert_close(jf(x, v)[1], np.sum(16.0 * x * v))


def test_a_rule_for_a_nested_helper_reaches_gradients_of_callers():
    def inner(x):
        return np.exp(x)

    def middle(x):
        return inner(x) + x

    def f(x):
        return np.sum(middle(x))

    df, x = s2sad.grad(f), rng.normal(size=3)
    assert_close(df(x), np.exp(x) + 1.0)

    @s2sad.adjoint(inner)
    def _(g, result, x):
        return g * 0.0

    assert_close(df(x), np.ones(3))


# ---- bad registrations ---------------------------------------------------------------------


def hypot2(x, y):
    return np.sqrt(x * x + y * y)


def test_rule_missing_g_and_result_is_rejected():
    with pytest.raises(TypeError) as info:
        @s2sad.adjoint(hypot2)
        def _(x, y):
            return x, y
    msg = str(info.value)
    assert "hypot2" in msg and "g, result" in msg


def test_tangent_rule_missing_leading_parameters_names_them():
    with pytest.raises(TypeError) as info:
        @s2sad.tangent(hypot2)
        def _(x, y):
            return x
    msg = str(info.value)
    assert "hypot2" in msg and "tangents, result" in msg


def test_rule_that_cannot_accept_the_parameters_is_rejected():
    with pytest.raises(TypeError) as info:
        @s2sad.adjoint(hypot2)
        def _(g, result, x):
            return g
    msg = str(info.value)
    assert "hypot2" in msg and "cannot accept" in msg

    def scale(x, factor=1.0, *, shift=0.0):
        return x * factor + shift

    with pytest.raises(TypeError, match=r"scale.*cannot accept"):
        @s2sad.adjoint(scale)                 # no `shift` and no **kwargs
        def _(g, result, x, factor=1.0):
            return g * factor

    with pytest.raises(TypeError, match=r"scale.*cannot accept"):
        @s2sad.adjoint(scale)                 # an extra required parameter
        def _(g, result, x, factor=1.0, *, shift=0.0, bias):
            return g * factor

    with pytest.raises(TypeError, match=r"multiply.*cannot accept"):
        @s2sad.adjoint(double)                # the partial leaves ONE input of np.multiply
        def _(g, result, x, y):
            return g, g


def test_rule_without_the_functions_defaults_is_rejected():
    """A rule must take the function's defaults: a call may leave them out."""
    def scale(x, factor=2.0):
        return x * factor

    with pytest.raises(TypeError) as info:
        @s2sad.adjoint(scale)
        def _(g, result, x, factor):
            return g * factor
    msg = str(info.value)
    assert "scale" in msg and "factor" in msg and "defaults" in msg

    @s2sad.adjoint(scale)                     # with the default, or **kwargs: accepted
    def _(g, result, x, factor=2.0):
        return g * factor

    @s2sad.tangent(scale)
    def _(tangents, result, x, **kwargs):
        return tangents[0] * kwargs.get("factor", 2.0)

    def f(x):
        return np.sum(scale(x)) + np.sum(scale(x, factor=5.0))

    x = rng.normal(size=3)
    assert_close(s2sad.grad(f)(x), np.full(3, 7.0), rtol=1e-12, atol=0)
    assert_close(s2sad.jvp(f)(x, np.ones(3))[1], 21.0, rtol=1e-12, atol=0)


_TAKE_ALONG_AXIS_DEFAULT = inspect.signature(np.take_along_axis).parameters.get("axis")


@pytest.mark.skipif(_TAKE_ALONG_AXIS_DEFAULT is None
                    or _TAKE_ALONG_AXIS_DEFAULT.default is inspect.Parameter.empty,
                    reason="this NumPy's take_along_axis has no default axis")
def test_builtin_take_along_axis_rule_takes_numpys_default_axis():
    def f(a, i):
        return np.sum(np.take_along_axis(a, i) ** 2)

    a, i = rng.normal(size=(2, 3)), np.array([[0, 2], [1, 1]])
    assert_close(s2sad.grad(f)(a, i), numerical_grad(f, (a, i), 0))


def test_rejected_registration_leaves_the_old_rule():
    def h(x):
        return x * 2.0

    @s2sad.adjoint(h)
    def _(g, result, x):
        return g * 7.0

    df, x = s2sad.grad(lambda x: np.sum(h(x))), rng.normal(size=2)
    assert_close(df(x), np.full(2, 7.0))
    with pytest.raises(TypeError):
        @s2sad.adjoint(h)
        def _(g, result):
            return g
    assert_close(df(x), np.full(2, 7.0))


@pytest.mark.parametrize("register", [s2sad.adjoint, s2sad.tangent], ids=["adjoint", "tangent"])
@pytest.mark.parametrize("target", [3.0, "np.sin", None], ids=["float", "str", "None"])
def test_registering_on_a_non_callable_is_rejected(register, target):
    with pytest.raises(TypeError) as info:
        @register(target)
        def _(g, result, x):
            return g
    msg = str(info.value)
    assert "callable" in msg and repr(target) in msg


@pytest.mark.parametrize("register", [s2sad.adjoint, s2sad.tangent], ids=["adjoint", "tangent"])
def test_a_non_callable_rule_is_rejected(register):
    with pytest.raises(TypeError) as info:
        register(hypot2)(42)
    msg = str(info.value)
    assert "hypot2" in msg and "callable" in msg


# ---- stop_gradient ---------------------------------------------------------------------------


def test_stop_gradient_zeroes_exactly_one_path():
    def f(x):
        return np.sum(x * s2sad.stop_gradient(x))

    x = rng.normal(size=(3, 2))
    assert_close(s2sad.grad(f)(x), x, rtol=1e-12, atol=0)          # not 2x
    _, t = s2sad.jvp(f)(x, np.ones_like(x))
    assert_close(t, np.sum(x), rtol=1e-12, atol=1e-12)
    assert_close(s2sad.grad(lambda x: x * s2sad.stop_gradient(x))(1.5), 1.5)


def test_stop_gradient_on_one_of_two_paths_in_a_loop():
    def f(x, w):
        h = x
        for _ in range(3):
            h = np.tanh(h * w) + s2sad.stop_gradient(h) * 0.5
        return np.sum(h ** 2)

    def by_hand(x, w):                         # the same, with the stopped value a constant
        def g(x, w, stopped):
            h, k = x, 0
            for _ in range(3):
                h = np.tanh(h * w) + stopped[k] * 0.5
                k += 1
            return np.sum(h ** 2)
        stopped, h = [], x
        for _ in range(3):
            stopped.append(h.copy())
            h = np.tanh(h * w) + h * 0.5
        return lambda x, w: g(x, w, stopped)

    x, w = rng.normal(size=4), rng.normal(size=4)
    frozen = by_hand(x, w)
    gx, gw = s2sad.grad(f, wrt=(0, 1))(x, w)
    assert_close(gx, numerical_grad(frozen, (x, w), 0))
    assert_close(gw, numerical_grad(frozen, (x, w), 1))
    assert not np.allclose(gx, numerical_grad(f, (x, w), 0), rtol=1e-3)   # it did stop something
    v = rng.normal(size=4)
    _, t = s2sad.jvp(f)(x, w, v)
    assert_close(t, directional(frozen, (x, w), 0, v))


def test_stop_gradient_of_everything_is_a_zero_gradient():
    def f(x, y):
        return np.sum(s2sad.stop_gradient(x) ** 2) + np.sum(y)

    x, y = rng.normal(size=3), rng.normal(size=3)
    g = s2sad.grad(f)(x, y)
    assert isinstance(g, np.ndarray) and g.shape == (3,) and g.dtype == np.float64
    assert_close(g, np.zeros(3))
    _, t = s2sad.jvp(f)(x, y, np.ones(3))
    assert_close(t, 0.0)


def test_stop_gradient_is_the_identity_forward():
    x = rng.normal(size=3)
    assert s2sad.stop_gradient(x) is x
    value, _ = s2sad.jvp(lambda x: np.sum(s2sad.stop_gradient(x) * x))(x, np.ones(3))
    assert_close(value, np.sum(x * x))


# ---- the rule's body is inlined where simple --------------------------------------------------


def test_the_rule_body_is_inlined_into_the_gradient():
    @s2sad.adjoint(naive_softplus)
    def _(g, result, x):
        return g * 0.5 * (1.0 + np.tanh(0.5 * x))

    def f(x):
        return np.sum(naive_softplus(x) * 3.0)

    x = rng.normal(size=3)
    text = s2sad.source(s2sad.grad(f), x)
    assert "(1.0 + np.tanh(0.5 * x))" in text, text
    assert "_adjoint(" not in text and "cotangents(" not in text, text
    assert "np.log(" not in text, text                   # the source was not differentiated


def test_the_tangent_rule_body_is_inlined_into_the_jvp():
    @s2sad.tangent(naive_softplus)
    def _(tangents, result, x):
        (dx,) = tangents
        return dx * 0.5 * (1.0 + np.tanh(0.5 * x))

    def f(x):
        return np.sum(naive_softplus(x) * 3.0)

    x = rng.normal(size=3)
    text = s2sad.source(s2sad.jvp(f), x)           # the arguments of f, not the tangent
    assert "(1.0 + np.tanh(0.5 * x))" in text, text
    assert "_tangent(" not in text, text


def test_a_sourceless_functions_rule_is_inlined_with_the_call_sites_names(erf):
    def f(z):
        return np.sum(erf(z * 2.0))

    text = s2sad.source(s2sad.grad(f), rng.normal(size=3))
    assert re.search(r"\(2\.0 / np\.sqrt\(np\.pi\)\) \* np\.exp\(-(\w+) \* \1\)", text), text
    assert "_adjoint(" not in text and "cotangents(" not in text, text


def _broadcast_product(x, y):
    return x * y


@s2sad.adjoint(_broadcast_product)
def _(g, result, x, y):
    return g * y, g * x                  # shaped like the result: not summed down


def _uses_broadcast_product(x, y):
    return np.sum(np.sin(_broadcast_product(x, y)))


@pytest.mark.parametrize("xs, ys", [((3, 1), (4,)), ((3, 4), (4,)), ((1, 4), (3, 1)), ((5,), (5,))])
def test_a_rule_cotangent_shaped_like_the_result_is_summed_to_the_argument(xs, ys):
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=xs), rng.normal(size=ys)
    gx, gy = s2sad.grad(_uses_broadcast_product, wrt=(0, 1))(x, y)
    assert gx.shape == xs and gy.shape == ys
    np.testing.assert_allclose(gx, numerical_grad(_uses_broadcast_product, (x, y), 0), rtol=1e-6)
    np.testing.assert_allclose(gy, numerical_grad(_uses_broadcast_product, (x, y), 1), rtol=1e-6)


def _halved(x):
    return x * 0.5


@s2sad.adjoint(_halved)
def _(g, result, x):
    return g[:2] * 0.5                   # wrong: not x's shape, and no broadcast explains it


def _uses_halved(x):
    return np.sum(_halved(x))


def test_a_rule_cotangent_of_a_shape_broadcasting_cannot_explain_is_an_error():
    with pytest.raises(ValueError, match=r"rule of _halved returned a cotangent of shape \(2,\) "
                                         r"for an argument of shape \(3,\)"):
        s2sad.grad(_uses_halved)(np.ones(3))


def cube_through_rule(x):
    return x * x * x


def loss_of_cube(x):
    return np.sum(cube_through_rule(x))


def test_verbose_says_why_a_rule_is_called_not_inlined(capsys):
    @s2sad.adjoint(cube_through_rule)
    def _(g, result, x):
        if np.all(x > 100.0):                 # decided by the data: cannot be folded
            return g * 0.0
        return g * 3.0 * x * x

    df = s2sad.grad(loss_of_cube, verbose=True)
    np.testing.assert_allclose(df(np.array([1.0, 2.0])), [3.0, 12.0])
    printed = capsys.readouterr().out
    assert "def dloss_of_cube(x):" in printed
    assert "# loss_of_cube, line " in printed and "the reverse rule of cube_through_rule is " \
        "called, not inlined: its body branches on what the argument kinds do not decide" in printed
