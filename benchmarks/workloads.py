"""The workloads of benchmarks/run.py: each a loss in plain NumPy, its data,
and the gradient by hand, in PyTorch and, where the Python loop does not suit
`jax.jit`, in JAX's structured loops.

Each workload is a `Workload`: `loss` is the function as a user writes it
with `import numpy as np`; s2sad and tangent-ad read its source, HIPS autograd
and JAX eager run the very same code with `np` bound to `autograd.numpy` or
`jax.numpy` (what a user does by changing the import line; see `rebind`).
`hand` is the reverse pass written by a careful person, the reference every
system's gradient is checked against; `torch_loss` is the loss on torch
tensors; `jax_loss` (optional) is a variant written for `jax.jit`.

This module imports only NumPy: run.py sets the thread counts first.
"""

import math
import types
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np


@dataclass
class Workload:
    name: str
    title: str                  # one line, for the tables' notes
    problem: Callable           # () -> tuple of arguments (NumPy arrays and floats)
    loss: Callable              # the loss in plain NumPy
    wrt: tuple                  # indices of the arguments differentiated
    hand: Callable              # (*args) -> tuple of gradients, by hand
    torch_loss: Callable        # (torch, *args) -> scalar tensor
    jax_loss: Optional[Callable] = None     # (jax, *args) for jax.jit where `loss` does not suit it
    jax_note: str = ""
    too_slow: tuple = ()        # systems not run on it (a gradient takes many seconds)


def rebind(f, np_module):
    """`f` with its global `np` replaced by `np_module` (autograd.numpy,
    jax.numpy): the same source, as if the file said `import jax.numpy as np`."""
    g = types.FunctionType(f.__code__, dict(f.__globals__, np=np_module), f.__name__,
                           f.__defaults__, f.__closure__)
    g.__kwdefaults__ = f.__kwdefaults__
    return g


# ---------------------------------------------------------------- ols
def ols_loss(beta, X, y):
    r = X @ beta - y
    return np.sum(r ** 2) / y.shape[0]


def ols_hand(beta, X, y):
    r = X @ beta - y
    return (X.T @ r) * (2.0 / y.shape[0]),


def ols_torch(torch, beta, X, y):
    r = X @ beta - y
    return torch.sum(r ** 2) / y.shape[0]


