"""Differentiating through gradients: losses that call a `grad`,
`value_and_grad`, `jvp` or `hvp` object (gradient penalties, MAML steps,
transforms made inside the loss), Hessians of the MLP and RNN losses, and
`jacobian(grad(f))` and reverse over reverse over the control-flow test
set -- each against central finite differences of the gradient (float64)."""

import numpy as np
import pytest

import s2sad
import test_control_flow as cf
from s2sad import TransformError

from test_higher_order import close, fd_jacobian, load_benchmark, rand

workloads = load_benchmark("workloads")


def fd_gradient(f, args, i=0):
    """d f(*args) / d args[i] by central differences (f scalar)."""
    return fd_jacobian(f, args, i, eps=1e-6)


def check_all_modes(f, args):
    """grad against differences of f; jvp along a direction against the
    gradient's dot with it; hvp against differences of the gradient."""
    g = s2sad.grad(f)(*args)
    close(g, fd_gradient(f, args))
    v = rand(*np.shape(args[0]), seed=9)
    value, t = s2sad.jvp(f)(*args, v)
    assert value == pytest.approx(f(*args), rel=1e-12)
    close(t, np.sum(g * v), rtol=1e-8)
    df = s2sad.grad(f)
    H = fd_jacobian(df, args).reshape(v.size, v.size)
    close(s2sad.hvp(f)(*args, v), (H @ v.reshape(-1)).reshape(v.shape), rtol=1e-5, atol=1e-7)
    return g


# ---- losses that call a gradient ------------------------------------------------------

def energy(x):
    return np.sum(np.sin(x) * x ** 2)


denergy = s2sad.grad(energy)


def gradient_penalty(x):
    g = denergy(x)
    return np.sum(g * g)


def loss(w, X, y):
    return np.mean((np.tanh(X @ w) - y) ** 2)


dloss = s2sad.grad(loss)
loss_and_grad = s2sad.value_and_grad(loss)
loss_jvp = s2sad.jvp(loss)
loss_hvp = s2sad.hvp(loss)


def maml_one_step(w, X, y):
    adapted = w - 0.1 * dloss(w, X, y)
    return loss(adapted, X, y)


def maml_two_steps(w, X, y):
    adapted = w - 0.1 * dloss(w, X, y)
    adapted = adapted - 0.1 * dloss(adapted, X, y)
    return loss(adapted, X, y)


def maml_in_a_loop(w, X, y, steps):
    adapted = w
    for _ in range(steps):
        adapted = adapted - 0.1 * dloss(adapted, X, y)
    return loss(adapted, X, y)


def maml_while(w, X, y):
    adapted, step = w, 0
    while np.sum(dloss(adapted, X, y) ** 2) > 1e-3 and step < 4:
        adapted = adapted - 0.5 * dloss(adapted, X, y)
        step += 1
    return loss(adapted, X, y)


def through_value_and_grad(w, X, y):
    value, g = loss_and_grad(w, X, y)
    return value + np.sum(g ** 2)


def through_jvp(w, X, y):
    value, slope = loss_jvp(w, X, y, np.ones_like(w))
    return value * slope


def through_hvp(w, X, y):
    return np.sum(loss_hvp(w, X, y, w) * w)


loss_jvp_both = s2sad.jvp(loss, wrt=(0, 1))
loss_hvp_both = s2sad.hvp(loss, wrt=(0, 1))


def through_jvp_of_two(w, X, y):
    value, slope = loss_jvp_both(w, X, y, (w * 2.0, X))      # tangents as a tuple
    return value * slope


def through_hvp_of_two(w, X, y):
    hw, hX = loss_hvp_both(w, X, y, (w, X * 0.5))
    return np.sum(hw * w) + np.sum(hX)


def made_inside(w, X, y):
    g = s2sad.grad(loss)(w, X, y)
    return np.sum(g ** 2)


def made_inside_wrt_data(w, X, y):
    dX = s2sad.grad(loss, wrt=1)(w, X, y)
    return np.sum(dX ** 2) + np.sum(w ** 2)


def made_inside_tuple_wrt(w, X, y):
    dw, dX = s2sad.grad(loss, wrt=(0, 1))(w, X, y)
    return np.sum(dw ** 2) + np.sum(dX)


def second_derivative_inside(w, X, y):
    d2 = s2sad.grad(lambda v: np.sum(s2sad.grad(energy)(v)))
    return np.sum(d2(w) * w)


