"""Backend neutrality: gradients run on whatever array type comes in.

Every rule test checks its gradient on `StrictArray` too (fdcheck), a
CuPy-like type that refuses host transfers and host arrays; these tests
show that the contract bites, and run a model on real CuPy when a GPU is
present."""

import numpy as np
import pytest

import s2sad
from fdcheck import check_gradient, cupy_or_none, to_cupy
from strict_array import HostTransferError, StrictArray, wrap

rng = np.random.default_rng(7)


def test_strict_array_refuses_host_transfers():
    a = StrictArray(np.ones(3))
    for attempt in (lambda: np.asarray(a), lambda: float(a[0]), lambda: bool(a[0] > 0),
                    lambda: a.item(), lambda: a.tolist(), lambda: a + np.ones(3),
                    lambda: np.concatenate([a, np.ones(3)])):
        with pytest.raises(HostTransferError):
            attempt()
    assert isinstance(np.exp(a), StrictArray) and isinstance(np.zeros_like(a), StrictArray)
    assert isinstance(a.sum(), StrictArray) and isinstance(a[1:], StrictArray)
    b = np.zeros_like(a)
    np.add.at(b, np.array([0, 0, 2]), a)
    assert np.array_equal(b.data, [2.0, 0.0, 1.0])


def softplus(x):
    return np.log1p(np.exp(x))


@s2sad.tangent(softplus)            # forward mode needs its own rule beside the reverse ones
def _(tangents, result, x):
    return tangents[0] / (1.0 + np.exp(-x))


def softplus_loss(x, c):
    return np.sum(softplus(x) * c)


def host_bound_rule(g, result, x):
    return g * np.ones(x.shape) / (1.0 + np.exp(-x))      # np.ones(shape): a host array


def host_pulling_rule(g, result, x):
    return g * np.asarray(1.0 / (1.0 + np.exp(-x)))        # pulls the data to the host


def neutral_rule(g, result, x):
    return g / (1.0 + np.exp(-x))


@pytest.fixture
def restore_softplus_rule():
    yield
    s2sad.adjoint(softplus)(neutral_rule)


@pytest.mark.parametrize("bad_rule", [host_bound_rule, host_pulling_rule])
def test_contract_catches_a_host_bound_rule(bad_rule, restore_softplus_rule):
    args = (rng.normal(size=(3, 2)), rng.normal(size=(3, 2)))
    s2sad.adjoint(softplus)(bad_rule)
    check_gradient(softplus_loss, args, 0, strict=False)       # right on NumPy...
    with pytest.raises(HostTransferError):
        check_gradient(softplus_loss, args, 0)                  # ...but bound to the host
    s2sad.adjoint(softplus)(neutral_rule)
    check_gradient(softplus_loss, args, 0)                      # the neutral rule passes


def mlp(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    return np.mean((logits - y) ** 2)


def mlp_args():
    params = {"W1": rng.normal(size=(5, 8)), "b1": rng.normal(size=8),
              "W2": rng.normal(size=(8, 3)), "b2": rng.normal(size=3)}
    return params, rng.normal(size=(16, 5)), rng.normal(size=(16, 3))


def test_a_model_stays_on_the_strict_device():
    params, x, y = mlp_args()
    want = s2sad.grad(mlp)(params, x, y)
    got = s2sad.grad(mlp)(*wrap((params, x, y)))
    for k in want:
        assert isinstance(got[k], StrictArray)
        np.testing.assert_allclose(got[k].data, want[k], rtol=1e-12)


@pytest.mark.skipif(cupy_or_none() is None, reason="CuPy with a GPU is not available")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_model_on_cupy(dtype):
    cp = cupy_or_none()
    params, x, y = mlp_args()
    params = {k: v.astype(dtype) for k, v in params.items()}
    want = s2sad.grad(mlp)(params, x.astype(dtype), y.astype(dtype))
    got = s2sad.grad(mlp)(*to_cupy((params, x.astype(dtype), y.astype(dtype)), cp))
    for k in want:
        assert isinstance(got[k], cp.ndarray) and got[k].dtype == dtype
        np.testing.assert_allclose(cp.asnumpy(got[k]), want[k], rtol=1e-4 if dtype == np.float32 else 1e-10)
