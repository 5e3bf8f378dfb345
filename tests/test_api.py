"""The public API: forms of grad, wrt, value_and_grad, has_aux, pytrees, kinds, caching."""

import inspect

import numpy as np
import pytest

import s2sad
from fdcheck import assert_close, numerical_grad

rng = np.random.default_rng(0)


def loss(w, b, x):
    return np.sum(np.tanh(x @ w + b) ** 2)


def args():
    return rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 3))


def test_call_form_first_argument():
    a = args()
    assert_close(s2sad.grad(loss)(*a), numerical_grad(loss, a, 0))


@pytest.mark.parametrize("wrt, idx", [(1, [1]), ("b", [1]), ((0, 1), [0, 1]), (("w", "x"), [0, 2]),
                                      ((2, "w"), [2, 0]), (-1, [2])])
def test_wrt_forms(wrt, idx):
    a = args()
    g = s2sad.grad(loss, wrt=wrt)(*a)
    if isinstance(wrt, tuple):
        assert isinstance(g, tuple) and len(g) == len(idx)
        for gi, i in zip(g, idx):
            assert_close(gi, numerical_grad(loss, a, i))
    else:
        assert_close(g, numerical_grad(loss, a, idx[0]))


def test_bare_decorator_and_decorator_with_options():
    @s2sad.grad
    def d1(w, b, x):
        return np.sum(np.tanh(x @ w + b) ** 2)

    @s2sad.grad(wrt=(0, 1))
    def d2(w, b, x):
        return np.sum(np.tanh(x @ w + b) ** 2)

    a = args()
    assert_close(d1(*a), numerical_grad(loss, a, 0))
    gw, gb = d2(*a)
    assert_close(gw, numerical_grad(loss, a, 0))
    assert_close(gb, numerical_grad(loss, a, 1))


def test_value_and_grad():
    a = args()
    value, (gw, gb) = s2sad.value_and_grad(loss, wrt=(0, 1))(*a)
    assert value == pytest.approx(loss(*a))
    assert_close(gb, numerical_grad(loss, a, 1))


def aux_loss(w, x):
    pred = x @ w
    return np.sum(pred ** 2), {"pred_mean": np.mean(pred)}


def test_has_aux():
    w, x = rng.normal(size=3), rng.normal(size=(4, 3))
    g, aux = s2sad.grad(aux_loss, has_aux=True)(w, x)
    assert_close(g, numerical_grad(lambda w, x: aux_loss(w, x)[0], (w, x), 0))
    assert aux["pred_mean"] == pytest.approx(np.mean(x @ w))
    (value, aux2), g2 = s2sad.value_and_grad(aux_loss, has_aux=True)(w, x)
    assert value == pytest.approx(aux_loss(w, x)[0])
    assert aux2["pred_mean"] == pytest.approx(aux["pred_mean"])
    assert_close(g2, g)


def mlp(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    out = h @ params["layers"][0] + params["layers"][1][0]
    return np.mean((out - y) ** 2) * params["scale"]


def test_pytree_arguments():
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
              "layers": [rng.normal(size=(4, 2)), (rng.normal(size=2), 7)],
              "scale": 1.5, "name": "net"}
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    g = s2sad.grad(mlp)(params, x, y)
    assert set(g) == set(params)
    assert g["name"] is None and g["layers"][1][1] is None
    assert isinstance(g["layers"], list) and isinstance(g["layers"][1], tuple)
    assert isinstance(g["scale"], float)

    def at(path):
        def f(v):
            p = {**params, "layers": [params["layers"][0], (params["layers"][1][0], 7)]}
            if path == ("W1",):
                p["W1"] = v
            elif path == ("layers", 0):
                p["layers"][0] = v
            elif path == ("layers", 1, 0):
                p["layers"][1] = (v, 7)
            elif path == ("scale",):
                p["scale"] = v
            return mlp(p, x, y)
        return f

    assert_close(g["W1"], numerical_grad(at(("W1",)), (params["W1"],), 0))
    assert_close(g["layers"][0], numerical_grad(at(("layers", 0)), (params["layers"][0],), 0))
    assert_close(g["layers"][1][0], numerical_grad(at(("layers", 1, 0)), (params["layers"][1][0],), 0))
    assert g["scale"] == pytest.approx(numerical_grad(at(("scale",)), (1.5,), 0), rel=1e-5)


def tuple_params(p, x):
    W, b = p
    return np.sum((x @ W + b) ** 2)


def test_tuple_pytree_unpacked():
    p = (rng.normal(size=(3, 2)), rng.normal(size=2))
    x = rng.normal(size=(4, 3))
    gW, gb = s2sad.grad(tuple_params)(p, x)
    assert_close(gW, numerical_grad(lambda W: tuple_params((W, p[1]), x), (p[0],), 0))
    assert_close(gb, numerical_grad(lambda b: tuple_params((p[0], b), x), (p[1],), 0))


def poly(x, y):
    return x * x * y + 3.0 * x


def test_python_scalars_get_python_floats():
    gx, gy = s2sad.grad(poly, wrt=(0, 1))(2.0, 3.0)
    assert type(gx) is float and type(gy) is float
    assert gx == pytest.approx(2 * 2 * 3 + 3) and gy == pytest.approx(4.0)
    # a plain int is taken as a float
    assert s2sad.grad(poly)(2, 3.0) == pytest.approx(15.0)


def sum_exp(x):
    return np.sum(np.exp(x) * 2.0)


