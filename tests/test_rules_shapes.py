"""The shape rules (rules/shapes.py) checked against central finite differences.

As in test_rules.py, each loss is `np.sum(OP(...) * c)` with a fixed random
`c` of OP's output shape, passed last and never differentiated; every check
goes through `check_gradient` (float64 and float32, type/shape/dtype, and a
re-run on the CuPy-like StrictArray).  Ops that copy elements (tile,
broadcast_to, repeat, the border of pad) are also checked for exact sums.
"""

import numpy as np
import pytest

import s2sad
from fdcheck import cotangent, shape_id, shapes_id, check_gradient

DTYPES = [np.float64, np.float32]
DT_IDS = ["f64", "f32"]


def make(shape, dtype=np.float64, seed=0):
    return np.asarray(np.random.default_rng(seed).standard_normal(size=shape), dtype=dtype)


# ---- one array in, one array out -----------------------------------------------------

def l_swapaxes01(x, c):
    return np.sum(np.swapaxes(x, 0, 1) * c)


def l_swapaxes0m1(x, c):
    return np.sum(np.swapaxes(x, 0, -1) * c)


def l_mswapaxes12(x, c):
    return np.sum(x.swapaxes(1, 2) * c)


def l_mswapaxes10(x, c):
    return np.sum(x.swapaxes(1, 0) * c)


def l_moveaxis0m1(x, c):
    return np.sum(np.moveaxis(x, 0, -1) * c)


def l_moveaxism11(x, c):
    return np.sum(np.moveaxis(x, -1, 1) * c)


def l_moveaxis_tuple(x, c):
    return np.sum(np.moveaxis(x, (0, 1), (2, 0)) * c)


def l_expand0(x, c):
    return np.sum(np.expand_dims(x, 0) * c)


def l_expandm1(x, c):
    return np.sum(np.expand_dims(x, -1) * c)


def l_expand02(x, c):
    return np.sum(np.expand_dims(x, (0, 2)) * c)


def l_squeeze(x, c):
    return np.sum(np.squeeze(x) * c)


def l_squeeze_ax1(x, c):
    return np.sum(np.squeeze(x, axis=1) * c)


def l_squeeze_axm1(x, c):
    return np.sum(np.squeeze(x, -1) * c)


def l_squeeze_ax02(x, c):
    return np.sum(np.squeeze(x, (0, 2)) * c)


def l_msqueeze(x, c):
    return np.sum(x.squeeze() * c)


def l_msqueeze_ax0(x, c):
    return np.sum(x.squeeze(axis=0) * c)


def l_msqueeze_1(x, c):
    return np.sum(x.squeeze(1) * c)


def l_expand_squeeze(x, c):
    return np.sum(np.expand_dims(np.squeeze(x), 0) * c)


def l_squeeze_expand(x, c):
    return np.sum(np.squeeze(np.expand_dims(x, 1)) * c)


def l_squeeze_expand_m1(x, c):
    return np.sum(np.squeeze(np.expand_dims(x, -1), 0) ** 2 * c)


def l_ravel(x, c):
    return np.sum(np.ravel(x) * c)


def l_ravel_F(x, c):
    return np.sum(np.ravel(x, order="F") * c)


def l_mravel(x, c):
    return np.sum(x.ravel() * c)


def l_mravel_F(x, c):
    return np.sum(x.ravel(order="F") * c)


def l_mflatten(x, c):
    return np.sum(x.flatten() * c)


def l_mflatten_F(x, c):
    return np.sum(x.flatten("F") * c)


def l_flip(x, c):
    return np.sum(np.flip(x) * c)


def l_flip0(x, c):
    return np.sum(np.flip(x, 0) * c)


def l_flipm1(x, c):
    return np.sum(np.flip(x, axis=-1) * c)


def l_flip02(x, c):
    return np.sum(np.flip(x, (0, 2)) * c)


def l_roll2(x, c):
    return np.sum(np.roll(x, 2) * c)


def l_roll_m1_ax0(x, c):
    return np.sum(np.roll(x, -1, axis=0) * c)


def l_roll2_axm1(x, c):
    return np.sum(np.roll(x, 2, axis=-1) * c)


