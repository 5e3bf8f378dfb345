"""Regression tests for bugs the differential fuzzer (tests/fuzz) found, each
the shrunk program it printed: the gradient against central differences,
value_and_grad, jvp and the gradient's structure (`check_case`)."""

import numpy as np

from fuzz.oracles import check_case


def f_negative_base_power(x):
    x *= (-0.86) ** 2        # the generated code printed `-0.86 ** 2`, which is -(0.86 ** 2)
    return np.sum(x)


def test_negative_base_power():
    check_case(f_negative_base_power, [np.array([-0.52, -0.49, 0.78, 0.15])], wrt=0)


def f_negative_exponents(x):
    return np.sum(x ** -1.0 + (-2.0) ** 2 * x - (-0.5) ** 3 * x ** -2)


def test_negative_exponents():
    check_case(f_negative_exponents, [np.array([1.5, -2.0, 0.7])], wrt=0)


def f_zero_dim(x, z0):
    return np.sum(x * z0) + z0 * 2.0


def test_zero_dim_array_gets_a_zero_dim_array():
    """A 0-d array's gradient was a NumPy scalar where a reduction made it."""
    for dtype in (np.float64, np.float32):
        check_case(f_zero_dim, [np.array([1.0, 2.0, 3.0], dtype), np.array(0.5, dtype)], wrt=1)


def f_float_times_sum(x, s):
    return np.sum(x) * s


def test_python_float_gets_a_python_float():
    """A Python float's gradient was a NumPy float64 where a reduction made it."""
    check_case(f_float_times_sum, [np.array([1.0, 2.0, 3.0]), 0.5], wrt=1)
    check_case(f_float_times_sum, [np.array([1.0, 2.0, 3.0]), 0.5], wrt=(0, 1))


def f_repeated_increment(x, v):
    y = x * 1.0
    y[[0, 0, 2]] += v            # NumPy: y[0] = x[0] + v[1], the first write is lost
    return np.sum(np.sin(y) * x)


def f_repeated_scale(x, s):
    y = x * 1.0
    y[[1, 1]] *= s * x[0]
    return np.sum(y ** 2)


def test_repeated_index_increments_keep_the_last_write():
    """Was a run-time ValueError (documented), though NumPy's meaning is well defined."""
    check_case(f_repeated_increment, [np.array([0.3, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])],
               wrt=(0, 1))
    check_case(f_repeated_scale, [np.array([0.3, 1.0, 2.0]), 0.7], wrt=(0, 1))


def hvp_against_gradient_differences(f, args, wrt, v, eps=1e-5, rtol=1e-6):
    """`s2sad.hvp` against central differences of the gradient along v."""
    import s2sad
    got = s2sad.hvp(f, wrt=wrt)(*args, v)
    df = s2sad.grad(f, wrt=wrt)

    def at(t):
        moved = list(args)
        moved[wrt] = args[wrt] + t * v
        return np.asarray(df(*moved), dtype=np.float64)
    expected = (at(eps) - at(-eps)) / (2 * eps)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


def f_scalar_broadcast_into_array(x, A, xs, s):
    A -= s
    return np.sum(A)


def f_broadcast_tangents(A, s, z0):
    B = A + s
    C = s - A
    D = A - z0
    D *= s
    E = np.where(A > 0.0, s, A)
    return np.sum(B) + np.sum(C) + np.sum(D) + np.sum(E * A)


def test_tangent_of_a_number_broadcast_into_an_array():
    """jvp gave `dA = -ds` for `A -= s`: the tangent of the number, not spread
    over A's shape, so np.sum(dA) counted it once instead of A.size times."""
    for dtype in (np.float64, np.float32):
        A = np.array([[0.66, 0.77, -0.56, -0.08], [0.86, 0.9, -0.85, -0.01],
                      [0.81, -0.62, 0.99, -1.03]], dtype)
        args = [np.array([0.17, 0.26, 0.9, -1.05], dtype), A, [A[0], A[1]], 0.691259]
        check_case(f_scalar_broadcast_into_array, args, wrt=3)
        for s in (0.7, np.array(0.7, dtype), np.array([0.7], dtype)):
            check_case(f_broadcast_tangents, [A, s, np.array(0.3, dtype)], wrt=(1, 2))


def rec_identity(v, c, depth):
    if depth <= 0:
        return v
    return rec_identity(v, c, depth - 1)


def f_recursive_identity(y, xs, x):
    return np.sum(rec_identity(y, 1.24, 1)) + np.sum(rec_identity(x, y, 0) * y)


