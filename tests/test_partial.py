"""`functools.partial` objects differentiated through their functions
(`s2sad.bound`): grad, value_and_grad, jvp, hvp, jacobian, hessian and
check_grad against central finite differences, `wrt` counted over the free
parameters (as in JAX), keywords a call overrides, builds shared with the
function, and the generated source."""

import functools

import numpy as np
import pytest

import s2sad
from fdcheck import numerical_grad

RNG = np.random.default_rng(3)
X = RNG.normal(size=(6, 3))
Y = RNG.normal(size=6)
W = RNG.normal(size=3)


def ridge(w, X, y, lam=0.1):
    r = X @ w - y
    return np.sum(r * r) + lam * np.sum(w * w)


def scaled(a, w, b):
    return np.sum(np.tanh(a * w) * b)


def _fd(f, args, i):
    return numerical_grad(f, args, i)


def test_keywords_bound():
    p = functools.partial(ridge, X=X, y=Y)
    g = s2sad.grad(p)(W)
    np.testing.assert_allclose(g, 2 * X.T @ (X @ W - Y) + 0.2 * W, rtol=1e-12)
    np.testing.assert_allclose(g, _fd(p, [W], 0), rtol=1e-6)
    value, g2 = s2sad.value_and_grad(p)(W)
    assert value == pytest.approx(p(W)) and np.allclose(g2, g)


def test_a_call_may_override_a_bound_keyword():
    p = functools.partial(ridge, X=X, y=Y)
    df = s2sad.grad(p, wrt="lam")
    assert df(W) == pytest.approx(np.sum(W * W))
    g = s2sad.grad(p)(W, lam=2.0)
    np.testing.assert_allclose(g, 2 * X.T @ (X @ W - Y) + 4.0 * W, rtol=1e-12)


def test_positionals_bound_and_wrt_counts_over_the_free_parameters():
    a = RNG.normal(size=3)
    p = functools.partial(scaled, a)                      # free: (w, b)
    b = RNG.normal(size=3)
    dw, db = s2sad.grad(p, wrt=(0, 1))(W, b)
    np.testing.assert_allclose(dw, _fd(lambda w, b: scaled(a, w, b), [W, b], 0), rtol=1e-6)
    np.testing.assert_allclose(db, np.tanh(a * W), rtol=1e-12)
    with pytest.raises(ValueError, match="out of range"):
        s2sad.grad(p, wrt=2)


def test_nested_partials():
    a, b = RNG.normal(size=3), RNG.normal(size=3)
    p = functools.partial(functools.partial(scaled, a), b=b)   # free: w
    np.testing.assert_allclose(s2sad.grad(p)(W), _fd(p, [W], 0), rtol=1e-6)


def test_forward_mode_and_second_order():
    p = functools.partial(ridge, X=X, y=Y)
    v = RNG.normal(size=3)
    value, tangent = s2sad.jvp(p)(W, v)
    assert value == pytest.approx(p(W))
    assert tangent == pytest.approx(float(_fd(p, [W], 0) @ v), rel=1e-6)
    hessian = 2 * X.T @ X + 0.2 * np.eye(3)
    np.testing.assert_allclose(s2sad.hvp(p)(W, v), hessian @ v, rtol=1e-10)
    np.testing.assert_allclose(s2sad.hessian(p)(W), hessian, rtol=1e-10)
    residual = functools.partial(lambda w, X, y: X @ w - y, X=X, y=Y)
    np.testing.assert_allclose(s2sad.jacobian(residual)(W), X, rtol=1e-12)


def test_check_grad_accepts_a_partial():
    errors = s2sad.check_grad(functools.partial(ridge, X=X, y=Y), W)
    assert list(errors) == ["w"] and errors["w"] < 1e-6


def test_the_source_is_the_functions_gradient():
    df = s2sad.grad(functools.partial(ridge, X=X, y=Y))
    text = s2sad.source(df, W)
    assert text.startswith("def dridge(w, X, y, lam=0.1):") and "dw = " in text
    assert s2sad.source(df) == text


def test_partials_share_their_functions_builds():
    df1 = s2sad.grad(functools.partial(ridge, X=X, y=Y))
    df1(W)
    p2 = functools.partial(ridge, X=2.0 * X, y=Y)
    df2 = s2sad.grad(p2)
    g = df2(W)                                           # the bound values are read per call
    np.testing.assert_allclose(g, _fd(p2, [W], 0), rtol=1e-6)
    assert df1.__s2sad_bound__[0].__s2sad__.latest is df2.__s2sad_bound__[0].__s2sad__.latest


def test_the_gradient_of_a_partial_is_not_transformed_again():
    with pytest.raises(TypeError, match="partial of the gradient"):
        s2sad.jvp(s2sad.grad(functools.partial(ridge, X=X, y=Y)))
    hessian = s2sad.jacobian(functools.partial(s2sad.grad(ridge), X=X, y=Y))(W)   # what it suggests
    np.testing.assert_allclose(hessian, 2 * X.T @ X + 0.2 * np.eye(3), rtol=1e-10)


def test_an_error_inside_names_the_users_line():
    def bad(w, X):
        return np.sum(np.unwrap(X @ w))
    with pytest.raises(s2sad.TransformError, match="unwrap") as info:
        s2sad.grad(functools.partial(bad, X=X))(W)
    assert "test_partial.py" in str(info.value)