def l_roll_tuple(x, c):
    return np.sum(np.roll(x, (1, -2), axis=(0, 1)) * c)


def l_roll_int_tuple_axes(x, c):
    return np.sum(np.roll(x, 1, axis=(0, -1)) * c)


def l_roll_tuple_flat(x, c):
    return np.sum(np.roll(x, (1, 3)) * c)


def l_roll_same_axis(x, c):
    return np.sum(np.roll(x, (1, 2), axis=(1, 1)) * c)


def l_bcast34(x, c):
    return np.sum(np.broadcast_to(x, (3, 4)) * c)


def l_bcast234(x, c):
    return np.sum(np.broadcast_to(x, (2, 3, 4)) * c)


def l_tile2(x, c):
    return np.sum(np.tile(x, 2) * c)


def l_tile23(x, c):
    return np.sum(np.tile(x, (2, 3)) * c)


def l_tile212(x, c):
    return np.sum(np.tile(x, (2, 1, 2)) * c)


def l_repeat3(x, c):
    return np.sum(np.repeat(x, 3) * c)


def l_repeat2_ax0(x, c):
    return np.sum(np.repeat(x, 2, axis=0) * c)


def l_repeat2_axm1(x, c):
    return np.sum(np.repeat(x, 2, axis=-1) * c)


def l_repeat_list_ax0(x, c):
    return np.sum(np.repeat(x, [1, 0, 2], axis=0) * c)


def l_repeat_list_ax1(x, c):
    return np.sum(np.repeat(x, [2, 1, 3, 1], axis=1) * c)


def l_repeat_list_flat(x, c):
    return np.sum(np.repeat(x, [1, 2, 3, 1, 0, 2]) * c)


def l_repeat_one_list(x, c):
    return np.sum(np.repeat(x, [2], axis=0) * c)


REPEATS = np.array([3, 1, 2])


def l_repeat_array(x, c):
    return np.sum(np.repeat(x, REPEATS, axis=-1) * c)


def l_mrepeat2(x, c):
    return np.sum(x.repeat(2) * c)


def l_mrepeat2_ax1(x, c):
    return np.sum(x.repeat(2, axis=1) * c)


def l_mrepeat_list(x, c):
    return np.sum(x.repeat([1, 2, 3], axis=0) * c)


def l_pad1(x, c):
    return np.sum(np.pad(x, 1) * c)


def l_pad12(x, c):
    return np.sum(np.pad(x, (1, 2)) * c)


def l_pad_pairs(x, c):
    return np.sum(np.pad(x, ((1, 0), (2, 3))) * c)


def l_pad_pairs3(x, c):
    return np.sum(np.pad(x, ((0, 0), (1, 1), (2, 0))) * c)


def l_pad_value(x, c):
    return np.sum(np.pad(x, 2, constant_values=1.5) * c)


def l_pad_edge(x, c):
    return np.sum(np.pad(x, 2, mode="edge") * c)


def l_pad_edge_pairs(x, c):
    return np.sum(np.pad(x, ((1, 2), (3, 0)), mode="edge") * c)


def l_pad_edge_positional(x, c):
    return np.sum(np.pad(x, 1, "edge") * c)


def l_pad_reflect(x, c):
    return np.sum(np.pad(x, 2, mode="reflect") * c)


def l_pad_reflect_wide(x, c):
    return np.sum(np.pad(x, (5, 7), mode="reflect") * c)


def l_pad_symmetric(x, c):
    return np.sum(np.pad(x, ((2, 1), (1, 3)), mode="symmetric") * c)


def l_pad_wrap(x, c):
    return np.sum(np.pad(x, (2, 4), mode="wrap") * c)


def l_pad_empty(x, c):
    return np.sum(np.pad(x, 1, mode="empty")[1:-1] * c)


ND1 = [(5,), (3, 4), (2, 3, 4)]
ND2 = [(3, 4), (2, 3, 4)]
ND3 = [(2, 3, 4)]
def l_fliplr(x, c):
    return np.sum(np.fliplr(x) * c)


def l_flipud(x, c):
    return np.sum(np.flipud(x) * c)


def l_rot90(x, c):
    return np.sum(np.rot90(x) * c)


