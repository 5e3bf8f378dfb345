"""The generated source is a product: these tests hold it to ../shared/GENERATED.md.

Three representative functions (an MLP loss, a scalar chain, a model with a
helper and a dict of parameters) are compared with hand-written gradients:
same values, no stacks or tapes, no unused statements, the user's names,
a comment per block, and at most 1.5x the hand-written gradient's lines.
"""

import ast
import inspect
import re

import numpy as np
import pytest

import s2sad
from fdcheck import assert_close, check_gradient

rng = np.random.default_rng(3)


# ---- the functions and their hand-written gradients ----------------------------------

def mlp_loss(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    return np.mean((logits - y) ** 2)


def hand_mlp(W1, b1, W2, b2, x, y):
    """The hand-written gradient of GENERATED.md."""
    xW1 = x @ W1
    a = xW1 + b1
    h = np.tanh(a)
    hW2 = h @ W2
    logits = hW2 + b2
    r = logits - y
    dlogits = (2.0 / r.size) * r
    db2 = dlogits.sum(axis=0)
    dW2 = h.T @ dlogits
    dh = dlogits @ W2.T
    da = dh * (1.0 - h * h)
    db1 = da.sum(axis=0)
    dW1 = x.T @ da
    return dW1, db1, dW2, db2


def mlp_args(batch=5):
    return (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)),
            rng.normal(size=2), rng.normal(size=(batch, 3)), rng.normal(size=(batch, 2)))


def chain(a, b, w0, w1, v):
    u = a * w0 + b * w1
    f = v * u
    return (f - 10.0) ** 2


def hand_chain(a, b, w0, w1, v):
    u = a * w0 + b * w1
    f = v * u
    df = 2.0 * (f - 10.0)
    dv = df * u
    du = df * v
    dw0 = du * a
    dw1 = du * b
    return dw0, dw1, dv


def logreg(params, X, t):
    z = X @ params["w"] + params["b"]
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))


def hand_logreg(params, X, t):
    z = X @ params["w"] + params["b"]
    p = 1.0 / (1.0 + np.exp(-z))
    dp = (-1.0 / len(t)) * (t / p - (1.0 - t) / (1.0 - p))
    dz = dp * p * (1.0 - p)
    dw = X.T @ dz
    db = np.sum(dz)
    return {"w": dw, "b": db}


def logreg_args():
    params = {"w": rng.normal(size=3), "b": 0.3}
    return params, rng.normal(size=(8, 3)), (rng.uniform(size=8) > 0.5).astype(float)


def dict_mlp(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    out = h @ params["W2"]
    return np.sum((out - y) ** 2) / len(x)


def hand_dict_mlp(params, x, y):
    W1, b1, W2 = params["W1"], params["b1"], params["W2"]
    h = np.tanh(x @ W1 + b1)
    out = h @ W2
    r = out - y
    dout = (2.0 / len(x)) * r
    dW2 = h.T @ dout
    dh = dout @ W2.T
    da = dh * (1.0 - h * h)
    return {"W1": x.T @ da, "b1": da.sum(axis=0), "W2": dW2}


def dense(W, b, x):
    return np.tanh(x @ W + b)


def model_loss(params, x, y):
    h = dense(params["W1"], params["b1"], x)
    out = h @ params["W2"]
    return np.sum((out - y) ** 2) / len(x)


def hand_model(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    r = h @ params["W2"] - y
    dout = (2.0 / len(x)) * r
    dW2 = h.T @ dout
    da = (dout @ params["W2"].T) * (1.0 - h * h)
    return {"W1": x.T @ da, "b1": da.sum(axis=0), "W2": dW2}


def model_args():
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4), "W2": rng.normal(size=(4, 2))}
    return params, rng.normal(size=(6, 3)), rng.normal(size=(6, 2))


