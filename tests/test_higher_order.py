"""Higher order: hvp, jacobian, hessian and nested transformations, against
central finite differences of the gradient (float64) and closed forms."""

import importlib.util
import pathlib

import numpy as np
import pytest

import s2sad

ROOT = pathlib.Path(__file__).resolve().parent.parent
EPS = 1e-5


def load_benchmark(name):
    """benchmarks/<name>.py as a module (its losses are the workloads)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mlp = load_benchmark("mlp")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def fd_directional(g, args, wrt, v, eps=EPS):
    """(g(x + eps v) - g(x - eps v)) / 2 eps, x the argument(s) `wrt` (an index or a
    tuple of them, with v a tuple), g returning one array or a tuple of them."""
    several = isinstance(wrt, tuple)
    pairs = list(zip(wrt, v) if several else [(wrt, v)])

    def at(s):
        a = list(args)
        for i, vi in pairs:
            a[i] = a[i] + s * vi
        return g(*a) if several else (g(*a),)

    d = tuple((np.asarray(p) - np.asarray(m)) / (2 * eps) for p, m in zip(at(eps), at(-eps)))
    return d if several else d[0]


def fd_jacobian(f, args, i=0, eps=EPS):
    """d f(*args) / d args[i], shape out.shape + in.shape, by central
    differences (a Python float argument moved as a float)."""
    x = np.asarray(args[i], dtype=np.float64)
    cols = []
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        plus, minus = list(args), list(args)
        plus[i], minus[i] = x + eps * e, x - eps * e
        if isinstance(args[i], float):
            plus[i], minus[i] = float(plus[i]), float(minus[i])
        cols.append((np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(cols[0]) + x.shape)


def close(actual, expected, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol)


def check_hvp(f, args, wrt, v):
    """hvp against central differences of the gradient along v."""
    hv = s2sad.hvp(f, wrt)(*args, v)
    expected = fd_directional(s2sad.grad(f, wrt), args, wrt, v)
    if isinstance(wrt, tuple):
        assert isinstance(hv, tuple) and len(hv) == len(wrt)
        for a, e in zip(hv, expected):
            close(a, e)
    else:
        close(hv, expected)
    return hv


# ---- functions -----------------------------------------------------------------------

def quadratic(x, A):
    return x @ A @ x


def shrink_while(x):
    """A while loop whose trip count depends on the data."""
    y = x
    s = np.sum(x * x)
    while s > 0.05:
        y = np.sin(y) * 0.8
        s = np.sum(y * y)
    return np.sum(y * y * y) + s * np.sum(x)


def newton_sqrt(a):
    """Newton's iteration for sqrt(a), run until it converges (a data-dependent count)."""
    y = a
    while np.max(np.abs(y * y - a)) > 1e-13:
        y = 0.5 * (y + a / y)
    return np.sum(y * np.exp(a))


def loop_with_if(x, n):
    s = 0.0
    for i in range(n):
        if i % 2 == 0:
            s = s + np.sum(np.sin(x) * x)
        else:
            s = s + np.sum(x * x * x)
        x = x * 0.9
    return s


def mlp_problem():
    return mlp.problem(seed=1, batch=6, n_in=5, n_hidden=4, n_out=3)


# ---- hvp ---------------------------------------------------------------------------

def test_hvp_quadratic_form():
    x, A, v = rand(4), rand(4, 4, seed=1), rand(4, seed=2)
    hv = check_hvp(quadratic, (x, A), 0, v)
    close(hv, (A + A.T) @ v, rtol=1e-12, atol=1e-12)


def test_hvp_mlp_loss_wrt_W1():
    data = mlp_problem()
    V = rand(*data[0].shape, seed=3)
    hv = check_hvp(mlp.loss, data, 0, V)
    assert hv.shape == data[0].shape and hv.dtype == np.float64


def test_hvp_tuple_wrt():
    data = mlp_problem()
    v = (rand(*data[0].shape, seed=3), rand(*data[1].shape, seed=4))
    check_hvp(mlp.loss, data, (0, 1), v)