def l_rot90_k3_axes(x, c):
    return np.sum(np.rot90(x, 3, axes=(1, 0)) * c)


def l_atleast_1d(x, c):
    return np.sum(np.atleast_1d(x) * c)


def l_atleast_2d(x, c):
    return np.sum(np.atleast_2d(x) * c)


def l_tril(x, c):
    return np.sum(np.tril(x) * c)


def l_triu_k1(x, c):
    return np.sum(np.triu(x, 1) * c)


def l_tril_km1(x, c):
    return np.sum(np.tril(x, -1) * c)


def l_diff(x, c):
    return np.sum(np.diff(x) * c)


def l_diff_n2_ax0(x, c):
    return np.sum(np.diff(x, n=2, axis=0) * c)


def l_diff_ends(x, c):
    return np.sum(np.diff(x, prepend=0.5, append=2.0) * c)


ALL_ND = [()] + ND1

# (id, loss, numpy op, shapes)
UNARY = [
    ("np.swapaxes(x,0,1)", l_swapaxes01, lambda x: np.swapaxes(x, 0, 1), ND2),
    ("np.swapaxes(x,0,-1)", l_swapaxes0m1, lambda x: np.swapaxes(x, 0, -1), ND2),
    ("x.swapaxes(1,2)", l_mswapaxes12, lambda x: x.swapaxes(1, 2), ND3),
    ("x.swapaxes(1,0)", l_mswapaxes10, lambda x: x.swapaxes(1, 0), ND2),
    ("np.moveaxis(x,0,-1)", l_moveaxis0m1, lambda x: np.moveaxis(x, 0, -1), ND1),
    ("np.moveaxis(x,-1,1)", l_moveaxism11, lambda x: np.moveaxis(x, -1, 1), ND2),
    ("np.moveaxis(x,(0,1),(2,0))", l_moveaxis_tuple, lambda x: np.moveaxis(x, (0, 1), (2, 0)), ND3),
    ("np.expand_dims(x,0)", l_expand0, lambda x: np.expand_dims(x, 0), ALL_ND),
    ("np.expand_dims(x,-1)", l_expandm1, lambda x: np.expand_dims(x, -1), ALL_ND),
    ("np.expand_dims(x,(0,2))", l_expand02, lambda x: np.expand_dims(x, (0, 2)), [(5,), (3, 4)]),
    ("np.squeeze(x)", l_squeeze, np.squeeze, [(1,), (1, 1), (3, 1), (1, 4, 1), (2, 1, 3), (3, 4)]),
    ("np.squeeze(x,axis=1)", l_squeeze_ax1, lambda x: np.squeeze(x, axis=1), [(3, 1), (2, 1, 3)]),
    ("np.squeeze(x,-1)", l_squeeze_axm1, lambda x: np.squeeze(x, -1), [(3, 1), (1, 3, 1)]),
    ("np.squeeze(x,(0,2))", l_squeeze_ax02, lambda x: np.squeeze(x, (0, 2)), [(1, 4, 1)]),
    ("x.squeeze()", l_msqueeze, lambda x: x.squeeze(), [(3, 1), (1, 4, 1)]),
    ("x.squeeze(axis=0)", l_msqueeze_ax0, lambda x: x.squeeze(axis=0), [(1, 4), (1, 1, 3)]),
    ("x.squeeze(1)", l_msqueeze_1, lambda x: x.squeeze(1), [(3, 1), (2, 1, 3)]),
    ("expand_dims(squeeze(x),0)", l_expand_squeeze,
     lambda x: np.expand_dims(np.squeeze(x), 0), [(3, 1), (1, 4, 1)]),
    ("squeeze(expand_dims(x,1))", l_squeeze_expand,
     lambda x: np.squeeze(np.expand_dims(x, 1)), [(4,), (3, 1), (2, 3)]),
    ("squeeze(expand_dims(x,-1),0)", l_squeeze_expand_m1,
     lambda x: np.squeeze(np.expand_dims(x, -1), 0) ** 2, [(1, 3), (1, 2, 3)]),
    ("np.ravel(x)", l_ravel, np.ravel, ALL_ND),
    ("np.ravel(x,order=F)", l_ravel_F, lambda x: np.ravel(x, order="F"), ND2),
    ("x.ravel()", l_mravel, lambda x: x.ravel(), ALL_ND),
    ("x.ravel(order=F)", l_mravel_F, lambda x: x.ravel(order="F"), ND2),
    ("x.flatten()", l_mflatten, lambda x: x.flatten(), ALL_ND),
    ("x.flatten(F)", l_mflatten_F, lambda x: x.flatten("F"), ND2),
    ("np.flip(x)", l_flip, np.flip, ALL_ND),
    ("np.flip(x,0)", l_flip0, lambda x: np.flip(x, 0), ND1),
    ("np.flip(x,axis=-1)", l_flipm1, lambda x: np.flip(x, axis=-1), ND1),
    ("np.flip(x,(0,2))", l_flip02, lambda x: np.flip(x, (0, 2)), ND3),
    ("np.roll(x,2)", l_roll2, lambda x: np.roll(x, 2), ALL_ND),
    ("np.roll(x,-1,axis=0)", l_roll_m1_ax0, lambda x: np.roll(x, -1, axis=0), ND1),
    ("np.roll(x,2,axis=-1)", l_roll2_axm1, lambda x: np.roll(x, 2, axis=-1), ND1),
    ("np.roll(x,(1,-2),axis=(0,1))", l_roll_tuple,
     lambda x: np.roll(x, (1, -2), axis=(0, 1)), ND2),
    ("np.roll(x,1,axis=(0,-1))", l_roll_int_tuple_axes,
     lambda x: np.roll(x, 1, axis=(0, -1)), ND2),
    ("np.roll(x,(1,3))", l_roll_tuple_flat, lambda x: np.roll(x, (1, 3)), [(5,), (3, 4)]),
    ("np.roll(x,(1,2),axis=(1,1))", l_roll_same_axis,
     lambda x: np.roll(x, (1, 2), axis=(1, 1)), ND2),
    ("np.broadcast_to(x,(3,4))", l_bcast34, lambda x: np.broadcast_to(x, (3, 4)),
     [(), (4,), (3, 1), (1, 4), (1, 1), (3, 4)]),
    ("np.broadcast_to(x,(2,3,4))", l_bcast234, lambda x: np.broadcast_to(x, (2, 3, 4)),
     [(3, 4), (3, 1), (2, 1, 4)]),
    ("np.tile(x,2)", l_tile2, lambda x: np.tile(x, 2), ALL_ND),
    ("np.tile(x,(2,3))", l_tile23, lambda x: np.tile(x, (2, 3)), [(), (4,), (3, 4), (2, 3, 4)]),
    ("np.tile(x,(2,1,2))", l_tile212, lambda x: np.tile(x, (2, 1, 2)), [(3,), (3, 4)]),
    ("np.repeat(x,3)", l_repeat3, lambda x: np.repeat(x, 3), ALL_ND),
    ("np.repeat(x,2,axis=0)", l_repeat2_ax0, lambda x: np.repeat(x, 2, axis=0), ND1),
    ("np.repeat(x,2,axis=-1)", l_repeat2_axm1, lambda x: np.repeat(x, 2, axis=-1), ND1),
    ("np.repeat(x,[1,0,2],axis=0)", l_repeat_list_ax0,
     lambda x: np.repeat(x, [1, 0, 2], axis=0), [(3,), (3, 4), (3, 2, 2)]),
    ("np.repeat(x,[2,1,3,1],axis=1)", l_repeat_list_ax1,
     lambda x: np.repeat(x, [2, 1, 3, 1], axis=1), [(3, 4), (2, 4, 3)]),
    ("np.repeat(x,[1,2,3,1,0,2])", l_repeat_list_flat,
     lambda x: np.repeat(x, [1, 2, 3, 1, 0, 2]), [(6,), (2, 3), (3, 2, 1)]),
    ("np.repeat(x,[2],axis=0)", l_repeat_one_list, lambda x: np.repeat(x, [2], axis=0), ND1),
    ("np.repeat(x,REPEATS,axis=-1)", l_repeat_array,
     lambda x: np.repeat(x, REPEATS, axis=-1), [(3,), (2, 3), (4, 2, 3)]),
    ("x.repeat(2)", l_mrepeat2, lambda x: x.repeat(2), ALL_ND),
    ("x.repeat(2,axis=1)", l_mrepeat2_ax1, lambda x: x.repeat(2, axis=1), ND2),
    ("x.repeat([1,2,3],axis=0)", l_mrepeat_list, lambda x: x.repeat([1, 2, 3], axis=0),
     [(3,), (3, 2)]),
    ("np.pad(x,1)", l_pad1, lambda x: np.pad(x, 1), ND1),
    ("np.pad(x,(1,2))", l_pad12, lambda x: np.pad(x, (1, 2)), ND1),
    ("np.pad(x,((1,0),(2,3)))", l_pad_pairs, lambda x: np.pad(x, ((1, 0), (2, 3))), [(3, 4)]),
    ("np.pad(x,((0,0),(1,1),(2,0)))", l_pad_pairs3,
     lambda x: np.pad(x, ((0, 0), (1, 1), (2, 0))), ND3),
    ("np.pad(x,2,constant_values=1.5)", l_pad_value,
     lambda x: np.pad(x, 2, constant_values=1.5), [(3,), (2, 3)]),
    ("np.pad(x,2,edge)", l_pad_edge, lambda x: np.pad(x, 2, mode="edge"), [(1,), (4,), (3, 4)]),
    ("np.pad(x,((1,2),(3,0)),edge)", l_pad_edge_pairs,
     lambda x: np.pad(x, ((1, 2), (3, 0)), mode="edge"), [(3, 4), (1, 2)]),
    ("np.pad(x,1,'edge')", l_pad_edge_positional, lambda x: np.pad(x, 1, "edge"), [(2, 3, 2)]),
    ("np.pad(x,2,reflect)", l_pad_reflect, lambda x: np.pad(x, 2, mode="reflect"),
     [(5,), (3, 4), (3, 3, 4)]),
    ("np.pad(x,(5,7),reflect)", l_pad_reflect_wide,
     lambda x: np.pad(x, (5, 7), mode="reflect"), [(1,), (3,), (2, 3)]),
    ("np.pad(x,((2,1),(1,3)),symmetric)", l_pad_symmetric,
     lambda x: np.pad(x, ((2, 1), (1, 3)), mode="symmetric"), [(3, 4), (1, 2)]),
    ("np.pad(x,(2,4),wrap)", l_pad_wrap, lambda x: np.pad(x, (2, 4), mode="wrap"),
     [(3,), (3, 4)]),
    ("np.pad(x,1,empty)[1:-1]", l_pad_empty, lambda x: np.pad(x, 1, mode="empty")[1:-1],
     [(4,), (3, 4)]),
]

