"""s2sad.optim: SGD (momentum, Nesterov, weight decay), Adam, AdamW and
learning-rate schedules -- convergence, PyTorch's update formulas step by
step, pytrees, purity, device neutrality (StrictArray, CuPy when present),
and errors."""

import collections
import math

import numpy as np
import pytest

import s2sad
from s2sad import optim
from fdcheck import cupy_or_none, to_cupy
from strict_array import StrictArray, unwrap, wrap


# --------------------------------------------------------------------------
# problems

def quadratic(x, A, b):
    return 0.5 * x @ (A @ x) - b @ x


def logistic_nll(w, X, y, lam):
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * (w @ w)


dquadratic = s2sad.grad(quadratic)
dlogistic = s2sad.grad(logistic_nll)

# A: SPD with eigenvalues 1 .. 10 (mu = 1, L = 10, condition number 10)
_rng = np.random.default_rng(0)
_Q, _ = np.linalg.qr(_rng.normal(size=(6, 6)))
A = _Q @ np.diag(np.linspace(1.0, 10.0, 6)) @ _Q.T
A = (A + A.T) / 2
b = _rng.normal(size=6)
X_STAR = np.linalg.solve(A, b)
MU, L = 1.0, 10.0


def run(opt, grad_fn, x0, steps):
    x, state = x0, opt.init(x0)
    for _ in range(steps):
        x, state = opt.update(x, grad_fn(x), state)
    return x, state


def quad_error(opt, steps, target=X_STAR):
    """||x_N - x*|| / ||x_0 - x*|| from x_0 = 0."""
    x0 = np.zeros(6)
    x, _ = run(opt, lambda x: dquadratic(x, A, b), x0, steps)
    return np.linalg.norm(x - target) / np.linalg.norm(x0 - target)


# --------------------------------------------------------------------------
# convergence on a convex quadratic

def test_sgd_contracts_the_error_by_the_gradient_descent_rate():
    # lr = 1/L: the error contracts by max|1 - lr*eig| = 1 - mu/L = 0.9 per step
    for steps in (10, 30, 60):
        assert quad_error(optim.SGD(lr=1 / L), steps) <= (1 - MU / L) ** steps * (1 + 1e-9)


def test_heavy_ball_with_polyak_parameters_beats_gradient_descent():
    # optimal heavy ball: lr = 4/(sqrt L + sqrt mu)^2, momentum = ((sqrt k - 1)/(sqrt k + 1))^2,
    # asymptotic rate (sqrt k - 1)/(sqrt k + 1) = 0.52 per step against 0.9 for gradient descent
    k = L / MU
    lr = 4 / (math.sqrt(L) + math.sqrt(MU)) ** 2
    momentum = ((math.sqrt(k) - 1) / (math.sqrt(k) + 1)) ** 2
    assert quad_error(optim.SGD(lr=lr, momentum=momentum), 40) < 1e-8          # 0.9**40 = 1.5e-2
    assert quad_error(optim.SGD(lr=lr, momentum=momentum), 60) < 1e-12


def test_nesterov_beats_gradient_descent():
    # lr = 1/L, momentum (sqrt k - 1)/(sqrt k + 1): rate about 1 - 1/sqrt(k) = 0.68 per step
    k = L / MU
    opt = optim.SGD(lr=1 / L, momentum=(math.sqrt(k) - 1) / (math.sqrt(k) + 1), nesterov=True)
    assert quad_error(opt, 40) < 1e-3 * 0.9 ** 40
    assert quad_error(opt, 60) < 100 * (1 - 1 / math.sqrt(k)) ** 60         # 1.2e-8


def test_weight_decay_minimises_the_l2_penalised_quadratic():
    # g + wd*x = 0  <=>  (A + wd I) x = b, for SGD and (L2-style) Adam alike
    wd = 0.5
    target = np.linalg.solve(A + wd * np.eye(6), b)
    assert quad_error(optim.SGD(lr=1 / (L + wd), weight_decay=wd), 150, target) < 1e-5
    assert quad_error(optim.SGD(lr=0.05, momentum=0.9, weight_decay=wd), 300, target) < 1e-6
    assert quad_error(optim.Adam(lr=0.1, weight_decay=wd), 300, target) < 1e-5


