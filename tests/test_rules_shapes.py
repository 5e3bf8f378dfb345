"""The shape rules (rules/shapes.py) beyond the rule table's finite
differences (tests/rule_table.py runs every shape operation and join on
several shapes): exact sums over copies (tile, broadcast_to, repeat, the
border of pad), splits into several parts (each part weighted by its own
cotangent), split points and axes from variables, refusals, memory order,
and what the generated code shows.
"""

import numpy as np
import pytest

import s2sad
from fdcheck import cotangent, shape_id, check_gradient

DTYPES = [np.float64, np.float32]
DT_IDS = ["f64", "f32"]


def make(shape, dtype=np.float64, seed=0):
    return np.asarray(np.random.default_rng(seed).standard_normal(size=shape), dtype=dtype)


# ---- one array in, one array out -----------------------------------------------------

def l_swapaxes01(x, c):
    return np.sum(np.swapaxes(x, 0, 1) * c)


def l_moveaxis_tuple(x, c):
    return np.sum(np.moveaxis(x, (0, 1), (2, 0)) * c)


def l_expand0(x, c):
    return np.sum(np.expand_dims(x, 0) * c)


def l_squeeze_ax1(x, c):
    return np.sum(np.squeeze(x, axis=1) * c)


def l_mflatten_F(x, c):
    return np.sum(x.flatten("F") * c)


def l_flip02(x, c):
    return np.sum(np.flip(x, (0, 2)) * c)


def l_roll2_axm1(x, c):
    return np.sum(np.roll(x, 2, axis=-1) * c)


def l_tile23(x, c):
    return np.sum(np.tile(x, (2, 3)) * c)


def l_repeat2_ax0(x, c):
    return np.sum(np.repeat(x, 2, axis=0) * c)


REPEATS = np.array([3, 1, 2])


def l_pad_pairs(x, c):
    return np.sum(np.pad(x, ((1, 0), (2, 3))) * c)


def l_pad_edge(x, c):
    return np.sum(np.pad(x, 2, mode="edge") * c)


ND1 = [(5,), (3, 4), (2, 3, 4)]
ND2 = [(3, 4), (2, 3, 4)]
ND3 = [(2, 3, 4)]


def l_diff(x, c):
    return np.sum(np.diff(x) * c)


ALL_ND = [()] + ND1

# (id, loss, numpy op, shapes)


# ---- exact sums over copies -----------------------------------------------------------

def l_plain_tile(x):
    return np.sum(np.tile(x, (2, 3)))


def l_plain_bcast(x):
    return np.sum(np.broadcast_to(x, (5, 3)))


def l_plain_repeat(x):
    return np.sum(np.repeat(x, [3, 0, 1]))


def l_plain_pad_edge(x):
    return np.sum(np.pad(x, (2, 3), mode="edge"))


def l_plain_pad_reflect(x):
    return np.sum(np.pad(x, (2, 1), mode="reflect"))


def l_plain_roll(x, c):
    return np.sum(np.roll(x, 1) * c)


def test_copies_sum_exactly():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(s2sad.grad(l_plain_tile)(x), [6.0, 6.0, 6.0])
    np.testing.assert_array_equal(s2sad.grad(l_plain_bcast)(x), [5.0, 5.0, 5.0])
    np.testing.assert_array_equal(s2sad.grad(l_plain_repeat)(x), [3.0, 0.0, 1.0])
    np.testing.assert_array_equal(s2sad.grad(l_plain_pad_edge)(x), [3.0, 1.0, 4.0])
    # reflect: [x2 x1 | x0 x1 x2 | x1]: x1 appears three times
    np.testing.assert_array_equal(s2sad.grad(l_plain_pad_reflect)(x), [1.0, 3.0, 2.0])
    # roll moves the weights back: x[i] lands at i+1
    c = np.array([10.0, 20.0, 30.0])
    np.testing.assert_array_equal(s2sad.grad(l_plain_roll)(x, c), [20.0, 30.0, 10.0])


def l_plain_roll_tuple(x, c):
    return np.sum(np.roll(x, (1, 1), axis=(0, 1)) * c)


def test_roll_tuple_exact():
    x = make((3, 4), seed=2)
    c = cotangent(np.empty((3, 4)))
    g = check_gradient(l_plain_roll_tuple, (x, c), 0)
    np.testing.assert_array_equal(g, np.roll(c, (-1, -1), axis=(0, 1)))


