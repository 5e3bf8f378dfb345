"""Partials, bound methods and callable objects differentiated through their
functions (`s2sad.bound`): grad, value_and_grad, jvp, hvp, jacobian,
hessian and check_grad against central finite differences, `wrt` counted
over the free parameters (as in JAX; a method's after `self`), keywords a
call overrides, attributes read at each call, builds shared with the
function, and the generated source."""

import functools
from typing import NamedTuple

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
    assert "test_bound.py" in str(info.value)


# ---- bound methods and callable objects ------------------------------------------------


class Model:
    scale = 2.0

    def __init__(self, alpha, W):
        self.alpha = alpha
        self.W = W

    def features(self, x):
        return np.tanh(self.W @ x)

    def loss(self, x, c=1.0):
        return np.sum(Model.features(self, x) * self.alpha) * c

    def calls_a_method(self, x):
        return np.sum(self.features(x))

    def __call__(self, x):
        return Model.loss(self, x)

    @classmethod
    def scaled(cls, x):
        return np.sum(np.sin(x) * cls.scale)

    @staticmethod
    def static(x):
        return np.sum(x * x)


XM = np.array([0.3, -0.2, 0.5])


def _model():
    return Model(0.5, np.eye(3) + 0.1)


def test_a_bound_method_reads_its_attributes_at_each_call():
    m = _model()
    df = s2sad.grad(m.loss)                              # wrt=0: x, the first after self
    for alpha, W in [(0.5, m.W), (2.0, m.W), (np.array(2.0), m.W), (np.array([1.0, 2.0, 3.0]), m.W),
                     (1.5, np.ones((2, 3)))]:           # values and kinds changed between calls
        m.alpha, m.W = alpha, W
        np.testing.assert_allclose(df(XM), _fd(m.loss, [XM], 0), rtol=1e-6)
    dc = s2sad.grad(m.loss, wrt="c")(XM, 3.0)
    assert dc == pytest.approx(float(m.loss(XM)))


def test_a_bound_method_in_forward_mode_and_second_order():
    m = _model()
    v = np.array([1.0, -2.0, 0.5])
    value, tangent = s2sad.jvp(m.loss)(XM, v)
    assert value == pytest.approx(m.loss(XM))
    assert tangent == pytest.approx(float(_fd(m.loss, [XM], 0) @ v), rel=1e-6)
    dm = s2sad.grad(m.loss)
    eps = 1e-6
    np.testing.assert_allclose(s2sad.hvp(m.loss)(XM, v), (dm(XM + eps * v) - dm(XM - eps * v)) / (2 * eps),
                               rtol=1e-6, atol=1e-9)


def test_a_callable_object():
    m = _model()
    np.testing.assert_allclose(s2sad.grad(m)(XM), _fd(m, [XM], 0), rtol=1e-6)
    assert s2sad.jvp(m)(XM, np.ones(3))[1] == pytest.approx(float(np.sum(_fd(m, [XM], 0))), rel=1e-6)


def test_class_and_static_methods():
    np.testing.assert_allclose(s2sad.grad(Model.scaled)(XM), 2.0 * np.cos(XM), rtol=1e-12)
    np.testing.assert_allclose(s2sad.grad(Model.static)(XM), 2 * XM, rtol=1e-12)
    np.testing.assert_allclose(s2sad.grad(_model().static)(XM), 2 * XM, rtol=1e-12)


def test_the_unbound_function_differentiates_with_respect_to_other_arguments():
    m = _model()
    np.testing.assert_allclose(s2sad.grad(Model.loss, wrt=1)(m, XM), _fd(m.loss, [XM], 0), rtol=1e-6)


def test_a_method_called_on_self_is_differentiated_through_its_class():
    m = _model()
    df = s2sad.grad(m.calls_a_method)
    np.testing.assert_allclose(df(XM), _fd(m.calls_a_method, [XM], 0), rtol=1e-6)
    assert "features_fwd(self, x)" in s2sad.source(df)
    _, t = s2sad.jvp(m.calls_a_method)(XM, np.ones(3))
    assert t == pytest.approx(float(np.sum(_fd(m.calls_a_method, [XM], 0))), rel=1e-6)
    m.W = np.ones((3, 3)) * 0.2                          # an attribute changed: read at the call
    np.testing.assert_allclose(df(XM), _fd(m.calls_a_method, [XM], 0), rtol=1e-6)