def test_adam_converges_on_the_quadratic():
    assert quad_error(optim.Adam(lr=0.1), 100) < 1e-2
    assert quad_error(optim.Adam(lr=0.1), 300) < 1e-5
    assert quad_error(optim.Adam(lr=optim.cosine(0.1, 300)), 300) < 1e-5


def test_adamw_converges_and_without_decay_is_adam():
    x0 = np.zeros(6)
    f0 = quadratic(x0, A, b) - quadratic(X_STAR, A, b)
    x, _ = run(optim.AdamW(lr=0.1), lambda x: dquadratic(x, A, b), x0, 200)   # wd = 1e-2
    assert (quadratic(x, A, b) - quadratic(X_STAR, A, b)) / f0 < 1e-4
    xa, _ = run(optim.Adam(lr=0.1), lambda x: dquadratic(x, A, b), x0, 50)
    xw, _ = run(optim.AdamW(lr=0.1, weight_decay=0.0), lambda x: dquadratic(x, A, b), x0, 50)
    assert np.array_equal(xa, xw)


# --------------------------------------------------------------------------
# convergence on logistic regression (gradients by s2sad.grad)

def _logistic_problem():
    rng = np.random.default_rng(1)
    n = 200
    y = (rng.random(n) < 0.5).astype(float)
    X = np.c_[np.ones(n), rng.normal(size=(n, 3)) + np.outer(2 * y - 1, [1.0, -0.5, 0.25])]
    lam = 1e-2
    w = np.zeros(4)
    for _ in range(30):                                  # Newton's method: the reference optimum
        p = 1 / (1 + np.exp(-X @ w))
        g = X.T @ (p - y) / n + lam * w
        H = (X.T * (p * (1 - p))) @ X / n + lam * np.eye(4)
        w = w - np.linalg.solve(H, g)
    return X, y, lam, w


LOGISTIC = _logistic_problem()


@pytest.mark.parametrize("opt, steps, factor", [
    (optim.SGD(lr=1.0), 100, 1e-7),
    (optim.SGD(lr=1.0, momentum=0.9), 100, 1e-3),
    (optim.SGD(lr=1.0, momentum=0.9), 200, 1e-8),
    (optim.SGD(lr=1.0, momentum=0.9, nesterov=True), 100, 1e-7),
    (optim.Adam(lr=0.1), 100, 1e-3),
    (optim.Adam(lr=0.1), 200, 1e-8),
    (optim.AdamW(lr=0.1, weight_decay=0.0), 200, 1e-8),
    (optim.SGD(lr=optim.warmup(optim.cosine(2.0, 200, 0.5), 10)), 210, 1e-8),
], ids=["sgd", "momentum", "momentum-200", "nesterov", "adam", "adam-200", "adamw", "sgd-warmup-cosine"])
def test_logistic_regression_suboptimality_shrinks(opt, steps, factor):
    X, y, lam, w_star = LOGISTIC
    assert np.abs(dlogistic(w_star, X, y, lam)).max() < 1e-12
    f_star = logistic_nll(w_star, X, y, lam)
    w0 = np.zeros(4)
    w, state = run(opt, lambda w: dlogistic(w, X, y, lam), w0, steps)
    assert state.step == steps
    assert (logistic_nll(w, X, y, lam) - f_star) / (logistic_nll(w0, X, y, lam) - f_star) < factor


def test_adamw_decay_shrinks_the_logistic_weights():
    X, y, lam, w_star = LOGISTIC
    w0 = np.zeros(4)
    w_plain, _ = run(optim.AdamW(lr=0.05, weight_decay=0.0), lambda w: dlogistic(w, X, y, 0.0), w0, 300)
    w_decay, _ = run(optim.AdamW(lr=0.05, weight_decay=1.0), lambda w: dlogistic(w, X, y, 0.0), w0, 300)
    assert np.linalg.norm(w_decay) < 0.9 * np.linalg.norm(w_plain)


# --------------------------------------------------------------------------
# two steps against PyTorch's formulas, by hand

P0 = [1.0, -2.0, 0.5]
G1 = [0.3, -0.1, 2.0]
G2 = [-0.5, 0.25, 1.0]


def two_steps(opt):
    p0 = np.array(P0)
    state = opt.init(p0)
    p1, state = opt.update(p0, np.array(G1), state)
    p2, state = opt.update(p1, np.array(G2), state)
    assert state.step == 2
    return p1, p2


def close(actual, expected, rtol=1e-14):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-300)


