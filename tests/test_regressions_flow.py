"""Regressions: control flow whose gradients came out silently wrong (or
crashed inside the generated code), each against central finite differences
(float64, eps 1e-6) in reverse mode and against the gradient in forward mode.

* a tuple assignment whose right side reads names its left side rebinds
  (`a, b = b, np.tanh(a)`): a copy the reverse sweep made of one adjoint
  overwrote another that a pending contribution still read; at the end of a
  reverse trip, carried adjoints swapped in place (`da, db = db, da`);
"""

import numpy as np
import pytest

import s2sad
from fdcheck import numerical_grad

W = np.array([[0.3, -0.2, 0.5, 0.1], [0.2, 0.4, -0.3, 0.6],
              [-0.5, 0.1, 0.2, 0.3], [0.1, 0.1, -0.4, 0.2]])


# ---- tuple assignments whose right side reads what the left side rebinds ---------------

def swap(x):
    a = np.sin(x); b = 2.0 * x
    a, b = b, np.tanh(a)
    return np.sum(a * b)


def rotate3(x):
    a = np.sin(x); b = 2.0 * x; c = x * x
    a, b, c = b * c, np.tanh(c), np.cos(a) + b
    return np.sum(a * b + c * a)


def swap_in_loop(x):
    a = x; b = np.cos(x)
    for k in range(3):
        a, b = b, np.tanh(a) * x
    return np.sum(a * b)


def fib_pairs(x):
    a = x; b = np.sin(x)
    for k in range(4):
        a, b = b, a + b * 0.5
    return np.sum(a * b)


def swap_floats(s):
    a = np.sin(s); b = 2.0 * s
    a, b = b, np.tanh(a)
    a, b = b * a, a - b
    return a * b + a


def swap_reads_both(x):
    a = np.sin(x); b = np.exp(0.3 * x)
    a, b = b * a, a - b
    return np.sum(a * b * x)


def swap_nested_tuple(x):
    a = np.sin(x); b = 2.0 * x; c = x * x
    a, (b, c) = c, (a * 2.0, np.sin(b))
    return np.sum(a * b * c)


def _swap_helper(a, b):
    a, b = b, np.tanh(a)
    return a * b


def swap_helper(x):
    return np.sum(_swap_helper(np.sin(x), 2.0 * x) * x)


def swap_while(x):
    a = x; b = np.cos(x); k = 0
    while k < 3:
        a, b = b * 0.9, np.tanh(a) + b
        k += 1
    return np.sum(a * b)


def swap_in_branch(x):
    a = np.sin(x); b = 2.0 * x
    if np.sum(x) > -100.0:
        a, b = b, np.tanh(a)
    return np.sum(a * b)


def pure_swap_loop(x):
    a = x * 1.0; b = np.sin(x)
    for k in range(3):
        a, b = b, a
        a = a * 1.5
    return np.sum(a * b * x)


def pure_swap_loop2(x):
    a = x * 1.0; b = np.sin(x)
    for k in range(3):
        a, b = b, a
    return np.sum(a * np.cos(b) * x)


def rotate_loop(x):
    a = x * 1.0; b = np.sin(x); c = np.cos(x)
    for k in range(4):
        a, b, c = b, c, a
        c = c * 1.1
    return np.sum(a * np.exp(b) * c * x)


def swap_while_pure(x):
    a = x * 1.0; b = np.sin(x); k = 0
    while k < 3:
        a, b = b, a
        k += 1
    return np.sum(a * np.cos(b))


def swap_branch_in_loop(x):
    a = x * 1.0; b = np.sin(x)
    for k in range(4):
        if k % 2 == 0:
            a, b = b, a
        else:
            b = b * a
    return np.sum(a * np.cos(b))


# ---- the checks ------------------------------------------------------------------------

RNG = np.random.default_rng(0)
X4 = RNG.normal(size=4)
M44 = RNG.normal(size=(4, 4))
S = 0.7


def check(f, args):
    """grad against central differences; jvp along a random direction against
    grad . v (and its value against f)."""
    expected = numerical_grad(f, args, 0)
    g = s2sad.grad(f)(*args)
    assert np.shape(g) == np.shape(args[0])
    np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-8)
    v = np.random.default_rng(5).normal(size=np.shape(args[0]))
    v = float(v) if isinstance(args[0], float) else v
    value, t = s2sad.jvp(f, wrt=0)(*args, v)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    np.testing.assert_allclose(t, np.sum(g * v), rtol=1e-8, atol=1e-10)
    return g


CASES = [
    # the reported programs
    (swap, (X4,)),
    # tuple assignments
    (rotate3, (X4,)),
    (swap_in_loop, (X4,)),
    (fib_pairs, (X4,)),
    (swap_floats, (S,)),
    (swap_reads_both, (X4,)),
    (swap_nested_tuple, (X4,)),
    (swap_helper, (X4,)),
    (swap_while, (X4,)),
    (swap_in_branch, (X4,)),
    (pure_swap_loop, (X4,)),
    (pure_swap_loop2, (X4,)),
    (rotate_loop, (X4,)),
    (swap_while_pure, (X4,)),
    (swap_branch_in_loop, (X4,)),
]


def _id(case):
    f, args = case
    ints = [str(a) for a in args[1:] if isinstance(a, int)]
    return "-".join([f.__name__] + ints)


@pytest.mark.parametrize("f, args", CASES, ids=[_id(c) for c in CASES])
def test_against_finite_differences(f, args):
    check(f, args)
