"""Logistic regression with L2 on a chunked Dask dataset, checked against scikit-learn.

    python examples/dask_logistic.py [--fast] [--out DIR] [--rows N] [--chunk N]

The dataset (20 features; 20 million rows, 3.2 GB of float64, at full size;
20,000 with --fast) is generated chunk by chunk with Dask and persisted. The
loss is plain NumPy; s2sad's gradient of it runs on the Dask arrays as it is,
and each L-BFGS evaluation computes the loss and the gradient together, in one
`dask.compute` (one pass over the data). The same fit on a NumPy-sized sample
is compared with scikit-learn's `LogisticRegression(C = 1 / (n * lam))`, whose
objective is this loss times `C n`. Saves the loss curve (dask_logistic_loss.png).
"""

import time

import numpy as np

import s2sad

from _common import parse_args, progress, save_loss_plot, set_postfix


def loss(theta, X, y, lam):
    """Mean logistic loss plus (lam / 2) |w|^2; theta = [bias, weights...], y in {0, 1}."""
    z = X @ theta[1:] + theta[0]
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * np.sum(theta[1:] ** 2)


def make_data(n, p, chunk, seed):
    """X (n, p) and labels y from a logistic model, generated chunk by chunk."""
    import dask.array as da
    rng = da.random.default_rng(seed)
    X = rng.normal(size=(n, p), chunks=(chunk, p))
    w = np.linspace(-1.0, 1.0, p)
    y = (rng.random(size=n, chunks=chunk) < 1.0 / (1.0 + np.exp(-(X @ w + 0.3)))).astype(float)
    return X, y


def lbfgs(evaluate, x, steps, desc, memory=10, tol=1e-10):
    """Minimise with L-BFGS steps (two-loop recursion, backtracking line search):
    the minimiser, the loss per step and the number of evaluations."""
    fx, g = evaluate(x)
    pairs, losses, evaluations = [], [fx], 1
    bar = progress(steps, desc)
    for _ in bar:
        if np.max(np.abs(g)) < tol:
            break
        q, alphas = g.copy(), []
        for s, v in reversed(pairs):
            alphas.append(s @ q / (v @ s))
            q -= alphas[-1] * v
        if pairs:
            q *= pairs[-1][0] @ pairs[-1][1] / (pairs[-1][1] @ pairs[-1][1])
        for (s, v), alpha in zip(pairs, reversed(alphas)):
            q += s * (alpha - v @ q / (v @ s))
        step = 1.0
        while True:
            x_new = x - step * q
            f_new, g_new = evaluate(x_new)
            evaluations += 1
            if f_new <= fx - 1e-4 * step * (g @ q) or step < 1e-12:
                break
            step *= 0.5
        s, v = x_new - x, g_new - g
        if s @ v > 1e-16:
            pairs = (pairs + [(s, v)])[-memory:]
        x, fx, g = x_new, f_new, g_new
        losses.append(fx)
        set_postfix(bar, loss=fx, grad=np.max(np.abs(g)))
    return x, losses, evaluations


def fit(X, y, lam, steps, desc):
    """L-BFGS on Dask arrays: each evaluation one `dask.compute` of loss and gradient."""
    import dask
    value_and_grad = s2sad.value_and_grad(loss)

    def evaluate(theta):
        value, g = dask.compute(*value_and_grad(theta, X, y, lam))
        return float(value), np.asarray(g)

    return lbfgs(evaluate, np.zeros(X.shape[1] + 1), steps, desc)


def sklearn_solution(X, y, lam):
    """scikit-learn's fit of the same loss (None without scikit-learn)."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        print("scikit-learn is not installed: no comparison (pip install scikit-learn)")
        return None
    model = LogisticRegression(C=1.0 / (len(y) * lam), tol=1e-12, max_iter=10_000)
    model.fit(X, y)
    return np.concatenate([model.intercept_, model.coef_[0]])


def main(argv=None):
    def extra(parser):
        parser.add_argument("--rows", type=int, default=None, help="rows (default: 20,000,000)")
        parser.add_argument("--chunk", type=int, default=None, help="rows per chunk")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    n = args.rows or (20_000 if args.fast else 20_000_000)
    chunk = args.chunk or min(max(n // 8, 1_000), 500_000)      # (80 MB chunks at most)
    p, lam = 20, 1e-3
    X, y = make_data(n, p, chunk, args.seed)
    X, y = X.persist(), y.persist()
    print(f"{n:,} rows x {p} features ({X.nbytes / 2**30:.2f} GiB) in {X.numblocks[0]} chunks")

    start = time.perf_counter()
    theta, losses, evaluations = fit(X, y, lam, 20 if args.fast else 100, "L-BFGS")
    seconds = time.perf_counter() - start
    print(f"loss {losses[0]:.6f} -> {losses[-1]:.6f} in {len(losses) - 1} steps, {evaluations} "
          f"passes over the data, {seconds:.1f} s ({seconds / evaluations * 1e3:.0f} ms a pass)")

    sample = min(n, 20_000)                   # scikit-learn's check on a NumPy-sized sample
    Xs, ys = X[:sample], y[:sample]
    theta_s = theta if sample == n else fit(Xs, ys, lam, 100, "L-BFGS, sample")[0]
    expected = sklearn_solution(np.asarray(Xs), np.asarray(ys), lam)
    relative = None
    if expected is not None:
        relative = float(np.max(np.abs(theta_s - expected)) / np.max(np.abs(expected)))
        print(f"sample of {sample:,} rows: coefficients within {relative:.1e} (relative) of "
              f"scikit-learn's LogisticRegression(C = 1 / (n lam))")
    plot = save_loss_plot(np.asarray(losses) - min(losses) + 1e-12, args.out, "dask_logistic_loss.png",
                          "logistic loss on Dask (L-BFGS)", ylabel="loss - final loss")
    return {"initial_loss": losses[0], "final_loss": losses[-1], "theta": theta,
            "relative_to_sklearn": relative, "evaluations": evaluations, "plot": plot}


if __name__ == "__main__":
    main()