def test_two_steps_sgd():
    lr = 0.1
    p1, p2 = two_steps(optim.SGD(lr=lr))
    close(p1, [0.97, -1.99, 0.3])
    close(p1, [p - lr * g for p, g in zip(P0, G1)])
    close(p2, [p - lr * g1 - lr * g2 for p, g1, g2 in zip(P0, G1, G2)])
    close(p2, [1.02, -2.015, 0.2])


def test_two_steps_sgd_momentum():
    lr, m = 0.1, 0.9
    p1, p2 = two_steps(optim.SGD(lr=lr, momentum=m))
    exp1 = [p - lr * g1 for p, g1 in zip(P0, G1)]                      # v1 = g1
    exp2 = [q - lr * (m * g1 + g2) for q, g1, g2 in zip(exp1, G1, G2)]  # v2 = m*g1 + g2
    close(p1, exp1)
    close(p2, exp2)
    close(p2, [0.97 - 0.1 * (0.27 - 0.5), -1.99 - 0.1 * (-0.09 + 0.25), 0.3 - 0.1 * (1.8 + 1.0)])


def test_two_steps_nesterov():
    lr, m = 0.1, 0.9
    p1, p2 = two_steps(optim.SGD(lr=lr, momentum=m, nesterov=True))
    exp1 = [p - lr * (g1 + m * g1) for p, g1 in zip(P0, G1)]           # direction g + m*v, v1 = g1
    exp2 = [q - lr * (g2 + m * (m * g1 + g2)) for q, g1, g2 in zip(exp1, G1, G2)]
    close(p1, exp1)
    close(p2, exp2)


def test_two_steps_sgd_weight_decay_and_momentum():
    lr, m, wd = 0.1, 0.9, 0.01
    p1, p2 = two_steps(optim.SGD(lr=lr, momentum=m, weight_decay=wd))
    d1 = [g + wd * p for p, g in zip(P0, G1)]                           # decay enters the gradient
    exp1 = [p - lr * d for p, d in zip(P0, d1)]
    d2 = [g + wd * p for p, g in zip(exp1, G2)]
    exp2 = [q - lr * (m * v + d) for q, v, d in zip(exp1, d1, d2)]
    close(p1, exp1)
    close(p2, exp2)
    p1, p2 = two_steps(optim.SGD(lr=lr, weight_decay=wd))               # and without momentum
    close(p1, exp1)
    close(p2, [q - lr * (g + wd * q) for q, g in zip(exp1, G2)])


def _adam_by_hand(lr, b1, b2, eps, wd, decoupled):
    """Kingma & Ba's algorithm, written out per coordinate."""
    out, ps = [], list(P0)
    m = [0.0] * 3
    v = [0.0] * 3
    for t, grads in ((1, G1), (2, G2)):
        new = []
        for i, (p, g) in enumerate(zip(ps, grads)):
            if wd and not decoupled:
                g = g + wd * p
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1 ** t)
            v_hat = v[i] / (1 - b2 ** t)
            if decoupled:
                p = p - lr * wd * p
            new.append(p - lr * m_hat / (math.sqrt(v_hat) + eps))
        ps = new
        out.append(new)
    return out


def test_two_steps_adam():
    p1, p2 = two_steps(optim.Adam())                     # the paper's defaults
    exp1, exp2 = _adam_by_hand(1e-3, 0.9, 0.999, 1e-8, 0.0, False)
    close(p1, exp1, 1e-13)
    close(p2, exp2, 1e-13)
    # the first step of Adam is lr * g / (|g| + eps): about lr against the gradient's sign
    close(p1, [p - 1e-3 * g / (abs(g) + 1e-8) for p, g in zip(P0, G1)], 1e-13)


def test_two_steps_adam_weight_decay():
    p1, p2 = two_steps(optim.Adam(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1))
    exp1, exp2 = _adam_by_hand(0.1, 0.8, 0.99, 1e-6, 0.1, False)
    close(p1, exp1, 1e-13)
    close(p2, exp2, 1e-13)


def test_two_steps_adamw():
    opt = optim.AdamW(lr=0.1)
    assert opt.weight_decay == 1e-2 and opt.betas == (0.9, 0.999) and opt.eps == 1e-8
    p1, p2 = two_steps(opt)
    exp1, exp2 = _adam_by_hand(0.1, 0.9, 0.999, 1e-8, 1e-2, True)
    close(p1, exp1, 1e-13)
    close(p2, exp2, 1e-13)
    close(p1, [p * (1 - 0.1 * 1e-2) - 0.1 * g / (abs(g) + 1e-8) for p, g in zip(P0, G1)], 1e-13)