CASES = {
    "mlp": (s2sad.grad(mlp_loss, wrt=(0, 1, 2, 3)), hand_mlp, mlp_args,
            ["dW1", "db1", "dW2", "db2", "dh"]),
    "chain": (s2sad.grad(chain, wrt=(2, 3, 4)), hand_chain, lambda: (2.0, 3.0, 1.0, 1.0, 1.0),
              ["dw0", "dw1", "dv", "du"]),
    "dict_mlp": (s2sad.grad(dict_mlp), hand_dict_mlp, model_args, ["dW1", "db1", "dW2", "dh"]),
    "logreg": (s2sad.grad(logreg), hand_logreg, logreg_args, ["dz", "dp"]),
    "model": (s2sad.grad(model_loss), hand_model, model_args, ["dW1", "db1", "dW2", "dh"]),
}
USER = {"mlp": mlp_loss, "chain": chain, "dict_mlp": dict_mlp, "logreg": logreg,
        "model": model_loss}


def generated(case):
    df, _, make_args, _ = CASES[case]
    args = make_args()
    return df, args, s2sad.source(df, *args)


def statement_lines(text):
    """Lines holding code: no blank lines, comments or `def` lines."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith(("#", "def ", "@", '"""'))]


# ---- the tests ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_generated_gradient_equals_hand_written(case):
    df, hand, make_args, _ = CASES[case]
    args = make_args()
    got, want = df(*args), hand(*args)
    if isinstance(want, dict):
        assert got.keys() == want.keys()
        got, want = [got[k] for k in want], list(want.values())
    for g, w in zip(got, want):
        assert_close(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_no_stack_or_tape_operations(case):
    _, _, text = generated(case)
    for word in ("stack", "append", "pop", "tape", "push", "zeros_like"):
        assert word not in text, word


@pytest.mark.parametrize("case", CASES)
def test_every_statement_is_used(case):
    """Each name assigned is read later, or returned: no dead statements."""
    _, _, text = generated(case)
    for fn in ast.parse(text).body:
        body = fn.body
        for i, stmt in enumerate(body):
            if not isinstance(stmt, ast.Assign):
                continue
            targets = {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            later = {n.id for s in body[i + 1:] for n in ast.walk(s)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            assert targets & later, f"{ast.unparse(stmt)} is never used"


@pytest.mark.parametrize("case", CASES)
def test_names_derive_from_the_users(case):
    _, _, text = generated(case)
    names = {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
    for expected in CASES[case][3]:
        assert expected in names
    assert not [n for n in names if re.fullmatch(r"_?t\d+|tmp\d*|_\w*\d+", n)], names


@pytest.mark.parametrize("case", CASES)
def test_a_comment_names_each_user_line(case):
    _, _, text = generated(case)
    lines = [line.strip() for line in inspect.getsource(USER[case]).splitlines()[1:]]
    for line in lines:
        spelled = ast.unparse(ast.parse(line.replace("return ", "", 1)))
        assert any(spelled in code for code in text.splitlines()), line


@pytest.mark.parametrize("case", ["mlp", "chain", "dict_mlp"])
def test_at_most_one_and_a_half_times_the_hand_written_lines(case):
    _, hand, _, _ = CASES[case]
    _, _, text = generated(case)
    ours = len(statement_lines(text))
    theirs = len(statement_lines(inspect.getsource(hand))) - (hand.__doc__ is not None)
    assert ours <= 1.5 * theirs, (ours, theirs, text)


def test_mlp_reads_like_generated_md():
    _, _, text = generated("mlp")
    code = statement_lines(text)
    # the forward sweep keeps the user's expressions, the loss itself is not computed
    assert code[:2] == ["h = np.tanh(x @ W1 + b1)", "logits = h @ W2 + b2"]
    assert not any("np.mean" in line for line in code)
    # matrix products as a person writes them, unbroadcast only where it sums
    assert "dW2 = h.T @ " in text and "dW1 = x.T @ " in text and "@ W2.T" in text
    # the biases' gradients sum over the batch, as a person writes it
    assert "unbroadcast" not in text and text.count(".sum(axis=0)") == 2
    assert "# ---- reverse sweep ----" in text
    assert "dx =" not in text and "dy =" not in text             # nobody asked for them


def test_size_one_batch_still_unbroadcasts():
    """Size-one dimensions are part of the kind: a batch of one gets its own build."""
    df = CASES["mlp"][0]
    for batch in (1, 5):
        args = mlp_args(batch)
        for g, w in zip(df(*args), hand_mlp(*args)):
            assert_close(g, w, rtol=1e-10, atol=1e-12)
    # W2 with one output column broadcasts against a wider y: must be summed back
    W1, b1, W2, b2, x, y = mlp_args()
    W2, b2 = W2[:, :1], b2[:1]
    g = df(W1, b1, W2, b2, x, y)
    assert g[2].shape == W2.shape and g[3].shape == b2.shape
    r = np.tanh(x @ W1 + b1) @ W2 + b2 - y
    assert_close(g[3], [np.sum(2.0 * r / r.size)])


def test_the_helper_gets_a_forward_and_backward_function():
    _, _, text = generated("model")
    assert "def dense_fwd(W, b, x):" in text and "def dense_bwd(" in text
    assert "dense_fwd(params['W1'], params['b1'], x)" in text
    assert "dW1, db1 = dense_bwd(dh, dense_saved)" in text


def test_scalar_code_is_plain_float_arithmetic():
    _, _, text = generated("chain")
    assert "np." not in text and "unbroadcast" not in text and "ones_like" not in text


def softmax_cross_entropy(W, b, x, y):
    z = x @ W + b
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(logp * y) / x.shape[0]


def test_reductions_with_keepdims_keep_the_shapes_known():
    rng = np.random.default_rng(2)
    args = (rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=(4, 5)),
            np.eye(3)[[0, 2, 1, 1]])
    text = s2sad.source(s2sad.grad(softmax_cross_entropy, wrt=(0, 1)), *args)
    assert "unbroadcast" not in text      # max/sum with keepdims: the size-one axis is known
    assert text.count(".sum(axis=1, keepdims=True)") == 2


def ols(beta, X, y):
    r = X @ beta - y
    return np.mean(r ** 2)


def scaled_by_one(x):
    return np.sum(x * 1.0 + 0.0)


def matmul_then_bias(a, b, c):
    return np.sum(np.matmul(a, b) + c)


def test_algebraic_simplification_of_inlined_rules():
    rng = np.random.default_rng(3)
    beta, X, y = rng.normal(size=3), rng.normal(size=(50, 3)), rng.normal(size=50)
    text = s2sad.source(s2sad.grad(ols), beta, X, y)
    code = statement_lines(text)
    assert "ones_like" not in text                     # the mean's spread: r has the shape
    assert not any("r ** 2" in line for line in code)  # nor is r ** 2 kept for its size
    assert code == ["r = X @ beta - y", "dr = 1.0 / y.size * 2 * r", "dbeta = dr @ X",
                    "return dbeta"], code
    text = s2sad.source(s2sad.grad(scaled_by_one), X)
    assert statement_lines(text) == ["dx1_plus_0 = np.ones_like(x)", "return dx1_plus_0"]


def cross_entropy(z, y):
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(logp * y) / z.shape[0]


def cross_entropy_in_a_branch(z, y, flag):
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    if flag:
        w = logp * y          # proves logp and y alike only where it runs
    else:
        w = logp * 2.0
    return -np.sum(w) / z.shape[0]


def test_operands_of_an_elementwise_product_share_a_shape():
    """`logp * y` with neither broadcasting: the sum's spread over `logp * y`
    needs no ones (y has the shape), so `logp * y` is not computed at all."""
    rng = np.random.default_rng(6)
    z, y = rng.normal(size=(5, 4)), np.eye(4)[rng.integers(0, 4, 5)]
    check_gradient(cross_entropy, (z, y), 0)
    code = statement_lines(s2sad.source(s2sad.grad(cross_entropy), z, y))
    assert "dlogp = -(1.0 / z_shape_0) * y" in code, code
    assert not any("logp * y" in line or "ones_like" in line for line in code), code
    assert "dz = dlogp + (-dlogp).sum(axis=1, keepdims=True) / sum_exp_z * exp_z" in code
    for flag in (True, False):
        check_gradient(cross_entropy_in_a_branch, (z, y, flag), 0)


def glm_logistic(beta, X, y):
    z = X @ beta
    return np.sum(z + np.log1p(np.exp(-z))) - y @ z      # (dask-glm's loss)


def glm_logistic_in_a_loop(beta, X, y):
    total = 0.0
    for _ in range(2):
        z = X @ beta
        total = total + np.sum(z + np.log1p(np.exp(-z)))
    return total - y @ z


def test_a_value_kept_only_for_its_shape_is_not_computed():
    """The sum's ones take their shape from `exp_neg_z`, which the forward
    sweep makes at its top level and the reverse sweep reads anyway: `z +
    np.log1p(exp_neg_z)` is not computed (in a loop neither: no stack keeps it)."""
    rng = np.random.default_rng(8)
    beta, X, y = rng.normal(size=3) * 0.3, rng.normal(size=(6, 3)), (rng.random(6) < 0.5) * 1.0
    check_gradient(glm_logistic, (beta, X, y), 0)
    code = statement_lines(s2sad.source(s2sad.grad(glm_logistic), beta, X, y))
    assert not any("log1p" in line for line in code), code
    assert "dz_plus = np.ones_like(exp_neg_z)" in code, code
    check_gradient(glm_logistic_in_a_loop, (beta, X, y), 0)
    code = statement_lines(s2sad.source(s2sad.grad(glm_logistic_in_a_loop), beta, X, y))
    assert not any("log1p" in line for line in code), code


def test_a_product_in_a_branch_proves_no_shapes():
    from s2sad.analyze import Analyzer
    from s2sad.build import core_of
    from s2sad.kinds import kind_of
    rng = np.random.default_rng(7)
    z, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    for f, alike in ((cross_entropy, True), (cross_entropy_in_a_branch, False)):
        core = core_of(f)
        kinds = {"z": kind_of(z), "y": kind_of(y), "flag": kind_of(True)}
        facts = Analyzer(core, {p: kinds[p] for p in core.params}, ("z",)).run()
        assert facts.same_shape(("z", 0), ("y", 0)) is alike, f.__name__


def thermal(heat, outdoor, temp0, R, C, dt, lam, target):
    temp = temp0
    total = 0.0
    for t in range(len(heat)):
        dT = (outdoor[t] - temp) / (R * C) + heat[t] / C
        temp = temp + dt * dT
        total = total + 0.2 * heat[t] + lam * (temp - target) ** 2
    return total


def invariant_quotient(x, a, b):
    s = 0.0
    for t in range(len(x)):
        c = a / b
        d = a * b
        s = s + x[t] * c + x[t] * d
    return s


def test_constant_seed_folds_and_invariant_products_leave_the_loop():
    rng = np.random.default_rng(8)
    args = (rng.uniform(0, 2, 6), rng.normal(5, 1, 6), 20.0, 2.0, 10.0, 0.5, 0.1, 21.0)
    check_gradient(thermal, args, 0)
    text = s2sad.source(s2sad.grad(thermal), *args)
    reverse = text.split("# ---- reverse sweep ----")[1]
    loop = reverse.split("for t in reversed(range(len_heat)):")[1]
    assert "dtotal" not in text                               # the seed 1.0 went into its uses
    assert "dtemp = dtemp + lam * 2 * temp_minus_target" in loop
    assert "dtemp = dtemp - ddT / RC" in loop                 # `a + -b` is `a - b`
    assert "RC = R * C" in reverse and "RC = R * C" not in loop   # computed once
    assert loop.count("dheat[t] +=") == 1, loop                  # both updates in one
    # a quotient may raise (b == 0): it stays where the loop would compute it
    args = (rng.normal(size=4), 1.5, 0.5)
    check_gradient(invariant_quotient, args, 0)
    check_gradient(invariant_quotient, args, 1)
    before, loop = s2sad.source(s2sad.grad(invariant_quotient), *args).split("reversed(range(")
    assert "d = a * b" in before and "c = a / b" in loop


def test_item_updates_merge_only_where_nothing_between_touches_them():
    from s2sad.simplify import merge_item_updates
    import gast

    def merged(text):
        return [ast.unparse(gast.gast_to_ast(s)) for s in merge_item_updates(gast.parse(text).body)]
    assert merged("d[t] += a\nb = c * 2\nd[t] += b") == ["b = c * 2", "d[t] += a + b"]
    for between in ("e = d[t]", "t = t + 1", "a = a * 2", "d = d.copy()"):
        text = f"d[t] += a\n{between}\nd[t] += b"
        assert len(merged(text)) == 3, between          # read, index, value or array changed
    assert len(merged("d[t] += a\nd[s] += b")) == 2      # another item


def test_a_constant_adjoint_that_is_returned_stays():
    def unused(x, y):
        return np.sum(x * 2.0)
    grads = s2sad.grad(unused, wrt=(0, 1))(np.ones(3), 4.0)
    assert grads[1] == 0.0 and type(grads[1]) is float


def rnn_shapes(W, x):
    h = np.zeros((x.shape[1], W.shape[0]))
    for t in range(x.shape[0]):
        h = np.tanh(x[t] + h @ W)
    return np.sum(h) / x.shape[1]


def test_names_lose_suffixes_their_folded_namesakes_left():
    # `x.shape` is read three times: its temporaries were x_shape, x_shape1, x_shape2
    rng = np.random.default_rng(10)
    args = (rng.normal(size=(3, 3)), rng.normal(size=(4, 2, 3)))
    check_gradient(rnn_shapes, args, 0, strict=False)       # (np.zeros: a host array)
    code = statement_lines(s2sad.source(s2sad.grad(rnn_shapes), *args))
    assert "x_shape_0 = x.shape[0]" in code and "x_shape_1 = x.shape[1]" in code, code
    assert not any(re.search(r"x_shape\d|_1_1", line) for line in code), code


def uses_len_name(x):
    len_x = len(x)
    s = 0.0
    for i in range(len_x):
        s = s + x[i] * len_x
    return s


def test_settled_names_never_shadow_builtins_or_globals():
    from s2sad.names import Namer
    from s2sad.optimize import settle_names
    import gast
    namer = Namer({"len", "np", "total"})
    names = [namer.fresh(hint) for hint in ("len", "np", "total")]
    assert names == ["len1", "np1", "total1"]
    tree = gast.parse("len1 = 1\nnp1 = 2\ntotal1 = len1 + np1").body
    settle_names(tree, namer, avoid={"np": np})
    ids = {n.id for s in tree for n in gast.walk(s) if isinstance(n, gast.Name)}
    assert ids == {"len1", "np1", "total"}, ids
    check_gradient(uses_len_name, (rng_vector(),), 0)


def rng_vector():
    return np.random.default_rng(11).normal(size=4)


def test_a_generalised_ufunc_is_not_elementwise():
    # np.matmul is a ufunc with a signature: its result's shape is not its operands'
    rng = np.random.default_rng(4)
    args = (rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=5))
    g = s2sad.grad(matmul_then_bias, wrt=(0, 2))(*args)
    np.testing.assert_allclose(g[1], np.full(5, 3.0))
    np.testing.assert_allclose(g[0], np.ones((3, 5)) @ args[1].T)


def swell(x, k):
    f = x
    for i in range(k):
        f = np.sin(x ** 2 + f)
    return np.sum(f)


def test_a_sum_over_trips_multiplies_by_its_invariant_factor_once():
    x = np.random.default_rng(5).normal(size=6)
    check_gradient(swell, (x, 7), 0)
    text = s2sad.source(s2sad.grad(swell), x, 7)
    loop = text.split("for i in reversed(range(k)):")[1]
    assert "dx += dx_sq_plus_f\n" in loop and "    dx *= 2 * x\n" in text


def weighted_plus_loop(x, p):
    s = 0.0
    for t in range(len(x)):
        s = s + x[t] ** 2
    return np.sum(p * x) + s


def weighted(x, p):
    return np.sum(p * x)


def test_simplified_adjoints_never_alias_an_argument():
    x, p = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])
    df = s2sad.grad(weighted_plus_loop)
    first = df(x, p)
    np.testing.assert_array_equal(p, [10.0, 20.0, 30.0])     # updated in place: not p itself
    np.testing.assert_allclose(df(x, p), first)
    g = s2sad.grad(weighted)(x, p)
    assert g is not p and not np.shares_memory(g, p)       # the caller may change g
