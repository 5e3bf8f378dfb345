"""Everyday Python around the NumPy: the forms a loss's scalar is returned in,
inner functions, comprehensions, star calls and displays; each in reverse
and forward mode against central finite differences."""

import numpy as np
import pytest

import s2sad
from fdcheck import numerical_grad

RNG = np.random.default_rng(16)
X = RNG.normal(size=(3, 4))


def _check_both_modes(f, args, i=0, rtol=1e-6):
    """grad against central differences, and jvp along ones against the
    gradient's sum."""
    expected = numerical_grad(f, list(args), i)
    got = s2sad.grad(f, wrt=i)(*args)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-7)
    x = args[i]
    along = np.ones_like(x) if isinstance(x, np.ndarray) else 1.0
    value, tangent = s2sad.jvp(f, wrt=i)(*args, along)
    assert float(value) == pytest.approx(float(np.asarray(f(*args))), rel=1e-12)
    assert float(tangent) == pytest.approx(float(np.sum(expected)), rel=rtol, abs=1e-9)
    return got


# ---- 0-d returns ------------------------------------------------------------------------

def reshaped(x):
    return np.sum(np.tanh(x) ** 2, keepdims=True).reshape(())


def as_float64(x):
    return np.float64(np.sum(x * np.sin(x)))


def cast_inside(x):
    return np.sum(np.float64(x) ** 3)


def as_item(x):
    return np.sum(x * x).item()


def as_float(x):
    return float(np.mean(np.exp(x)))


def zero_d_array(x):
    return np.asarray(np.sum(x ** 2))[()] * 2.0


@pytest.mark.parametrize("f", [reshaped, as_float64, cast_inside, as_item, as_float])
@pytest.mark.parametrize("shape", [(3, 4), (5,), ()])
def test_zero_d_returns(f, shape):
    x = RNG.normal(size=shape)
    _check_both_modes(f, [x])


def test_a_float32_cast_keeps_its_dtype():
    def f(x):
        return np.sum(np.float32(x) * 2.0)

    x = RNG.normal(size=4).astype(np.float32)
    g = s2sad.grad(f)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2.0)


def test_the_seed_of_a_zero_d_array_output_is_an_array():
    df = s2sad.grad(reshaped)
    df(X)
    assert "np.reshape(np.ones_like(" in s2sad.source(df)


# ---- error messages: the construct, the line, a fix that works ---------------------------

class Box:
    def __init__(self, a):
        self.a = a


def sets_an_attribute(box, x):
    box.a = x * 2.0
    return np.sum(box.a)


def sets_an_attribute_fixed(box, x):
    a = x * 2.0
    return np.sum(a)


async def coroutine(x):
    return np.sum(x)


def matches(x, mode):
    match mode:
        case "sum":
            return np.sum(x)
        case _:
            return np.sum(x * x)


def matches_fixed(x, mode):
    if mode == "sum":
        return np.sum(x)
    return np.sum(x * x)


def _line_of(f, text):
    import inspect
    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, line in enumerate(lines) if text in line)


def test_assigning_an_attribute_names_it_and_the_fix_works():
    with pytest.raises(s2sad.TransformError) as info:
        s2sad.grad(sets_an_attribute, wrt=1)(Box(1.0), X)
    message = str(info.value)
    assert "assigning to an attribute (`box.a = ...`)" in message and "unpacking" not in message
    assert f"line {_line_of(sets_an_attribute, 'box.a = x')}" in message
    assert "keep the value in a local name" in message
    _check_both_modes(sets_an_attribute_fixed, [Box(1.0), X], 1)


def test_an_async_function_is_named_with_its_line_and_a_fix():
    with pytest.raises(s2sad.TransformError) as info:
        s2sad.grad(coroutine)(X)
    message = str(info.value)
    assert "`async def`" in message and f"line {_line_of(coroutine, 'async def')}" in message
    assert "async def coroutine(x):" in message and "plain `def`" in message


def test_match_is_named_with_a_fix_that_works():
    with pytest.raises(s2sad.TransformError) as info:
        s2sad.grad(matches)(X, "sum")
    message = str(info.value)
    assert "`match` statements are not supported" in message
    assert f"line {_line_of(matches, 'match mode')}" in message and "`if`/`elif`" in message
    for mode in ("sum", "squares"):
        _check_both_modes(matches_fixed, [X, mode])


def test_np_vectorize_is_named_with_a_fix():
    square = np.vectorize(lambda v: v * v)

    def loss(x):
        return np.sum(square(x))

    with pytest.raises(s2sad.TransformError, match=r"calls a vectorize object \(from numpy\)") as info:
        s2sad.grad(loss)(X)
    assert f"line {_line_of(loss, 'square(x)')}" in str(info.value) and "@s2sad.adjoint(square)" in str(info.value)