def rec_sines(v, c, depth):
    if depth <= 0:
        return v * c
    return np.sin(rec_sines(v, c, depth - 1)) * v


def f_recursive_sines(x, c):
    return np.sum(rec_sines(x, c, 3))


def test_hvp_through_a_recursive_helper():
    """hvp refused `rec_fwd` (no forward rule): the recursive call in the
    generated helper went through a stand-in object, not the function."""
    y = np.array([0.97, 1.0, -0.02, -0.73], np.float32)
    args = [y, [y, y], np.array([-0.74, -0.21, -0.27, -1.14], np.float32)]
    check_case(f_recursive_identity, args, wrt=0)
    hvp_against_gradient_differences(f_recursive_identity, args, 0,
                                     np.array([0.5, -1.0, 0.3, 2.0], np.float32), rtol=1e-3)
    x = np.array([0.3, -0.7, 1.1])
    check_case(f_recursive_sines, [x, 0.8], wrt=(0, 1))
    hvp_against_gradient_differences(f_recursive_sines, [x, 0.8], 0, np.array([0.5, -1.0, 0.3]))
    hvp_against_gradient_differences(f_recursive_sines, [x, 0.8], 1, 1.0)


def f_conditional_in_tuple(s, xs, x):
    s, x = (xs, x if s > -0.63 else np.exp(np.sin(x)))
    return np.sum(x * x)


def f_branch_sqrt(x):
    if x[x > 0.46] < 0.76:
        x = np.sqrt(x)
    return np.sum(x * x[0])


def test_hvp_of_a_value_stored_on_one_branch():
    """The gradient keeps a value one branch overwrites (`chosen_1 = chosen`)
    on that branch only; forward mode over it gave the other branch
    `np.zeros_like(chosen_1)`, an UnboundLocalError."""
    x = np.array([-0.27, -0.76, -0.28, -0.78, -0.67])
    v = np.array([0.5, -1.0, 0.3, 2.0, 0.1])
    for s in (-0.36, -0.9):
        args = [s, [x, x, x], x]
        check_case(f_conditional_in_tuple, args, wrt=(2, 0))
        hvp_against_gradient_differences(f_conditional_in_tuple, args, 2, v)
    for x4 in ([0.32, 0.36, 0.86, -0.85], [0.32, 0.36, 0.7, 0.2], [0.3, 0.36, 0.8, 0.1]):
        args = [np.array(x4)]
        check_case(f_branch_sqrt, args, wrt=0)
        hvp_against_gradient_differences(f_branch_sqrt, args, 0, np.array([0.5, -1.0, 0.3, 2.0]))
    x32 = np.array([0.32114270329475403, 0.36025819182395935, 0.8605894446372986,
                    -0.8516610860824585], dtype=np.float32)
    hvp_against_gradient_differences(f_branch_sqrt, [x32], 0, np.ones(4, np.float32), rtol=1e-2)


# ---- hvp over gradients that call runtime helpers and rules (found by the fuzzer with hvp on
# every program): each was refused or wrong, forward mode over the generated gradient ----

W3 = np.eye(3)


def f_list_grown_in_loop(x, n):
    gs = []
    for i in range(n):
        gs.append(np.sin(x) * (i + 1.0))
    return np.sum(gs[0] * gs[-1]) + np.sum(gs[1] * x)


def f_new_axis(x):
    return np.sin(x[np.newaxis].mean()) + np.sum(x[:, np.newaxis] * x)


def f_builtin_sum(x):
    return sum([np.exp(np.sin(hh)) for hh in x]) * np.sum(x)


def sort_helper(v):
    return np.sort(v)


def f_sorted(x, s):
    return np.sum(sort_helper(np.where(x > x, x, 0.1 * x)) * x) + s


def test_hvp_through_runtime_helpers():
    """`zeros_list`, `cotangents`, a rule called rather than inlined
    (`getitem_adjoint`), `builtin_sum_adjoint`, `sort_adjoint` had no forward
    rule: hvp was refused where grad worked."""
    x = np.array([0.3, -0.7, 1.1, 0.4])
    v = np.array([0.5, -1.0, 0.3, 2.0])
    for f, args in ((f_list_grown_in_loop, [x, 3]), (f_new_axis, [x]), (f_builtin_sum, [x]),
                    (f_sorted, [x, 0.3])):
        check_case(f, args, wrt=0)
        hvp_against_gradient_differences(f, args, 0, v)