def test_adam_defaults_are_the_papers():
    opt = optim.Adam()
    assert (opt.lr, opt.betas, opt.eps, opt.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0.0)


# --------------------------------------------------------------------------
# cross-check against torch.optim when PyTorch is installed

@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, betas=(0.8, 0.95))),
])
def test_matches_torch_optim(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    p0 = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(5)]
    tp = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
    topt = getattr(torch.optim, name)([tp], **kwargs)
    opt = getattr(optim, name)(**kwargs)
    p, state = p0, opt.init(p0)
    for g in grads:
        tp.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        p, state = opt.update(p, g, state)
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------
# pytrees

ALL_OPTIMISERS = [
    optim.SGD(lr=0.1),
    optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01),
    optim.SGD(lr=optim.step_decay(0.1, 2, 0.5), momentum=0.5, nesterov=True),
    optim.Adam(lr=0.01, weight_decay=0.1),
    optim.AdamW(lr=optim.warmup(0.01, 2)),
]
OPT_IDS = ["sgd", "momentum-wd", "nesterov-schedule", "adam-wd", "adamw-warmup"]

Pair = collections.namedtuple("Pair", "left right")


def _tree_steps(opt, params, grads_seq):
    state = opt.init(params)
    for grads in grads_seq:
        params, state = opt.update(params, grads, state)
    return params, state


@pytest.mark.parametrize("opt", ALL_OPTIMISERS, ids=OPT_IDS)
def test_pytree_keeps_structure_and_updates_each_leaf_as_alone(opt):
    rng = np.random.default_rng(5)
    leaves = [rng.normal(size=s) for s in [(3,), (2, 2), (), (4,)]]
    gseqs = [[rng.normal(size=np.shape(leaf)) for leaf in leaves] for _ in range(3)]

    def tree(ls):
        return {"w": ls[0], "layers": [[ls[1], Pair(ls[2], {"b": ls[3]})]]}

    params, state = _tree_steps(opt, tree(leaves), [tree(gs) for gs in gseqs])
    assert type(params) is dict and list(params) == ["w", "layers"]
    assert type(params["layers"]) is list and type(params["layers"][0]) is list
    pair = params["layers"][0][1]
    assert type(pair) is Pair and type(pair.right) is dict
    got = [params["w"], params["layers"][0][0], pair.left, pair.right["b"]]
    for i, leaf in enumerate(leaves):
        alone, _ = _tree_steps(opt, leaf, [gs[i] for gs in gseqs])
        assert got[i].shape == leaf.shape
        np.testing.assert_array_equal(got[i], alone)
    # the state's buffers have the structure of params too
    buffers = state.velocity if isinstance(state, optim.SGDState) else state.mu
    if buffers is not None:
        assert type(buffers["layers"][0][1]) is Pair and buffers["w"].shape == (3,)


def test_pytree_float_leaves_none_gradients_and_ordered_dicts():
    def loss(p):
        return np.sum(p["w"] * p["n"]) + p["b"] ** 2

    params = collections.OrderedDict(w=np.ones(2), n=3, b=0.5, frozen=np.full(2, 7.0), tag="x")
    grads = s2sad.grad(loss)(dict(params))    # n (an int) and tag get None from s2sad.grad
    assert grads["n"] is None
    grads["frozen"], grads["tag"] = None, None
    for opt in ALL_OPTIMISERS:
        new, state = _tree_steps(opt, params, [grads, grads])
        assert type(new) is collections.OrderedDict and list(new) == list(params)
        assert new["n"] == 3 and new["tag"] == "x" and new["frozen"] is params["frozen"]
        assert isinstance(new["b"], float) and new["b"] < 0.5               # a float stays a float
        assert np.all(new["w"] < 1.0)
    new, _ = _tree_steps(optim.SGD(lr=0.1), params, [grads])
    assert new["b"] == 0.5 - 0.1 * 1.0 and np.array_equal(new["w"], [0.7, 0.7])


