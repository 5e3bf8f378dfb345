"""Control flow in the reverse sweep: if, for, while, break, continue, early
returns, ternaries and and/or, each against central finite differences on
several shapes; and what the generated code records (only what loops
overwrite)."""

import math

import numpy as np
import pytest

import s2sad
from fdcheck import check_gradient, numerical_grad


def rand(*shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def check(f, args, wrt=0, **kw):
    # the functions branch on array values: their own code moves those to the host
    return check_gradient(f, args, wrt, strict=False, **kw)


SHAPES = [(4,), (3, 4), ()]
IDS = ["4", "3x4", "0d"]


# ---- if / elif / else ------------------------------------------------------------------

def f_if_reduction(x, c):
    if np.sum(x) > 0:
        y = np.sin(x) * c
    else:
        y = x * x * c
    return np.sum(y)


def f_elif(x):
    s = np.sum(x)
    if s > 1.0:
        y = x ** 3
    elif s > -1.0:
        y = np.exp(x)
    else:
        y = -x
    return np.sum(y)


def f_nested_if(x, a):
    y = x
    if a > 0:
        if np.max(x) > 0.5:
            y = y * 2.0
        else:
            y = np.tanh(y)
        y = y + x
    return np.sum(y * y)


def f_one_branch(x, flag):
    y = x * 3.0
    if flag:
        y = np.sin(y)
    return np.sum(y)


def f_chained(x, lo, hi):
    if lo < np.sum(x) <= hi:
        return np.sum(x ** 2)
    return np.sum(x)


def f_bool_ops(x, a):
    if a > 0 and np.sum(x) > 0 or not a < 5:
        y = x * x
    else:
        y = np.cos(x)
    return np.sum(y)


def f_ternary(x, a):
    y = np.sin(x) if a > 0 else x ** 2
    return np.sum(y * (2.0 if a > 1 else 3.0))


def f_assert(x):
    assert np.all(np.isfinite(x)), "x must be finite"
    return np.sum(x * x)


def f_branch_adds_only_one_side(x, y):
    z = x * 2.0
    if np.sum(y) > 0:
        z = z + y * y
    return np.sum(z * x)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_if_on_a_reduction(shape, sign):
    x = np.abs(rand(*shape, seed=1)) * sign + 0.1 * sign
    check(f_if_reduction, (x, rand(*shape, seed=2)), 0)
    check(f_if_reduction, (x, rand(*shape, seed=2)), 1)


@pytest.mark.parametrize("offset", [2.0, 0.0, -2.0])
@pytest.mark.parametrize("shape", [(3,), (2, 3)], ids=["3", "2x3"])
def test_elif_chain(offset, shape):
    x = rand(*shape, seed=3) * 0.2 + offset / np.prod(shape)
    check(f_elif, (x,))


@pytest.mark.parametrize("a, shift", [(1.0, 1.0), (1.0, -1.0), (-1.0, 0.0)])
def test_nested_if(a, shift):
    check(f_nested_if, (rand(5, seed=4) * 0.3 + shift, a))


@pytest.mark.parametrize("flag", [True, False])
def test_branch_without_else(flag):
    g = check(f_one_branch, (rand(3, 2, seed=5), flag))
    if not flag:
        np.testing.assert_allclose(g, np.full((3, 2), 3.0))


@pytest.mark.parametrize("lo, hi", [(-10.0, 10.0), (5.0, 10.0)])
def test_chained_comparison_and_return_points(lo, hi):
    check(f_chained, (rand(4, seed=6), lo, hi))


@pytest.mark.parametrize("a, sign", [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (6.0, -1.0)])
def test_and_or_not(a, sign):
    check(f_bool_ops, (np.abs(rand(4, seed=7)) * sign, a))


@pytest.mark.parametrize("a", [2.0, 0.5, -1.0])
def test_ternary(a):
    check(f_ternary, (rand(3, 3, seed=8), a))


def test_assert():
    check(f_assert, (rand(4, seed=9),))
    with pytest.raises(AssertionError, match="finite"):
        s2sad.grad(f_assert)(np.array([1.0, np.nan]))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_branch_contributes_on_one_side_only(sign):
    x, y = rand(4, seed=10), np.abs(rand(4, seed=11)) * sign
    check(f_branch_adds_only_one_side, (x, y), (0, 1))


# ---- several return points -----------------------------------------------------------

def f_three_returns(x):
    if np.sum(x) > 1:
        return np.sum(x ** 2)
    elif np.sum(x) > 0:
        return np.sum(np.sin(x))
    else:
        return np.sum(x ** 3)


def f_return_in_if_then_more(x, a):
    y = x * 2.0
    if a > 0:
        return np.sum(y * x)
    y = np.exp(y)
    return np.sum(y)


@pytest.mark.parametrize("x", [np.array([0.5, 0.9, 0.3]), np.array([0.1, 0.2, -0.1]),
                               np.array([-1.0, 0.2, 0.1])], ids=["first", "second", "third"])
def test_three_return_points(x):
    check(f_three_returns, (x,))


@pytest.mark.parametrize("a", [1.0, -1.0])
def test_return_inside_if(a):
    check(f_return_in_if_then_more, (rand(4, seed=12) * 0.3, a))


# ---- for loops --------------------------------------------------------------------------

def f_range_argument(x, n):
    y = x
    for i in range(n):
        y = np.tanh(y) * x
    return np.sum(y)


def f_range_computed(x):
    y = x
    for i in range(1, x.shape[0] - 1, 2):
        y = y * np.cos(y) + x[i]
    return np.sum(y)


def f_rows(X, w):
    s = 0.0
    for row in X:
        s = s + np.tanh(row @ w)
    return s


def f_list(xs, w):
    total = 0.0
    for x in xs:
        total = total + np.sum(np.sin(x * w))
    return total


def f_tuple_literal(x):
    y = x
    for scale in (0.5, 2.0, -1.0):
        y = np.sin(y * scale)
    return np.sum(y)


def f_enumerate(x, ws):
    s = 0.0
    for i, w in enumerate(ws, 1):
        s = s + i * np.sum(x * w)
    return s


def f_enumerate_default(x, ws):
    s = 0.0
    for i, w in enumerate(ws):
        s = s + (i + 1.0) * np.sum(np.sin(x * w))
    return s


def f_zip(xs, ys):
    s = 0.0
    for a, b in zip(xs, ys):
        s = s + np.sum(a * b * b)
    return s


def f_nested_loops(x, n, m):
    y = x
    for i in range(n):
        for j in range(m):
            y = np.sin(y) + 0.5 * x
        y = y * 0.9
    return np.sum(y)


def f_zero_trips(x, n):
    y = x * 2.0
    for i in range(n):
        y = y * y
    return np.sum(y)


def f_counter_after_loop(x, n):
    for i in range(n):
        x = x * 1.5
    return np.sum(x) * i


def f_accumulate(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i]
    return s


def f_accumulate_square(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * x[i]
    return s


def f_several_carried(x, n):
    a, b = x, x * 2.0
    for i in range(n):
        a, b = b * 0.5, np.sin(a) + b
    return np.sum(a * b)


def f_dict_rebuilt(params, x, n):
    for i in range(n):
        params = {"w": params["w"] * np.cos(params["b"]), "b": params["b"] + np.sum(params["w"] * x)}
    return np.sum(params["w"]) + params["b"]


@pytest.mark.parametrize("shape", [(4,), (2, 3)], ids=["4", "2x3"])
@pytest.mark.parametrize("n", [0, 1, 3])
def test_for_range_argument(shape, n):
    check(f_range_argument, (rand(*shape, seed=13) * 0.5, n))


def test_for_range_computed_bounds():
    check(f_range_computed, (rand(7, seed=14),))


@pytest.mark.parametrize("shape", [(5, 3), (1, 3)], ids=["5x3", "1x3"])
def test_for_over_rows(shape):
    X, w = rand(*shape, seed=15), rand(3, seed=16)
    check(f_rows, (X, w), (0, 1))


def test_for_over_list_and_tuple_of_arrays():
    xs = [rand(3, seed=17), rand(2, 3, seed=18), rand(3, seed=19)]
    w = rand(3, seed=20)
    g = s2sad.grad(f_list, wrt=(0, 1))(xs, w)
    for k in range(3):
        np.testing.assert_allclose(
            g[0][k], numerical_grad(lambda xk: f_list(xs[:k] + [xk] + xs[k + 1:], w), (xs[k],), 0),
            rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g[1], numerical_grad(f_list, (xs, w), 1), rtol=1e-6)
    gt = s2sad.grad(f_list, wrt=1)(tuple(xs), w)
    np.testing.assert_allclose(gt, g[1], rtol=1e-12)


def test_for_over_tuple_literal():
    check(f_tuple_literal, (rand(3, seed=21),))


def test_enumerate():
    x, ws = rand(3, seed=22), rand(4, 3, seed=23)
    check(f_enumerate, (x, ws), (0, 1))
    check(f_enumerate_default, (x, ws), (0, 1))


def test_zip_shortest():
    xs, ys = rand(4, 2, seed=24), rand(3, 2, seed=25)
    check(f_zip, (xs, ys), (0, 1))


@pytest.mark.parametrize("n, m", [(2, 3), (0, 2), (3, 0)])
def test_nested_loops(n, m):
    check(f_nested_loops, (rand(3, seed=26) * 0.5, n, m))


def test_zero_trip_loop():
    g = check(f_zero_trips, (rand(3, seed=27), 0))
    np.testing.assert_allclose(g, np.full(3, 2.0))


def test_loop_counter_read_after_loop():
    check(f_counter_after_loop, (rand(3, seed=28), 4))


def f_accumulate_rows(X):
    s = np.zeros(X.shape[1])
    for i in range(X.shape[0]):
        s = s + X[i] * X[i]
    return np.sum(s * s)


def test_accumulator():
    g = check(f_accumulate, (rand(6, seed=29), 4))
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    check(f_accumulate_square, (rand(6, seed=30),))
    check(f_accumulate_rows, (rand(5, 3, seed=30),))


def test_several_names_carried_and_swapped():
    check(f_several_carried, (rand(3, seed=31), 4))


def test_dict_of_parameters_rebuilt_in_loop():
    params = {"w": rand(3, seed=32), "b": 0.3}
    x = rand(3, seed=33)
    g = s2sad.grad(f_dict_rebuilt)(params, x, 3)
    np.testing.assert_allclose(
        g["w"], numerical_grad(lambda w: f_dict_rebuilt({"w": w, "b": 0.3}, x, 3), (params["w"],), 0),
        rtol=1e-6)
    assert g["b"] == pytest.approx(
        numerical_grad(lambda b: f_dict_rebuilt({"w": params["w"], "b": b}, x, 3), (0.3,), 0), rel=1e-6)


# ---- while, break, continue ---------------------------------------------------------------

def f_while(x):
    y = x
    while np.sum(y * y) < 100.0:
        y = y * 1.5 + 0.1
    return np.sum(y)


def f_while_true(x, tol):
    y = x
    k = 0
    while True:
        y = np.sin(y) + 0.5
        k = k + 1
        if np.max(np.abs(y - x)) > tol or k >= 10:
            break
    return np.sum(y * y)


def f_break_in_for(x, n):
    y = x
    for i in range(n):
        y = np.sin(y) + x
        if np.sum(y) > 3.0:
            break
    return np.sum(y * y)


def f_continue_masked(x, mask):
    s = 0.0
    for i in range(x.shape[0]):
        if mask[i]:
            continue
        s = s + x[i] ** 3
    return s


def f_continue_and_break_in_while(x):
    i = 0
    s = 0.0
    while i < x.shape[0]:
        xi = x[i]
        i = i + 1
        if xi < 0:
            continue
        if xi > 0.9:
            break
        s = s + np.exp(xi) * xi
    return s


def f_while_counter(x, n):
    y = x
    i = 0
    while i < n:
        y = y * np.cos(y) + x
        i = i + 1
    return np.sum(y)


def test_while_data_dependent():
    check(f_while, (rand(3, seed=34) * 0.5 + 1.0,))


@pytest.mark.parametrize("tol", [0.01, 10.0])
def test_while_true_with_break(tol):
    check(f_while_true, (rand(3, seed=35) * 0.3, tol))


@pytest.mark.parametrize("n", [0, 2, 10])
def test_break_in_for(n):
    check(f_break_in_for, (np.linspace(0.2, 0.6, 4), n))


def test_continue_skips_masked_elements():
    x = rand(6, seed=36)
    mask = np.array([True, False, False, True, False, True])
    g = check(f_continue_masked, (x, mask))
    np.testing.assert_allclose(g, np.where(mask, 0.0, 3 * x ** 2), rtol=1e-12)


def test_continue_and_break_in_while():
    x = np.array([0.3, -0.2, 0.5, 0.95, 0.4])
    g = check(f_continue_and_break_in_while, (x,))
    assert g[4] == 0.0 and g[1] == 0.0


@pytest.mark.parametrize("n", [0, 1, 5])
def test_while_with_counter(n):
    check(f_while_counter, (rand(3, seed=37) * 0.5, n))


# ---- programs ------------------------------------------------------------------------------

def rnn_loss(Wx, Wh, b, xs, h0):
    h = h0
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        loss = loss + np.sum(h * h)
    return loss


def test_rnn_twenty_steps_all_weights():
    rng = np.random.default_rng(38)
    Wx, Wh = rng.normal(size=(3, 5)) * 0.4, rng.normal(size=(5, 5)) * 0.4
    b, xs, h0 = rng.normal(size=5) * 0.1, rng.normal(size=(20, 2, 3)), rng.normal(size=(2, 5)) * 0.1
    check(rnn_loss, (Wx, Wh, b, xs, h0), (0, 1, 2, 3, 4))


def projectile_range(v, angle, dt):
    x, y = 0.0, 0.0
    vx, vy = v * math.cos(angle), v * math.sin(angle)
    while y >= 0.0:
        x = x + vx * dt
        y = y + vy * dt
        vy = vy - 9.81 * dt
        vx = vx - 0.1 * vx * dt
    return x


def test_projectile_range_with_respect_to_speed():
    # the trip count is piecewise constant in v: finite differences with a small step
    # stay on one piece, where the gradient is the smooth one
    g = s2sad.grad(projectile_range)(10.0, 0.7, 0.001)
    eps = 1e-7
    numeric = (projectile_range(10.0 + eps, 0.7, 0.001) - projectile_range(10.0 - eps, 0.7, 0.001)) / (2 * eps)
    assert isinstance(g, float)
    assert g == pytest.approx(numeric, rel=1e-5)


def newton_sqrt(a, x0):
    x = x0
    for i in range(50):
        x_new = 0.5 * (x + a / x)
        if abs(x_new - x) < 1e-12:
            x = x_new
            break
        x = x_new
    return x


def test_newton_iterations_with_break():
    g = s2sad.grad(newton_sqrt)(2.0, 1.0)
    assert g == pytest.approx(0.5 / math.sqrt(2.0), rel=1e-8)


def swell_loop(x, k):
    f = x
    for i in range(k - 1):
        f = np.sin(x ** 2 + f)
    return np.sum(f)


def test_swell_loop_k100():
    check(swell_loop, (rand(5, seed=39), 100))


def scalar_loop(x, n):
    s = x
    for i in range(n):
        s = s * 0.9999 + 0.0001 * math.sin(s)
    return s


def test_scalar_loop_twenty_thousand_steps():
    g = s2sad.grad(scalar_loop)(0.5, 20000)
    assert isinstance(g, float)
    assert g == pytest.approx(numerical_grad(scalar_loop, (0.5, 20000), 0), rel=1e-6)


def rnn_bptt(Wx, Wh, b, xs, h0):
    """Hand-written backpropagation through time for rnn_loss."""
    hs = [h0]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(xs[t] @ Wx + hs[-1] @ Wh + b))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh = np.zeros_like(h0)
    for t in reversed(range(xs.shape[0])):
        h, h_prev = hs[t + 1], hs[t]
        dh = dh + 2.0 * h
        da = dh * (1.0 - h * h)
        dWx += xs[t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh = da @ Wh.T
    return dWx, dWh, db


def test_rnn_two_thousand_steps_against_bptt():
    rng = np.random.default_rng(40)
    Wx, Wh = rng.normal(size=(4, 8)) * 0.3, rng.normal(size=(8, 8)) * 0.3
    b, xs, h0 = rng.normal(size=8) * 0.1, rng.normal(size=(2000, 3, 4)), np.zeros((3, 8))
    got = s2sad.grad(rnn_loss, wrt=(0, 1, 2))(Wx, Wh, b, xs, h0)
    for g, e in zip(got, rnn_bptt(Wx, Wh, b, xs, h0)):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-9)


# ---- the generated code ------------------------------------------------------------------

def straight(x, W):
    h = np.tanh(x @ W)
    h = h * h
    return np.sum(h)


def test_straight_line_code_records_nothing():
    text = s2sad.source(s2sad.grad(straight, wrt=1), rand(2, 3, seed=41), rand(3, 3, seed=42))
    assert "append(" not in text and ".pop(" not in text and "stack" not in text


def test_accumulating_loop_records_nothing_per_trip():
    text = s2sad.source(s2sad.grad(f_accumulate), rand(6, seed=43), 4)
    assert text.count(".append(") == 0 and "_stack" not in text
    assert "for i in range(n):" in text and "for i in reversed(range(n)):" in text


def test_loops_and_branches_stay_loops_and_branches():
    text = s2sad.source(s2sad.grad(f_range_argument), rand(3, seed=44), 3)
    code = [line for line in text.splitlines() if not line.strip().startswith("#")]
    assert sum("for i in" in line for line in code) == 2
    assert text.count(".append(") == 1 and text.count(".pop()") == 1
    text = s2sad.source(s2sad.grad(f_if_reduction), rand(3, seed=45), rand(3, seed=46))
    code = [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]
    assert code.count("if cond:") == 2 and code.count("else:") == 2
    text = s2sad.source(s2sad.grad(f_while), rand(3, seed=47) + 1.0)
    assert "while " in text and "for _ in range(trips):" in text


def test_range_loop_records_no_counter():
    text = s2sad.source(s2sad.grad(f_range_argument), rand(3, seed=48), 3)
    assert "trips" not in text


def f_continue_on_last_trip(x):
    i = 0
    s = 0.0
    while i < x.shape[0]:
        xi = x[i]
        i = i + 1
        if xi < 0:
            continue
        s = s + xi * xi
    return s


def test_continue_in_while_reevaluates_the_test():
    # the last element is skipped by `continue`: the loop must still end there
    x = np.array([0.5, -0.3, 0.7, -0.2])
    g = check(f_continue_on_last_trip, (x,))
    np.testing.assert_allclose(g, [1.0, 0.0, 1.4, 0.0])


# ---- recursion and helpers with loops ---------------------------------------------------

def swell_rec(x, k):
    if k == 1:
        return x
    return np.sin(x ** 2 + swell_rec(x, k - 1))


def swell_recursive(x, k):
    return np.sum(swell_rec(x, k))


def power_rec(x, n):
    if n == 0:
        return 1.0
    return x * power_rec(x, n - 1)


def even_step(x, n):
    if n == 0:
        return x
    return np.cos(odd_step(x, n - 1)) * x


def odd_step(x, n):
    if n == 0:
        return x * 2.0
    return np.sin(even_step(x, n - 1)) + x


def mutual_recursion(x, n):
    return np.sum(even_step(x, n))


def sum_tail(xs, i):
    if i == len(xs):
        return 0.0
    return np.sum(np.tanh(xs[i]) * xs[i]) + sum_tail(xs, i + 1)


def over_list(xs):
    return sum_tail(xs, 0)


def layer_loop(h, W, n):
    for i in range(n):
        h = np.tanh(h @ W)
    return h


def helper_with_loop(x, W):
    h = layer_loop(x, W, 3)
    return np.sum(h * h)


def test_swell_as_recursion_depth_20():
    x = rand(4, seed=50)
    g = check(swell_recursive, (x, 20))
    np.testing.assert_allclose(g, s2sad.grad(swell_loop)(x, 20), rtol=1e-10)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_depth_argument_recursion(n):
    g = s2sad.grad(power_rec)(1.3, n)
    assert g == pytest.approx(n * 1.3 ** (n - 1) if n else 0.0, rel=1e-12)


@pytest.mark.parametrize("n", [0, 3, 6])
def test_mutual_recursion(n):
    check(mutual_recursion, (rand(3, seed=51) * 0.5, n))


def test_recursion_over_a_list_of_arrays():
    xs = [rand(3, seed=52), rand(2, 2, seed=53), rand(1, seed=54)]
    g = s2sad.grad(over_list)(xs)
    for gi, x in zip(g, xs):
        np.testing.assert_allclose(gi, np.tanh(x) + x * (1 - np.tanh(x) ** 2), rtol=1e-12)


def test_helper_containing_a_loop():
    check(helper_with_loop, (rand(2, 3, seed=55), rand(3, 3, seed=56) * 0.5), (0, 1))


# ---- for/while ... else, return inside loops ----------------------------------------------

def for_else(x, limit):
    y = x
    for i in range(5):
        y = np.sin(y) + x
        if np.sum(y) > limit:
            break
    else:
        y = y * 10.0
    return np.sum(y * y)


def while_else(x, limit):
    y = x
    i = 0
    while i < 4:
        y = y * 1.5
        i = i + 1
        if np.sum(y) > limit:
            break
    else:
        y = -y
    return np.sum(y)


def return_in_loop(x, limit):
    y = x
    for i in range(6):
        y = np.tanh(y) * 2.0 + x
        if np.sum(y) > limit:
            return np.sum(y * y)
    return np.sum(y)


def return_in_nested_loop(x, limit):
    y = x
    for i in range(3):
        for j in range(3):
            y = y * 1.2 + 0.1
            if np.max(y) > limit:
                return np.sum(np.sin(y))
        y = y - 0.05
    return np.sum(y * x)


@pytest.mark.parametrize("limit", [0.5, 100.0])
def test_for_else(limit):
    check(for_else, (np.linspace(0.1, 0.4, 3), limit))


@pytest.mark.parametrize("limit", [1.0, 100.0])
def test_while_else(limit):
    check(while_else, (np.linspace(0.1, 0.4, 3), limit))


@pytest.mark.parametrize("limit", [1.0, 100.0])
def test_return_inside_loop(limit):
    check(return_in_loop, (np.linspace(0.1, 0.4, 3), limit))


@pytest.mark.parametrize("limit", [0.6, 1.0, 100.0])
def test_return_inside_nested_loop(limit):
    check(return_in_nested_loop, (np.linspace(0.1, 0.4, 3), limit))


# ---- loops over dicts -----------------------------------------------------------------------

def dict_items(params, x):
    total = 0.0
    for name, w in params.items():
        total = total + np.sum(np.tanh(w * x))
    return total


def dict_keys_and_values(params, x):
    total = 0.0
    for name in params.keys():
        total = total + np.sum(params[name] ** 2 * x)
    for w in params.values():
        total = total + np.sum(np.sin(w))
    return total


@pytest.mark.parametrize("loss", [dict_items, dict_keys_and_values])
def test_loops_over_dicts(loss):
    params = {"a": rand(3, seed=60), "b": rand(3, seed=61), "c": rand(3, seed=62)}
    x = rand(3, seed=63)
    g = s2sad.grad(loss)(params, x)
    for key in params:
        def at(w, key=key):
            return loss({**params, key: w}, x)
        np.testing.assert_allclose(g[key], numerical_grad(at, (params[key],), 0), rtol=1e-6)


def dict_directly(params):
    total = 0.0
    for name in params:
        total = total + np.sum(params[name])
    return total


def test_loop_over_a_dict_directly_is_refused_clearly():
    with pytest.raises(s2sad.TransformError, match="items"):
        s2sad.grad(dict_directly)({"a": rand(2)})


# ---- lists built in loops and comprehensions --------------------------------------------------

def comprehension_stacked(xs, w):
    hs = [np.tanh(x * w) for x in xs]
    return np.sum(np.stack(hs) ** 2)


def appended_in_loop(x, n):
    hs = []
    h = x
    for t in range(n):
        h = np.sin(h) + x
        hs.append(h)
    return np.sum(np.stack(hs, axis=1) * np.arange(1.0, 4.0)[:, None])


def comprehension_summed(x):
    return sum([np.sum(x ** k) for k in range(1, 4)])


def comprehension_filtered(x):
    ys = [x[i] * x[i] for i in range(x.shape[0]) if x[i] > 0]
    return sum(ys)


def comprehension_nested(X):
    return sum([X[i, j] * X[j, i] for i in range(X.shape[0]) for j in range(i + 1)])


def appended_straight_line(a, b):
    hs = []
    hs.append(a * 2.0)
    hs.append(np.sin(b))
    return np.sum(np.stack(hs) * np.stack(hs))


def generator_summed(x):
    return sum(np.sum(np.cos(x * k)) for k in range(3))


def comprehension_keeps_outer_names(x):
    k = 2.0
    ys = [x * k for k in range(3)]
    return np.sum(np.stack(ys)) * k


def test_list_comprehension_stacked():
    check(comprehension_stacked, (rand(4, 3, seed=70), rand(3, seed=71)), (0, 1))


def test_list_appended_in_loop_stacked():
    check(appended_in_loop, (rand(3, seed=72) * 0.5, 4))


@pytest.mark.parametrize("loss, shape", [(comprehension_summed, (3,)), (comprehension_filtered, (6,)),
                                         (comprehension_nested, (3, 3)), (generator_summed, (3,)),
                                         (comprehension_keeps_outer_names, (2,))])
def test_comprehensions(loss, shape):
    check(loss, (rand(*shape, seed=73),))


def test_appends_in_straight_line_code():
    check(appended_straight_line, (rand(3, seed=74), rand(3, seed=75)), (0, 1))


# ---- lists grown by concatenation ---------------------------------------------------------

def rnn_concatenating_states(x, W):
    hs = []
    h = x
    for t in range(4):
        h = np.tanh(h @ W)
        hs = hs + [h]
    return np.sum(np.stack(hs) ** 2) + np.sum(hs[-1])


def literal_extended_in_loop(x, W):
    hs = [x]
    for t in range(3):
        hs = hs + [np.sin(hs[-1]) * W[0]]
    return np.sum(hs[-1] * hs[1])


@pytest.mark.parametrize("f", [rnn_concatenating_states, literal_extended_in_loop])
def test_list_grown_by_concatenation_in_a_loop(f):
    rng = np.random.default_rng(3)
    x, W = rng.normal(size=3) * 0.5, rng.normal(size=(3, 3)) * 0.5
    check(f, (x, W), (0, 1))
    source = s2sad.source(s2sad.grad(f, wrt=(0, 1)), x, W)
    assert "hs_stack" not in source          # the list itself is never recorded


# ---- arrays made from other arrays' sizes -------------------------------------------------

def rnn_state_from_sizes(x, Wxh, Whh, bh):
    h = np.zeros((x.shape[1], Whh.shape[0]))
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ Wxh + h @ Whh + bh)
    return np.sum(h ** 2)