def f_constant_gradient(y, s):
    s -= 1.06
    return np.sum(y * y) + s


def f_returns_argument(z0, x):
    a = (-x).copy()
    return z0


def test_hvp_of_a_constant_gradient():
    """A gradient that does not depend on the argument: hvp returned None
    (`return 1.0`'s tangent), or NaN (np.full_like's tangent filled with None)."""
    y = np.array([0.3, -0.7, 1.1])
    hvp_against_gradient_differences(f_constant_gradient, [y, 0.5], 1, 1.0)
    hvp_against_gradient_differences(f_constant_gradient, [y, 0.5], 0, y)
    hvp_against_gradient_differences(f_returns_argument, [np.array(0.3), y], 0, np.array(1.0))


def helper_with_stacks(v, g, h):
    g = g * g
    j = 0
    while j < 2:
        j += 1
        g /= 1.5 + g * g
        hs = []
        for i in range(2):
            hs.append(np.cumsum(v * 0.7) * 0.3)
            v = np.sqrt(1.0 + v ** 2) - g
        h = g * h
    return h + v


def f_helper_with_stacks(k, x):
    x[0] = np.sum(x ** 2)
    return np.sum(np.sin(x)) + np.sum(helper_with_stacks(k * x, 0.7 + x, x - 0.5 * x))


def test_hvp_of_a_helper_popping_what_it_saved():
    """The helper's backward half pops the stacks its forward half saved: the
    analysis of that generated code refused it as changing a list its caller
    passed in, and read the saved values as one object."""
    args = [0.3, np.array([0.1, 0.5, -0.3])]
    check_case(f_helper_with_stacks, args, wrt=(1, 0))
    hvp_against_gradient_differences(f_helper_with_stacks, args, 1, np.array([0.5, -1.0, 0.3]))
    hvp_against_gradient_differences(f_helper_with_stacks, args, 0, 1.0)


def rec_where(v, c, depth):
    if depth <= 0:
        return np.sum(v * v) * c
    return rec_where(np.where(W3 @ v > 0.2, W3 @ v * v, v), c, depth - 1)


def f_recursive_where(s, y):
    return np.sum(rec_where(y + y, np.logaddexp(s, s), 1))


def rec_pass(v, c, depth):
    if depth <= 0:
        return v
    return rec_pass(v, c, depth - 1)


def f_recursive_item_update(x, z0):
    x = x * 1.0
    x[0] += z0
    return np.sum(rec_pass(x * x + -0.81, np.sum(np.take(x, [-1, 0, 1])), 2)) * z0


def test_hvp_through_recursion_with_unknown_kinds():
    """A recursive helper's results have unknown kinds: `np.where`'s condition
    looked differentiable (no forward rule), and `dx_item = dx[0]; dx[0] = 0`
    in the gradient was refused as a stale read of a possible view."""
    y = np.array([0.3, 0.5, -0.3])
    v = np.array([0.5, -1.0, 0.3])
    check_case(f_recursive_where, [0.3, y], wrt=(1, 0))
    hvp_against_gradient_differences(f_recursive_where, [0.3, y], 1, v)
    hvp_against_gradient_differences(f_recursive_where, [0.3, y], 0, 1.0)
    check_case(f_recursive_item_update, [y, 0.4], wrt=(0, 1))
    hvp_against_gradient_differences(f_recursive_item_update, [y, 0.4], 0, v)
    hvp_against_gradient_differences(f_recursive_item_update, [y, 0.4], 1, 1.0)


def helper_linear(v):
    return -(v @ W3.T)


def f_helper_in_nested_loops(A, s, x):
    x = helper_linear(np.tanh(x * -0.7))
    x[[0, 1]] = s
    for i in reversed(range(3)):
        gs = []
        for j2 in range(3):
            x = np.square(x - 0.5 * x) - helper_linear(1.0 / (1.0 + np.exp(-x)))
            gs.append(np.square(x))
        s = np.tanh(s)
        s += s
    return np.sum(A) + s + np.sum(x)


def test_hvp_of_saved_tuples_and_rule_branches():
    """A helper's saved tuple with no tangent was given `np.zeros_like(saved)`
    (an array, not a tuple of zeros), and a rule's tuple result joined at a
    branch got a list of tangents: a TypeError at run time."""
    args = [np.ones((2, 3)), 0.3, np.array([0.1, 0.5, -0.3])]
    for wrt, v in ((1, 1.0), (2, np.array([0.5, -1.0, 0.3]))):
        check_case(f_helper_in_nested_loops, args, wrt=wrt)
        hvp_against_gradient_differences(f_helper_in_nested_loops, args, wrt, v)


