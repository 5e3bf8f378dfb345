"""Indexing in every form NumPy has, `np.take`, `np.take_along_axis`, the
functions with a zero gradient and the constant makers.

Every check runs against central finite differences and on the CuPy-like
StrictArray (fdcheck.check_gradient).  Repeated integer indices must add up
(`x[[0, 2, 2]]`): Tangent's fork silently gets that wrong.
"""

import re

import numpy as np
import pytest

import s2sad
from fdcheck import assert_close, check_gradient

rng = np.random.default_rng(11)
IDX = np.array([0, 2, 2, -1])
ROWS = np.array([[0, 1], [1, 1]])


def weights(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=shape)


# ---- basic indexing ------------------------------------------------------------------

def l_int(x, c):
    return x[1] * 2.0 + x[-1] ** 2


def l_neg_step(x, c):
    return np.sum(x[::-2] * c[: len(x[::-2])])


def l_slice_range(x, c):
    return np.sum(x[1:-1] ** 2) + np.sum(x[-3:] * c[:3])


def l_rows_cols(x, c):
    return np.sum(x[:, 0] * c[:, 0]) + np.sum(x[1, :] ** 2) + np.sum(x[-1, ::-1] * c[0])


def l_ellipsis(x, c):
    return np.sum(x[..., 0] ** 2) + np.sum(x[0, ...] * c[0])


def l_newaxis(x, c):
    return np.sum(x[None, :, 0] * c[:, 0]) + np.sum(x[:, np.newaxis] ** 2)


def l_three_d(x, c):
    return np.sum(x[1:, ::-1, 0] ** 2) + np.sum(x[..., -1] * c[..., 0])


