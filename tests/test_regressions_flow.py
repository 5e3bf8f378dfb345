"""Regressions: control flow whose gradients came out silently wrong (or
crashed inside the generated code), each against central finite differences
(float64, eps 1e-6) in reverse mode and against the gradient in forward mode.

* a tuple assignment whose right side reads names its left side rebinds
  (`a, b = b, np.tanh(a)`): a copy the reverse sweep made of one adjoint
  overwrote another that a pending contribution still read; at the end of a
  reverse trip, carried adjoints swapped in place (`da, db = db, da`);
* a value a loop leaves, read by the reverse sweep after it (`for/else`,
  after a `break`, after a loop of no trips, overwritten after the loop):
  its reads inside the loop were recorded, so the read after the loop was
  taken for recorded too and saw a later value;
* a loop counter: a name with a value before the loop reused as its counter
  (the reverse loop recounted it and clobbered that value), the counter read
  after the loop (the forward loop was dropped: UnboundLocalError), a
  counter the loop body reassigns;
* the loss `value_and_grad` returns, where the reverse sweep pops its name
  (`y = y_stack.pop()`): the value after the reverse sweep was returned;
* an adjoint (or tangent) from before a loop that is the very variable of a
  name the loop assigns (`w = v`, then a loop over `v`): its copy was made
  at the first assignment inside the loop, so later trips copied a new
  value.
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


# ---- a loop's last value, read after it (for/else, break, no trips) --------------------

def for_else(x):
    acc = x
    for k in range(3):
        acc = np.sin(acc) + x
    else:
        acc = acc * acc
    return np.sum(acc * x)


def for_else_broken(x):
    acc = x
    for k in range(3):
        acc = np.sin(acc) + x
        if k == 1:
            break
    else:
        acc = acc * acc
    return np.sum(acc * x)


def while_else(x):
    acc = x; k = 0
    while k < 3:
        acc = np.sin(acc) + x
        k += 1
    else:
        acc = acc * np.cos(acc)
    return np.sum(acc * x)


def for_else_nested(x):
    out = x
    for j in range(2):
        acc = out
        for k in range(3):
            acc = np.sin(acc) + x
        else:
            acc = acc * acc
        out = acc * 0.5 + out
    return np.sum(out * x)


def for_else_nested_break(x):
    out = x
    for j in range(3):
        acc = out
        for k in range(3):
            acc = np.sin(acc) + x
            if k == j:
                break
        else:
            acc = acc * acc
        out = acc * 0.5 + out
    return np.sum(out * x)


def while_else_break(x):
    acc = x; k = 0
    while k < 5:
        acc = np.sin(acc) + x
        if k == 2:
            break
        k += 1
    else:
        acc = acc * acc
    acc = acc * np.cos(acc)
    return np.sum(acc * x)


def after_loop_overwrite(x):
    acc = x
    for k in range(3):
        acc = np.sin(acc) * x
    acc = acc * acc
    return np.sum(acc * x)


def after_loop_overwrite_floats(s):
    acc = s
    for k in range(3):
        acc = np.sin(acc) * s
    acc = acc * acc
    return acc * s


def break_then_scale(x):
    v = -(x + 1.0); acc = 0.0
    for k in range(3):
        v = np.tanh(W.T @ (W @ v))
        acc = acc + np.sum(v * (x / (1.5 + v * v)))
        if k == 1:
            break
    v *= np.tanh(0.6 * x)
    return np.sum(v * x) + acc


def break_then_scale_while(x):
    v = -(x + 1.0); acc = 0.0; k = 0
    while k < 3:
        v = np.tanh(W.T @ (W @ v))
        acc = acc + np.sum(v * (x / (1.5 + v * v)))
        if k == 1:
            break
        k += 1
    v = v * np.tanh(0.6 * x)
    return np.sum(v * x) + acc


def continue_then_scale(x):
    v = x; acc = 0.0
    for k in range(4):
        if k == 2:
            continue
        v = np.tanh(v * 1.3 + 0.1)
        acc = acc + np.sum(v * x)
    v = v * v
    return np.sum(v * x) + acc


def _returns_early(x):
    v = x
    for k in range(4):
        v = np.sin(v) + x
        if k == 2:
            return v * v
    return v


def return_inside_loop(x):
    v = _returns_early(x)
    v = v * np.cos(x)
    return np.sum(v)


def return_inside_loop_direct(x):
    v = x
    for k in range(4):
        v = np.sin(v) + x
        if k == 2:
            v = v * v
            return np.sum(v * x)
    return np.sum(v)


def inner_break_outer(x):
    out = 0.0; h = x
    for j in range(3):
        for k in range(4):
            h = np.tanh(h + 0.2 * x)
            if k == j:
                break
        h = h * np.cos(x)
        out = out + np.sum(h)
    return out


def _after_loop_helper(x):
    acc = x
    for k in range(3):
        acc = np.sin(acc) + x
    acc = acc * acc
    return acc


def after_loop_in_helper(x):
    return np.sum(_after_loop_helper(x) * x)


def break_floats(s):
    v = s; acc = 0.0
    for k in range(5):
        v = np.tanh(v * 1.1 + 0.3)
        acc = acc + v * s
        if k == 2:
            break
    v = v * s
    return v + acc


def returned_value_recorded(x):
    y = np.sum(x * x)
    for k in range(3):
        y = np.sin(y) * 1.5 + k
    return y


def zero_trip_then_flip(x, M):
    v = M @ (x * x); acc2, k = 0.0, 0
    while k < 0:
        v = v + np.tanh(v); acc2 = acc2 + np.sum(v * np.sin(v)); k += 1
    acc3 = 0.0
    for k in range(3):
        v = np.tanh(np.tanh(v[::-1])); acc3 = acc3 + np.sum(v * (v + v))
    v = np.tanh(v * np.sin(np.sin(x)))
    return np.sum(v * x) + acc2 + acc3


def zero_trip_for(x, n):
    v = np.sin(x)
    for k in range(n):
        v = v * x
    v = v * np.tanh(v)
    return np.sum(v * x)


def loops_in_sequence(x):
    v = x * 1.0
    for k in range(2):
        v = np.tanh(v) * x
    w = v
    for k in range(3):
        v = np.sin(v[::-1]) + w
    v = v * w
    return np.sum(v)


# ---- a name reused as a loop counter ---------------------------------------------------

def loop_variable_reused(x):
    h = x; t = 0.5; y = h * t
    for t in range(3):
        h = np.tanh(0.5 * h)
    return np.sum(h) + np.sum(y)


def loop_variable_reused_floats(s):
    h = s; t = 0.5; y = h * t
    for t in range(3):
        h = np.tanh(0.5 * h)
    return h + y


def loop_variable_after(x, n):
    h = x; t = 0.5
    for t in range(n):
        h = np.tanh(0.5 * h)
    return np.sum(h * t * x)


def loop_variable_active(x, n):
    h = x; t = np.sum(x)
    y = h * t
    for t in range(n):
        h = np.tanh(0.5 * h)
    return np.sum(h * t) + np.sum(y)


def loop_variable_nested(x):
    h = x; out = 0.0
    for j in range(2):
        t = 0.5 + j
        y = h * t
        for t in range(3):
            h = np.tanh(0.5 * h + 0.1 * t)
        out = out + np.sum(y * h)
    return out


def counter_reassigned(x):
    h = x
    for t in range(3):
        h = h * np.sin(t + 0.5)
        t = 0.5 * t + 1.0
        h = np.tanh(h * t)
    return np.sum(h * t)


def counter_reassigned_read_first(x):
    h = x
    for t in range(3):
        y = h * t
        t = 2.0 * h
        h = np.tanh(h * t) + y
    return np.sum(h)


def _reused_helper(x):
    h = x; t = 0.5; y = h * t
    for t in range(3):
        h = np.tanh(0.5 * h)
    return h + y


def loop_variable_in_helper(x):
    return np.sum(_reused_helper(x) * x)


def two_loops_same_counter(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(x * x) * i
    y = s * i
    for i in range(2):
        y = y * np.sum(x) + i
    return y


def parameter_reused_as_counter(x, t):
    y = x * t
    for t in range(3):
        x = np.tanh(x * 0.5)
    return np.sum(x) + np.sum(y)


# ---- a counter read after its loop -----------------------------------------------------

def crash(x):
    s = 0.0
    for i in range(4):
        s = s + np.sum(x) * i
    return s * i


def counter_after_break(x):
    s = 0.0
    for i in range(6):
        s = s + np.sum(np.sin(x)) * i
        if i == 3:
            break
    return s * i


def counter_after_loop_nested(x):
    out = 0.0
    for j in range(3):
        s = 0.0
        for i in range(j + 2):
            s = s + np.sum(x * x) * i
        out = out + s * i
    return out


def counter_after_loop_array(x):
    h = x
    for i in range(3):
        h = np.tanh(h) + i
    return np.sum(h * i * x)


def counter_after_while(x):
    s = 0.0; k = 0
    while k < 3:
        for i in range(k + 1):
            s = s + np.sum(np.cos(x)) * i
        s = s * i + 1.0
        k += 1
    return s


def enumerate_after(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + np.sin(v) * i
    return s * i + np.sum(v * x)


def counter_before_and_after(x, n):
    i = 2
    s = np.sum(x)
    for i in range(n):
        s = s + np.sum(x * x) * i
    return s * i


def _crash_helper(x):
    s = 0.0
    for i in range(4):
        s = s + np.sum(x) * i
    return s * i


def crash_in_helper(x):
    return _crash_helper(np.sin(x)) * 2.0


def counter_then_loop_array(x):
    for i in range(3):
        x = np.tanh(x) * 1.2
    y = x * i
    for i in range(2):
        y = np.sin(y) + x
    return np.sum(y * i)


# ---- adjoints and tangents of values a loop leaves alone -------------------------------

def alias_across_loop(x):
    a = x * 1.0
    b = np.cos(x)
    for k in range(3):
        b = np.sin(b) * x
    c = b
    b = a
    return np.sum(b * c)


def alias_across_loop2(x):
    a = np.sin(x)
    b = np.cos(x)
    for k in range(3):
        c = b * a
        b = np.tanh(c)
    b = a
    return np.sum(b * c)


def alias_into_loop_forward(x):
    v = x * 1.0
    w = v
    for k in range(3):
        v = np.sin(v) + w
    return np.sum(v * w)


def alias_into_nested_loop(x):
    v = x * 1.0
    w = v
    for j in range(2):
        for k in range(2):
            v = np.sin(v) * w
        v = v + 0.5
    return np.sum(v * w)


def alias_in_branch_in_loop(x):
    v = x * 1.0
    w = v
    for k in range(3):
        if k % 2 == 0:
            v = np.sin(v) + w
        else:
            v = v * 0.5
    return np.sum(v * w)


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
    (for_else, (X4,)),
    (break_then_scale, (X4,)),
    (zero_trip_then_flip, (X4, M44)),
    (loop_variable_reused, (X4,)),
    (crash, (X4,)),
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
    # a loop's last value read after it
    (for_else_broken, (X4,)),
    (while_else, (X4,)),
    (for_else_nested, (X4,)),
    (for_else_nested_break, (X4,)),
    (while_else_break, (X4,)),
    (after_loop_overwrite, (X4,)),
    (after_loop_overwrite_floats, (S,)),
    (break_then_scale_while, (X4,)),
    (continue_then_scale, (X4,)),
    (return_inside_loop, (X4,)),
    (return_inside_loop_direct, (X4,)),
    (inner_break_outer, (X4,)),
    (after_loop_in_helper, (X4,)),
    (break_floats, (S,)),
    (zero_trip_for, (X4, 0)),
    (zero_trip_for, (X4, 2)),
    (loops_in_sequence, (X4,)),
    (returned_value_recorded, (X4,)),
    # loop counters
    (loop_variable_reused_floats, (S,)),
    (loop_variable_after, (X4, 0)),
    (loop_variable_after, (X4, 3)),
    (loop_variable_active, (X4, 0)),
    (loop_variable_active, (X4, 3)),
    (loop_variable_nested, (X4,)),
    (counter_reassigned, (X4,)),
    (counter_reassigned_read_first, (X4,)),
    (loop_variable_in_helper, (X4,)),
    (two_loops_same_counter, (X4,)),
    (parameter_reused_as_counter, (X4, 0.7)),
    (counter_after_break, (X4,)),
    (counter_after_loop_nested, (X4,)),
    (counter_after_loop_array, (X4,)),
    (counter_after_while, (X4,)),
    (enumerate_after, (X4,)),
    (counter_before_and_after, (X4, 0)),
    (counter_before_and_after, (X4, 3)),
    (crash_in_helper, (X4,)),
    (counter_then_loop_array, (X4,)),
    # adjoints and tangents kept through a loop
    (alias_across_loop, (X4,)),
    (alias_across_loop2, (X4,)),
    (alias_into_loop_forward, (X4,)),
    (alias_into_nested_loop, (X4,)),
    (alias_in_branch_in_loop, (X4,)),
]


def _id(case):
    f, args = case
    ints = [str(a) for a in args[1:] if isinstance(a, int)]
    return "-".join([f.__name__] + ints)


@pytest.mark.parametrize("f, args", CASES, ids=[_id(c) for c in CASES])
def test_against_finite_differences(f, args):
    check(f, args)


LOOPS = [c for c in CASES if c[0] in (
    for_else, break_then_scale, loop_variable_reused, crash, swap_in_loop, pure_swap_loop,
    loop_variable_nested, counter_reassigned_read_first, alias_across_loop,
    counter_then_loop_array, two_loops_same_counter, returned_value_recorded)]


@pytest.mark.parametrize("f, args", LOOPS, ids=[_id(c) for c in LOOPS])
def test_checkpointed_and_with_value(f, args):
    """The same gradients with checkpointed loops and from value_and_grad
    (which returns the loss after the reverse sweep has run)."""
    g = s2sad.grad(f)(*args)
    np.testing.assert_allclose(s2sad.grad(f, checkpoint=2)(*args), g, rtol=1e-12, atol=1e-14)
    value, g2 = s2sad.value_and_grad(f)(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    np.testing.assert_allclose(g2, g, rtol=1e-12, atol=1e-14)


def test_value_read_after_the_loop_is_kept():
    """The reverse sweep reads the value the loop left (`acc` before `acc * acc`):
    a name of its own after the loop, the pushes inside untouched."""
    text = s2sad.source(s2sad.grad(for_else), X4)
    assert "acc_1 = acc" in text and "dacc = 2 * (dacc * acc_1)" in text
    assert text.count("acc_stack.append(acc)") == 1


def test_reverse_counter_keeps_its_name_unless_it_clashes():
    """`for t in reversed(range(3))` as long as nothing the reverse sweep reads
    later is called `t`; a counter of its own where something is."""
    text = s2sad.source(s2sad.grad(loop_variable_reused), X4)
    assert "for t in reversed(range(3)):" in text and "dh = dh + dy * t_0" in text
    text = s2sad.source(s2sad.grad(counter_reassigned_read_first), X4)
    assert "for t1 in reversed(range(3)):" in text and "dh = dh + dy * t1" in text


def test_counter_read_after_the_loop():
    """Only the counter's last value is needed of the forward loop: it stays."""
    text = s2sad.source(s2sad.grad(crash), X4)
    assert "for i in range(4):\n        pass" in text
    np.testing.assert_allclose(s2sad.grad(crash)(X4), np.full(4, 3.0 * 6.0))