# ---- rules for partials -------------------------------------------------------------------

def test_a_partials_rule_takes_what_its_calls_pass():
    import functools
    snap = functools.partial(np.round, decimals=1)

    @s2sad.adjoint(snap)                      # no `decimals`, no `out`: the calls pass neither
    def _(g, result, a):
        return g                              # straight through

    @s2sad.tangent(snap)
    def _(t, result, a):
        return t

    def loss(x):
        return np.sum(snap(x) * np.sin(x))

    x = np.array([0.123, -0.456, 0.789])
    expected = np.sin(x) + snap(x) * np.cos(x)
    np.testing.assert_allclose(s2sad.grad(loss)(x), expected, rtol=1e-12)
    _, t = s2sad.jvp(loss)(x, np.ones(3))
    assert t == pytest.approx(np.sum(expected), rel=1e-12)

    def passes_out(x):
        return np.sum(snap(x, out=None) * x)

    for transform, extra in ((s2sad.grad, ()), (s2sad.jvp, (np.ones(3),))):
        with pytest.raises(s2sad.TransformError, match=r"rule registered for round cannot take what "
                                                       r"this call passes: .*'out'") as info:
            transform(passes_out)(x, *extra)
        assert f"line {_line_of(passes_out, 'out=None')}" in str(info.value)


# ---- imports inside ------------------------------------------------------------------------

def imports_inside(x):
    import numpy as onp
    from numpy import tanh as th
    import numpy.linalg
    from numpy.linalg import norm
    return onp.sum(th(x) ** 2) + norm(x) + numpy.linalg.norm(x * 2.0)


def test_imports_inside_the_function():
    _check_both_modes(imports_inside, [X])
    _check_both_modes(imports_inside, [RNG.normal(size=5)])


# ---- star calls and displays ----------------------------------------------------------------

XS = [RNG.normal(size=4), RNG.normal(size=4)]


def scaled_product(a, b, scale=1.0, shift=0.0):
    return a * b * scale + shift


def star_call(xs, y):
    pair = (xs[0] * y, xs[1])
    options = {"scale": 3.0, "shift": y}
    return np.sum(scaled_product(*pair, **options)) + np.sum(np.stack([*xs, y]))


def star_call_of_an_argument(xs, y):
    return np.sum(scaled_product(*xs, scale=2.0) * y)


def star_displays(xs, y):
    parts = [*xs, y * 2.0]
    more = (y, *parts[1:], *(xs[0],))
    return np.sum(parts[2] * parts[0]) + np.sum(more[1] * more[3] * more[0])


@pytest.mark.parametrize("f", [star_call, star_call_of_an_argument, star_displays])
def test_star_calls_and_displays(f):
    y = RNG.normal(size=4)
    _check_both_modes(f, [XS, y], 1)
    expected = [numerical_grad(lambda a: f([a, XS[1]], y), [XS[0]], 0),
                numerical_grad(lambda b: f([XS[0], b], y), [XS[1]], 0)]
    got = s2sad.grad(f)(XS, y)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-9)


def test_a_star_call_of_a_list_of_unknown_length_is_refused():
    def f(x):
        parts = []
        for i in range(3):
            parts.append(x * i)
        return np.sum(scaled_product(*parts[:2]))

    with pytest.raises(s2sad.TransformError, match=r"a call with `\*` or `\*\*` of a list whose length"):
        s2sad.grad(f)(X)


# ---- functions defined inside -----------------------------------------------------------------

import functools  # noqa: E402


def lambda_called(x):
    sq = lambda v: v * v                                     # noqa: E731
    return np.sum(sq(x) + sq(np.sin(x)))


def closure_read_at_call_time(x):
    c = 2.0
    scaled = lambda v: v * c                                 # noqa: E731
    a = scaled(x)
    c = np.sin(x)                                            # the closure reads the new c
    return np.sum(a + scaled(x))


def def_in_a_loop(x):
    w = x * 0.5

    def step(h):
        return np.tanh(h * w + x)

    h = x
    for _ in range(3):
        h = step(h)
    return np.sum(h)


def recursive_inner(x):
    def power(v, n):
        if n == 0:
            return 1.0
        return v * power(v, n - 1)

    return np.sum(power(x, 3))


def siblings_and_nesting(x):
    c = x * 0.5

    def first(v):
        return v * c

    def second(v):
        g = lambda u: u * x                                  # noqa: E731
        return first(v) + g(np.sin(v))

    return np.sum(second(x) * second(x * 2.0))


