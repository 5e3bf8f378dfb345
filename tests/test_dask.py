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


def test_training_on_a_distributed_cluster():
    """Adam on a logistic loss over data persisted on an in-process
    `LocalCluster`: loss and gradient computed together, one `dask.compute` a
    step; the same steps as on NumPy arrays."""
    distributed = pytest.importorskip("distributed")
    import dask
    import s2sad.optim

    X, y = data(n=4000)
    value_and_grad = s2sad.value_and_grad(logistic)

    def train(X, y, compute, steps=20):
        w, opt = np.zeros(X.shape[1]), s2sad.optim.Adam(lr=0.1)
        state = opt.init(w)
        for _ in range(steps):
            loss, g = compute(*value_and_grad(w, X, y, 0.01))
            w, state = opt.update(w, g, state)
        return loss, w

    expected = train(X, y, lambda loss, g: (loss, g))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        Xd, yd = chunked(X).persist(), chunked(y).persist()
        loss, w = train(Xd, yd, dask.compute)
    assert loss == pytest.approx(expected[0], rel=1e-10)
    np.testing.assert_allclose(w, expected[1], rtol=1e-9)
    assert loss < 0.6 < np.log(2.0)                     # it trained (from log 2 at w = 0)


def with_bias(theta, X, y):
    z = X @ theta[1:] + theta[0]             # slices of a NumPy parameter: adjoints written in place
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(theta[1:] ** 2)


def test_numpy_parameters_beside_dask_data_stay_lazy():
    """The gradient of a NumPy parameter read in slices is written into zeros
    (`dtheta[1:] = ...`): it comes back a Dask array, nothing computed."""
    X, y = data()
    theta = np.linspace(-0.5, 0.5, X.shape[1] + 1)
    df = s2sad.value_and_grad(with_bias)
    with Computes() as computes:
        value, g = df(theta, chunked(X), chunked(y))
    assert computes.count == 0
    assert isinstance(g, da.Array) and isinstance(theta, np.ndarray)
    expected = df(theta, X, y)
    assert float(value.compute()) == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(g.compute(), expected[1], rtol=1e-10)


def gathered(w, X, rows):
    return np.sum(np.tanh(X[rows] @ w) ** 2)          # repeated rows: a scatter-add


def sorted_tail(w, X):
    return np.sum(np.sort(X @ w)[-10:])               # np.sort: Dask computes the sort itself


def test_scatter_add_and_sort_adjoints_on_dask():
    """`x[rows]` with repeated rows (the adjoint's np.add.at, a bare TypeError
    on Dask before) and np.sort (whose adjoint computed): lazy, right."""
    X, _ = data(n=400)
    w = np.full(X.shape[1], 0.3)
    rows = np.array([3, 7, 3, 399, 0, 7, 7])
    dX = s2sad.grad(gathered, wrt=1)
    with Computes() as computes:
        got = dX(w, chunked(X), rows)
    assert computes.count == 0
    np.testing.assert_allclose(got.compute(), dX(w, X, rows), rtol=1e-12)
    dw = s2sad.grad(sorted_tail)
    import warnings
    with warnings.catch_warnings(), Computes() as computes:
        warnings.simplefilter("ignore")         # (Dask's warning: it has no np.sort)
        got = dw(w, chunked(X))
    assert computes.count == 1                  # the forward's np.sort only
    np.testing.assert_allclose(np.asarray(got.compute() if hasattr(got, "compute") else got),
                               dw(w, X), rtol=1e-12)


def test_cholesky_of_a_dask_array_is_refused():
    def f(a):
        return np.sum(np.linalg.cholesky(a @ a.T + 4.0 * np.eye(3)))

    a = np.eye(3) + 0.1
    with pytest.raises(NotImplementedError, match="upper factor"):
        s2sad.grad(f)(da.from_array(a, chunks=-1))


def softmax_regression(W, X, Y):
    z = X @ W
    z = z - np.max(z, axis=1)[:, None]                 # a new axis: its adjoint writes z[:]
    return -np.mean(np.sum(Y * (z - np.log(np.sum(np.exp(z), axis=1))[:, np.newaxis]), axis=1))


def test_new_axes_and_row_maxima_on_dask():
    X, y = data()
    Y = np.stack([y, 1.0 - y], axis=1)
    W = np.linspace(-0.3, 0.3, X.shape[1] * 2).reshape(X.shape[1], 2)
    df = s2sad.grad(softmax_regression)
    with Computes() as computes:
        got = df(W, chunked(X), chunked(Y))
    assert computes.count == 0
    np.testing.assert_allclose(got.compute(), df(W, X, Y), rtol=1e-10)


def recurrence(w, X):
    h = X[:, 0] * 0.0
    for t in range(12):                        # a long loop over data: checkpointed
        h = np.tanh(h * w[0] + X[:, t % X.shape[1]] * w[1])
    return np.sum(h ** 2)


@pytest.mark.parametrize("checkpoint", [None, True])
def test_a_checkpointed_loop_over_dask_data(checkpoint):
    X, _ = data(n=400)
    w = np.array([0.7, 0.4])
    df = s2sad.grad(recurrence, checkpoint=checkpoint)
    with Computes() as computes:
        got = df(w, chunked(X))
    assert computes.count == 0
    np.testing.assert_allclose(got.compute(), s2sad.grad(recurrence)(w, X), rtol=1e-10)


def test_jvp_and_hvp_on_dask_compute_nothing():
    X, y = data()
    w, v = np.full(X.shape[1], 0.1), np.linspace(-1.0, 1.0, X.shape[1])
    with Computes() as computes:
        (value, tangent), hv = (s2sad.jvp(logistic)(w, chunked(X), chunked(y), 0.01, v),
                                s2sad.hvp(logistic)(w, chunked(X), chunked(y), 0.01, v))
    assert computes.count == 0 and isinstance(hv, da.Array)
    expected_value, expected_tangent = s2sad.jvp(logistic)(w, X, y, 0.01, v)
    assert float(value.compute()) == pytest.approx(float(expected_value), rel=1e-12)
    assert float(tangent.compute()) == pytest.approx(float(expected_tangent), rel=1e-10)
    np.testing.assert_allclose(hv.compute(), s2sad.hvp(logistic)(w, X, y, 0.01, v), rtol=1e-10)


def test_dask_data_inside_a_pytree_lifts_the_parameters_too():
    X, y = data()
    theta = np.linspace(-0.5, 0.5, X.shape[1] + 1)

    def loss(theta, batch):
        return with_bias(theta, batch["X"], batch["y"])

    with Computes() as computes:
        g = s2sad.grad(loss)(theta, {"X": chunked(X), "y": chunked(y)})
    assert computes.count == 0 and isinstance(g, da.Array)
    np.testing.assert_allclose(g.compute(), s2sad.grad(loss)(theta, {"X": X, "y": y}), rtol=1e-10)