def f_list_copy_in_gradient(s, x):
    gs = []
    for i in range(2):
        for j2 in range(1):
            gs.append(np.concatenate([np.arcsinh(x)[:1], s * np.arcsinh(x)[1:]]))
        gs.append(-x * x)
    return np.sum(gs[-1]) * s + np.sum(gs[0] * s)


def test_hvp_of_a_copied_list_adjoint():
    """`dgs = list(dgs)` in the gradient: `list` had no forward rule, and the
    copy of a list grown in a loop got a kind of stand-in length (one)."""
    args = [0.3, np.array([0.4, 0.5, -0.6, 0.2])]
    check_case(f_list_copy_in_gradient, args, wrt=(0, 1))
    hvp_against_gradient_differences(f_list_copy_in_gradient, args, 0, 1.0)
    hvp_against_gradient_differences(f_list_copy_in_gradient, args, 1, np.array([0.5, -1.0, 0.3, 2.0]))


def odd_part(v):
    return v - np.arctan(v)


def f_helper_in_loop(x):
    y = 0.0
    for i in range(1):
        y = odd_part(x) * odd_part(x)
    return np.sum(y)


def f_pairs_grown_in_loop(x, n):
    ps = []
    for i in range(n):
        ps.append((x * i, np.sin(x)))
    t = ps[2]
    return np.sum(t[0] * t[1])


def test_tangent_of_a_tuple_appended_to_a_list():
    """`xs.append(t)` of a tuple took the tangent of the tuple as a whole,
    which the table keeps per part: none, so zeros. Silently wrong: jvp of a
    list of pairs, and hvp where a helper in a loop saves a tuple per trip."""
    x = np.array([0.09, -1.15, -0.31, -0.24])
    check_case(f_helper_in_loop, [x], wrt=0)
    hvp_against_gradient_differences(f_helper_in_loop, [x], 0, np.array([0.5, -1.0, 0.3, 2.0]))
    import s2sad
    x = np.array([0.3, -0.5, 0.8])
    _, tangent = s2sad.jvp(f_pairs_grown_in_loop)(x, 3, np.ones(3))
    np.testing.assert_allclose(tangent, np.sum(2 * np.sin(x) + 2 * x * np.cos(x)), rtol=1e-12)


def f_powers(x, y):
    return np.sum(x ** y) + np.sum(x ** 3) + np.sum(np.float_power(x, y))


def test_hvp_of_powers():
    """The gradient of `x ** y` calls `power_slope`, which had no tangent (its
    source was refused: `power` is a parameter)."""
    x = np.array([0.3, 0.5, 0.8])
    v = np.array([0.5, -1.0, 0.3])
    for y in (2.5, np.array([2.5, 1.0, 0.0])):
        check_case(f_powers, [x, y], wrt=(0, 1))
        hvp_against_gradient_differences(f_powers, [x, y], 0, v)
        hvp_against_gradient_differences(f_powers, [x, y], 1, 1.0 if np.ndim(y) == 0 else v)


def helper_picking_last(v, g, t):
    v, g = (g, np.tanh(v))
    hs = []
    for i in range(1):
        v = np.cumsum(g[::-1][::-1]) * 0.3
        hs.append(v)
    j = 0
    while j < 3:
        j += 1
        v = v * np.tanh(v)
        if j < t:
            t = j
        else:
            hs.append(g)
    return np.exp(np.sin(v)) if 0.7 + j <= t else hs[len(hs) - 1][::-1]


def f_nested_helper_calls(x, s):
    return np.sum(helper_picking_last(helper_picking_last(x, x, s), x ** 2,
                                      np.sqrt(1.0 + s ** 2)))


def test_hvp_with_an_index_a_helper_saved():
    """An index the inner call's forward half saved (`len(hs) - 1`) reached
    the backward half with an unknown kind, so it looked varied: `xs[k]`
    had no forward rule."""
    args = [np.array([-0.8, 0.12, -0.3]), 0.107283]
    check_case(f_nested_helper_calls, args, wrt=(0, 1))
    hvp_against_gradient_differences(f_nested_helper_calls, args, 0, np.array([0.5, -1.0, 0.3]))
    hvp_against_gradient_differences(f_nested_helper_calls, args, 1, 1.0)