def reduce_and_map(x):
    xs = [x, x * 2.0, np.cos(x)]
    product = functools.reduce(lambda a, b: a * b, xs)
    total = functools.reduce(lambda a, b: a + b * x, xs, np.zeros_like(x))
    squashed = list(map(np.tanh, xs))
    scaled = map(lambda v: v * x, xs)
    return np.sum(product) + np.sum(total) + np.sum(squashed[1]) + sum(np.sum(v) for v in scaled)


@pytest.mark.parametrize("f", [lambda_called, closure_read_at_call_time, def_in_a_loop, recursive_inner,
                               siblings_and_nesting, reduce_and_map])
@pytest.mark.parametrize("shape", [(4,), (2, 3)])
def test_functions_defined_inside(f, shape):
    _check_both_modes(f, [RNG.normal(size=shape)])


def test_an_inner_function_reads_as_a_helper_in_the_generated_code():
    df = s2sad.grad(closure_read_at_call_time)
    df(X)
    text = s2sad.source(df)
    assert "scaled_fwd1(x, c=c)" in text and "def scaled_fwd(v, *, c):" in text


def test_inner_functions_that_cannot_be_followed_are_refused():
    def stored(x):
        fs = [lambda v: v * 2.0]
        return np.sum(fs[0](x))

    def changes_a_list_of_the_function(x):
        hs = []

        def keep(v):
            hs.append(v)
            return v

        keep(x * 2.0)
        return np.sum(hs[0])

    def default_reads_a_name(x):
        k = 2.0
        f = lambda v, k=k: v * k                             # noqa: E731
        return np.sum(f(x))

    with pytest.raises(s2sad.TransformError, match="cannot tell which function"):
        s2sad.grad(stored)(X)
    with pytest.raises(s2sad.TransformError, match="changes a list its caller passed in"):
        s2sad.grad(changes_a_list_of_the_function)(X)
    with pytest.raises(s2sad.TransformError, match="a default of an inner function reads a name"):
        s2sad.grad(default_reads_a_name)(X)


# ---- comprehensions ------------------------------------------------------------------------------

def dict_comprehension(w, b):
    p = {"W": w, "b": b}
    scaled = {k: p[k] * 2.0 for k in ("W", "b")}
    return np.sum(np.tanh(scaled["W"]) ** 2) + np.sum(scaled["b"] ** 3)


def generators_into_builtins(x):
    t = tuple(np.sin(x * k) for k in range(3))
    top = max(np.sum(v) for v in (x, x * 2.0))
    low = min(x[i] * 2.0 for i in range(2))
    if any(v > 10.0 for v in x) or not all(v < 10.0 for v in x):
        return np.sum(x)
    return np.sum(t[1] * t[2]) + top + low + sum(np.sum(v ** 2) for v in [x, t[0]])


@pytest.mark.parametrize("i", [0, 1])
def test_dict_comprehension_over_constant_keys(i):
    _check_both_modes(dict_comprehension, [RNG.normal(size=(2, 3)), RNG.normal(size=3)], i)


def test_generator_expressions_into_builtins():
    _check_both_modes(generators_into_builtins, [np.array([0.3, -0.5, 1.2])])


def dict_comprehension_over_items(w, b, gw):
    p, g = {"W": w, "b": b}, {"W": gw, "b": b * 0.5}
    stepped = {k: v - 0.1 * g[k] for k, v in p.items()}
    squares = {k: np.sum(p[k] ** 2) for k in p}
    return np.sum(np.tanh(stepped["W"]) ** 2) + np.sum(stepped["b"] ** 3) + squares["b"] * squares["W"]


@pytest.mark.parametrize("i", [0, 1, 2])
def test_dict_comprehension_over_a_dicts_items(i):
    _check_both_modes(dict_comprehension_over_items,
                      [RNG.normal(size=(2, 3)), RNG.normal(size=3), RNG.normal(size=(2, 3))], i)


def test_a_dict_comprehension_over_items_of_a_pytree_argument():
    def loss(p):
        doubled = {k: v * 2.0 for k, v in p.items()}
        return np.sum(doubled["W"] ** 2) + np.sum(np.sin(doubled["b"]))

    p = {"W": RNG.normal(size=(2, 2)), "b": RNG.normal(size=2)}
    g = s2sad.grad(loss)(p)
    np.testing.assert_allclose(g["W"], 8.0 * p["W"], rtol=1e-12)
    np.testing.assert_allclose(g["b"], 2.0 * np.cos(2.0 * p["b"]), rtol=1e-12)