UNARY += [
    ("np.fliplr", l_fliplr, np.fliplr, [(3, 4), (2, 3, 4)]),
    ("np.flipud", l_flipud, np.flipud, [(5,), (3, 4)]),
    ("np.rot90", l_rot90, np.rot90, [(3, 4), (2, 3, 4)]),
    ("np.rot90(x,3,axes=(1,0))", l_rot90_k3_axes, lambda x: np.rot90(x, 3, axes=(1, 0)),
     [(3, 4)]),
    ("np.atleast_1d", l_atleast_1d, np.atleast_1d, [(), (5,), (3, 4)]),
    ("np.atleast_2d", l_atleast_2d, np.atleast_2d, [(), (5,), (3, 4)]),
    ("np.tril", l_tril, np.tril, [(4, 4), (3, 5), (2, 3, 3)]),
    ("np.triu(x,1)", l_triu_k1, lambda x: np.triu(x, 1), [(4, 4), (3, 5), (4,)]),
    ("np.tril(x,-1)", l_tril_km1, lambda x: np.tril(x, -1), [(4, 4), (5,)]),
    ("np.diff", l_diff, np.diff, [(5,), (3, 4), (2, 3, 4)]),
    ("np.diff(x,n=2,axis=0)", l_diff_n2_ax0, lambda x: np.diff(x, n=2, axis=0), [(4,), (5, 3)]),
    ("np.diff(x,prepend,append)", l_diff_ends, lambda x: np.diff(x, prepend=0.5, append=2.0),
     [(5,), (3, 4)]),
]

