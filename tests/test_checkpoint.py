"""Checkpointed loops (`s2sad.grad(f, checkpoint=...)`): the same gradient from
about sqrt(T) saved states instead of T trips' values, and differentiable again."""

import tracemalloc

import numpy as np
import pytest

import s2sad
from fdcheck import check_gradient

rng = np.random.default_rng(21)


def rnn(x, Wxh, Whh, bh):
    h = np.zeros((x.shape[1], Whh.shape[0]))
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ Wxh + h @ Whh + bh)
    return np.sum(h ** 2)


def rnn_args(T):
    return (rng.normal(size=(T, 2, 3)), rng.normal(size=(3, 4)) * 0.5, rng.normal(size=(4, 4)) * 0.5,
            rng.normal(size=4))


def two_states_nested(x, w, a, b):
    s, y = 0.0, x
    for t in range(a, b):
        for k in range(2):
            y = np.sin(y * w) + 0.1 * k
        if t % 3 == 0:
            s = s + np.sum(y * y)
        else:
            s = s * 0.9
    return s + np.sum(y)


@pytest.mark.parametrize("T", [0, 1, 7, 10, 16])
@pytest.mark.parametrize("every", [True, 1, 3, 50])
def test_same_gradient_as_without(T, every):
    args = rnn_args(T)
    plain = s2sad.grad(rnn, wrt=(0, 1, 2, 3))(*args)
    checkpointed = s2sad.grad(rnn, wrt=(0, 1, 2, 3), checkpoint=every)(*args)
    for a, b in zip(plain, checkpointed):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_several_state_names_nested_loops_and_branches_against_finite_differences():
    args = (rng.normal(size=3), 0.8, 2, 9)
    for every in (True, 2, 4):
        d = s2sad.grad(two_states_nested, wrt=(0, 1), checkpoint=every)
        expected = s2sad.grad(two_states_nested, wrt=(0, 1))(*args)
        got = d(*args)
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
        assert got[1] == pytest.approx(expected[1], rel=1e-12)
    check_gradient(two_states_nested, args, (0, 1))
    text = s2sad.source(s2sad.grad(two_states_nested, wrt=(0, 1), checkpoint=True), *args)
    assert "state_checkpoints.append((s, y))" in text and "s, y = state_checkpoints.pop()" in text


def test_the_forward_loop_keeps_states_not_trips():
    args = rnn_args(9)
    text = s2sad.source(s2sad.grad(rnn, wrt=1, checkpoint=True), *args)
    forward = text.split("# ---- reverse sweep ----")[0]
    assert "h_checkpoints.append(h)" in forward and "_stack.append" not in forward
    reverse = text.split("# ---- reverse sweep ----")[1]
    assert "h = h_checkpoints.pop()" in reverse and "_stack.append" in reverse   # recomputed


def test_a_checkpointed_gradient_is_differentiable():
    args = rnn_args(8)
    v = rng.normal(size=(4, 4))
    _, hv = s2sad.jvp(s2sad.grad(rnn, wrt=2, checkpoint=3), wrt=2)(*args, v)
    g = s2sad.grad(rnn, wrt=2)
    eps = 1e-6
    plus, minus = list(args), list(args)
    plus[2], minus[2] = args[2] + eps * v, args[2] - eps * v
    np.testing.assert_allclose(hv, (g(*plus) - g(*minus)) / (2 * eps), rtol=1e-6, atol=1e-8)


def filled(x):
    y = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = np.sin(x[i]) * 2.0
    return np.sum(y * y)


def test_loops_it_cannot_checkpoint_are_left_as_they_are():
    x = rng.normal(size=6)
    g = s2sad.grad(filled, checkpoint=True)
    np.testing.assert_allclose(g(x), s2sad.grad(filled)(x), rtol=1e-12)
    assert "checkpoints" not in s2sad.source(g, x)        # in-place updates: not checkpointed


@pytest.mark.parametrize("bad", [0, -2, 1.5, "sqrt"])
def test_a_bad_checkpoint_value_is_a_clear_error(bad):
    with pytest.raises(TypeError, match="checkpoint must be"):
        s2sad.grad(rnn, checkpoint=bad)


def peak_bytes(fn, *args):
    fn(*args)                                             # built and warm
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_grows_like_the_square_root_of_the_trips():
    args = (rng.normal(size=(900, 4, 8)), rng.normal(size=(8, 16)) * 0.3,
            rng.normal(size=(16, 16)) * 0.3, rng.normal(size=16))
    plain = peak_bytes(s2sad.grad(rnn, wrt=(1, 2, 3)), *args)
    checkpointed = peak_bytes(s2sad.grad(rnn, wrt=(1, 2, 3), checkpoint=True), *args)
    assert checkpointed < plain / 5, (plain, checkpointed)