def f_lists_of_lists(x, k, y):
    y /= 1.5 + y * y
    hs = []
    for i in range(3):
        gs = []
        for j2 in range(3):
            gs.append(np.exp(np.sin(y)))
        y = np.squeeze(y[np.newaxis], 0) * 0.9
        hs.append((x if -0.19 + k >= k else gs[0]) ** 2)
    hs.pop(0)
    return np.sum(hs[-1]) + np.sum(y * x)


def test_hvp_of_a_list_of_lists_grown_in_loops():
    """The gradient records the inner list each trip (`gs_stack.append(list(gs))`)
    and reads it back (`gs = gs_stack[-1]`): the element of a list of unknown
    length got the kind of a stand-in's element, a list of one element, so its
    adjoint's tangent was a list of one (IndexError)."""
    args = [np.array([-0.57, -0.34, 0.51]), -2, np.array([-0.67, -0.52, 0.36])]
    check_case(f_lists_of_lists, args, wrt=(2, 0))
    hvp_against_gradient_differences(f_lists_of_lists, args, 2, np.array([0.5, -1.0, 0.3]))
    hvp_against_gradient_differences(f_lists_of_lists, args, 0, np.array([0.5, -1.0, 0.3]))


def rec_scaled(v, c, depth):
    if depth <= 0:
        return v
    return rec_scaled(W3 @ (c * v), c, depth - 1)


def f_builtin_min(x, k, s):
    s = min(rec_scaled(x, 0.7, 2)[k] * s, (s * s - x)[k])
    return s * s + np.sum(x * x)


def test_hvp_through_builtin_min():
    """Python's min/max reverse rule, called rather than inlined, takes its
    values in `*args`: forward mode could not read it from source (refused)."""
    args = [np.array([-1.06, -1.07, -1.05]), 2, -0.93]
    check_case(f_builtin_min, args, wrt=(0, 2))
    hvp_against_gradient_differences(f_builtin_min, args, 2, 1.0)
    hvp_against_gradient_differences(f_builtin_min, args, 0, np.array([0.5, -1.0, 0.3]))


def f_generator_in_loop(x, A):
    A += np.mean(A, axis=0, keepdims=True) / (1.5 + A * A)
    for i, e in enumerate(x):
        x, u = (A.sum(axis=-2), np.sum(A, 1) + (A.mean(axis=1) if sum((np.sum(np.sin(hh))
                                                                        for hh in x)) <= e
                                               else A[:, 1]))
    for e in x:
        e = -e - e / (1.5 + e * e)
    return np.sum(x * x) + np.sum(A)


def test_jvp_with_a_list_copied_before_it_grows():
    """`items = items.copy()` before `items.append(v)` was folded into the
    append (`items.copy().append(v)`), and the build crashed (AttributeError)."""
    args = [np.array([0.58, 0.14, -0.18]), np.array([[-0.87, -0.34, 0.21], [-0.46, -0.87, 0.39]])]
    check_case(f_generator_in_loop, args, wrt=(1, 0))
    hvp_against_gradient_differences(f_generator_in_loop, args, 1, np.ones((2, 3)))


def rec_scale(v, c, depth):
    if depth <= 0:
        return v
    return rec_scale(v * c, c, depth - 1)


def f_dot_of_recursive(x, A):
    return np.sum(np.dot(A, rec_scale(x, 0.9, 1)) ** 2)


BIAS3 = np.zeros(3)


def helper_inner_copy(v, q):
    return v * 1.0


def helper_saving_nothing_inside(c, q):
    v = np.exp(-BIAS3) - c
    w = helper_inner_copy(v, q)
    return w * q + v


def f_empty_saved_tuple(x, z0):
    return z0 + np.sum(helper_saving_nothing_inside(np.arctan2(z0, 1.5 + z0 * z0), z0) * x)


def helper_last_of_list(c, h):
    if c > 0.7:
        return -h - np.sin(h)
    hs = []
    for i in range(2):
        hs.append(np.flip(np.roll(h, 1)) * c)
    return -(hs[len(hs) - 1] - -0.14)


def f_list_of_unknown_kind(s, x):
    return s + np.sum(x) + np.sum(helper_last_of_list(np.tanh(s), x * x))


