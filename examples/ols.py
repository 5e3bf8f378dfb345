"""Ordinary least squares by gradient descent, checked against the closed form.

    python examples/ols.py [--fast] [--out DIR]

Data: X = rand(n, d), beta = rand(d + 1), Y = X @ beta[1:] + beta[0] + 0.1 * rand(n)
with n = 500, d = 2. The mean squared error is differentiated by s2sad and
minimised by s2sad.optim.SGD (heavy-ball momentum) for 200 steps; the result is
compared with np.linalg.lstsq on [1, X]. Saves the loss curve as ols_loss.png.
"""

import time

import numpy as np

import s2sad
import s2sad.optim

from _common import parse_args, progress, save_loss_plot, set_postfix


def mse(beta, X, Y):
    """Mean squared error of the linear model Y ~ beta[0] + X @ beta[1:]."""
    prediction = X @ beta[1:] + beta[0]
    return np.mean((prediction - Y) ** 2)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    n, d = 500, 2
    steps = 100 if args.fast else 200
    rng = np.random.default_rng(args.seed)
    X = rng.random((n, d))
    beta_true = rng.random(d + 1)
    Y = X @ beta_true[1:] + beta_true[0] + 0.1 * rng.random(n)
    print(f"OLS on n = {n} points, d = {d} features; true beta = {np.round(beta_true, 4)}")
    print("  (the noise 0.1 * rand(n) has mean 0.05, so the best intercept is about beta[0] + 0.05)")

    loss_and_grad = s2sad.value_and_grad(mse)
    print("\nThe gradient s2sad generated for mse:\n")
    loss_and_grad(np.zeros(d + 1), X, Y)                 # build it once, then show it
    print(s2sad.source(loss_and_grad))

    beta = np.zeros(d + 1)
    opt = s2sad.optim.SGD(lr=0.3, momentum=0.8)
    state = opt.init(beta)
    losses = []
    start = time.perf_counter()
    bar = progress(steps, "gradient descent")
    for _ in bar:
        loss, g = loss_and_grad(beta, X, Y)
        losses.append(float(loss))
        set_postfix(bar, loss=loss)
        beta, state = opt.update(beta, g, state)
    seconds = time.perf_counter() - start
    losses.append(float(mse(beta, X, Y)))

    A = np.column_stack([np.ones(n), X])
    beta_lstsq = np.linalg.lstsq(A, Y, rcond=None)[0]
    difference = float(np.max(np.abs(beta - beta_lstsq)))
    print(f"gradient descent, {steps} steps ({seconds:.2f} s): beta = {np.round(beta, 6)}"
          f"  mse = {losses[-1]:.6g}")
    print(f"closed form (np.linalg.lstsq):        beta = {np.round(beta_lstsq, 6)}"
          f"  mse = {float(mse(beta_lstsq, X, Y)):.6g}")
    print(f"largest difference: {difference:.2e}")

    plot = save_loss_plot(losses, args.out, "ols_loss.png", "OLS by gradient descent (SGD, momentum 0.8)",
                          ylabel="mean squared error")
    return {"beta": beta, "beta_lstsq": beta_lstsq, "beta_true": beta_true, "max_abs_diff": difference,
            "losses": losses, "initial_loss": losses[0], "final_loss": losses[-1],
            "lstsq_loss": float(mse(beta_lstsq, X, Y)), "steps": steps, "plot": plot}


if __name__ == "__main__":
    main()
