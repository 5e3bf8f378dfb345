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


def test_last_write_adjoint_stays_on_the_device():
    # the rule's runtime helper on a CuPy-like array: no host transfer, indices on the device
    from strict_array import unwrap, wrap
    from s2sad.runtime import power_slope, setitem_value_adjoint
    g = np.arange(1.0, 7.0).reshape(3, 2)
    for index, expected in [([0, 0, 2], [[0, 0], [1, 2], [5, 6]]),
                            (wrap(np.array([1, 1, 0])), [[0, 0], [3, 4], [1, 2]]),
                            ((wrap(np.array([0, 0])), 1), [0, 2])]:
        value = np.ones(np.shape(expected))
        got = setitem_value_adjoint(wrap(g), index, wrap(value))
        np.testing.assert_array_equal(unwrap(got), expected)
    x = wrap(np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(unwrap(power_slope(x, wrap(np.array([0.0, 1.0, 3.0])))),
                                  [0.0, 1.0, 12.0])
    np.testing.assert_array_equal(unwrap(power_slope(x, 0)), [0.0, 0.0, 0.0])


def test_repeated_increment_keeps_the_last_write():
    check(repeated_increment, (np.array([1.0, 2.0, 3.0]), np.array([0, 1, 2])))
    g = check(repeated_increment, (np.array([1.0, 2.0, 3.0]), np.array([0, 1, 1])))
    np.testing.assert_allclose(g, [3 * 2.0 ** 2, 0.0, 3 * 4.0 ** 2])


# ---- in-place updates of memory another value shares -----------------------------------------

SHARED = "this in-place update changes an array that .* shares and reads later"


def append_then_update(x):
    a = x * 1.0
    hs = []
    for i in range(3):
        hs.append(a)
        a[i] = a[i] * 2.0
    return np.sum(hs[0] * x)


def update_then_append(x):
    a = x * 1.0
    hs = []
    for i in range(3):
        a[i] = a[i] * 2.0
        hs.append(a)
    return np.sum(hs[0] * x)


def carried_view(x):
    a = x * 1.0
    b = a[0:2]
    s = 0.0
    for i in range(2):
        s = s + np.sum(b * x[0:2])     # the second trip reads the first trip's view
        b = a[0:2]
        a[0] = a[0] * 2.0
    return s


def list_read_in_the_next_trip(x):
    a = x * 1.0
    hs = []
    s = 0.0
    for i in range(3):
        hs2 = hs + []
        if i > 0:
            s = s + np.sum(hs2[0] * x)
        hs.append(a)
        a[i] = a[i] * 2.0
    return s


def fresh_view_each_trip(x):
    a = x * 1.0
    s = 0.0
    for i in range(3):
        a[i] = a[i] * 2.0
        b = a[0:2]
        s = s + np.sum(b)
    return s * np.sum(a * x)


def append_copies(x):
    a = x * 1.0
    hs = []
    for i in range(3):
        hs.append(a.copy())
        a[i] = a[i] * 2.0
    return np.sum(hs[0] * x) + np.sum(hs[2] * a)


def update_then_break(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        y[i] = x[i] * (i + 1.0)
        if i == 2:
            break
    return np.sum(y * y)


@pytest.mark.parametrize("f", [append_then_update, update_then_append, carried_view,
                               list_read_in_the_next_trip], ids=lambda f: f.__name__)
def test_values_sharing_updated_memory_are_refused(f):
    refused(f, (rand(4),), SHARED)


@pytest.mark.parametrize("f", [fresh_view_each_trip, append_copies, update_then_break],
                         ids=lambda f: f.__name__)
def test_values_made_after_the_update_or_copied_still_work(f):
    check(f, (rand(4, seed=3),))


VIEWS_1D = ["np.flip(a)", "np.flipud(a)", "np.split(a, 2)[0]", "np.array_split(a, 3)[1]",
            "np.hsplit(a, 2)[1]", "np.reshape(a, (2, 2))", "np.ravel(a)", "a.reshape(2, 2)",
            "a.ravel()", "np.expand_dims(a, 0)", "np.broadcast_to(a, (2, 4))", "np.atleast_1d(a)",
            "np.atleast_2d(a)", "np.atleast_3d(a)", "a.T", "a[::-1]", "a[1:]", "a[None]",
            "a[...]", "np.asarray(a)", "np.squeeze(a)", "np.transpose(a)"]
VIEWS_2D = ["np.fliplr(a)", "np.rot90(a)", "np.vsplit(a, 2)[0]", "np.diagonal(a)", "np.diag(a)",
            "a.diagonal()", "np.swapaxes(a, 0, 1)", "np.moveaxis(a, 0, 1)", "a.swapaxes(0, 1)",
            "a.transpose()", "a[:, 0]", "a[0]", "np.hsplit(a, 2)[0]", "np.squeeze(a[None])"]
COPIES = ["np.roll(a, 1)", "np.sort(a)", "a.copy()", "a[[0, 1]]", "np.concatenate([a, a])",
          "a.flatten()", "np.array(a)", "np.diag(a[0])", "np.triu(a)"]


def view_functions(tmp_path, name, exprs):
    """A module of functions taking a view (or a copy) of `a` and then updating
    `a` (`before_k`), or updating it first (`after_k`)."""
    lines = ["import numpy as np"]
    for k, expr in enumerate(exprs):
        item = "[0, 0]" if expr in VIEWS_2D or expr in ("np.diag(a[0])", "np.triu(a)") else "[0]"
        lines += [f"def before_{k}(x):", "    a = x * 1.0", f"    b = {expr}",
                  f"    a{item} = 5.0", "    return np.sum(b * np.sum(x))",
                  f"def after_{k}(x):", "    a = x * 1.0", f"    a{item} = 5.0",
                  f"    b = {expr}", "    return np.sum(b * np.sum(x))"]
    path = tmp_path / f"{name}.py"
    path.write_text("\n".join(lines) + "\n")
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_view_is_seen_by_the_in_place_check(tmp_path):
    exprs = VIEWS_1D + VIEWS_2D
    module = view_functions(tmp_path, "views_module", exprs)
    for k, expr in enumerate(exprs):
        x = rand(4, 4, seed=k) if expr in VIEWS_2D else rand(4, seed=k)
        with pytest.raises(s2sad.TransformError, match=SHARED):
            s2sad.grad(getattr(module, f"before_{k}"))(x)
        check(getattr(module, f"after_{k}"), (x,))


def test_copies_are_not_refused(tmp_path):
    module = view_functions(tmp_path, "copies_module", COPIES)
    for k, expr in enumerate(COPIES):
        x = rand(4, 4, seed=k) if expr in ("np.diag(a[0])", "np.triu(a)") else rand(4, seed=k)
        check(getattr(module, f"before_{k}"), (x,))


def update_through_a_flipped_view(x):
    a = x * 1.0
    b = np.flip(a)
    b[0] = 0.0                          # changes a[-1] too
    return np.sum(a * x)


def update_through_split_parts(x):
    a = x * 1.0
    first, second = np.split(a, 2)
    second[0] = 3.0
    return np.sum(a * x)


def view_of_view_in_a_helper(x):
    a = x * 1.0
    b = flip_helper(a)
    a[0] = 0.0
    return np.sum(b * x)


def flip_helper(v):
    return np.flip(v)


def update_through_a_slice(x):
    a = x * 1.0
    b = a[1:]                           # empty on a stand-in of size one: asked at a larger size
    b[0] = 3.0
    return np.sum(a * x)


@pytest.mark.parametrize("f", [update_through_a_flipped_view, update_through_split_parts,
                               view_of_view_in_a_helper, update_through_a_slice],
                         ids=lambda f: f.__name__)
def test_updates_through_views_are_refused(f):
    refused(f, (rand(4),), SHARED)


def test_view_then_update_from_the_issue():
    def view_then_update(x):
        a = x * 1.0
        b = np.flip(a)
        a[0] = 0.0
        return np.sum(b * x)
    refused(view_then_update, (rand(4),), SHARED)


# ---- calls that change a value in place -------------------------------------------------------

MAY_CHANGE = "this call may change `{}` in place"


class Holder:
    pass


def set_attribute(x):
    h = Holder()
    setattr(h, "value", x * 2.0)
    return np.sum(h.value * x)


def object_setattr(x):
    h = Holder()
    object.__setattr__(h, "value", x * 2.0)
    return np.sum(h.value * x)


def extend_list(x):
    xs = [x]
    xs.extend([x * 2.0])
    return np.sum(xs[-1] * x)


def insert_list(x):
    xs = [x]
    xs.insert(0, x * 2.0)
    return np.sum(xs[0] * x)


def reverse_list(x):
    xs = [x, x * 2.0]
    xs.reverse()
    return np.sum(xs[0] * x)


def update_dict(x):
    d = {"a": x}
    d.update({"a": x * 2.0})
    return np.sum(d["a"] * x)


def setdefault_in_a_value(x):
    d = {"a": x}
    v = d.setdefault("b", x * 2.0)
    return np.sum(v * d["b"])


def shuffle_in_place(x):
    a = x * 1.0
    np.random.shuffle(a)
    return np.sum(a * x)


RNG = np.random.default_rng(0)


def shuffle_by_a_generator(x):
    a = x * 1.0
    RNG.shuffle(a)
    return np.sum(a * x)


def in_a_loop_in_a_helper(x):
    total = 0.0
    for k in range(2):
        total = total + extend_helper(x * (k + 1.0))
    return total


def extend_helper(v):
    vs = [v]
    vs.extend([v * 2.0])
    return np.sum(vs[-1] * v)


def spelled_out_plus_equals(x):
    a = x * 1.0
    b = a
    a.__iadd__(x)
    return np.sum(b * x)


def spelled_out_item_update(x):
    a = x * 1.0
    a.__setitem__(0, 5.0)
    return np.sum(a * x)


def aliased_list_extended_by_plus_equals(x):
    xs = [x]
    ys = xs
    xs += [x * 2.0]
    return np.sum(ys[-1] * x)


@pytest.mark.parametrize("f, name", [
    (set_attribute, "h"), (object_setattr, "h"), (extend_list, "xs"), (insert_list, "xs"),
    (reverse_list, "xs"), (update_dict, "d"), (setdefault_in_a_value, "d"),
    (shuffle_in_place, "a"), (shuffle_by_a_generator, "a"), (in_a_loop_in_a_helper, "vs"),
    (spelled_out_plus_equals, "a"), (spelled_out_item_update, "a"),
], ids=lambda a: getattr(a, "__name__", a))
def test_calls_that_change_values_in_place_are_refused(f, name):
    refused(f, (rand(4),), MAY_CHANGE.format(name))


def test_plus_equals_on_an_aliased_list_is_refused():
    refused(aliased_list_extended_by_plus_equals, (rand(4),), SHARED)


LOG = __import__("logging").getLogger("s2sad.tests")


def effects_that_change_nothing(x):
    y = x * 2.0
    LOG.debug("y = %s", y)
    __import__("logging").debug("y = %s", y)
    print_nothing(y)
    xs = [x]
    for k in range(2):
        xs += [y * (k + 1.0)]
    t = (x,)
    t += (y,)
    return np.sum(xs[-1] * t[1])


def print_nothing(v):
    assert np.all(np.isfinite(v))


def test_calls_for_effect_that_change_nothing_still_work():
    check(effects_that_change_nothing, (rand(4, seed=5),))


# ---- named tuples are pytrees of their fields --------------------------------------------------

from collections import namedtuple              # noqa: E402
from typing import NamedTuple                   # noqa: E402

P = namedtuple("P", "w b")


class Q(NamedTuple):
    w: np.ndarray
    b: float
    n: int


def namedtuple_params(p, x):
    return np.sum((x * p.w + p.b) ** 2)


def namedtuple_by_position(p, x):
    w, b = p
    return np.sum((x * p[0] + b) ** 2 * w)


def namedtuple_with_an_int(q, x):
    return np.sum((x * q.w + q.b) ** q.n)


def namedtuple_in_a_loop(p, x):
    s = 0.0
    for k in range(3):
        s = s + np.sum(np.tanh(x * p.w * k + p.b))
    return s


def namedtuple_through_a_helper(p, x):
    return np.sum(affine(p, x) ** 2)


def affine(p, x):
    return x * p.w + p.b


def namedtuple_made_inside(p, x):
    q = P(p.w * 2.0, b=p.b + 1.0)
    return np.sum(namedtuple_params(q, x) * x)


def tree_fd(f, p, x):
    """Central differences of f(p, x) in each float or array field of p (None elsewhere)."""
    out = []
    for i, leaf in enumerate(p):
        if isinstance(leaf, (np.ndarray, float)):
            out.append(numerical_grad(lambda v: f(p._replace(**{p._fields[i]: v}), x), (leaf,), 0))
        else:
            out.append(None)
    return out


@pytest.mark.parametrize("f, p", [
    (namedtuple_params, P(rand(4, seed=1), 0.5)),
    (namedtuple_params, P(rand(3, 4, seed=2), rand(4, seed=3))),
    (namedtuple_by_position, P(rand(4, seed=4), 0.5)),
    (namedtuple_with_an_int, Q(rand(4, seed=5), 0.5, 2)),
    (namedtuple_in_a_loop, P(rand(4, seed=6), -0.3)),
    (namedtuple_through_a_helper, P(rand(4, seed=7), 0.2)),
    (namedtuple_made_inside, P(rand(4, seed=8), 0.1)),
], ids=lambda a: getattr(a, "__name__", ""))
def test_namedtuple_arguments_are_pytrees(f, p):
    x = rand(4, seed=11)
    g = s2sad.grad(f)(p, x)
    assert type(g) is type(p)
    expected = tree_fd(f, p, x)
    tangent = type(p)(*[rand(*np.shape(leaf), seed=20) if isinstance(leaf, np.ndarray)
                        else 0.3 if isinstance(leaf, float) else leaf for leaf in p])
    along = 0.0
    for leaf, got, want, t in zip(p, g, expected, tangent):
        if want is None:
            assert got is None
            continue
        assert type(got) is type(leaf)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        along += np.sum(want * t)
    value, out = s2sad.jvp(f)(p, x, tangent)
    np.testing.assert_allclose(value, f(p, x), rtol=1e-12)
    np.testing.assert_allclose(out, along, rtol=1e-6, atol=1e-6)


def test_namedtuple_kinds_are_told_apart_and_hvp_works():
    df = s2sad.grad(namedtuple_params)
    x = rand(4, seed=12)
    g1 = df(P(rand(4, seed=13), 0.5), x)
    g2 = df(P(rand(4, seed=13), rand(4, seed=14)), x)       # a field changes kind: a new build
    assert isinstance(g1.b, float) and g2.b.shape == (4,)
    p = P(rand(4, seed=13), 0.5)
    hv = s2sad.hvp(namedtuple_params)(p, x, P(np.ones(4), 1.0))
    # H of sum((x w + b)^2): d2/dw2 = 2 x^2, d2/dwdb = 2 x, d2/db2 = 2 n
    np.testing.assert_allclose(hv.w, 2 * x * x + 2 * x, rtol=1e-12)
    np.testing.assert_allclose(hv.b, np.sum(2 * x) + 2 * 4, rtol=1e-12)


# ---- a helper redefined, a global that changes kind -------------------------------------------

import importlib.util                              # noqa: E402
import itertools                                   # noqa: E402
import linecache                                   # noqa: E402

_cells = itertools.count()


def load(tmp_path, name, source):
    """A module written to tmp_path and imported: s2sad reads its functions' source."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cell(module, source):
    """What re-running a notebook cell does: new function objects bound to the
    same names of the module, their source registered with linecache."""
    filename = f"<regression cell {next(_cells)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), module.__dict__)


LOSS = """
import numpy as np
C = 2.0
def act(x):
    return np.tanh(x)
def layer(x):
    return act(x) * 1.5
def loss(x):
    return np.sum(layer(x) * C)
"""


def d_tanh(x):
    return 3.0 * (1.0 - np.tanh(x) ** 2)


def test_a_redefined_helper_is_differentiated_again(tmp_path):
    m = load(tmp_path, "stale_helper", LOSS)
    x = rand(4, seed=30)
    df, jf = s2sad.grad(m.loss), s2sad.jvp(m.loss)
    np.testing.assert_allclose(df(x), d_tanh(x), rtol=1e-12)
    np.testing.assert_allclose(jf(x, np.ones(4))[1], np.sum(d_tanh(x)), rtol=1e-12)
    run_cell(m, "def act(x):\n    return np.sin(x)\n")
    expected = 3.0 * np.cos(x)
    np.testing.assert_allclose(df(x), expected, rtol=1e-12)                 # the same grad object
    np.testing.assert_allclose(s2sad.grad(m.loss)(x), expected, rtol=1e-12)  # a new one
    np.testing.assert_allclose(jf(x, np.ones(4))[1], np.sum(expected), rtol=1e-12)
    check(m.loss, (x,))


def test_a_helper_given_new_code_is_differentiated_again(tmp_path):
    m = load(tmp_path, "new_code", LOSS)
    x = rand(4, seed=31)
    df = s2sad.grad(m.loss)
    np.testing.assert_allclose(df(x), d_tanh(x), rtol=1e-12)
    run_cell(m, "def _cube(x):\n    return x * x * x\n")
    m.act.__code__ = m._cube.__code__
    np.testing.assert_allclose(df(x), 9.0 * x * x, rtol=1e-12)
    np.testing.assert_allclose(s2sad.grad(m.loss)(x), 9.0 * x * x, rtol=1e-12)
    run_cell(m, "def _total(x):\n    return np.sum(x * x * x)\n")
    m.loss.__code__ = m._total.__code__                 # the differentiated function itself
    np.testing.assert_allclose(df(x), 3.0 * x * x, rtol=1e-12)


def test_a_helper_reached_through_a_module_or_a_class(tmp_path):
    import sys
    helpers = load(tmp_path, "stale_helpers_lib", "import numpy as np\n"
                   "def act(x):\n    return np.tanh(x)\n"
                   "class Model:\n    def forward(self, x):\n        return np.tanh(x)\n")
    sys.modules["stale_helpers_lib"] = helpers
    m = load(tmp_path, "stale_caller", "import numpy as np\nimport stale_helpers_lib as hl\n"
             "def loss(x):\n    return np.sum(hl.act(x)) + np.sum(hl.Model.forward(None, x))\n")
    x = rand(4, seed=32)
    df = s2sad.grad(m.loss)
    np.testing.assert_allclose(df(x), 2.0 * (1.0 - np.tanh(x) ** 2), rtol=1e-12)
    run_cell(helpers, "def act(x):\n    return np.sin(x)\n")
    np.testing.assert_allclose(df(x), np.cos(x) + 1.0 - np.tanh(x) ** 2, rtol=1e-12)
    run_cell(helpers, "def _forward(self, x):\n    return x * x\n")
    helpers.Model.forward = helpers._forward
    np.testing.assert_allclose(df(x), np.cos(x) + 2.0 * x, rtol=1e-12)
    del sys.modules["stale_helpers_lib"]


def test_a_global_function_rebound_to_another_library_function(tmp_path):
    m = load(tmp_path, "rebound", "import numpy as np\nact = np.tanh\n"
             "def loss(x):\n    return np.sum(act(x))\n")
    x = rand(4, seed=33)
    df = s2sad.grad(m.loss)
    np.testing.assert_allclose(df(x), 1.0 - np.tanh(x) ** 2, rtol=1e-12)
    m.act = np.sin
    np.testing.assert_allclose(df(x), np.cos(x), rtol=1e-12)


GLOBAL_KIND = """
import numpy as np
C = 2.0
def scaled(x):
    return np.sum(C * x)
def squashed(x):
    return np.sum(np.tanh(x * C))
def helper_reads_it(x):
    return np.sum(scale(x) ** 2)
def scale(x):
    return x + C
"""


def test_a_global_that_changes_kind_rebuilds(tmp_path):
    m = load(tmp_path, "global_kind", GLOBAL_KIND)
    x = rand(4, seed=34)
    df, dt, dh = s2sad.grad(m.scaled), s2sad.grad(m.squashed), s2sad.grad(m.helper_reads_it)
    np.testing.assert_allclose(df(x), np.full(4, 2.0))
    check(m.squashed, (x,))
    check(m.helper_reads_it, (x,))
    build = df.__s2sad__.latest
    m.C = 3.0                                   # a new value of the same kind: no new build
    np.testing.assert_allclose(df(x), np.full(4, 3.0))
    assert df.__s2sad__.latest is build
    for c in (np.array([[1.0], [2.0], [3.0]]), np.array([1.0, -2.0, 0.5, 3.0]), 2):
        m.C = c                                 # a (3, 1) array broadcasts x to (3, 4)
        np.testing.assert_allclose(df(x), np.sum(np.broadcast_to(c, np.broadcast_shapes(
            np.shape(c), (4,))).reshape(-1, 4), axis=0), rtol=1e-12)
        np.testing.assert_allclose(s2sad.grad(m.scaled)(x), df(x), rtol=1e-12)
        for f, d in ((m.scaled, df), (m.squashed, dt), (m.helper_reads_it, dh)):
            g = d(x)                            # the same grad objects as before
            assert g.shape == (4,)
            np.testing.assert_allclose(g, numerical_grad(f, (x,), 0), rtol=1e-6, atol=1e-6)
            check(f, (x,))


def make_closure():
    C = 2.0

    def loss(x):
        return np.sum(C * x)

    def set_c(value):
        nonlocal C
        C = value
    return loss, set_c


def test_a_closure_variable_that_changes_kind_rebuilds():
    loss, set_c = make_closure()
    x = rand(4, seed=35)
    df = s2sad.grad(loss)
    np.testing.assert_allclose(df(x), np.full(4, 2.0))
    set_c(np.array([[1.0], [2.0], [3.0]]))
    np.testing.assert_allclose(df(x), np.full(4, 6.0))


def update_of_an_attribute_read(x, holder):
    w = holder.w                        # the object's own array: copied before the update
    w[0] = x[0] * 2.0
    return np.sum(w * x)


def test_an_array_read_from_an_object_is_not_changed_by_the_gradient():
    holder = Holder()
    holder.w = np.ones(3)
    x = rand(3, seed=40)
    g = s2sad.grad(update_of_an_attribute_read)(x, holder)
    np.testing.assert_array_equal(holder.w, np.ones(3))
    np.testing.assert_allclose(g, [4.0 * x[0], 1.0, 1.0], rtol=1e-12)


def item_of_a_transpose(x):
    y = x.T * 2.0
    return y.item(1) + y.item(2, 0)


def test_item_of_a_fortran_ordered_array():
    # its adjoint wrote the flat position into a copy (`reshape(-1)` of an
    # F-ordered zeros_like): a zero gradient
    check(item_of_a_transpose, (rand(2, 3, seed=3),))


def test_jacobian_and_hessian_at_a_fortran_ordered_point():
    # their unit vectors were set in copies of F-ordered zeros: all-zero results
    def f(x):
        return np.sum(np.sin(x) * x)

    x = np.asfortranarray(rand(2, 3, seed=4))
    expected = np.diag((2 * np.cos(x) - x * np.sin(x)).reshape(-1)).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(s2sad.hessian(f)(x), expected, rtol=1e-12, atol=1e-12)
    df = s2sad.grad(f)
    np.testing.assert_allclose(s2sad.jacobian(df)(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s2sad.jacobian(df, mode="rev")(x), expected, rtol=1e-12, atol=1e-12)

    def g(x):
        return x.T * 2.0          # an F-ordered output: one row per output element

    J = s2sad.jacobian(g, mode="rev")(rand(2, 3, seed=5))
    np.testing.assert_array_equal(J, 2.0 * np.einsum("il,jk->ijkl", np.eye(3), np.eye(2)))


def take_flat_of_a_transpose(x):
    return np.sum(np.take(x.T, [0, 3, 3]) ** 2) + np.sum(np.take_along_axis(x.T.reshape(-1), np.array([4, 1]), axis=None))


def test_take_of_a_fortran_ordered_array_with_no_axis():
    # np.take's adjoint scattered into a copy of an F-ordered zeros_like: a zero gradient
    check(take_flat_of_a_transpose, (rand(2, 3, seed=6),))