# ---- ravel in the input's memory order ------------------------------------------------

def l_ravel_K(x, c):
    return np.sum(np.ravel(x, order="K") * c)


def l_ravel_A(x, c):
    return np.sum(np.ravel(x, order="A") * c)


@pytest.mark.parametrize("layout", ["C", "F", "transposed", "permuted", "reversed"])
@pytest.mark.parametrize("loss, order", [(l_ravel_K, "K"), (l_ravel_A, "A")], ids=["K", "A"])
def test_ravel_memory_order(loss, order, layout):
    # order 'K'/'A' read `x` in its memory order, which is not part of a kind
    # (and which check_gradient's copies would not keep): compare exactly with
    # the permutation the ravel applies, found by raveling positions laid out as x.
    base = make((2, 3, 4), seed=3)
    x = {"C": base, "F": np.asfortranarray(base), "transposed": base.transpose(2, 0, 1),
         "permuted": np.ascontiguousarray(base.transpose(1, 2, 0)).transpose(2, 0, 1),
         "reversed": base[:, ::-1]}[layout]
    positions = np.empty_like(x, dtype=np.intp)          # x's layout
    positions[...] = np.arange(x.size).reshape(x.shape)
    source = np.ravel(positions, order=order)            # raveled element j is x.flat[source[j]]
    np.testing.assert_array_equal(np.ravel(x, order=order), x.ravel()[source])
    c = cotangent(source)
    expected = np.zeros(x.size)
    expected[source] = c
    g = s2sad.grad(loss)(x, c)
    np.testing.assert_array_equal(g, expected.reshape(x.shape))


# ---- joins: several arrays in, some of them differentiated ------------------------------


def l_cat_tuple_ax1(x, y, c):
    return np.sum(np.concatenate((x, y), axis=1) * c)


def l_stack_exprs(x, y, c):
    return np.sum(np.stack([x, 2 * x, y]) * c)


# (id, loss, numpy op on the arrays, shapes, wrt)


def l_stack_unused(x, y, z, c):
    s = np.stack([x, y, z])
    return np.sum(s[1] * c)


def test_stack_parts_not_used_get_zeros():
    x, y, z = make((3,), seed=20), make((3,), seed=21), make((3,), seed=22)
    c = cotangent(x)
    gx, gy, gz = check_gradient(l_stack_unused, (x, y, z, c), (0, 1, 2))
    np.testing.assert_array_equal(gx, 0.0)
    np.testing.assert_array_equal(gy, c)
    np.testing.assert_array_equal(gz, 0.0)


def test_concatenate_exact_parts():
    x, y = make((2, 3), seed=23), make((2, 2), seed=24)
    c = cotangent(np.empty((2, 5)))
    gx, gy = check_gradient(l_cat_tuple_ax1, (x, y, c), (0, 1))
    np.testing.assert_array_equal(gx, c[:, :3])
    np.testing.assert_array_equal(gy, c[:, 3:])


# ---- splits: a list of parts out, only some of them used ---------------------------------

def l_split3(x, c1, c2):
    a, b, d = np.split(x, 3)
    return np.sum(a * c1) + np.sum(np.sin(d) * c2)


def l_split3_ax1(x, c1, c2):
    a, b, d = np.split(x, 3, axis=1)
    return np.sum(a * c1) + np.sum(d * c2)


def l_split_points_axm1(x, c1, c2):
    a, b, d = np.split(x, [1, 3], axis=-1)
    return np.sum(b * c1) + np.sum(d ** 2 * c2)


def l_split_indexed(x, c1, c2):
    parts = np.split(x, 2, axis=0)
    return np.sum(parts[0] * c1) + np.sum(parts[1] * parts[0] * c2)


def l_split_all_used(x, c1, c2):
    a, b = np.split(x, [2])
    return np.sum(a * c1) + np.sum(b * c2) + np.sum(a * b[:2])


def l_array_split3(x, c1, c2):
    a, b, d = np.array_split(x, 3)
    return np.sum(b * c1) + np.sum(d * c2)


def l_array_split_points_ax1(x, c1, c2):
    a, b, d = np.array_split(x, [2, 3], axis=1)
    return np.sum(a * c1) + np.sum(d * c2)