def test_float32_stays_float32_and_shapes():
    for shape in [(), (3,), (2, 3)]:
        x = rng.normal(size=shape).astype(np.float32)
        g = s2sad.grad(sum_exp)(x)
        assert g.dtype == np.float32 and g.shape == x.shape
        assert_close(g, 2 * np.exp(x.astype(np.float64)), rtol=1e-5)


def test_builds_once_per_kind_not_per_size():
    df = s2sad.grad(sum_exp)
    df(np.ones(3))
    state = df.__s2sad__
    df(np.ones(7))
    assert len(state.cache) == 1
    df(np.ones((2, 2)))
    df(np.ones(3, dtype=np.float32))
    assert len(state.cache) == 3


def test_calls_follow_kinds_and_rules_through_the_fast_path():
    """Repeat calls skip the kind key; each must still get its own kind's
    build (and source), and a rule registered between calls is used."""
    def f(x, c):
        return np.sum(_scaled(x) * c)
    df = s2sad.grad(f)
    row, column, full = np.ones((1, 3)), np.ones((3, 1)), np.ones((3, 3))
    for _ in range(2):
        for x, c in [(row, full), (column, full), (full, full), (row, 2.0)]:
            expected = numerical_grad(f, (x, c), 0)
            assert_close(df(x, c), expected)
            assert s2sad.source(df) == s2sad.source(df, x, c)
            assert s2sad.source(df, x, c).startswith(inspect.getsource(df))
    assert len(df.__s2sad__.cache) == 4

    @s2sad.adjoint(_scaled)          # a deliberately different rule (only this test calls _scaled)
    def _(g, result, x):
        return 5.0 * g
    assert_close(df(row, full), np.full((1, 3), 15.0))


def _scaled(x):
    return 3.0 * x


def test_source_and_inspect():
    df = s2sad.grad(loss, wrt=(0, 1))
    with pytest.raises(ValueError):
        s2sad.source(df)
    a = args()
    text = s2sad.source(df, *a)
    assert text.startswith("def dloss(w, b, x):")
    df(*a)
    assert s2sad.source(df) == text
    assert inspect.getsource(df) == text


def test_verbose_prints_the_source(capsys):
    df = s2sad.grad(loss, verbose=True)
    df(*args())
    assert "def dloss(w, b, x):" in capsys.readouterr().out


def test_keyword_arguments_and_defaults():
    def f(x, scale=2.0, *, power=2):
        return np.sum(scale * x ** power)

    x = rng.normal(size=3)
    assert_close(s2sad.grad(f)(x), 4.0 * x)
    assert_close(s2sad.grad(f)(x, scale=3.0), 6.0 * x)
    assert_close(s2sad.grad(f)(x, power=3), 6.0 * x ** 2)


def test_gradient_does_not_change_arguments():
    def f(x):
        x = x * 2.0
        return np.sum(x)

    x = np.ones(3)
    s2sad.grad(f)(x)
    assert np.all(x == 1.0)


def test_stop_gradient_blocks_one_path():
    def f(x):
        return np.sum(x * s2sad.stop_gradient(x))

    x = rng.normal(size=4)
    assert_close(s2sad.grad(f)(x), x)


def test_user_registered_adjoint_wins_and_invalidates():
    def soft(x):
        return np.log(1.0 + np.exp(x))

    def f(x):
        return np.sum(soft(x))

    df = s2sad.grad(f)
    x = rng.normal(size=3)
    assert_close(df(x), 1 / (1 + np.exp(-x)))

    @s2sad.adjoint(soft)
    def _(g, result, x):
        return g * 0.5

    assert_close(df(x), np.full(3, 0.5))
    assert "0.5" in s2sad.source(df)


def test_bad_rule_registration_is_rejected():
    def h(x, y):
        return x * y

    with pytest.raises(TypeError, match="cannot accept"):
        @s2sad.adjoint(h)
        def _(g, result, x):
            return g


def test_tracebacks_point_into_the_generated_source():
    import traceback

    def f(x, W):
        return np.sum(np.tanh(x @ W))

    df = s2sad.grad(f)
    with pytest.raises(ValueError) as info:
        df(np.ones(2), np.ones((3, 3)))              # shapes do not match
    frame = traceback.extract_tb(info.tb)[-1]
    assert frame.filename.startswith("<s2sad df of f")
    assert frame.line == "tanh_xW = np.tanh(x @ W)"
    assert frame.line in s2sad.source(df)


def _jvp_source_example(x, w):
    return np.sum(np.sin(x) * w)


def test_source_of_a_jvp_takes_the_arguments_with_or_without_the_tangent():
    jf = s2sad.jvp(_jvp_source_example)
    x = np.linspace(0.0, 1.0, 3)
    assert s2sad.source(jf, x, 2.0) == s2sad.source(jf, x, 2.0, np.ones(3))
    assert "def jvp__jvp_source_example(dx, x, w):" in s2sad.source(jf, x, 2.0)


def _reused(x, w):
    return np.sum(np.tanh(x * w))


def test_grad_made_again_reuses_the_build():
    x = np.linspace(-1.0, 1.0, 4)
    first, second = s2sad.grad(_reused), s2sad.grad(_reused)
    first(x, 0.5)
    second(x, 0.5)
    assert first.__wrapped__ is second.__wrapped__              # one build for both
    other = s2sad.grad(_reused, wrt=1)
    other(x, 0.5)
    assert other.__wrapped__ is not first.__wrapped__            # other options: its own
    s2sad.grad(_reused)(x.reshape(2, 2), 0.5)                    # other kinds: built anew