def test_a_method_that_is_not_a_readable_function_is_refused_with_a_fix():
    class Partial:
        def _features(self, x, scale):
            return np.tanh(scale * x)

        features = functools.partialmethod(_features, scale=2.0)

        def loss(self, x):
            return np.sum(self.features(x))

    with pytest.raises(s2sad.TransformError, match=r"`self.features\(...\)` calls a method of `self` "
                                                   r"\(a Partial\) that is not a function") as info:
        s2sad.grad(Partial().loss)(XM)
    assert "Partial.<function>(self, ...)" in str(info.value) and "test_bound.py" in str(info.value)


MODEL = Model(0.5, np.eye(3) + 0.1)


def calls_the_model(x):
    return np.sum(MODEL(x) * x)


def calls_the_model_through_its_class(x):
    return np.sum(Model.__call__(MODEL, x) * x)


def test_a_callable_object_called_inside_is_differentiated_through_its_class():
    for f in (calls_the_model, calls_the_model_through_its_class):
        np.testing.assert_allclose(s2sad.grad(f)(XM), _fd(f, [XM], 0), rtol=1e-6)
        _, t = s2sad.jvp(f)(XM, np.ones(3))
        assert t == pytest.approx(float(np.sum(_fd(f, [XM], 0))), rel=1e-6)
    MODEL.alpha = 3.0                                     # the global object's attribute: read at the call
    try:
        np.testing.assert_allclose(s2sad.grad(calls_the_model)(XM), _fd(calls_the_model, [XM], 0), rtol=1e-6)
    finally:
        MODEL.alpha = 0.5


def test_a_library_callable_object_inside_is_refused():
    square = np.vectorize(lambda v: v * v)

    def loss(x):
        return np.sum(square(x))

    with pytest.raises(s2sad.TransformError, match=r"`square\(...\)` calls a vectorize object \(from "
                                                   r"numpy\)"):
        s2sad.grad(loss)(XM)


def test_a_property_is_differentiated_through_its_getter():
    class Scaled:
        def __init__(self):
            self.w = np.array([0.5, 1.5, -1.0])

        @property
        def scale(self):
            return 2.5

        @property
        def weights(self):
            return np.tanh(self.w)

        def loss(self, x):
            return np.sum(np.sin(x) * self.weights) * self.scale

    s = Scaled()
    np.testing.assert_allclose(s2sad.grad(s.loss)(XM), 2.5 * np.cos(XM) * np.tanh(s.w), rtol=1e-12)
    np.testing.assert_allclose(s2sad.grad(Scaled.loss, wrt=1)(s, XM), 2.5 * np.cos(XM) * np.tanh(s.w),
                               rtol=1e-12)


def test_static_and_class_methods_called_inside():
    class Calls:
        k = 3.0

        @staticmethod
        def sq(v):
            return v * v

        @classmethod
        def total(cls, v):
            return np.sum(cls.sq(v)) * cls.k

        def loss(self, x):
            return self.total(np.sin(x)) + Calls.total(x) + self.sq(x[0])

    c = Calls()
    expected = _fd(c.loss, [XM], 0)
    np.testing.assert_allclose(s2sad.grad(c.loss)(XM), expected, rtol=1e-6)
    _, t = s2sad.jvp(c.loss)(XM, np.ones(3))
    assert t == pytest.approx(float(np.sum(expected)), rel=1e-6)


# ---- a model of named tuples: the gradient with respect to `self` --------------------------


class Linear(NamedTuple):
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return x @ self.W + self.b

    def loss(self, x, y):
        r = Linear.__call__(self, x) - y
        return np.mean(r * r)


def test_the_gradient_with_respect_to_self_is_of_selfs_type():
    rng = np.random.default_rng(5)
    m = Linear(rng.normal(size=(3, 2)), rng.normal(size=2))
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    g = s2sad.grad(Linear.loss)(m, x, y)
    assert type(g) is Linear
    np.testing.assert_allclose(g.W, _fd(lambda W: m._replace(W=W).loss(x, y), [m.W], 0), rtol=1e-6)
    np.testing.assert_allclose(g.b, _fd(lambda b: m._replace(b=b).loss(x, y), [m.b], 0), rtol=1e-6)
    direction = Linear(rng.normal(size=(3, 2)), rng.normal(size=2))
    _, tangent = s2sad.jvp(Linear.loss)(m, x, y, direction)
    assert tangent == pytest.approx(float(np.sum(g.W * direction.W) + np.sum(g.b * direction.b)), rel=1e-10)
    np.testing.assert_allclose(s2sad.grad(m.loss)(x, y), _fd(lambda x: m.loss(x, y), [x], 0), rtol=1e-6)