@pytest.mark.parametrize("f, args", [
    (shrink_while, (rand(5, seed=5) * 2,)),
    (newton_sqrt, (np.array([2.0, 3.0, 0.5]),)),
    (loop_with_if, (rand(4, seed=6), 5)),
], ids=["while", "newton", "for_if"])
def test_hvp_control_flow(f, args):
    check_hvp(f, args, 0, rand(*np.shape(args[0]), seed=7))


def weights_in_a_list(ws, x):
    s = 0.0
    for w in ws:
        s = s + np.sum(np.tanh(w * x) * w)
    return s


def test_hvp_wrt_a_list_of_arrays():
    # the gradient's loop adds into one item per trip (add_at_item), whose tangent
    # the hvp needs
    ws, x = [rand(2, seed=i) for i in range(3)], rand(2, seed=9)
    v = [rand(2, seed=10 + i) for i in range(3)]
    hv = s2sad.hvp(weights_in_a_list)(ws, x, v)
    g = s2sad.grad(weights_in_a_list)
    plus = g([w + EPS * d for w, d in zip(ws, v)], x)
    minus = g([w - EPS * d for w, d in zip(ws, v)], x)
    assert isinstance(hv, list) and len(hv) == 3
    for h, p, m in zip(hv, plus, minus):
        close(h, (p - m) / (2 * EPS))
    with pytest.raises(TypeError, match="structure"):
        s2sad.hvp(weights_in_a_list)(ws, x, tuple(v))


def test_hvp_scalar_argument():
    f = lambda x, c: np.sin(x) * x * c                      # noqa: E731
    hv = s2sad.hvp(f)(0.7, 2.0, 3.0)
    close(hv, 3.0 * 2.0 * (2 * np.cos(0.7) - 0.7 * np.sin(0.7)), rtol=1e-12)


# ---- jacobian ----------------------------------------------------------------------

def vector_map(x, A):
    """R^3 -> R^4."""
    return np.tanh(A @ x) * x[0] + np.sum(x * x)


def matrix_map(X):
    """R^(3x2) -> R^5: a 2-D input."""
    return np.sin(X @ X.T).reshape(-1)[:5] * np.exp(X[0, 0])


def wide_map(x):
    """R^6 -> R^2: the reverse mode's case."""
    return np.stack([np.sum(np.sin(x) * x), np.prod(x[:3]) + x[5] ** 2])


@pytest.mark.parametrize("mode", ["fwd", "rev", None])
@pytest.mark.parametrize("f, args", [
    (vector_map, (rand(3), rand(4, 3, seed=1))),
    (matrix_map, (rand(3, 2, seed=2),)),
    (wide_map, (rand(6, seed=3),)),
], ids=["R3_R4", "2d_input", "R6_R2"])
def test_jacobian_against_finite_differences(f, args, mode):
    J = s2sad.jacobian(f, 0, mode=mode)(*args)
    expected = fd_jacobian(f, args, 0)
    assert J.shape == np.shape(f(*args)) + np.shape(args[0])
    close(J, expected)


def test_jacobian_default_mode_picks_the_cheaper_sweep(monkeypatch):
    import s2sad.higher as higher
    calls = []
    real_grad = higher.grad
    monkeypatch.setattr(higher, "grad", lambda *a, **k: calls.append("rev") or real_grad(*a, **k))
    s2sad.jacobian(vector_map)(rand(3), rand(4, 3))          # 3 inputs <= 4 outputs: fwd
    assert calls == []
    s2sad.jacobian(wide_map)(rand(6))                        # 6 inputs > 2 outputs: rev
    assert calls == ["rev"]


def test_jacobian_scalar_input_and_output():
    f = lambda x: x * np.sin(x)                              # noqa: E731
    assert s2sad.jacobian(f)(0.7) == pytest.approx(np.sin(0.7) + 0.7 * np.cos(0.7), rel=1e-12)
    g = lambda x: np.stack([x, x * x])                       # noqa: E731
    close(s2sad.jacobian(g, mode="rev")(0.5), [1.0, 1.0], rtol=1e-12)
    close(s2sad.jacobian(lambda x: np.sum(x * x))(np.arange(3.0)), [0.0, 2.0, 4.0])


# ---- hessian -----------------------------------------------------------------------