UNARY_CASES = [pytest.param(loss, op, shape, id=f"{name}-{shape_id(shape)}")
               for name, loss, op, shapes in UNARY for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, op, shape", UNARY_CASES)
def test_unary_shape_op(loss, op, shape, dtype):
    x = make(shape, dtype, seed=1)
    c = cotangent(op(x), dtype)
    check_gradient(loss, (x, c), 0)


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

def l_cat(x, y, c):
    return np.sum(np.concatenate([x, y]) * c)


def l_cat_tuple_ax1(x, y, c):
    return np.sum(np.concatenate((x, y), axis=1) * c)


def l_cat_axm1(x, y, c):
    return np.sum(np.concatenate([x, y], axis=-1) * c)


def l_cat_none(x, y, c):
    return np.sum(np.concatenate([x, y], axis=None) * c)


def l_cat3_ax1(x, y, z, c):
    return np.sum(np.concatenate([x, y, z], axis=1) * c)


def l_cat_exprs(x, y, c):
    return np.sum(np.concatenate([x, 2.0 * x, np.sin(y)], axis=0) * c)


def l_stack(x, y, c):
    return np.sum(np.stack([x, y]) * c)


def l_stack_ax1(x, y, c):
    return np.sum(np.stack((x, y), axis=1) * c)


def l_stack_axm1(x, y, c):
    return np.sum(np.stack([x, y], axis=-1) * c)


def l_stack3(x, y, z, c):
    return np.sum(np.stack([x, y, z], axis=1) * c)


def l_stack_exprs(x, y, c):
    return np.sum(np.stack([x, 2 * x, y]) * c)


def l_stack_exprs_ax2(x, y, c):
    return np.sum(np.stack([x * y, x, y], axis=2) ** 2 * c)


def l_hstack(x, y, c):
    return np.sum(np.hstack([x, y]) * c)


def l_hstack3(x, y, z, c):
    return np.sum(np.hstack((x, y, z)) * c)


def l_vstack(x, y, c):
    return np.sum(np.vstack([x, y]) * c)


def l_vstack3(x, y, z, c):
    return np.sum(np.vstack((x, y, z)) * c)


# (id, loss, numpy op on the arrays, shapes, wrt)
JOINS = [
    ("concatenate", l_cat, lambda x, y: np.concatenate([x, y]),
     [((3,), (4,)), ((2, 3), (4, 3)), ((1, 2, 2), (3, 2, 2))], [0, 1, (0, 1)]),
    ("concatenate-axis1", l_cat_tuple_ax1, lambda x, y: np.concatenate((x, y), axis=1),
     [((2, 3), (2, 1)), ((2, 1, 3), (2, 4, 3))], [(0, 1), 1]),
    ("concatenate-axis-1", l_cat_axm1, lambda x, y: np.concatenate([x, y], axis=-1),
     [((3,), (2,)), ((2, 3, 1), (2, 3, 4))], [(0, 1)]),
    ("concatenate-axisNone", l_cat_none, lambda x, y: np.concatenate([x, y], axis=None),
     [((2, 3), (4,)), ((), (2, 2)), ((2, 1, 3), (1, 2))], [(0, 1), 0]),
    ("concatenate3-axis1", l_cat3_ax1, lambda x, y, z: np.concatenate([x, y, z], axis=1),
     [((2, 3), (2, 1), (2, 2))], [(0, 2), 1, (0, 1, 2)]),
    ("concatenate-exprs", l_cat_exprs,
     lambda x, y: np.concatenate([x, 2.0 * x, np.sin(y)], axis=0),
     [((3,), (2,)), ((2, 3), (1, 3))], [0, (0, 1)]),
    ("stack", l_stack, lambda x, y: np.stack([x, y]),
     [((), ()), ((3,), (3,)), ((2, 3), (2, 3))], [0, (0, 1)]),
    ("stack-axis1", l_stack_ax1, lambda x, y: np.stack((x, y), axis=1),
     [((3,), (3,)), ((2, 3), (2, 3)), ((2, 1, 3), (2, 1, 3))], [(0, 1)]),
    ("stack-axis-1", l_stack_axm1, lambda x, y: np.stack([x, y], axis=-1),
     [((4,), (4,)), ((2, 3), (2, 3))], [(0, 1), 1]),
    ("stack3-axis1", l_stack3, lambda x, y, z: np.stack([x, y, z], axis=1),
     [((3,), (3,), (3,)), ((2, 3), (2, 3), (2, 3))], [(0, 2), 1]),
    ("stack-exprs", l_stack_exprs, lambda x, y: np.stack([x, 2 * x, y]),
     [((3,), (3,)), ((2, 3), (2, 3))], [0, (0, 1)]),
    ("stack-exprs-axis2", l_stack_exprs_ax2, lambda x, y: np.stack([x * y, x, y], axis=2) ** 2,
     [((2, 3), (2, 3))], [(0, 1)]),
    ("hstack", l_hstack, lambda x, y: np.hstack([x, y]),
     [((3,), (2,)), ((), (3,)), ((2, 3), (2, 1)), ((2, 3, 2), (2, 1, 2))], [(0, 1), 0]),
    ("hstack3", l_hstack3, lambda x, y, z: np.hstack((x, y, z)),
     [((3,), (), (2,)), ((2, 2), (2, 1), (2, 3))], [(0, 2), (0, 1, 2)]),
    ("vstack", l_vstack, lambda x, y: np.vstack([x, y]),
     [((3,), (3,)), ((), ()), ((2, 3), (4, 3)), ((3,), (2, 3)), ((1, 2, 2), (3, 2, 2))],
     [(0, 1), 1]),
    ("vstack3", l_vstack3, lambda x, y, z: np.vstack((x, y, z)),
     [((3,), (2, 3), (3,))], [(0, 2), (0, 1, 2)]),
]

JOIN_CASES = [pytest.param(loss, op, shapes, wrt, id=f"{name}-{shapes_id(shapes)}-wrt{wrt}")
              for name, loss, op, shape_list, wrts in JOINS
              for shapes in shape_list for wrt in wrts]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, op, shapes, wrt", JOIN_CASES)
def test_join(loss, op, shapes, wrt, dtype):
    arrays = [make(s, dtype, seed=10 + i) for i, s in enumerate(shapes)]
    c = cotangent(op(*arrays), dtype)
    check_gradient(loss, (*arrays, c), wrt)


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

GENERATED = [
    (l_swapaxes01, (3, 4), "dx = np.swapaxes("),
    (l_moveaxis_tuple, (2, 3, 4), "np.moveaxis("),
    (l_expand0, (3,), "dx = np.squeeze("),
    (l_squeeze_ax1, (3, 1), "dx = np.reshape("),
    (l_mflatten_F, (3, 4), ".reshape(x.shape, order='F')"),
    (l_flip02, (2, 3, 4), "dx = np.flip("),
    (l_roll2_axm1, (3, 4), ", -2, axis=-1)"),
    (l_tile23, (3, 4), "dx = untile("),
    (l_repeat2_ax0, (3, 4), "dx = unrepeat("),
    (l_pad_pairs, (3, 4), "[pad_interior(x, ((1, 0), (2, 3)))]"),
    (l_pad_edge, (3, 4), "dx = unpad("),
]


@pytest.mark.parametrize("loss, shape, snippet", GENERATED,
                         ids=[f"{loss.__name__}" for loss, _, _ in GENERATED])
def test_generated_code_inlines(loss, shape, snippet):
    x = make(shape, seed=52)
    op = next(op for _, candidate, op, _ in UNARY if candidate is loss)
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
    assert "np.split(" in text and "split_points(items, 1), axis=1)" in text
    text = s2sad.source(s2sad.grad(l_split3), make((6,)), make((2,)), make((2,)))
    assert "fill_zeros([da, None, dd], split_x)" in text


def test_diff_exact_values():
    x = np.array([1.0, 4.0, 9.0, 16.0])
    c = np.array([1.0, 10.0, 100.0])
    np.testing.assert_array_equal(s2sad.grad(l_diff)(x, c), [-1.0, -9.0, -90.0, 100.0])
    _, t = s2sad.jvp(l_diff)(x, c, np.array([0.0, 0.0, 0.0, 1.0]))
    assert t == 100.0