def ols_problem(seed=0, n=500, p=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X @ np.array([1.5, -2.0, 0.5]) + rng.normal(0.0, 0.1, size=n)
    return rng.normal(size=p), X, y


# ---------------------------------------------------------------- mlp (as benchmarks/mlp.py)
def mlp_loss(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(logp * y) / x.shape[0]


def mlp_hand(W1, b1, W2, b2, x, y):
    """The backward pass as a person writes it (softmax and cross-entropy fused)."""
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    dz = (p - y) / x.shape[0]
    dW2 = h.T @ dz
    db2 = dz.sum(axis=0)
    da = (dz @ W2.T) * (1.0 - h * h)
    dW1 = x.T @ da
    db1 = da.sum(axis=0)
    return dW1, db1, dW2, db2


def mlp_torch(torch, W1, b1, W2, b2, x, y):
    z = torch.tanh(x @ W1 + b1) @ W2 + b2
    return -torch.sum(torch.log_softmax(z, dim=1) * y) / x.shape[0]


def mlp_problem(seed=0, batch=64, n_in=784, n_hidden=800, n_out=10):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in)
    b1 = np.zeros(n_hidden)
    W2 = rng.normal(size=(n_hidden, n_out)) / np.sqrt(n_hidden)
    b2 = np.zeros(n_out)
    x = rng.normal(size=(batch, n_in))
    y = np.eye(n_out)[rng.integers(0, n_out, size=batch)]
    return W1, b1, W2, b2, x, y


# ---------------------------------------------------------- building (as benchmarks/building.py)
def building_loss(heat, outdoor, price, temp0, R, C, dt, lam, target):
    temp = temp0
    total = 0.0
    for t in range(len(heat)):
        dT = (outdoor[t] - temp) / (R * C) + heat[t] / C
        temp = temp + dt * dT
        total = total + price[t] * heat[t] + lam * (temp - target) ** 2
    return total


def building_hand(heat, outdoor, price, temp0, R, C, dt, lam, target):
    """On Python floats (the arrays go to lists first): the practical limit of
    a scalar loop in Python."""
    heat_l, outdoor_l, price_l = heat.tolist(), outdoor.tolist(), price.tolist()
    T = len(heat_l)
    RC = R * C
    temps = [0.0] * T
    temp = temp0
    for t in range(T):
        temp = temp + dt * ((outdoor_l[t] - temp) / RC + heat_l[t] / C)
        temps[t] = temp
    dheat = [0.0] * T
    decay = 1.0 - dt / RC                            # d temp[t] / d temp[t-1]
    dt_over_C = dt / C                               # d temp[t] / d heat[t]
    two_lam = 2.0 * lam
    dtemp = 0.0
    for t in range(T - 1, -1, -1):
        dtemp = dtemp + two_lam * (temps[t] - target)
        dheat[t] = price_l[t] + dtemp * dt_over_C
        dtemp = dtemp * decay
    return np.array(dheat),


def building_torch(torch, *args):
    """The same loop on tensors: it uses only indexing and arithmetic."""
    return building_loss(*args)


def building_jax(jax, heat, outdoor, price, temp0, R, C, dt, lam, target):
    """The loop as `lax.fori_loop`: unrolled, T = 200 scalar steps compile slowly."""
    def step(t, carry):
        temp, total = carry
        dT = (outdoor[t] - temp) / (R * C) + heat[t] / C
        temp = temp + dt * dT
        return temp, total + price[t] * heat[t] + lam * (temp - target) ** 2
    return jax.lax.fori_loop(0, heat.shape[0], step, (temp0 * 1.0, 0.0))[1]


def building_problem(seed=0, T=200):
    rng = np.random.default_rng(seed)
    heat = rng.uniform(0.0, 2.0, size=T)             # kW per step
    outdoor = 5.0 + 3.0 * np.sin(np.arange(T) * 2 * np.pi / 48) + rng.normal(0, 0.5, T)
    price = rng.uniform(0.1, 0.3, size=T)
    return heat, outdoor, price, 20.0, 2.0, 10.0, 0.5, 0.1, 21.0


# ---------------------------------------------------------------- rnn (as benchmarks/rnn.py)
def rnn_loss(Wxh, Whh, bh, x, y):
    h = np.zeros((x.shape[1], Whh.shape[0]))
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ Wxh + h @ Whh + bh)
    return np.sum((h - y) ** 2) / x.shape[1]


def rnn_hand(Wxh, Whh, bh, x, y):
    """Backpropagation through time as a person writes it: keep the states, walk back."""
    T, batch = x.shape[0], x.shape[1]
    h = np.zeros_like(y)                    # (batch, hidden), on y's device
    hs = [h]
    for t in range(T):
        h = np.tanh(x[t] @ Wxh + h @ Whh + bh)
        hs.append(h)
    dh = 2.0 * (h - y) / batch
    dWxh = np.zeros_like(Wxh)
    dWhh = np.zeros_like(Whh)
    dbh = np.zeros_like(bh)
    for t in range(T - 1, -1, -1):
        h = hs[t + 1]
        da = dh * (1.0 - h * h)
        dWxh += x[t].T @ da
        dWhh += hs[t].T @ da
        dbh += da.sum(axis=0)
        dh = da @ Whh.T
    return dWxh, dWhh, dbh


def rnn_torch(torch, Wxh, Whh, bh, x, y):
    h = torch.zeros((x.shape[1], Whh.shape[0]), dtype=x.dtype, device=x.device)
    for t in range(x.shape[0]):
        h = torch.tanh(x[t] @ Wxh + h @ Whh + bh)
    return torch.sum((h - y) ** 2) / x.shape[1]


def rnn_loss_on_device(Wxh, Whh, bh, x, y):
    """rnn_loss as a CuPy user writes it: `np.zeros(shape)` would make a host
    array, so the state starts as zeros like an array on the device."""
    h = np.zeros_like(y)
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ Wxh + h @ Whh + bh)
    return np.sum((h - y) ** 2) / x.shape[1]


def rnn_problem(seed=0, T=50, batch=16, n_in=32, n_hidden=128):
    rng = np.random.default_rng(seed)
    Wxh = rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in)
    Whh = rng.normal(size=(n_hidden, n_hidden)) / np.sqrt(n_hidden)
    bh = rng.normal(size=n_hidden) * 0.1
    x = rng.normal(size=(T, batch, n_in))
    y = rng.uniform(-0.5, 0.5, size=(batch, n_hidden))
    return Wxh, Whh, bh, x, y