def test_float32_parameters_stay_float32_even_with_numpy_scalar_schedules():
    p = np.ones(3, np.float32)
    g = np.full(3, 0.5, np.float32)
    for opt in [optim.SGD(lr=lambda s: np.float64(0.1), momentum=0.9),
                optim.Adam(lr=lambda s: np.float64(0.1)), optim.AdamW(lr=optim.cosine(0.1, 5))]:
        new, state = _tree_steps(opt, {"p": p}, [{"p": g}] * 3)
        assert new["p"].dtype == np.float32
        bufs = state.velocity if isinstance(state, optim.SGDState) else state.nu
        assert bufs["p"].dtype == np.float32


# --------------------------------------------------------------------------
# purity

@pytest.mark.parametrize("opt", ALL_OPTIMISERS, ids=OPT_IDS)
def test_update_leaves_its_inputs_alone(opt):
    rng = np.random.default_rng(9)
    params = {"a": rng.normal(size=4), "b": [rng.normal(size=(2, 3))]}
    grads = {"a": rng.normal(size=4), "b": [rng.normal(size=(2, 3))]}
    _, state = opt.update(params, grads, opt.init(params))      # a state with non-zero buffers
    copies = [np.copy(x) for x in (params["a"], params["b"][0], grads["a"], grads["b"][0])]
    buf_tree = state.velocity if isinstance(state, optim.SGDState) else state.mu
    buf_copy = None if buf_tree is None else np.copy(buf_tree["a"])

    new1, state1 = opt.update(params, grads, state)
    new2, state2 = opt.update(params, grads, state)              # the old state is still valid
    for orig, copy in zip((params["a"], params["b"][0], grads["a"], grads["b"][0]), copies):
        assert np.array_equal(orig, copy)
    if buf_copy is not None:
        assert np.array_equal(buf_tree["a"], buf_copy)
    assert state.step == 1 and state1.step == state2.step == 2
    np.testing.assert_array_equal(new1["a"], new2["a"])
    np.testing.assert_array_equal(new1["b"][0], new2["b"][0])
    # the results are new arrays: writing to them cannot reach the caller's
    for new in (new1["a"], new1["b"][0]):
        for old in (params["a"], params["b"][0], grads["a"], grads["b"][0]):
            assert not np.shares_memory(new, old)
    new1["a"][:] = 123.0
    assert np.array_equal(params["a"], copies[0]) and np.array_equal(grads["a"], copies[2])


def test_momentum_buffer_does_not_alias_the_gradient():
    g = np.ones(3)
    opt = optim.SGD(lr=0.1, momentum=0.9)
    _, state = opt.update(np.zeros(3), g, opt.init(np.zeros(3)))
    g[:] = 100.0                               # the caller reuses its gradient buffer
    assert np.array_equal(state.velocity, np.ones(3))


# --------------------------------------------------------------------------
# device neutrality: StrictArray refuses host transfers, as CuPy does

@pytest.mark.parametrize("opt", ALL_OPTIMISERS, ids=OPT_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_runs_on_device_arrays_without_host_transfers(opt, dtype):
    rng = np.random.default_rng(11)
    params = {"w": rng.normal(size=(3, 2)).astype(dtype), "b": [rng.normal(size=2).astype(dtype)]}
    gseq = [{"w": rng.normal(size=(3, 2)).astype(dtype), "b": [rng.normal(size=2).astype(dtype)]}
            for _ in range(3)]
    expected, _ = _tree_steps(opt, params, gseq)
    got, state = _tree_steps(opt, wrap(params), [wrap(g) for g in gseq])
    assert isinstance(got["w"], StrictArray) and isinstance(got["b"][0], StrictArray)
    assert got["w"].dtype == dtype
    bufs = state.velocity if isinstance(state, optim.SGDState) else state.nu
    if bufs is not None:
        assert isinstance(bufs["w"], StrictArray)
    np.testing.assert_array_equal(unwrap(got)["w"], expected["w"])
    np.testing.assert_array_equal(unwrap(got)["b"][0], expected["b"][0])


def test_on_cupy_when_a_gpu_is_present():
    cp = cupy_or_none()
    if cp is None:
        pytest.skip("CuPy with a GPU is not available")
    X, y, lam, w_star = LOGISTIC
    Xd, yd = to_cupy(X, cp), to_cupy(y, cp)
    f_star = logistic_nll(w_star, X, y, lam)
    for opt in [optim.SGD(lr=1.0, momentum=0.9, nesterov=True), optim.Adam(lr=0.1)]:
        w, state = run(opt, lambda w: dlogistic(w, Xd, yd, lam), cp.zeros(4), 200)
        assert isinstance(w, cp.ndarray)
        assert float(logistic_nll(w, Xd, yd, lam)) - f_star < 1e-8


# --------------------------------------------------------------------------
# schedules

def test_step_decay_values():
    s = optim.step_decay(0.1, 10, 0.5)
    assert [s(k) for k in (0, 9, 10, 19, 20, 35)] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]