def column_from_sizes(x, w):
    n, m = x.shape
    h = np.zeros((n, 1)) + w          # (n, 1) + (m,): w's gradient sums over the rows
    return np.sum(h * x) + np.sum(np.ones(m) * w)


def test_zeros_shaped_from_sizes_knows_its_size_one_dimensions():
    rng = np.random.default_rng(4)
    args = (rng.normal(size=(5, 2, 3)), rng.normal(size=(3, 4)) * 0.5, rng.normal(size=(4, 4)) * 0.5,
            rng.normal(size=4))
    check(rnn_state_from_sizes, args, (1, 2, 3))
    text = s2sad.source(s2sad.grad(rnn_state_from_sizes, wrt=(1, 2, 3)), *args)
    assert "unbroadcast" not in text and text.count("_stack = []") == 1   # only h, once a step
    check(column_from_sizes, (rng.normal(size=(4, 3)), rng.normal(size=3)), (0, 1))


def thermal_cost(heat, outdoor, price, temp0, R, C, dt, lam, target):
    temp = temp0
    total = 0.0
    for t in range(len(heat)):
        dT = (outdoor[t] - temp) / (R * C) + heat[t] / C
        temp = temp + dt * dT
        total = total + price[t] * heat[t] + lam * (temp - target) ** 2
    return total


