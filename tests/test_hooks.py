"""`s2sad.grad_of`: user code run on an adjoint at the matching point of the
reverse sweep (clipping, logging, a breakpoint); skipped when the function
runs as plain Python; ignored by forward mode."""

import numpy as np
import pytest

import s2sad

LOG = []


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def clipped_layer(x, W, limit):
    h = np.tanh(x @ W)
    with s2sad.grad_of(h) as dh:
        dh = np.clip(dh, -limit, limit)
    return np.sum(h ** 3 * 5.0) + np.sum(h)


def test_clipping_through_the_hook_equals_clipping_by_hand():
    x, W = rand(4, 3, seed=1) * 2, rand(3, 2, seed=2) * 2
    g = s2sad.grad(clipped_layer, wrt=1)(x, W, 0.5)
    h = np.tanh(x @ W)
    dh = np.clip(15.0 * h ** 2 + 1.0, -0.5, 0.5)          # both uses of h, then the clip
    np.testing.assert_allclose(g, x.T @ (dh * (1.0 - h * h)), rtol=1e-12)
    unclipped = x.T @ ((15.0 * h ** 2 + 1.0) * (1.0 - h * h))
    assert not np.allclose(g, unclipped)                 # the clip did something


def test_the_block_is_skipped_when_the_function_runs_plainly():
    LOG.clear()
    x = rand(3, seed=3)

    value = logged(x)
    assert LOG == []                                      # the block did not run
    np.testing.assert_allclose(value, np.sum(np.sin(x) * 2.0))
    assert logged(x) == value                             # and again (no tracing left behind)


def logged(x):
    s = np.sin(x)
    with s2sad.grad_of(s) as ds:
        LOG.append(ds.copy())
    return np.sum(s * 2.0)


def test_logging_in_the_block_sees_the_adjoint():
    LOG.clear()
    x = rand(3, seed=4)
    g = s2sad.grad(logged)(x)
    assert len(LOG) == 1
    np.testing.assert_allclose(LOG[0], np.full(3, 2.0))
    np.testing.assert_allclose(g, 2.0 * np.cos(x))


def scaled_in_loop(x, w, n, c):
    y = x
    for t in range(n):
        y = np.sin(y) * w
        with s2sad.grad_of(y) as dy:
            dy = dy * c
    return np.sum(y)


def test_a_hook_in_a_loop_runs_every_trip_backwards():
    x, w = rand(3, seed=5), 0.9
    n, c = 4, 0.5
    g = s2sad.grad(scaled_in_loop, wrt=(0, 1))(x, w, n, c)
    ys = [x]                                             # hand-written reverse with the scaling
    for t in range(n):
        ys.append(np.sin(ys[-1]) * w)
    dy, dw = np.ones(3), 0.0
    for t in reversed(range(n)):
        dy = dy * c
        dw += np.sum(dy * np.sin(ys[t]))
        dy = dy * w * np.cos(ys[t])
    np.testing.assert_allclose(g[0], dy, rtol=1e-12)
    np.testing.assert_allclose(g[1], dw, rtol=1e-12)


def test_forward_mode_ignores_the_block():
    x, W = rand(4, 3, seed=6), rand(3, 2, seed=7)
    v = rand(3, 2, seed=8)
    value, tangent = s2sad.jvp(clipped_layer, wrt=1)(x, W, 0.5, v)
    eps = 1e-6
    numeric = (clipped_layer(x, W + eps * v, 0.5) - clipped_layer(x, W - eps * v, 0.5)) / (2 * eps)
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6)


def unused_path(x):
    k = x * 3.0
    with s2sad.grad_of(k) as dk:     # noqa: F841  (never read: its path is unused)
        LOG.append("ran")
    return np.sum(x)


def test_a_block_no_gradient_reaches_does_not_run():
    LOG.clear()
    np.testing.assert_allclose(s2sad.grad(unused_path)(rand(3)), np.ones(3))
    assert LOG == []


def source_of_the_block(x):
    h = np.exp(x)
    with s2sad.grad_of(h) as dh:
        dh = np.clip(dh, -1.0, 1.0)
    return np.sum(h * h)


def test_the_block_appears_in_the_generated_source():
    text = s2sad.source(s2sad.grad(source_of_the_block), rand(3))
    assert "# with s2sad.grad_of(h) as dh:" in text
    assert "dh = np.clip(dh, -1.0, 1.0)" in text
    assert "grad_of" not in text.split("# ---- reverse sweep ----")[0]   # not in the forward sweep


def not_a_name(x):
    with s2sad.grad_of(x * 2.0) as d:
        d = d * 0.0
    return np.sum(x)


def leaves_early(x):
    y = x * 2.0
    with s2sad.grad_of(y) as dy:
        return np.sum(dy)
    return np.sum(y)


def other_context(x):
    with np.errstate(all="ignore"):
        y = np.log(x)
    return np.sum(y)


@pytest.mark.parametrize("f, words", [
    (not_a_name, "one local name"),
    (leaves_early, "cannot leave early"),
    (other_context, "only `with s2sad.grad_of"),
])
def test_misuse_is_a_clear_error(f, words):
    with pytest.raises(s2sad.TransformError, match=words):
        s2sad.grad(f)(rand(3) + 2.0)