def test_cosine_values():
    s = optim.cosine(1.0, 100, final_lr=0.1)
    assert s(0) == 1.0
    assert s(50) == pytest.approx(0.55, abs=1e-15)
    assert s(25) == pytest.approx(0.1 + 0.45 * (1 + math.sqrt(0.5)), abs=1e-15)
    assert s(100) == pytest.approx(0.1, abs=1e-15) and s(1000) == pytest.approx(0.1, abs=1e-15)
    assert optim.cosine(2.0, 4)(2) == pytest.approx(1.0, abs=1e-15)        # final_lr defaults to 0
    assert optim.cosine(2.0, 4)(4) == pytest.approx(0.0, abs=1e-15)


def test_warmup_values():
    s = optim.warmup(0.1, 4)
    assert [s(k) for k in range(6)] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1], abs=1e-16)
    # the wrapped schedule starts when the warm-up ends
    s = optim.warmup(optim.cosine(1.0, 10), 5)
    assert [s(k) for k in (0, 1, 4, 5, 10, 15, 99)] == pytest.approx([0.2, 0.4, 1.0, 1.0, 0.5, 0.0, 0.0],
                                                                     abs=1e-15)
    d = optim.step_decay(0.3, 2, 0.1)
    assert [optim.warmup(d, 0)(k) for k in range(5)] == [d(k) for k in range(5)]


def test_schedule_drives_the_optimiser_from_step_zero():
    # g = 1 every step: p moves by exactly the sum of the learning rates used
    opt = optim.SGD(lr=optim.step_decay(1.0, 1, 0.5))
    p, state = np.zeros(1), opt.init(np.zeros(1))
    used = []
    for _ in range(4):
        used.append(opt.learning_rate(state))
        p, state = opt.update(p, np.ones(1), state)
    assert used == [1.0, 0.5, 0.25, 0.125] and p[0] == -1.875
    assert opt.learning_rate(4) == 0.0625 and optim.Adam(lr=0.3).learning_rate(7) == 0.3
    calls = []
    opt = optim.Adam(lr=lambda step: calls.append(step) or 0.01)
    _tree_steps(opt, np.zeros(2), [np.ones(2)] * 3)
    assert calls == [0, 1, 2]