def test_hessian_of_mlp_loss_is_symmetric_and_matches_fd_of_gradient():
    data = mlp_problem()
    H = s2sad.hessian(mlp.loss)(*data)
    n = data[0].size
    assert H.shape == data[0].shape * 2
    close(H.reshape(n, n), H.reshape(n, n).T, rtol=1e-10, atol=1e-12)
    close(H, fd_jacobian(s2sad.grad(mlp.loss), data, 0))


def test_hessian_quadratic_and_scalar():
    x, A = rand(4), rand(4, 4, seed=1)
    close(s2sad.hessian(quadratic)(x, A), A + A.T, rtol=1e-12, atol=1e-12)
    assert s2sad.hessian(lambda x: x ** 3)(2.0) == pytest.approx(12.0)


def test_jacobian_of_gradient_both_modes_is_the_hessian():
    data = mlp_problem()
    H = s2sad.hessian(mlp.loss)(*data)
    dloss = s2sad.grad(mlp.loss)
    close(s2sad.jacobian(dloss)(*data), H, rtol=1e-9, atol=1e-12)
    close(s2sad.jacobian(dloss, mode="rev")(*data), H, rtol=1e-9, atol=1e-12)  # rev over rev


# ---- nesting: 2nd, 3rd and 4th derivatives at a scalar --------------------------------

def x_sin_x(x):
    return x * np.sin(x)


def rational(x):
    return np.exp(x) / (1 + x * x)


COEFFS = [1.0, 2.0, -3.0, 4.0, 0.5, 2.0]


def horner(x):
    y = 0.0
    for c in COEFFS:
        y = y * x + c
    return y


X = 0.7
POLY = np.polynomial.Polynomial(COEFFS[::-1])
_e = np.exp(X)
DERIVATIVES = {                  # f'', f''', f'''' at X, in closed form
    "x_sin_x": (2 * np.cos(X) - X * np.sin(X), -3 * np.sin(X) - X * np.cos(X),
                -4 * np.cos(X) + X * np.sin(X)),
    "rational": (_e * (X**4 - 4 * X**3 + 8 * X**2 - 4 * X - 1) / (1 + X**2) ** 3,
                 _e * (X**6 - 6 * X**5 + 21 * X**4 - 36 * X**3 + 15 * X**2 + 18 * X - 5)
                 / (1 + X**2) ** 4,
                 _e * (X**8 - 8 * X**7 + 40 * X**6 - 120 * X**5 + 186 * X**4 - 24 * X**3
                       - 224 * X**2 + 88 * X + 13) / (1 + X**2) ** 5),
    "horner": tuple(POLY.deriv(k)(X) for k in (2, 3, 4)),
}
G, JVP = s2sad.grad, s2sad.jvp
COMPOSITIONS = {                 # (order, derivative at X)
    "jvp_grad": (2, lambda f: JVP(G(f))(X, 1.0)[1]),
    "jacobian_grad": (2, lambda f: s2sad.jacobian(G(f))(X)),
    "hvp": (2, lambda f: s2sad.hvp(f)(X, 1.0)),
    "grad_grad": (2, lambda f: G(G(f))(X)),
    "grad3": (3, lambda f: G(G(G(f)))(X)),
    "jvp_grad_grad": (3, lambda f: JVP(G(G(f)))(X, 1.0)[1]),
    "jacobian_grad_grad": (3, lambda f: s2sad.jacobian(G(G(f)))(X)),
    "grad4": (4, lambda f: G(G(G(G(f))))(X)),
    "jvp_grad3": (4, lambda f: JVP(G(G(G(f))))(X, 1.0)[1]),
    "hessian_grad_grad": (4, lambda f: s2sad.hessian(G(G(f)))(X)),
}


def test_closed_forms_of_the_second_derivative():
    # the closed forms themselves, against finite differences of the first derivative
    for f in (x_sin_x, rational, horner):
        d1 = s2sad.grad(f)
        assert (d1(X + EPS) - d1(X - EPS)) / (2 * EPS) == pytest.approx(
            DERIVATIVES[f.__name__][0], rel=1e-7)