# ---------------------------------------------------------------- swell
SWELL_DEPTH = 100


def swell_loss(x):
    """f_1(x) = x, f_{k+1}(x) = sin(x**2 + f_k(x)); the sum of f_100(x)."""
    f = x
    for k in range(SWELL_DEPTH - 1):
        f = np.sin(x ** 2 + f)
    return np.sum(f)


def swell_hand(x):
    x2 = x * x
    f = x
    cosines = []
    for k in range(SWELL_DEPTH - 1):
        u = x2 + f
        cosines.append(np.cos(u))
        f = np.sin(u)
    df = np.ones_like(x)
    dx = np.zeros_like(x)
    for c in reversed(cosines):
        du = df * c
        dx += du                                     # through x ** 2, times 2x below
        df = du
    return dx * (2.0 * x) + df,


def swell_torch(torch, x):
    f = x
    for k in range(SWELL_DEPTH - 1):
        f = torch.sin(x ** 2 + f)
    return torch.sum(f)


def swell_problem(seed=0, n=1000):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=n),


# ---------------------------------------------------------------- newton
def newton_loss(a):
    x = a.copy()
    k = 0
    while np.max(np.abs(x * x - a)) > 1e-10 and k < 50:
        x = 0.5 * (x + a / x)
        k += 1
    return np.sum(x)


def newton_hand(a):
    """Reverse through the iterations the forward took (the exact derivative of
    the computation, as every AD system gives it)."""
    x = a.copy()
    xs = []
    while np.max(np.abs(x * x - a)) > 1e-10 and len(xs) < 50:
        xs.append(x)
        x = 0.5 * (x + a / x)
    dx = np.ones_like(a)
    da = np.zeros_like(a)
    for x in reversed(xs):
        da += dx * (0.5 / x)
        dx = dx * 0.5 * (1.0 - a / (x * x))
    return da + dx,


def newton_torch(torch, a):
    x = a.clone()
    k = 0
    while torch.max(torch.abs(x * x - a)) > 1e-10 and k < 50:
        x = 0.5 * (x + a / x)
        k += 1
    return torch.sum(x)


def newton_jax(jax, a):
    """A fixed 50 trips of `lax.fori_loop`, each a no-op once converged
    (`lax.while_loop` has no reverse-mode derivative)."""
    jnp = jax.numpy

    def step(k, x):
        done = jnp.max(jnp.abs(x * x - a)) <= 1e-10
        return jnp.where(done, x, 0.5 * (x + a / x))
    return jnp.sum(jax.lax.fori_loop(0, 50, step, a))


def newton_problem(seed=0, n=1000):
    return np.random.default_rng(seed).uniform(0.5, 4.0, size=n),


# ---------------------------------------------------------------- pendulum (a scalar ODE)
def pendulum_loss(params, theta0, omega0, dt, steps, target):
    """A damped pendulum, explicit Euler: the squared distance of its swing
    from a target curve, as a function of (g / l, damping)."""
    g_over_l = params[0]
    damping = params[1]
    theta = theta0
    omega = omega0
    cost = 0.0
    for t in range(steps):
        alpha = -g_over_l * np.sin(theta) - damping * omega
        theta = theta + dt * omega
        omega = omega + dt * alpha
        cost = cost + dt * (theta - target[t]) ** 2
    return cost


def pendulum_hand(params, theta0, omega0, dt, steps, target):
    """On Python floats (the target as a list): the reverse of the Euler steps."""
    g_over_l, damping = float(params[0]), float(params[1])
    target_l = target.tolist()
    thetas, omegas = [0.0] * steps, [0.0] * steps     # the state at the start of each step
    theta, omega = theta0, omega0
    for t in range(steps):
        thetas[t], omegas[t] = theta, omega
        alpha = -g_over_l * math.sin(theta) - damping * omega
        theta, omega = theta + dt * omega, omega + dt * alpha
    dtheta = domega = dg = ddamping = 0.0
    for t in range(steps - 1, -1, -1):
        theta_t, omega_t = thetas[t], omegas[t]
        dtheta += 2.0 * dt * (theta_t + dt * omega_t - target_l[t])    # the cost reads the new theta
        dalpha = domega * dt                          # omega_new = omega + dt * alpha
        dg -= dalpha * math.sin(theta_t)
        ddamping -= dalpha * omega_t
        dtheta, domega = (dtheta - dalpha * g_over_l * math.cos(theta_t),
                          domega + dtheta * dt - dalpha * damping)
    return np.array([dg, ddamping]),