def test_thermal_loop_keeps_one_value_a_trip_and_recomputes_nothing_costly():
    rng = np.random.default_rng(5)
    T = 12
    args = (rng.uniform(0, 2, T), rng.uniform(-5, 5, T), rng.uniform(0.1, 1, T), 18.0, 2.0, 3.0,
            0.5, 0.1, 20.0)
    check(thermal_cost, args, 0)
    reverse = s2sad.source(s2sad.grad(thermal_cost), *args).split("# ---- reverse sweep ----")[1]
    code = [line for line in reverse.splitlines() if not line.strip().startswith("#")]
    assert "        temp = temp_stack.pop()" in code and not any("outdoor" in line for line in code)


def decision_also_a_value(x, a, b):
    flag = a or b                       # a number, tested and then used as one
    if flag:
        y = x * flag
    else:
        y = x
    m = np.sum(x) > 0                   # a comparison, tested and then used as a mask
    if m:
        y = y + x * m
    return np.sum(y * y)


@pytest.mark.parametrize("a, b", [(0.0, 2.5), (1.5, 0.0), (0.0, 0.0)])
def test_a_decision_used_as_a_value_keeps_its_value(a, b):
    # (the forward sweep keeps a decision the reverse reads again as a bool, record.decide_once,
    # only where the name serves as nothing but the decision)
    x = np.array([0.3, -0.1, 0.4])
    check(decision_also_a_value, (x, a, b))
    text = s2sad.source(s2sad.grad(decision_also_a_value), x, a, b)
    assert "bool(" not in text