def branch_on_a_gradient(w, X, y):
    g = dloss(w, X, y)
    if np.sum(g) > 0:
        return np.sum(g * g)
    return np.sum(np.abs(g))


def helper_calling_a_gradient(v, X, y):
    return np.sum(dloss(v, X, y) ** 2)


def through_a_helper(w, X, y):
    return helper_calling_a_gradient(w, X, y) + helper_calling_a_gradient(2.0 * w, X, y)


def problem(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=3), rng.normal(size=(6, 3)), rng.normal(size=6)


@pytest.mark.parametrize("f", [
    maml_one_step, maml_two_steps, maml_while, through_value_and_grad, through_jvp,
    through_hvp, through_jvp_of_two, through_hvp_of_two, made_inside, made_inside_wrt_data, made_inside_tuple_wrt,
    second_derivative_inside, branch_on_a_gradient, through_a_helper,
], ids=lambda f: f.__name__)
def test_losses_calling_gradients_in_every_mode(f):
    check_all_modes(f, problem())


@pytest.mark.parametrize("shape", [(4,), (2, 3), ()], ids=["4", "2x3", "0d"])
def test_gradient_penalty(shape):
    x = rand(*shape, seed=1) * 2
    if not shape:
        x = float(x)
        assert s2sad.grad(gradient_penalty)(x) == pytest.approx(fd_gradient(gradient_penalty, (x,)), rel=1e-6)
        return
    check_all_modes(gradient_penalty, (x,))


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_maml_in_a_loop(steps):
    w, X, y = problem(1)
    g = s2sad.grad(maml_in_a_loop)(w, X, y, steps)
    close(g, fd_gradient(lambda v: maml_in_a_loop(v, X, y, steps), (w,)))
    if steps == 1:
        close(g, s2sad.grad(maml_one_step)(w, X, y), rtol=1e-12)


def test_hessian_of_a_maml_objective_is_symmetric():
    w, X, y = problem(2)
    H = s2sad.hessian(maml_two_steps)(w, X, y)
    close(H, H.T, rtol=1e-10, atol=1e-12)
    close(H, fd_jacobian(s2sad.grad(maml_two_steps), (w, X, y)), rtol=1e-5, atol=1e-7)


def test_generated_source_names_the_inner_gradient():
    x = rand(4, seed=3)
    text = s2sad.source(s2sad.grad(gradient_penalty), x)
    assert "g, denergy_saved = denergy_fwd(x)" in text
    assert "dx = denergy_bwd(dg, denergy_saved)" in text
    assert "def denergy_fwd(x):" in text and "def denergy_bwd(" in text
    assert "def jvp_dloss(" in s2sad.source(loss_hvp, *problem(), problem()[0])   # (an hvp's: a jvp's)
    made = s2sad.source(s2sad.grad(made_inside), *problem())
    assert "s2sad.grad" not in made.split("# ---- reverse sweep")[0].split("\n", 2)[2], made


def test_a_gradient_rebound_between_calls_builds_again():
    global denergy
    x = rand(3, seed=4)
    df = s2sad.grad(gradient_penalty)
    before = df(x)
    saved = denergy
    try:
        denergy = s2sad.grad(lambda v: np.sum(v ** 3))
        close(df(x), fd_gradient(gradient_penalty, (x,)))
        assert not np.allclose(df(x), before)
    finally:
        denergy = saved
    close(df(x), before, rtol=1e-12)


def test_a_call_that_does_not_fit_the_gradient_is_refused_with_the_line():
    def wrong(w, X, y):
        return np.sum(dloss(w, X))

    with pytest.raises(TransformError, match=r"(?s)line \d+\): the call to dloss does not match.*'y'.*"
                       r"the arguments of loss\(w, X, y\)"):
        s2sad.grad(wrong)(*problem())


def test_transforms_not_followed_inside_a_loss_are_refused_by_name():
    import functools
    w, X, y = problem()
    dbound = s2sad.grad(functools.partial(loss, X=X, y=y))
    hess = s2sad.hessian(loss)

    def through_partial(w):
        return np.sum(dbound(w) ** 2)

    def through_hessian(w):
        return np.sum(hess(w, X, y))

    with pytest.raises(TransformError, match=r"(?s)line \d+\): `dbound` is the gradient of a "
                       r"functools.partial.*s2sad.grad\(loss\)"):
        s2sad.grad(through_partial)(w)
    with pytest.raises(TransformError, match=r"(?s)`hess` is made by s2sad.hessian.*s2sad.hvp"):
        s2sad.grad(through_hessian)(w)