def pendulum_torch(torch, params, theta0, omega0, dt, steps, target):
    theta, omega, cost = torch.tensor(theta0, dtype=torch.float64), omega0, 0.0
    for t in range(steps):
        alpha = -params[0] * torch.sin(theta) - params[1] * omega
        theta = theta + dt * omega
        omega = omega + dt * alpha
        cost = cost + dt * (theta - target[t]) ** 2
    return cost


def pendulum_jax(jax, params, theta0, omega0, dt, steps, target):
    """The Euler loop as `lax.fori_loop` (unrolled, 10,000 steps would not compile)."""
    jnp = jax.numpy

    def step(t, carry):
        theta, omega, cost = carry
        alpha = -params[0] * jnp.sin(theta) - params[1] * omega
        theta, omega = theta + dt * omega, omega + dt * alpha
        return theta, omega, cost + dt * (theta - target[t]) ** 2
    trips = target.shape[0]                           # (static under jit, as fori_loop needs)
    return jax.lax.fori_loop(0, trips, step, (theta0 * 1.0, omega0 * 1.0, 0.0))[2]


def pendulum_problem(seed=0, steps=10_000):
    t = np.arange(steps) * 0.01
    target = 0.8 * np.cos(3.0 * t) * np.exp(-0.05 * t)
    return np.array([9.0, 0.1]), 1.0, 0.0, 0.01, steps, target


WORKLOADS = {w.name: w for w in [
    Workload("ols", "least squares, X 500x3, MSE, d/d beta",
             ols_problem, ols_loss, (0,), ols_hand, ols_torch),
    Workload("mlp", "784-800-10 tanh MLP, softmax cross-entropy, batch 64, d/d (W1, b1, W2, b2)",
             mlp_problem, mlp_loss, (0, 1, 2, 3), mlp_hand, mlp_torch),
    Workload("building", "scalar thermal loop, T = 200, d cost / d heat",
             building_problem, building_loss, (0,), building_hand, building_torch,
             building_jax, "jax jit: a `lax.fori_loop` variant (the loop unrolled, T = 200 "
             "steps, takes about 100 s to compile)"),
    Workload("rnn", "tanh RNN 32-128, batch 16, T = 50, d/d (Wxh, Whh, bh)",
             rnn_problem, rnn_loss, (0, 1, 2), rnn_hand, rnn_torch),
    Workload("swell", f"f_(k+1)(x) = sin(x**2 + f_k(x)), f_{SWELL_DEPTH}, x of length 1000, "
             "loss = sum",
             swell_problem, swell_loss, (0,), swell_hand, swell_torch),
    Workload("newton", "vector Newton sqrt, data-dependent `while` (tol 1e-10, cap 50), n = 1000, "
             "d sum / d a",
             newton_problem, newton_loss, (0,), newton_hand, newton_torch,
             newton_jax, "jax jit: a `lax.fori_loop` of 50 trips, each a no-op once converged "
             "(`lax.while_loop` has no reverse-mode derivative)"),
    Workload("pendulum", "damped pendulum, explicit Euler, 10,000 scalar steps, d cost / d (g/l, damping)",
             pendulum_problem, pendulum_loss, (0,), pendulum_hand, pendulum_torch,
             pendulum_jax, "jax jit: a `lax.fori_loop` variant (the Python loop unrolled, 10,000 "
             "steps, does not compile in reasonable time)", too_slow=("jax-eager", "autograd", "tangent")),
]}


# The workloads of `run.py --backend cupy`: sizes where a GPU has work to do.
DEVICE_WORKLOADS = {w.name: w for w in [
    Workload("mlp", "784-4096-10 tanh MLP, softmax cross-entropy, batch 4096, d/d (W1, b1, W2, b2)",
             lambda: mlp_problem(batch=4096, n_hidden=4096), mlp_loss, (0, 1, 2, 3), mlp_hand,
             mlp_torch),
    Workload("rnn", "tanh RNN 32-128, batch 1024, T = 50, d/d (Wxh, Whh, bh)",
             lambda: rnn_problem(batch=1024), rnn_loss_on_device, (0, 1, 2), rnn_hand, rnn_torch),
]}