def l_array_split_empty(x, c1, c2):
    a, b, d, e = np.array_split(x, 4, axis=0)
    return np.sum(a * c1) + np.sum(d * c2)


def l_hsplit(x, c1, c2):
    a, b = np.hsplit(x, 2)
    return np.sum(a * c1) + np.sum(b * b * c2)


def l_vsplit(x, c1, c2):
    a, b, d = np.vsplit(x, [1, 2])
    return np.sum(a * c1) + np.sum(d * c2)


def l_dsplit(x, c1, c2):
    a, b = np.dsplit(x, 2)
    return np.sum(b * c1) + np.sum(b * a * c2)


def l_split_then_concatenate(x, c1, c2):
    a, b = np.split(x, 2, axis=-1)
    return np.sum(np.concatenate([b, a], axis=-1) * c1) + np.sum(a * c2)


# (id, loss, numpy op giving the parts the weights multiply, shapes)
SPLITS = [
    ("split(x,3)", l_split3, lambda x: (np.split(x, 3)[0], np.split(x, 3)[2]),
     [(6,), (3, 2), (6, 2, 2)]),
    ("split(x,3,axis=1)", l_split3_ax1, lambda x: (np.split(x, 3, axis=1)[0],) * 2,
     [(2, 3), (2, 6, 1)]),
    ("split(x,[1,3],axis=-1)", l_split_points_axm1,
     lambda x: np.split(x, [1, 3], axis=-1)[1:], [(5,), (2, 4), (2, 2, 6)]),
    ("parts[i]", l_split_indexed, lambda x: (np.split(x, 2)[0],) * 2, [(4,), (2, 3)]),
    ("split(x,[2])", l_split_all_used, lambda x: np.split(x, [2]), [(4,), (4, 2)]),
    ("array_split(x,3)", l_array_split3, lambda x: np.array_split(x, 3)[1:], [(7,), (5, 2)]),
    ("array_split(x,[2,3],axis=1)", l_array_split_points_ax1,
     lambda x: np.array_split(x, [2, 3], axis=1)[::2], [(2, 5), (1, 4, 2)]),
    ("array_split(x,4)-empty-part", l_array_split_empty,
     lambda x: np.array_split(x, 4)[::2], [(3,), (3, 2)]),
    ("hsplit(x,2)", l_hsplit, lambda x: np.hsplit(x, 2), [(4,), (3, 4), (2, 2, 3)]),
    ("vsplit(x,[1,2])", l_vsplit, lambda x: np.vsplit(x, [1, 2])[::2], [(3, 2), (4, 1, 2)]),
    ("dsplit(x,2)", l_dsplit, lambda x: np.dsplit(x, 2)[::-1], [(2, 1, 4)]),
    ("concatenate(split)", l_split_then_concatenate,
     lambda x: (x, np.split(x, 2, axis=-1)[0]), [(4,), (3, 6)]),
]

