"""Gradients on Dask arrays (issue 20, first part): the generated gradient of
a loss written in NumPy takes chunked Dask arrays, builds a graph and
computes nothing but the decisions the user's own `if`s need, each once;
the values are NumPy's."""

import numpy as np
import pytest

import s2sad

da = pytest.importorskip("dask.array")
from dask.callbacks import Callback  # noqa: E402


class Computes(Callback):
    """Counts the graphs Dask computes while it is active."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def _start(self, dsk):
        self.count += 1


def chunked(a, parts=4):
    """`a` as a Dask array in `parts` chunks along its first axis."""
    return da.from_array(a, chunks=(max(1, a.shape[0] // parts),) + a.shape[1:])


def data(n=2000, p=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = (X @ rng.normal(size=p) + rng.normal(size=n) > 0) * 1.0
    return X, y


def least_squares(beta, X, y):
    r = X @ beta - y
    return np.sum(r ** 2) / y.shape[0]


def logistic(w, X, y, lam):
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + lam * np.sum(w * w)


def two_layer(W1, W2, X, y):
    h = np.tanh(X @ W1)
    z = h @ W2
    return np.mean((z[:, 0] - y) ** 2)


def branchy(w, X):
    z = X @ w
    if np.sum(z) > 0:                 # a decision on the data: computed once
        y = np.tanh(z)
    else:
        y = z * z
    return np.sum(y)


CASES = [
    ("least_squares", least_squares, lambda X, y: (np.full(X.shape[1], 0.1), X, y), (0,)),
    ("logistic", logistic, lambda X, y: (np.full(X.shape[1], 0.1), X, y, 0.01), (0,)),
    ("two_layer", two_layer, lambda X, y: (np.full((X.shape[1], 3), 0.1), np.ones((3, 1)), X, y), (0, 1)),
]


@pytest.mark.parametrize("f, make, wrt", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gradient_builds_a_graph_and_computes_nothing(f, make, wrt):
    X, y = data()
    args = make(X, y)
    expected = s2sad.grad(f, wrt=wrt)(*args)
    lazy = tuple(chunked(a) if a is X or a is y else a for a in args)
    with Computes() as computes:
        got = s2sad.grad(f, wrt=wrt)(*lazy)
    assert computes.count == 0
    for g, e in zip(got, expected):
        assert isinstance(g, da.Array)
        np.testing.assert_allclose(g.compute(), e, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_decision_on_the_data_is_computed_once(sign):
    X, _ = data()
    w = np.full(X.shape[1], 0.1 * sign)
    df = s2sad.grad(branchy)
    with Computes() as computes:
        got = df(w, chunked(X))
    assert computes.count == 1                     # not once per sweep
    np.testing.assert_allclose(got.compute(), df(w, X), rtol=1e-10)
    text = s2sad.source(df, w, X)
    assert "cond = bool(np.sum(z) > 0)" in text    # the decision, kept for the reverse sweep


def test_decisions_in_a_loop_are_recorded_as_bools():
    def clipped_steps(w, X):
        h = X @ w
        for _ in range(3):
            if np.max(h) > 1.0:
                h = h / np.max(h)
            h = np.sin(h) + h
        return np.sum(h * h)

    X, _ = data(n=400)
    w = np.full(X.shape[1], 0.4)
    df = s2sad.grad(clipped_steps)
    with Computes() as computes:
        got = df(w, chunked(X))
    assert computes.count == 3                     # one decision a trip
    np.testing.assert_allclose(got.compute(), df(w, X), rtol=1e-10)