@pytest.mark.parametrize("composition", list(COMPOSITIONS))
@pytest.mark.parametrize("f", [x_sin_x, rational, horner], ids=lambda f: f.__name__)
def test_nested_derivatives_match_closed_forms(f, composition):
    order, derivative = COMPOSITIONS[composition]
    value = derivative(f)
    assert np.ndim(value) == 0
    assert float(value) == pytest.approx(DERIVATIVES[f.__name__][order - 2], rel=1e-6, abs=1e-6)


def test_jvp_of_jvp():
    # the inner jvp's tangent is one more argument: ((f1, f2), (f2, f3)) of f = x*sin(x)
    (d1, d2), (d2_again, d3) = JVP(JVP(G(x_sin_x)))(X, 1.0, 1.0)
    assert d2 == pytest.approx(DERIVATIVES["x_sin_x"][0])
    assert d2_again == pytest.approx(DERIVATIVES["x_sin_x"][0])
    assert d3 == pytest.approx(DERIVATIVES["x_sin_x"][1])


def test_reverse_jacobian_of_second_derivative():
    third = s2sad.jacobian(G(G(x_sin_x)), mode="rev")(X)
    assert third == pytest.approx(DERIVATIVES["x_sin_x"][1])


# ---- lists popped in a gradient (what reverse over reverse differentiates) ------------------

def popping(x, n):
    xs = []
    for i in range(n):
        xs.append(x * (i + 1.0))
    s = 0.0
    for i in range(n):
        y = xs.pop()
        s = s + np.sum(y * y) * (i + 1.0)
    return s


def test_gradient_through_list_pop():
    x = rand(3)
    close(s2sad.grad(popping)(x, 4), fd_jacobian(popping, (x, 4), 0))


# ---- the functions returned, and bad input ----------------------------------------------

def test_names_and_docstrings():
    for make, prefix in [(s2sad.hvp, "hvp_"), (s2sad.jacobian, "jacobian_"),
                         (s2sad.hessian, "hessian_")]:
        fn = make(quadratic)
        assert fn.__name__ == prefix + "quadratic" and "quadratic" in fn.__doc__
    assert s2sad.hvp(lambda x: x * x).__name__ == "hvp_lambda"
    assert {"hvp", "jacobian", "hessian"} <= set(s2sad.__all__)


def test_bad_input_is_a_clear_type_error():
    x, A = rand(4), rand(4, 4)
    for make in (s2sad.hvp, s2sad.jacobian, s2sad.hessian):
        with pytest.raises(TypeError, match="expects a function"):
            make(3.0)
    with pytest.raises(TypeError, match=r"shape of 'x', \(4,\), not shape \(3,\)"):
        s2sad.hvp(quadratic)(x, A, np.ones(3))
    with pytest.raises(TypeError, match="must have the shape of 'x'"):
        s2sad.hvp(quadratic)(x, A, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match="give v as a tuple of 2 vectors"):
        s2sad.hvp(quadratic, wrt=(0, 1))(x, A, np.ones(4))
    with pytest.raises(TypeError, match="needs the arguments of quadratic and a vector v"):
        s2sad.hvp(quadratic)()
    with pytest.raises(TypeError, match="dtype int64"):
        s2sad.jacobian(quadratic)(np.arange(4), A)
    with pytest.raises(TypeError, match="dtype int64"):
        s2sad.hessian(quadratic)(np.arange(4), A)
    with pytest.raises(TypeError, match="one argument index or name"):
        s2sad.jacobian(quadratic, wrt=(0, 1))
    with pytest.raises(ValueError, match="mode must be"):
        s2sad.jacobian(quadratic, mode="backward")
    with pytest.raises(ValueError, match="no parameter named 'z'"):
        s2sad.hessian(quadratic, wrt="z")


