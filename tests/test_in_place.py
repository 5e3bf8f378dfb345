"""In-place array updates: `x[i] = v`, `x[i] += v`, `x[:, j] = ...`, `np.add.at`,
on arrays made inside the function and on arguments (the caller's array is
never changed), in loops; shared arrays and repeated indices are refused,
never differentiated wrongly."""

import numpy as np
import pytest

import s2sad
from fdcheck import check_gradient


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def check(f, args, wrt=0):
    return check_gradient(f, args, wrt, strict=False)


def fill_in_loop(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = np.sin(x[i]) * x[i]
    return np.sum(out * out)


def slices_and_items(x, v):
    y = x * 2.0
    y[1:3] = v * v
    y[0] += v[0]
    y[-1] -= 3.0 * v[1]
    return np.sum(y * y)


def column(X, c):
    Y = X.copy()
    Y[:, 1] = c
    Y[0, :] *= 2.0
    return np.sum(Y ** 2)


def argument_updated(x):
    x[0] = 5.0
    return np.sum(x * x)


def empty_like_filled(x):
    y = np.empty_like(x)
    y[...] = np.tanh(x)
    return np.sum(y * x)


def add_at(w, idx):
    h = np.zeros(3)
    np.add.at(h, idx, w)
    return np.sum(h * h)


def histogram_loop(x, idx):
    buf = np.zeros(4)
    for i in range(x.shape[0]):
        buf[idx[i]] += x[i]
    return np.sum(buf ** 2)


def read_then_write(x):
    y = x.copy()
    s = np.sum(y * y)
    y[0] = 3.0
    return s + np.sum(y * x)


def recurrence(x):
    a = np.zeros(x.shape[0])
    a[0] = x[0]
    for i in range(1, x.shape[0]):
        a[i] = np.sin(a[i - 1]) + x[i]
    return np.sum(a * a)


def mask_update(x):
    y = x.copy()
    y[x < 0] = 0.0
    return np.sum(y * x)


def test_fill_in_loop_updates_in_place():
    check(fill_in_loop, (rand(5, seed=1),))
    text = s2sad.source(s2sad.grad(fill_in_loop), rand(5))
    assert "out = out.copy()" not in text    # nothing else reads the old array
    assert "dout[i] = 0" in text and ".copy()" not in text   # the reverse touches one item a trip


def rows_in_loop(x, W):
    out = np.zeros((x.shape[0], W.shape[1]))
    for i in range(x.shape[0]):
        out[i] = np.tanh(x[i] @ W)
        out[i, 0] = out[i, 0] * 2.0
    return np.sum(out ** 2)


def test_rows_overwritten_in_loop_take_a_copy_of_their_adjoint_row():
    x, W = rand(4, 3, seed=21), rand(3, 2, seed=22)
    check(rows_in_loop, (x, W), (0, 1))
    text = s2sad.source(s2sad.grad(rows_in_loop, wrt=(0, 1)), x, W)
    assert "dout[i].copy()" in text and "dout[i] = 0" in text   # a row is a view: copied first


@pytest.mark.parametrize("wrt", [0, 1, (0, 1)])
def test_slices_and_items(wrt):
    check(slices_and_items, (rand(5, seed=2), rand(2, seed=3)), wrt)


def test_columns_and_rows():
    check(column, (rand(3, 4, seed=4), rand(3, seed=5)), (0, 1))


def test_argument_updated_is_copied_first():
    x = rand(4, seed=6)
    before = x.copy()
    g = check(argument_updated, (x,))
    np.testing.assert_array_equal(x, before)
    assert g[0] == 0.0


def test_empty_like_filled():
    check(empty_like_filled, (rand(2, 3, seed=7),))


def test_add_at_sums_repeated_indices():
    w, idx = rand(4, seed=8), np.array([0, 2, 2, 1])
    g = check(add_at, (w, idx))
    h = np.zeros(3)
    np.add.at(h, idx, w)
    np.testing.assert_allclose(g, 2 * h[idx], rtol=1e-12)


def test_item_accumulation_in_loop_with_repeats():
    check(histogram_loop, (rand(6, seed=9), np.array([0, 1, 1, 3, 0, 1])))


def test_values_read_before_the_update_keep_their_gradient():
    check(read_then_write, (rand(4, seed=10),))


def test_recurrence_written_into_an_array():
    check(recurrence, (rand(6, seed=11),))


def test_boolean_mask_update():
    check(mask_update, (rand(7, seed=12),))


# ---- refused: never a wrong gradient ------------------------------------------------------

def write_through_view(x):
    y = x * 2.0
    v = y[0:2]
    y[0] = 5.0
    return np.sum(v * x[0:2])


def fancy_repeated_set(x, idx):
    y = np.zeros(3)
    y[idx] = x
    return np.sum(y * y)


def sort_in_place(x):
    y = x * 1.0
    y.sort()
    return np.sum(y)


def out_argument(x):
    y = np.zeros_like(x)
    np.multiply(x, 2.0, out=y)
    return np.sum(y)


def test_update_of_an_array_a_view_reads_later_is_refused():
    with pytest.raises(s2sad.TransformError, match="shares"):
        s2sad.grad(write_through_view)(rand(3))


def test_repeated_integer_indices_in_assignment_keep_the_last_write():
    # NumPy keeps the last write to a repeated position: the overwritten x[1] gets nothing
    x = rand(3, seed=12)
    g = s2sad.grad(fancy_repeated_set)(x, np.array([0, 2, 2]))
    np.testing.assert_allclose(g, [2 * x[0], 0.0, 2 * x[2]], rtol=1e-12)
    g = s2sad.grad(fancy_repeated_set)(rand(3, seed=13), np.array([0, 2, 1]))
    np.testing.assert_allclose(g, 2 * rand(3, seed=13), rtol=1e-12)


@pytest.mark.parametrize("func, words", [(sort_in_place, "sort"), (out_argument, "out=")])
def test_mutating_calls_are_refused(func, words):
    with pytest.raises(s2sad.TransformError, match=words):
        s2sad.grad(func)(rand(3))


GLOBAL_BUFFER = np.zeros(3)


def updates_a_global(x):
    GLOBAL_BUFFER[0] = 1.0
    return np.sum(x * GLOBAL_BUFFER)


def chained_item_update(x):
    y = np.zeros((2, 2))
    y[0][1] = 3.0
    return np.sum(y * x)


def dict_comprehension(x):
    d = {k: x * k for k in range(2)}
    return np.sum(d[0])


def repeated_index_increment(x, idx):
    buf = np.zeros(3)
    buf[idx] += x
    return np.sum(buf * buf)


@pytest.mark.parametrize("func, words", [(updates_a_global, "not a local variable"),
                                         (chained_item_update, "index once"),
                                         (dict_comprehension, "dict comprehensions")])
def test_updates_that_cannot_be_followed_are_refused(func, words):
    with pytest.raises(s2sad.TransformError, match=words):
        s2sad.grad(func)(rand(2, 2) if func is chained_item_update else rand(3))


def test_increment_with_repeated_indices_keeps_pythons_last_write():
    # Python: buf[idx] += x reads buf[idx] once and writes each position; with a
    # repeated index only the last write stays, and only its part of x has a gradient
    g = check(repeated_index_increment, (np.array([1.0, 2.0, 3.0]), np.array([0, 1, 1])))
    np.testing.assert_allclose(g, [2.0, 0.0, 6.0])
    check(repeated_index_increment, (rand(3, seed=20), np.array([2, 0, 1])))


def filled_then_shared(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        y[i] = x[i] * 2.0
    z = y + x
    return np.sum(z ** 2)


def test_an_adjoint_two_names_hold_is_not_changed_in_place():
    # unbroadcast(dz, y) and unbroadcast(dz, x) are one array: zeroing dy[i] must not touch dx
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(s2sad.grad(filled_then_shared)(x), 18.0 * x)
    check(filled_then_shared, (rand(4, seed=30),))


def dict_item_assigned(x):
    d = {"a": x}
    d["b"] = 2.0 * x
    return np.sum(d["a"] * d["b"])


def dict_made_by_items(x):
    d = {}
    d["a"] = 2.0 * x
    return np.sum(d["a"])


@pytest.mark.parametrize("f", [dict_item_assigned, dict_made_by_items])
def test_dict_item_assignment_is_refused_not_wrong(f):
    with pytest.raises(s2sad.TransformError, match="dict item"):
        s2sad.grad(f)(rand(3))
