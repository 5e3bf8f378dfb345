"""Regressions: data-flow cases that gave silently wrong gradients.

Each case is checked against central finite differences (float64) in reverse
mode, and its forward mode (`jvp` along a random direction) against the
gradient's dot product with that direction; or it must be refused with the
documented message.
"""

import warnings

import numpy as np
import pytest

import s2sad
from fdcheck import numerical_grad


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def check(f, args, wrt=0, seed=1):
    """grad against finite differences, jvp against the gradient; no warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = s2sad.grad(f, wrt=wrt)(*args)
        expected = numerical_grad(f, args, wrt)
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-6)
        x = args[wrt]
        v = rand(*np.shape(x), seed=seed) if np.ndim(x) else 0.7
        value, tangent = s2sad.jvp(f, wrt=wrt)(*args, v)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    np.testing.assert_allclose(tangent, np.sum(expected * v), rtol=1e-6, atol=1e-6)
    return g


def refused(f, args, words):
    for transform in (s2sad.grad, s2sad.jvp):
        call_args = args if transform is s2sad.grad else args + (np.ones_like(args[0]),)
        with pytest.raises(s2sad.TransformError, match=words):
            transform(f)(*call_args)


# ---- x ** 0, x ** 1 at x == 0 --------------------------------------------------------------

def powers(x):
    return np.sum(x ** 0 + 2.0 * x ** 1 + x ** 2)


def float_powers(x):
    return np.sum(x ** 0.0 + 3.0 * x ** 1.0 + x ** 2.0 + x ** 3)


def powers_of_a_number(x):
    return x ** 0 + x ** 1 + 2.0 * x ** 2


def power_by_argument(x, k):
    return np.sum(x ** k)


def power_in_a_loop(x):
    total = 0.0
    for k in range(3):
        total = total + np.sum(x ** k)
    return total


def test_powers_zero_and_one_are_exact_at_zero():
    x = np.array([0.0, 1.0, 2.0])
    g = check(powers, (x,))
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(check(float_powers, (x,)), [3.0, 8.0, 19.0])
    assert check(powers_of_a_number, (0.0,)) == 1.0
    assert check(powers_of_a_number, (1.0,)) == 5.0
    np.testing.assert_array_equal(check(power_in_a_loop, (x,)), [1.0, 3.0, 5.0])


@pytest.mark.parametrize("k", [0, 1, 2, 0.0, 3.0])
def test_power_by_a_runtime_exponent_is_exact_at_zero(k):
    x = np.array([0.0, 1.0, 2.0])
    g = check(power_by_argument, (x, k))
    np.testing.assert_array_equal(g, k * x ** (k - 1) if k != 0 else np.zeros(3))


def test_power_by_an_array_of_exponents():
    x, k = np.array([0.0, 1.5, 2.0]), np.array([0.0, 1.0, 3.0])
    g = s2sad.grad(power_by_argument)(x, k)
    np.testing.assert_array_equal(g, [0.0, 1.0, 12.0])


def test_power_rule_folds_constant_exponents():
    text = s2sad.source(s2sad.grad(powers), np.ones(3))
    code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))
    assert "** -1" not in code and "** 0" not in code and "power_slope" not in code


# ---- y[index] = v with repeated indices: the last write wins ---------------------------------

def repeated_list_index(v):
    y = np.zeros(3)
    y[[0, 0, 2]] = v
    return np.sum(y * y)


def repeated_runtime_index(v, idx):
    y = np.zeros(3)
    y[idx] = v
    return np.sum(y * y * np.array([1.0, 2.0, 3.0]))


def repeated_rows(v, idx):
    y = np.zeros((3, 2))
    y[idx, 1] = v
    return np.sum(y ** 3)


def repeated_pairs(v):
    y = np.zeros((3, 3))
    y[[0, 0, 1], [1, 1, 2]] = v
    return np.sum(y ** 3)


def negative_alias(v):
    y = np.zeros(3)
    y[[0, -3, 1]] = v                 # 0 and -3 are one position
    return np.sum(y ** 3)


def repeated_broadcast_scalar(v):
    y = np.zeros(3)
    y[[0, 0, 2]] = v[0] * 2.0
    return np.sum(y ** 3 * v)


def repeated_in_a_loop(v):
    y = np.zeros(3)
    for k in range(2):
        y[[1, 1, 0]] = v * (k + 1.0)
    return np.sum(y ** 3)


def repeated_increment(v, idx):
    y = np.ones(3)
    y[idx] += v
    return np.sum(y ** 3)


def test_repeated_list_index_keeps_the_last_write():
    g = check(repeated_list_index, (np.array([1.0, 2.0, 3.0]),))
    np.testing.assert_allclose(g, [0.0, 4.0, 6.0])


@pytest.mark.parametrize("idx", [np.array([0, 0, 2]), [2, 1, 2], np.array([1, 1, 1]),
                                 np.array([2, 0, 1])])
def test_repeated_runtime_index_keeps_the_last_write(idx):
    check(repeated_runtime_index, (np.array([1.0, 2.0, 3.0]), idx))


@pytest.mark.parametrize("f, args", [
    (repeated_rows, (np.array([1.0, 2.0, 3.0]), np.array([2, 2, 1]))),
    (repeated_pairs, (np.array([1.0, 2.0, 3.0]),)),
    (negative_alias, (np.array([1.0, 2.0, 3.0]),)),
    (repeated_broadcast_scalar, (np.array([1.0, 2.0, 3.0]),)),
    (repeated_in_a_loop, (np.array([1.0, 2.0, 3.0]),)),
], ids=lambda a: getattr(a, "__name__", ""))
def test_repeated_positions_variations(f, args):
    check(f, args)


def test_repeated_increment_keeps_its_documented_refusal():
    check(repeated_increment, (np.array([1.0, 2.0, 3.0]), np.array([0, 1, 2])))
    with pytest.raises(ValueError, match=r"\+= value with repeated integer indices"):
        s2sad.grad(repeated_increment)(np.array([1.0, 2.0, 3.0]), np.array([0, 1, 1]))