# ---- Hessians of the MLP and RNN losses -------------------------------------------------

def mlp_flat(theta, X, y):
    """A two-layer MLP whose weights are slices of one flat parameter vector."""
    W1 = theta[:6].reshape(2, 3)
    b1 = theta[6:9]
    W2 = theta[9:12].reshape(3, 1)
    pred = np.tanh(X @ W1 + b1) @ W2
    return np.mean((pred[:, 0] - y) ** 2)


def test_hessian_of_a_flat_mlp_loss():
    rng = np.random.default_rng(5)
    args = (rng.normal(size=12), rng.normal(size=(5, 2)), rng.normal(size=5))
    H = s2sad.hessian(mlp_flat)(*args)
    close(H, H.T, rtol=1e-10, atol=1e-12)
    close(H, fd_jacobian(s2sad.grad(mlp_flat), args), rtol=1e-6, atol=1e-8)
    dmlp = s2sad.grad(mlp_flat)
    close(s2sad.jacobian(dmlp)(*args), H, rtol=1e-9, atol=1e-12)
    close(s2sad.jacobian(dmlp, mode="rev")(*args), H, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_hessian_of_the_rnn_loss(wrt):
    args = workloads.rnn_problem(seed=6, T=4, batch=3, n_in=2, n_hidden=3)
    H = s2sad.hessian(workloads.rnn_loss, wrt)(*args)
    n = args[wrt].size
    assert H.shape == args[wrt].shape * 2
    close(H.reshape(n, n), H.reshape(n, n).T, rtol=1e-9, atol=1e-12)
    close(H, fd_jacobian(s2sad.grad(workloads.rnn_loss, wrt), args, wrt), rtol=1e-6, atol=1e-8)


# ---- jacobian(grad(f)) and reverse over reverse over the control-flow test set ---------------

CONTROL_FLOW = [
    (cf.f_if_reduction, lambda: (rand(4, seed=1), rand(4, seed=2))),
    (cf.f_elif, lambda: (rand(3, seed=3) * 0.5 + 2.0,)),
    (cf.f_elif, lambda: (rand(3, seed=3) * 0.5 - 2.0,)),
    (cf.f_nested_if, lambda: (rand(5, seed=4) * 0.3 + 1.0, 1.0)),
    (cf.f_one_branch, lambda: (rand(3, 2, seed=5), True)),
    (cf.f_chained, lambda: (rand(4, seed=6), -10.0, 10.0)),
    (cf.f_bool_ops, lambda: (np.abs(rand(4, seed=7)), 1.0)),
    (cf.f_ternary, lambda: (rand(3, 3, seed=8), 2.0)),
    (cf.f_three_returns, lambda: (np.array([0.5, 0.9, 0.3]),)),
    (cf.f_return_in_if_then_more, lambda: (rand(4, seed=12) * 0.3, 1.0)),
    (cf.f_range_argument, lambda: (rand(2, 3, seed=13) * 0.5, 3)),
    (cf.f_range_computed, lambda: (rand(7, seed=14),)),
    (cf.f_rows, lambda: (rand(5, 3, seed=15), rand(3, seed=16))),
    (cf.f_tuple_literal, lambda: (rand(3, seed=21),)),
    (cf.f_nested_loops, lambda: (rand(3, seed=26) * 0.5, 2, 3)),
    (cf.f_zero_trips, lambda: (rand(3, seed=27), 0)),
    (cf.f_counter_after_loop, lambda: (rand(3, seed=28), 4)),
    (cf.f_accumulate, lambda: (rand(6, seed=29), 4)),
    (cf.f_accumulate_square, lambda: (rand(6, seed=30),)),
    (cf.f_accumulate_rows, lambda: (rand(5, 3, seed=30),)),
    (cf.f_several_carried, lambda: (rand(3, seed=31), 4)),
    (cf.f_while, lambda: (rand(3, seed=34) * 0.5 + 1.0,)),
    (cf.f_while_true, lambda: (rand(3, seed=35) * 0.3, 1e-3)),
    (cf.f_break_in_for, lambda: (np.linspace(0.2, 0.6, 4), 3)),
    (cf.f_continue_masked, lambda: (rand(4, seed=36), np.array([True, False, True, False]))),
    (cf.f_continue_and_break_in_while, lambda: (rand(3, seed=36) * 0.5,)),
    (cf.f_while_counter, lambda: (rand(3, seed=37) * 0.5, 3)),
    (cf.f_continue_on_last_trip, lambda: (rand(4, seed=38),)),
]
CF_IDS = [f"{f.__name__}-{i}" for i, (f, _) in enumerate(CONTROL_FLOW)]


@pytest.mark.parametrize("f, make", CONTROL_FLOW, ids=CF_IDS)
def test_jacobian_of_gradient_over_control_flow(f, make):
    args = make()
    df = s2sad.grad(f)
    expected = fd_jacobian(df, args)
    close(s2sad.jacobian(df)(*args), expected, rtol=1e-5, atol=1e-7)              # forward over reverse
    close(s2sad.jacobian(df, mode="rev")(*args), expected, rtol=1e-5, atol=1e-7)  # reverse over reverse


@pytest.mark.parametrize("f, make", CONTROL_FLOW, ids=CF_IDS)
def test_penalty_on_the_gradient_over_control_flow(f, make):
    """A loss calling the generated gradient of each function (reverse over reverse)."""
    args = make()
    rest = args[1:]
    df = s2sad.grad(f)

    def penalty(x):
        g = df(x, *rest)
        return np.sum(g * g)

    close(s2sad.grad(penalty)(args[0]), fd_gradient(penalty, (args[0],)), rtol=1e-5, atol=1e-7)


# ---- every rule, second order: forward over reverse and reverse over reverse -----------------

def _second_order_rows():
    from test_rule_table import ACTIVE
    return [(i, row) for i, row in ACTIVE if row.check is None]


SECOND_ORDER = _second_order_rows()

def _row_problem(index, row):
    """The row's loss (`np.sum(<call> * c)`), its arguments and the first
    differentiable one; None where no argument is a float or float array."""
    from test_rule_table import MODULE
    from fdcheck import cotangent
    case = row.cases[0]
    args = [spec.draw(np.random.default_rng(index)) for spec in case.values()]
    value = getattr(MODULE, f"value_{index}")(*args)
    args.append(cotangent(value, dtype=np.float64, python_float_for_scalar=True))
    names = list(case)
    wrt = [i for i, (n, a) in enumerate(zip(names, args)) if isinstance(a, (float, np.ndarray))
           and (row.wrt is None or isinstance(row.wrt, list) or n in row.wrt)]
    return (getattr(MODULE, f"loss_{index}"), args, wrt[0]) if wrt else None


def check_second_order(index, row):
    """hvp and one row of the Hessian by reverse over reverse, against central
    differences of the gradient along a direction: right, or refused with a
    TransformError (never another error, never a wrong value)."""
    found = _row_problem(index, row)
    if found is None:
        pytest.skip("no float argument")
    loss_, args, i = found
    df = s2sad.grad(loss_, i)
    x = args[i]
    v = np.random.default_rng(1).normal(size=np.shape(x))
    v = v if np.ndim(x) else float(v)

    def along(s):
        moved = list(args)
        moved[i] = x + s * v
        return np.asarray(df(*moved))

    try:
        expected = (along(1e-6) - along(-1e-6)) / 2e-6
        coarser = (along(1e-5) - along(-1e-5)) / 2e-5
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        pytest.skip("the gradient is not defined beside this point")
    if not np.allclose(expected, coarser, rtol=1e-3, atol=1e-5):
        pytest.skip("the gradient has a kink beside this point (differences disagree)")
    refused = []
    try:
        close(s2sad.hvp(loss_, i)(*args, v), expected, rtol=1e-4, atol=1e-6)
    except TransformError:
        refused.append("fwd")
    try:
        J = s2sad.jacobian(df, wrt=i, mode="rev")(*args)
        close(np.tensordot(np.asarray(J), v, axes=np.ndim(v)) if np.ndim(v) else np.asarray(J) * v,
              expected, rtol=1e-4, atol=1e-6)
    except TransformError:
        refused.append("rev")
    return refused


@pytest.mark.parametrize("index, row", SECOND_ORDER, ids=[f"{i}-{r.name}" for i, r in SECOND_ORDER])
def test_every_rule_second_order(index, row):
    check_second_order(index, row)


# rows whose second derivative must go through both ways (their helpers have reverse rules)
FOLLOWED = ("np_linalg_det_x", "np_linalg_slogdet", "np_hstack", "np_vstack", "np_concatenate",
            "np_einsum__ij_jk__ik", "np_tensordot_a__b", "np_tile", "np_repeat", "np_take", "np_sort",
            "np_median", "np_pad", "np_diff", "x____y", "sum__x__y__x", "np_diagonal")
FOLLOWED_ROWS = [(i, r) for i, r in SECOND_ORDER if r.name.startswith(FOLLOWED)]


@pytest.mark.parametrize("index, row", FOLLOWED_ROWS, ids=[f"{i}-{r.name}" for i, r in FOLLOWED_ROWS])
def test_second_order_is_not_refused_where_the_helpers_have_rules(index, row):
    assert check_second_order(index, row) == []


# ---- reverse over reverse through what first-order code does on some paths only ------------

def _cubed(v):
    return v * v * v


def early_return_before_a_helper(x, s):
    # the gradient saves the helper's values only where it is called: None on the other path
    if s > 0.5:
        return np.sum(np.sin(x))
    return np.sum(_cubed(x) * x)


def a_list_read_backwards(x, n):
    # `gs[::-1]` of a list grown in a loop: its adjoint is a list, element by element
    gs = []
    for i in range(n):
        gs.append(np.sin(x * (i + 1.0)))
    total = 0.0
    for g in gs[::-1]:
        total = total * 0.5 + np.sum(g * x)
    return total


def a_ragged_list_sliced(x, n):
    parts = []
    for i in range(1, n + 1):
        parts.append(x[:i] * i)
    total = 0.0
    for p in parts[1:]:
        total = total + np.sum(np.sin(p))
    return total


@pytest.mark.parametrize("f, rest", [
    (early_return_before_a_helper, (0.9,)), (early_return_before_a_helper, (0.1,)),
    (a_list_read_backwards, (3,)),
], ids=["early-return", "helper-path", "list-backwards"])
def test_penalty_through_paths_and_lists(f, rest):
    x = rand(4, seed=7)
    df = s2sad.grad(f)

    def penalty(x):
        g = df(x, *rest)
        return np.sum(g * g)

    close(s2sad.grad(f)(x, *rest), fd_gradient(f, (x,) + rest))          # first order too
    close(s2sad.grad(penalty)(x), fd_gradient(penalty, (x,)), rtol=1e-5, atol=1e-7)


def test_a_slice_of_a_ragged_list_first_order():
    # the slice's adjoint is a list (it was an array stacked from the list: ragged, it raised)
    x = rand(4, seed=8)
    close(s2sad.grad(a_ragged_list_sliced)(x, 3), fd_gradient(a_ragged_list_sliced, (x, 3)))
    close(s2sad.hvp(a_ragged_list_sliced)(x, 3, x), fd_jacobian(s2sad.grad(a_ragged_list_sliced), (x, 3)) @ x,
          rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("x", [np.array([1.2, -0.4, 0.7, 2.0]), np.array([1.0, 0.0, 2.0, 3.0]),
                               np.array([0.0, 0.0, 2.0])], ids=["no-zero", "one-zero", "two-zeros"])
def test_hvp_of_a_product_is_exact_at_zeros(x):
    # forward over the product's reverse rule: its own tangent rule (no division)
    def f(x):
        return x.prod() + np.sum(np.prod(np.stack([x, x * x]), axis=1))

    v = rand(*x.shape, seed=9)
    close(s2sad.hvp(f)(x, v), fd_jacobian(s2sad.grad(f), (x,)) @ v, rtol=1e-6, atol=1e-8)


def _deepen(v, depth):
    if depth <= 0:
        return v
    return _deepen(np.arcsinh(v) * v.reshape(1, -1)[0], depth - 1)


def through_recursion(x):
    return np.sum(x * x) + np.sum(_deepen(x, 3))


def test_reverse_over_reverse_of_a_recursive_gradient_is_refused_hvp_is_right():
    # (fuzz seed 44, program 2636: the recursive halves' saved values lost their
    # adjoints in the second reverse sweep, a wrong Hessian row with no error)
    x = np.array([-1.05, 0.75, -0.07, 0.4])
    df = s2sad.grad(through_recursion)

    def penalty(x):
        return np.sum(df(x) * x)

    with pytest.raises(TransformError, match=r"(?s)_deepen_fwd1? is the half of a recursive function's "
                                             r"gradient.*s2sad.hvp"):
        s2sad.grad(penalty)(x)
    v = rand(4, seed=10)
    close(s2sad.hvp(through_recursion)(x, v), fd_jacobian(df, (x,)) @ v, rtol=1e-5, atol=1e-7)