SPLIT_CASES = [pytest.param(loss, op, shape, id=f"{name}-{shape_id(shape)}")
               for name, loss, op, shapes in SPLITS for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, op, shape", SPLIT_CASES)
def test_split(loss, op, shape, dtype):
    x = make(shape, dtype, seed=30)
    first, second = op(x)
    c1, c2 = cotangent(first, dtype, seed=31), cotangent(second, dtype, seed=32)
    check_gradient(loss, (x, c1, c2), 0)


def test_split_unused_parts_get_zeros():
    x = make((6,), seed=33)
    c1, c2 = cotangent(np.empty(2), seed=34), cotangent(np.empty(2), seed=35)
    g = check_gradient(l_split3_ax1, (x.reshape(1, 6), c1.reshape(1, 2), c2.reshape(1, 2)), 0)
    np.testing.assert_allclose(g[0], np.concatenate([c1, [0.0, 0.0], c2]), rtol=1e-12)


SECTIONS = [1, 3]


def l_split_global_sections(x, c1, c2):
    a, b, d = np.split(x, SECTIONS)
    return np.sum(a * c1) + np.sum(d * c2)


def l_split_computed_points(x, c1, c2):
    n = x.shape[0] // 3
    a, b, d = np.split(x, [n, 2 * n])
    return np.sum(b * c1) + np.sum(d * c2)


def l_split_subscript_only(x, c1, c2):
    return np.sum(np.split(x, 2)[1] * c1) + np.sum(np.array_split(x, 3)[0] * c2)


def test_split_points_not_literal():
    x = make((6,), seed=36)
    c1, c2 = cotangent(np.empty(1), seed=37), cotangent(np.empty(3), seed=38)
    g = check_gradient(l_split_global_sections, (x, c1, c2), 0)
    np.testing.assert_allclose(g, np.concatenate([c1, [0.0, 0.0], c2]), rtol=1e-12)
    c1, c2 = cotangent(np.empty(2), seed=39), cotangent(np.empty(2), seed=40)
    g = check_gradient(l_split_computed_points, (x, c1, c2), 0)
    np.testing.assert_allclose(g, np.concatenate([[0.0, 0.0], c1, c2]), rtol=1e-12)
    c1, c2 = cotangent(np.empty(3), seed=41), cotangent(np.empty(2), seed=42)
    g = check_gradient(l_split_subscript_only, (x, c1, c2), 0)
    np.testing.assert_allclose(g, np.concatenate([c2, [0.0], c1]), rtol=1e-12)


def l_split_count_argument(x, n, c):
    a, b = np.split(x, n)
    return np.sum(a * c)


def l_array_split_count_argument(x, n, c):
    a, b, d = np.array_split(x, n)
    return np.sum(a * c) + np.sum(d * d)


def test_array_split_count_from_variable():
    # uneven parts (3, 2, 2): the adjoint is a list, not a stacked array
    x = make((7,), seed=45)
    c = cotangent(np.empty(3), seed=46)
    g = check_gradient(l_array_split_count_argument, (x, 3, c), 0)
    np.testing.assert_allclose(g, np.concatenate([c, np.zeros(2), 2 * x[5:]]), rtol=1e-12)


def test_split_count_from_variable():
    x = make((6,), seed=43)
    c = cotangent(np.empty(3), seed=44)
    g = s2sad.grad(l_split_count_argument)(x, 2, c)
    np.testing.assert_allclose(g, np.concatenate([c, np.zeros(3)]), rtol=1e-12)


# ---- operands that are not literal lists; axes the kinds do not decide -------------------

def l_cat_list_argument(xs, c):
    return np.sum(np.concatenate(xs, axis=-1) * c)


def test_concatenate_list_argument():
    xs = [make((2, 3), seed=45), make((2, 1), seed=46), make((2, 2), seed=47)]
    c = cotangent(np.empty((2, 6)))
    g = s2sad.grad(l_cat_list_argument)(xs, c)
    assert isinstance(g, list) and len(g) == 3
    for gi, expected in zip(g, np.split(c, [3, 4], axis=-1)):
        np.testing.assert_array_equal(gi, expected)


def l_stack_axis_argument(x, y, axis, c):
    return np.sum(np.stack([x, y], axis=axis) * c)


def l_cat_axis_argument(x, y, axis, c):
    return np.sum(np.concatenate([x, y], axis=axis) * c)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_axis_from_argument(axis):
    # `axis == 0` cannot be decided when the gradient is built: the rule runs as a call
    x, y = make((2, 3), seed=48), make((2, 3), seed=49)
    c = cotangent(np.stack([x, y], axis=axis))
    gx, gy = check_gradient(l_stack_axis_argument, (x, y, axis, c), (0, 1))
    np.testing.assert_array_equal(gx, np.take(c, 0, axis=axis))
    np.testing.assert_array_equal(gy, np.take(c, 1, axis=axis))
    c = cotangent(np.concatenate([x, y], axis=axis))
    gx, gy = check_gradient(l_cat_axis_argument, (x, y, axis, c), (0, 1))
    np.testing.assert_array_equal(np.concatenate([gx, gy], axis=axis), c)


def l_hstack_float(x, s, c):
    return np.sum(np.hstack([x, s]) * c)


def l_expand_float(s, c):
    return np.sum(np.expand_dims(s, 0) * c)


def test_python_float_operands():
    x, c = make((3,), seed=50), cotangent(np.empty(4))
    gx, gs = check_gradient(l_hstack_float, (x, 1.5, c), (0, 1))
    assert isinstance(gs, float) and gs == c[3]
    np.testing.assert_array_equal(gx, c[:3])
    g = check_gradient(l_expand_float, (1.5, c[:1]), 0)
    assert g == c[0]


# ---- modes without a rule: a clear error ------------------------------------------------

def l_pad_maximum(x, c):
    return np.sum(np.pad(x, 1, mode="maximum") * c)


def l_pad_odd(x, c):
    return np.sum(np.pad(x, 1, mode="reflect", reflect_type="odd") * c)


@pytest.mark.parametrize("loss, what", [(l_pad_maximum, "mode='maximum'"),
                                        (l_pad_odd, "reflect_type='odd'")])
def test_pad_unsupported_mode(loss, what):
    x = make((4,), seed=51)
    c = cotangent(np.empty(6))
    with pytest.raises(NotImplementedError, match=what):
        s2sad.grad(loss)(x, c)


# ---- the generated code: rules inline, reading like hand-written backprop ------------------

GENERATED = [   # (loss, the operation it sums, shape, what the gradient's code shows)
    (l_swapaxes01, lambda x: np.swapaxes(x, 0, 1), (3, 4), "dx = np.swapaxes("),
    (l_moveaxis_tuple, lambda x: np.moveaxis(x, (0, 1), (2, 0)), (2, 3, 4), "np.moveaxis("),
    (l_expand0, lambda x: np.expand_dims(x, 0), (3,), "dx = np.squeeze("),
    (l_squeeze_ax1, lambda x: np.squeeze(x, axis=1), (3, 1), "dx = np.reshape("),
    (l_mflatten_F, lambda x: x.flatten("F"), (3, 4), "np.reshape(dx_flatten, x.shape, order='F')"),
    (l_flip02, lambda x: np.flip(x, (0, 2)), (2, 3, 4), "dx = np.flip("),
    (l_roll2_axm1, lambda x: np.roll(x, 2, axis=-1), (3, 4), ", -2, axis=-1)"),
    (l_tile23, lambda x: np.tile(x, (2, 3)), (3, 4), "dx = untile("),
    (l_repeat2_ax0, lambda x: np.repeat(x, 2, axis=0), (3, 4), "dx = unrepeat("),
    (l_pad_pairs, lambda x: np.pad(x, ((1, 0), (2, 3))), (3, 4), "[pad_interior(x, ((1, 0), (2, 3)))]"),
    (l_pad_edge, lambda x: np.pad(x, 2, mode="edge"), (3, 4), "dx = unpad("),
]


@pytest.mark.parametrize("loss, op, shape, snippet", GENERATED,
                         ids=[f"{loss.__name__}" for loss, _, _, _ in GENERATED])
def test_generated_code_inlines(loss, op, shape, snippet):
    x = make(shape, seed=52)
    c = cotangent(op(x))
    df = s2sad.grad(loss)
    text = s2sad.source(df, x, c)
    assert "cotangents(" not in text and "_adjoint(" not in text, text
    assert snippet in text, text
    np.testing.assert_allclose(df(x, c), check_gradient(loss, (x, c), 0), rtol=1e-12)


def test_generated_code_joins_and_splits():
    x, y = make((2, 3), seed=53), make((2, 3), seed=54)
    text = s2sad.source(s2sad.grad(l_stack_exprs, wrt=(0, 1)), x, y, cotangent(np.empty((3, 2, 3))))
    assert "cotangents(" not in text
    assert "ditems = " not in text                     # stack along 0: g[i] directly
    text = s2sad.source(s2sad.grad(l_cat_tuple_ax1, wrt=(0, 1)), x, y, cotangent(np.empty((2, 6))))
    assert "ditems = unconcatenate(dconcatenate_items, items, 1)" in text
    text = s2sad.source(s2sad.grad(l_split3), make((6,)), make((2,)), make((2,)))
    assert "fill_zeros([da, None, dd], split_x)" in text


def test_diff_exact_values():
    x = np.array([1.0, 4.0, 9.0, 16.0])
    c = np.array([1.0, 10.0, 100.0])
    np.testing.assert_array_equal(s2sad.grad(l_diff)(x, c), [-1.0, -9.0, -90.0, 100.0])
    _, t = s2sad.jvp(l_diff)(x, c, np.array([0.0, 0.0, 0.0, 1.0]))
    assert t == 100.0