# --------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("make, exc, words", [
    (lambda: optim.SGD(lr=-0.1), ValueError, "lr"),
    (lambda: optim.SGD(lr=float("nan")), ValueError, "lr"),
    (lambda: optim.SGD(lr="0.1"), TypeError, "lr"),
    (lambda: optim.SGD(lr=0.1, momentum=-0.5), ValueError, "momentum"),
    (lambda: optim.SGD(lr=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda: optim.SGD(lr=0.1, momentum=0.9, nesterov="yes"), TypeError, "nesterov"),
    (lambda: optim.SGD(lr=0.1, weight_decay=-1e-4), ValueError, "weight_decay"),
    (lambda: optim.Adam(lr=-1e-3), ValueError, "lr"),
    (lambda: optim.Adam(betas=(1.0, 0.999)), ValueError, "betas[0]"),
    (lambda: optim.Adam(betas=(0.9, -0.1)), ValueError, "betas[1]"),
    (lambda: optim.Adam(betas=0.9), TypeError, "betas"),
    (lambda: optim.Adam(eps=-1.0), ValueError, "eps"),
    (lambda: optim.AdamW(weight_decay=-0.01), ValueError, "weight_decay"),
    (lambda: optim.step_decay(0.1, 0, 0.5), ValueError, "step_size"),
    (lambda: optim.step_decay(0.1, 2.5, 0.5), TypeError, "step_size"),
    (lambda: optim.step_decay(-0.1, 2, 0.5), ValueError, "lr"),
    (lambda: optim.cosine(0.1, 0), ValueError, "total_steps"),
    (lambda: optim.cosine(0.1, 10, final_lr=-1.0), ValueError, "final_lr"),
    (lambda: optim.warmup(0.1, -1), ValueError, "warmup_steps"),
    (lambda: optim.cosine(0.1, 10)(-1), ValueError, "step"),
    (lambda: optim.cosine(0.1, 10)(1.5), TypeError, "step"),
])
def test_bad_hyper_parameters(make, exc, words):
    with pytest.raises(exc, match=words.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_bad_schedule_values_are_caught_at_the_step():
    opt = optim.SGD(lr=lambda step: 0.1 - 0.1 * step)
    p, state = opt.update(np.ones(2), np.ones(2), opt.init(np.ones(2)))
    p, state = opt.update(p, np.ones(2), state)                  # lr(1) = 0: allowed
    with pytest.raises(ValueError, match="learning rate at step 2"):
        opt.update(p, np.ones(2), state)
    opt = optim.Adam(lr=lambda step: "fast")
    with pytest.raises(TypeError, match="schedule"):
        opt.update(np.ones(2), np.ones(2), opt.init(np.ones(2)))


@pytest.mark.parametrize("grads, exc, words", [
    ({"w": np.ones(2)}, ValueError, r"missing \['b'\]"),
    ({"w": np.ones(2), "b": [np.ones(3)], "c": 1.0}, ValueError, r"unexpected \['c'\]"),
    ({"w": np.ones(2), "b": [np.ones(3), np.ones(3)]}, ValueError, r"params\['b'\] has 1 entries"),
    ({"w": np.ones(2), "b": (np.ones(3),)}, ValueError, r"params\['b'\] is a list but grads\['b'\] is a tuple"),
    ({"w": np.ones(2), "b": np.ones(3)}, ValueError, r"params\['b'\] is a list but grads\['b'\] is a ndarray"),
    ({"w": [np.ones(2)], "b": [np.ones(3)]}, ValueError, r"params\['w'\] is a leaf"),
    ({"w": np.ones(3), "b": [np.ones(3)]}, ValueError,
     r"params\['w'\] has shape \(2,\) but grads\['w'\] has shape \(3,\)"),
    ({"w": "1", "b": [np.ones(3)]}, TypeError, r"grads\['w'\] is a str"),
    ([np.ones(2), [np.ones(3)]], ValueError, "params is a dict but grads is a list"),
])
@pytest.mark.parametrize("opt", [optim.SGD(lr=0.1, momentum=0.9), optim.Adam()], ids=["sgd", "adam"])
def test_mismatched_params_and_grads(opt, grads, exc, words):
    params = {"w": np.zeros(2), "b": [np.zeros(3)]}
    with pytest.raises(exc, match=words):
        opt.update(params, grads, opt.init(params))


def test_parameters_that_cannot_be_updated():
    opt = optim.SGD(lr=0.1)
    with pytest.raises(TypeError, match=r"params\['n'\] has dtype int64"):
        opt.update({"n": np.arange(3)}, {"n": np.ones(3)}, opt.init({"n": np.arange(3)}))
    with pytest.raises(TypeError, match=r"params\['s'\] is a str"):
        opt.update({"s": "name"}, {"s": 1.0}, opt.init({"s": "name"}))


def test_wrong_state():
    params = {"w": np.zeros(2)}
    adam, sgd = optim.Adam(), optim.SGD(lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match="AdamState made by Adam.init"):
        adam.update(params, params, sgd.init(params))
    with pytest.raises(TypeError, match="SGDState"):
        sgd.update(params, params, (0, None))
    with pytest.raises(ValueError, match=r"state.mu\['w'\].*does not fit params\['w'\]"):
        adam.update(params, params, adam.init({"w": np.zeros(5)}))
    with pytest.raises(ValueError, match="state.velocity"):
        sgd.update({"w": np.zeros(2), "v": [1.0]}, {"w": np.zeros(2), "v": [1.0]},
                   sgd.init({"w": np.zeros(2), "v": [None]}))
    with pytest.raises(ValueError, match="without momentum"):
        sgd.update(params, params, optim.SGD(lr=0.1).init(params))


def test_repr_and_public_names():
    assert repr(optim.SGD(lr=0.1, momentum=0.9)) == \
        "SGD(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0)"
    assert "optim" in s2sad.__all__ and s2sad.optim is optim
    for name in optim.__all__:
        assert getattr(optim, name).__doc__