def test_jvp_checks_its_tangents():
    x, A = rand(4), rand(4, 4)
    jf = s2sad.jvp(quadratic)
    with pytest.raises(TypeError, match=r"jvp_quadratic\(\): the tangent for 'x' must have the "
                                         r"shape of 'x', \(4,\), not shape \(4, 1\)"):
        jf(x, A, np.ones((4, 1)))               # would have broadcast to a (4, 4) tangent
    with pytest.raises(TypeError, match="not float"):
        jf(x, A, 1.0)
    with pytest.raises(TypeError, match=r"the tangent for 'A' must have the shape of 'A'"):
        s2sad.jvp(quadratic, wrt=(0, 1))(x, A, (x, x))
    with pytest.raises(TypeError, match="must have its structure"):
        s2sad.jvp(lambda_free_tree)({"a": x}, [x])
    value, tangent = jf(x, A, x)
    np.testing.assert_allclose(tangent, fd_directional(quadratic, (x, A), 0, x), rtol=1e-6)


def lambda_free_tree(p):
    return np.sum(p["a"] ** 2)


def scaled_map(x, scale=2.0, *, shift=0.5):
    return np.sin(x[:2]) * scale + shift * x[1:]


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_jacobian_with_defaults_and_keyword_only_arguments(mode):
    x = rand(3)
    close(s2sad.jacobian(scaled_map, mode=mode)(x), fd_jacobian(scaled_map, (x,), 0))
    close(s2sad.jacobian(scaled_map, mode=mode)(x, shift=3.0),
          fd_jacobian(lambda x: scaled_map(x, shift=3.0), (x,), 0))


def test_backend_neutral_on_strict_array():
    from strict_array import unwrap, wrap
    x, A = rand(3), rand(4, 3, seed=1)
    for mode in ("fwd", "rev"):
        J = s2sad.jacobian(vector_map, mode=mode)(wrap(x), wrap(A))
        close(unwrap(J), s2sad.jacobian(vector_map, mode=mode)(x, A), rtol=1e-12)
    B = rand(3, 3, seed=2)
    close(unwrap(s2sad.hessian(quadratic)(wrap(x), wrap(B))), B + B.T, rtol=1e-12)
    close(unwrap(s2sad.hvp(quadratic)(wrap(x), wrap(B), wrap(np.ones(3)))), (B + B.T).sum(1))


def states_stacked(x, W):
    hs = []
    h = x
    for t in range(3):
        h = np.tanh(h @ W)
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def test_hvp_through_a_list_stacked_after_a_loop():
    # the gradient pops its list of adjoints (`as_list(...)`, then `.pop()`): differentiable too
    rng = np.random.default_rng(11)
    x, W, v = rng.normal(size=2), rng.normal(size=(2, 2)) * 0.7, rng.normal(size=(2, 2))
    hv = s2sad.hvp(states_stacked, wrt=1)(x, W, v)
    g = s2sad.grad(states_stacked, wrt=1)
    eps = 1e-6
    np.testing.assert_allclose(hv, (g(x, W + eps * v) - g(x, W - eps * v)) / (2 * eps), rtol=1e-6)


def filled_in_loop(x, w):
    y = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = np.sin(x[i]) * w
    return np.sum(y * y * x)


def thermal(heat, outdoor, price, temp0, R, C, dt, lam, target):
    temp = temp0
    total = 0.0
    for t in range(len(heat)):
        dT = (outdoor[t] - temp) / (R * C) + heat[t] / C
        temp = temp + dt * dT
        total = total + price[t] * heat[t] + lam * (temp - target) ** 2
    return total


@pytest.mark.parametrize("f", [filled_in_loop, thermal])
def test_hessian_through_in_place_updates_and_loops(f):
    rng = np.random.default_rng(12)
    args = (rng.normal(size=5), 0.7) if f is filled_in_loop else (
        rng.uniform(0, 2, 6), rng.uniform(-5, 5, 6), rng.uniform(0.1, 1, 6), 18.0, 2.0, 3.0, 0.5, 0.1, 20.0)
    v = rng.normal(size=args[0].shape)
    g = s2sad.grad(f)
    eps = 1e-6
    numeric = (g(args[0] + eps * v, *args[1:]) - g(args[0] - eps * v, *args[1:])) / (2 * eps)
    np.testing.assert_allclose(s2sad.hvp(f)(*args, v), numeric, rtol=1e-6, atol=1e-8)
    H = s2sad.hessian(f)(*args)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H @ v, numeric, rtol=1e-6, atol=1e-8)
