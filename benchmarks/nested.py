"""Differentiating through gradients: a gradient-penalty step and a MAML step.

    python benchmarks/nested.py [--repeats 200] [--quick]

Two second-order workloads in plain NumPy, float64, single-threaded:

* gradient penalty (WGAN-GP's form): a 2-layer critic D(x) = tanh(x W1 + b1) W2
  over a batch; the loss is mean D(x) + lam * mean((|dD/dx_i| - 1)^2), whose
  gradient w.r.t. (W1, b1, W2) goes through the input gradient dD/dx;
* MAML: a 2-layer regression MLP adapted by one (and two) inner gradient steps
  on a support batch; the meta-loss on a query batch, differentiated w.r.t.
  the initial weights through the inner steps.

s2sad differentiates a loss that calls `s2sad.grad` (reverse over reverse,
through the generated gradient); JAX nests `jax.grad` (eager, and under
`jax.jit`); PyTorch builds the inner gradient with `create_graph=True`.
Every system's gradient is checked against s2sad's before it is timed; times
are medians of interleaved calls (benchmarks/timing.py), ratios against
s2sad's in the same run.  A system that is not installed is skipped.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                           " intra_op_parallelism_threads=1").strip()

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved_times  # noqa: E402

import s2sad  # noqa: E402

LAM = 10.0
ALPHA = 0.1


# ---- the workloads, as a NumPy user writes them -------------------------------------------

def critic(W1, b1, W2, x):
    return np.sum(np.tanh(x @ W1 + b1) @ W2)


dcritic_dx = s2sad.grad(critic, wrt=3)


def penalty_loss(W1, b1, W2, x):
    g = dcritic_dx(W1, b1, W2, x)                # (batch, d): each row is dD/dx_i
    norms = np.sqrt(np.sum(g * g, axis=1))
    return critic(W1, b1, W2, x) / x.shape[0] + LAM * np.mean((norms - 1.0) ** 2)


def mlp_loss(W1, b1, W2, X, y):
    pred = np.tanh(X @ W1 + b1) @ W2
    return np.mean((pred - y) ** 2)


dmlp = s2sad.grad(mlp_loss, wrt=(0, 1, 2))


def maml_loss(W1, b1, W2, Xs, ys, Xq, yq):
    dW1, db1, dW2 = dmlp(W1, b1, W2, Xs, ys)
    return mlp_loss(W1 - ALPHA * dW1, b1 - ALPHA * db1, W2 - ALPHA * dW2, Xq, yq)


def maml2_loss(W1, b1, W2, Xs, ys, Xq, yq):
    dW1, db1, dW2 = dmlp(W1, b1, W2, Xs, ys)
    W1, b1, W2 = W1 - ALPHA * dW1, b1 - ALPHA * db1, W2 - ALPHA * dW2
    dW1, db1, dW2 = dmlp(W1, b1, W2, Xs, ys)
    return mlp_loss(W1 - ALPHA * dW1, b1 - ALPHA * db1, W2 - ALPHA * dW2, Xq, yq)


def penalty_problem(seed=0, batch=64, d=32, hidden=64):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(d, hidden)) / np.sqrt(d), rng.normal(size=hidden) * 0.1,
            rng.normal(size=(hidden, 1)) / np.sqrt(hidden), rng.normal(size=(batch, d)))


def maml_problem(seed=0, batch=32, d=16, hidden=40):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(d, hidden)) / np.sqrt(d), rng.normal(size=hidden) * 0.1,
            rng.normal(size=(hidden, 1)) / np.sqrt(hidden),
            rng.normal(size=(batch, d)), rng.normal(size=(batch, 1)),
            rng.normal(size=(batch, d)), rng.normal(size=(batch, 1)))


WORKLOADS = {
    "gradient penalty": (penalty_loss, penalty_problem),
    "MAML, 1 step": (maml_loss, maml_problem),
    "MAML, 2 steps": (maml2_loss, maml_problem),
}


# ---- the same in JAX and PyTorch ---------------------------------------------------------

def jax_systems(name):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def critic_j(W1, b1, W2, x):
        return jnp.sum(jnp.tanh(x @ W1 + b1) @ W2)

    dcritic_j = jax.grad(critic_j, argnums=3)

    def penalty_j(W1, b1, W2, x):
        g = dcritic_j(W1, b1, W2, x)
        norms = jnp.sqrt(jnp.sum(g * g, axis=1))
        return critic_j(W1, b1, W2, x) / x.shape[0] + LAM * jnp.mean((norms - 1.0) ** 2)

    def mlp_j(W1, b1, W2, X, y):
        return jnp.mean((jnp.tanh(X @ W1 + b1) @ W2 - y) ** 2)

    dmlp_j = jax.grad(mlp_j, argnums=(0, 1, 2))

    def step(W1, b1, W2, Xs, ys):
        dW1, db1, dW2 = dmlp_j(W1, b1, W2, Xs, ys)
        return W1 - ALPHA * dW1, b1 - ALPHA * db1, W2 - ALPHA * dW2

    def maml_j(W1, b1, W2, Xs, ys, Xq, yq):
        return mlp_j(*step(W1, b1, W2, Xs, ys), Xq, yq)

    def maml2_j(W1, b1, W2, Xs, ys, Xq, yq):
        return mlp_j(*step(*step(W1, b1, W2, Xs, ys), Xs, ys), Xq, yq)

    loss = {"gradient penalty": penalty_j, "MAML, 1 step": maml_j, "MAML, 2 steps": maml2_j}[name]
    eager = jax.grad(loss, argnums=(0, 1, 2))
    jitted = jax.jit(eager)

    def run(fn):
        def call(*args):
            out = fn(*args)
            jax.block_until_ready(out)
            return [np.asarray(o) for o in out]
        return call

    return {"JAX eager": run(eager), "JAX jit": run(jitted)}


def torch_systems(name):
    import torch
    torch.set_num_threads(1)

    def mlp_t(W1, b1, W2, X, y):
        return torch.mean((torch.tanh(X @ W1 + b1) @ W2 - y) ** 2)

    def penalty_t(W1, b1, W2, x):
        x = x.clone().requires_grad_(True)
        d = torch.sum(torch.tanh(x @ W1 + b1) @ W2)
        g, = torch.autograd.grad(d, x, create_graph=True)
        norms = torch.sqrt(torch.sum(g * g, dim=1))
        return d / x.shape[0] + LAM * torch.mean((norms - 1.0) ** 2)

    def steps(n):
        def maml_t(W1, b1, W2, Xs, ys, Xq, yq):
            params = (W1, b1, W2)
            for _ in range(n):
                grads = torch.autograd.grad(mlp_t(*params, Xs, ys), params, create_graph=True)
                params = tuple(p - ALPHA * g for p, g in zip(params, grads))
            return mlp_t(*params, Xq, yq)
        return maml_t

    loss = {"gradient penalty": penalty_t, "MAML, 1 step": steps(1), "MAML, 2 steps": steps(2)}[name]

    def call(*args):
        W1, b1, W2 = (torch.from_numpy(a).requires_grad_(True) for a in args[:3])
        rest = [torch.from_numpy(a) for a in args[3:]]
        grads = torch.autograd.grad(loss(W1, b1, W2, *rest), (W1, b1, W2))
        return [g.numpy() for g in grads]

    return {"PyTorch create_graph": call}


def systems_for(name):
    loss, _ = WORKLOADS[name]
    systems = {"s2sad": s2sad.grad(loss, wrt=(0, 1, 2))}
    for make, label in ((jax_systems, "JAX"), (torch_systems, "PyTorch")):
        try:
            systems.update(make(name))
        except ImportError:
            print(f"# {label} is not installed: skipped", file=sys.stderr)
    return systems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    opts = parser.parse_args(argv)
    repeats = 5 if opts.quick else opts.repeats
    print("| workload | system | gradient (µs) | × s2sad | first call (s) |")
    print("|---|---|---:|---:|---:|")
    for name, (loss, make) in WORKLOADS.items():
        args = make()
        systems = systems_for(name)
        firsts, reference = {}, None
        for label, fn in systems.items():
            start = time.perf_counter()
            got = fn(*args)                 # built (s2sad), traced and compiled (JAX jit)
            firsts[label] = time.perf_counter() - start
            if reference is None:
                reference = got
            for a, b in zip(got, reference):
                np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10, err_msg=f"{name}: {label}")
        times = interleaved_times(systems, args, repeats)
        base = np.median(times["s2sad"])
        for label, ts in times.items():
            t = np.median(ts)
            print(f"| {name} | {label} | {t * 1e6:.1f} | {t / base:.2f} | {firsts[label]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