@pytest.mark.parametrize("loss, shape", [
    (l_int, (5,)), (l_neg_step, (5,)), (l_neg_step, (6,)), (l_slice_range, (6,)),
    (l_rows_cols, (4, 3)), (l_ellipsis, (4, 3)), (l_ellipsis, (2, 3, 4)), (l_newaxis, (4, 3)),
    (l_three_d, (3, 4, 2)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_basic_indexing(loss, shape, dtype):
    x = rng.normal(size=shape).astype(dtype)
    check_gradient(loss, (x, weights(shape).astype(dtype)), 0)


def test_basic_indexing_assigns_instead_of_scattering():
    text = s2sad.source(s2sad.grad(l_rows_cols), rng.normal(size=(4, 3)), weights((4, 3)))
    assert "np.add.at" not in text and re.search(r"dx\d*\[:, 0\] \+?= ", text)


# ---- advanced indexing: masks, integer arrays, mixtures ------------------------------

def l_mask(x, c):
    return np.sum(x[x > 0] ** 2)


def l_mask_rows(x, c):
    keep = np.sum(x, axis=1) > 0
    return np.sum(x[keep] * c[keep])


def l_repeated(x, c):
    return np.sum(x[[0, 2, 2]] * 2.0) + np.sum(x[IDX] ** 2)


def l_repeated_rows(x, c):
    return np.sum(x[[1, 1, 0]] * c[:3])


def l_mixed(x, c):
    return np.sum(x[1:, [0, 0, 1]] ** 2) + np.sum(x[[0, 0], 1:] * 3.0)


def l_two_arrays(x, c):
    return np.sum(x[[0, 1, 1], [2, 2, 0]] * c[0])


def l_index_array_2d(x, c):
    return np.sum(x[ROWS] ** 2)


@pytest.mark.parametrize("loss, shape", [
    (l_mask, (7,)), (l_mask, (3, 4)), (l_mask_rows, (5, 3)), (l_repeated, (5,)),
    (l_repeated, (5, 2)), (l_repeated_rows, (3, 4)), (l_mixed, (4, 3)), (l_two_arrays, (3, 3)),
    (l_index_array_2d, (3, 2)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_advanced_indexing(loss, shape, dtype):
    x = rng.normal(size=shape).astype(dtype)
    check_gradient(loss, (x, weights(shape).astype(dtype)), 0)


def test_repeated_indices_accumulate_exactly():
    x = np.arange(5.0)
    g = s2sad.grad(l_repeated)(x, None)
    # x[[0,2,2]]*2 -> 2, 0, 4; x[[0,2,2,-1]]**2 -> 2x at 0, 2*(2x) at 2, 2x at -1
    assert_close(g, [2.0 + 0.0, 0.0, 4.0 + 4 * 2.0, 0.0, 2 * 4.0])


def test_masks_assign_and_integer_arrays_scatter():
    x = rng.normal(size=(3, 4))
    mask_text = s2sad.source(s2sad.grad(l_mask), x, None)
    assert "add_at" not in mask_text                 # a mask selects each element once
    fancy_text = s2sad.source(s2sad.grad(l_repeated_rows), x, weights((3, 4)))
    assert "add_at(dx, " in fancy_text               # (np.add.at, and a scatter graph on Dask)


# ---- take and take_along_axis ------------------------------------------------------

def l_take(x, c):
    return np.sum(np.take(x, [0, 1, 1], axis=1) ** 2) + np.sum(np.take(x, [3, 3, 0]) * c[0, :3])


def l_take_neg_axis(x, c):
    return np.sum(np.take(x, IDX[:3], axis=-1) * c[..., :3])


def l_take_method(x, c):
    return np.sum(x.take([2, 0, 2], axis=0) * c[:3])


def l_take_along(x, c):
    order = np.argsort(x, axis=1)
    return np.sum(np.take_along_axis(x, order, axis=1) * c)


def l_take_along_repeats(x, c):
    return np.sum(np.take_along_axis(x, ROWS, axis=0) ** 2)


@pytest.mark.parametrize("loss, shape", [
    (l_take, (4, 3)), (l_take_neg_axis, (2, 3, 4)), (l_take_method, (4, 2)),
    (l_take_along, (3, 4)), (l_take_along, (5, 2)), (l_take_along_repeats, (3, 2)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_take(loss, shape, dtype):
    x = rng.normal(size=shape).astype(dtype)
    check_gradient(loss, (x, weights(shape).astype(dtype)), 0)


# ---- zero gradients and constants ----------------------------------------------------

def l_zero_gradient(x, c):
    k = np.argmax(x)
    j = np.argmin(x, axis=0)
    order = np.argsort(x, axis=-1)
    rounded = np.floor(x) + np.ceil(x) + np.round(x) + np.rint(x) + np.sign(x)
    return np.sum(rounded * c) + np.sum(x * 2.0) + k + np.sum(j) + np.sum(order)


def test_functions_with_a_zero_gradient():
    x = rng.normal(size=(3, 4)) + 0.3
    g = check_gradient(l_zero_gradient, (x, weights((3, 4))), 0)
    assert_close(g, np.full((3, 4), 2.0))


def l_constants(x, c):
    n, m = x.shape
    z = np.zeros((n, m)) + np.ones_like(x) + np.eye(n, m) + np.zeros_like(x) + np.empty_like(x) * 0.0
    r = np.arange(m) * 1.0 + np.linspace(0.0, 1.0, m)
    return np.sum((x + z) * r * c) + np.sum(np.full((n, m), 2.0) * x)


def test_constant_makers():
    x = rng.normal(size=(3, 4))
    c = weights((3, 4))
    g = check_gradient(l_constants, (x, c), 0, strict=False)     # np.zeros((n, m)) is host code
    assert_close(g, (np.arange(4) + np.linspace(0, 1, 4)) * c + 2.0)


def l_fill_values(x, c):
    v = np.sum(x)
    return np.sum(np.full((2, 3), v) * c[:2, :3]) + np.sum(np.full_like(x, v * 2.0))


def test_fill_values_carry_a_gradient():
    x = rng.normal(size=(3, 4))
    c = weights((3, 4))
    g = check_gradient(l_fill_values, (x, c), 0, strict=False)  # np.full(shape, device value)
    assert_close(g, np.full((3, 4), np.sum(c[:2, :3]) + 24.0))


def l_comparisons(x, c):
    m = np.logical_and(x > 0, np.less(x, 1.0)) | np.isclose(x, 0.5) | (x == 2.0)
    return np.sum(m * x * c) + np.sum(np.greater_equal(x, 0.0) * x)


def test_comparisons_and_logic_carry_no_gradient():
    x = rng.normal(size=(4, 3))
    c = weights((4, 3))
    g = check_gradient(l_comparisons, (x, c), 0)
    m = ((x > 0) & (x < 1.0)) | np.isclose(x, 0.5)
    assert_close(g, np.where(m, c, 0.0) + (x >= 0))