def test_hvp_of_saved_structures():
    """(1) np.dot's reverse rule, called where the operands' ranks were not
    known, has `**_`, which the source transform refused; (2) a helper's
    saved tuple holding an empty tuple (what an inner helper saved) got its
    tangent flattened leaf by leaf, so the positions after it shifted
    (IndexError; silently wrong where they still fit); (3) the zero tangent
    of a saved list of unknown kind was `np.zeros_like(list)`, an array."""
    v3 = np.array([0.5, -1.0, 0.3])
    args = [np.array([0.3, -0.5, 0.8]), np.ones((2, 3)) * 0.5]
    check_case(f_dot_of_recursive, args, wrt=(0, 1))
    hvp_against_gradient_differences(f_dot_of_recursive, args, 0, v3)
    hvp_against_gradient_differences(f_dot_of_recursive, args, 1, np.ones((2, 3)))
    args = [np.array([0.3, -0.5, 0.8]), 0.51]
    check_case(f_empty_saved_tuple, args, wrt=(1, 0))
    hvp_against_gradient_differences(f_empty_saved_tuple, args, 1, 1.0)
    hvp_against_gradient_differences(f_empty_saved_tuple, args, 0, v3)
    args = [0.2, np.array([0.45, -0.24, 0.24, -0.82])]
    check_case(f_list_of_unknown_kind, args, wrt=(0, 1))
    hvp_against_gradient_differences(f_list_of_unknown_kind, args, 0, 1.0)
    hvp_against_gradient_differences(f_list_of_unknown_kind, args, 1, np.array([0.5, -1.0, 0.3, 2.0]))


def test_a_rule_forward_mode_cannot_read_is_refused_at_the_gradient_line():
    """Where a rule the gradient calls has no tangent and its source cannot be
    differentiated, hvp is a TransformError naming the gradient's line and the
    rule, not a line inside s2sad's rule modules."""
    import pytest
    import s2sad
    from s2sad import rules
    from s2sad.rules import tangents
    rule = rules.lookup_adjoint(max)
    saved = tangents.LINEAR_GIVEN_SHAPES.pop(rule)          # as if min/max had no tangent
    rules._bump()                                           # (builds made before are stale)
    try:
        with pytest.raises(s2sad.TransformError) as info:
            s2sad.hvp(f_builtin_min, 2)(np.array([-1.06, -1.07, -1.05]), 2, -0.93, 1.0)
    finally:
        tangents.LINEAR_GIVEN_SHAPES[rule] = saved
        rules._bump()
    message = str(info.value)
    assert "the reverse rule of `min`" in message and "df_builtin_min" in message
    assert "rules/" not in message


M3 = np.array([[2.0, 0.1, 0.2], [0.3, 2.4, 0.5], [0.6, 0.7, 2.8]])
B234 = np.linspace(-1.0, 1.3, 24).reshape(2, 3, 4)


def f_trace_squared(M):
    return np.trace(M @ M) ** 2 + np.trace(np.sin(M)) * np.sum(M ** 2)


def f_trace_offset(B):
    return np.sum(np.trace(B, 1, 1, 2) ** 2)


def f_einsums(M):
    return np.sum(np.einsum('ij,jk->ik', M, M) ** 2) + np.sum(np.einsum('ii->i', M) ** 3)


def f_products(M):
    c = np.cross(M, M ** 2)
    return np.sum(np.kron(M, M ** 2) ** 2) + np.sum(c * c) + np.sum(np.linalg.multi_dot([M, M, M]) ** 2)


def f_methods_and_clip(B):
    return (np.sum(B.transpose(2, 0, 1) ** 3) + np.sum(np.clip(B * B, 0.1, B + 1.5) ** 2)
            + B.item(1, 2, 3) ** 3 + np.sum(B.reshape(4, 6) @ B.reshape(6, 4)))


def test_hvp_through_library_rules():
    """hvp of traces (the rule fills a diagonal in place), einsum, kron, cross,
    multi_dot, clip with bounds and the reshape/transpose/item methods: their
    reverse rules or runtime helpers, called by the gradient, had no tangent
    (refused). The Jacobian of a trace's gradient in reverse mode works too."""
    import s2sad
    rng = np.random.default_rng(1)
    for f, x in ((f_trace_squared, M3), (f_trace_offset, B234), (f_einsums, M3),
                 (f_products, M3), (f_methods_and_clip, B234)):
        hvp_against_gradient_differences(f, [x], 0, rng.standard_normal(x.shape))
    g = s2sad.grad(f_trace_squared)
    np.testing.assert_allclose(s2sad.jacobian(g, mode="rev")(M3), s2sad.jacobian(g, mode="fwd")(M3),
                               rtol=1e-10, atol=1e-10)
