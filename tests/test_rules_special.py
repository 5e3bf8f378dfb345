"""scipy.special rules beyond the rule table's differences: closed forms
(where SciPy's derivative is itself a special function), the numerically
delicate places (log_ndtr far in the tail, xlogy at zero, logsumexp of large
values), dtypes, and the rules' absence without SciPy."""

import numpy as np
import pytest

import s2sad

sp = pytest.importorskip("scipy.special")
RNG = np.random.default_rng(17)


def test_closed_forms():
    x = RNG.uniform(0.5, 3.0, size=(3, 4))
    np.testing.assert_allclose(s2sad.grad(lambda x: np.sum(sp.gammaln(x)))(x), sp.digamma(x), rtol=1e-14)
    np.testing.assert_allclose(s2sad.grad(lambda x: np.sum(sp.digamma(x)))(x), sp.polygamma(1, x), rtol=1e-14)
    np.testing.assert_allclose(s2sad.grad(lambda x: np.sum(sp.polygamma(2, x)))(x), sp.polygamma(3, x),
                               rtol=1e-14)
    np.testing.assert_allclose(s2sad.grad(lambda x: np.sum(sp.expit(x)))(x),
                               sp.expit(x) * sp.expit(-x), rtol=1e-12)
    z = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(s2sad.grad(lambda z: np.sum(sp.logsumexp(z, axis=1)))(z),
                               sp.softmax(z, axis=1), rtol=1e-12)
    np.testing.assert_allclose(s2sad.grad(lambda z: sp.logsumexp(z))(z), sp.softmax(z), rtol=1e-12)


def test_log_ndtr_far_in_the_tail_and_logsumexp_of_large_values():
    x = np.array([-40.0, -10.0, 0.0, 5.0])
    g = s2sad.grad(lambda x: np.sum(sp.log_ndtr(x)))(x)
    assert np.all(np.isfinite(g))
    assert g[0] == pytest.approx(40.025, rel=1e-3)          # phi/Phi ~ -x for x -> -inf
    big = np.array([1000.0, 999.0, -1000.0])
    g = s2sad.grad(lambda v: sp.logsumexp(v))(big)
    np.testing.assert_allclose(g, sp.softmax(big), rtol=1e-12)
    assert np.all(np.isfinite(g))


def test_xlogy_and_xlog1py_at_zero():
    x = np.array([0.0, 0.0, 2.0])
    y = np.array([0.0, 3.0, 3.0])
    gx, gy = s2sad.grad(lambda x, y: np.sum(sp.xlogy(x, y)), wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(gy, [0.0, 0.0, 2.0 / 3.0])      # xlogy(0, y) is 0 for every y
    np.testing.assert_allclose(gx[1:], np.log(y[1:]), rtol=1e-14)
    gx, gy = s2sad.grad(lambda x, y: np.sum(sp.xlog1py(x, y)), wrt=(0, 1))(x, np.array([-1.0, 3.0, 3.0]))
    np.testing.assert_array_equal(gy, [0.0, 0.0, 2.0 / 4.0])


def test_logsumexp_with_b_keepdims_and_axis_in_both_modes():
    a, b = RNG.normal(size=(3, 4)), RNG.uniform(0.5, 2.0, size=(4,))

    def f(a, b):
        return np.sum(sp.logsumexp(a, 1, b, True) ** 2)

    eps = 1e-6
    for i, arg in ((0, a), (1, b)):
        g = s2sad.grad(f, wrt=i)(a, b)
        v = RNG.normal(size=arg.shape)
        args = [a, b]
        plus, minus = list(args), list(args)
        plus[i], minus[i] = arg + eps * v, arg - eps * v
        directional = (f(*plus) - f(*minus)) / (2 * eps)
        assert np.sum(g * v) == pytest.approx(directional, rel=1e-6)
        _, t = s2sad.jvp(f, wrt=i)(a, b, v)
        assert t == pytest.approx(directional, rel=1e-6)


def test_float32_stays_float32():
    x = RNG.uniform(0.2, 0.8, size=5).astype(np.float32)
    for f in (lambda x: np.sum(sp.expit(x)), lambda x: np.sum(sp.erf(x) * sp.ndtri(x)),
              lambda x: np.sum(sp.log_softmax(x))):
        assert s2sad.grad(f)(x).dtype == np.float32
