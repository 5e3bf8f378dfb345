"""Logistic regression by gradient descent, checked against Newton's method.

    python examples/logistic_regression.py [--fast] [--out DIR]

Two overlapping Gaussian classes in 2-D. The mean negative log-likelihood
(written with np.logaddexp, so it never overflows) is differentiated by s2sad
and minimised with s2sad.optim.SGD; the optimum is then confirmed by a few
Newton steps that use s2sad.hessian. Prints the train and test accuracy and
saves the loss curve (logistic_loss.png) and the decision boundary
(logistic_boundary.png).
"""

import time

import numpy as np

import s2sad
import s2sad.optim

from _common import parse_args, progress, pyplot, save_loss_plot, savefig, set_postfix


def nll(theta, X, y):
    """Mean negative log-likelihood; theta = [bias, weights...], y in {0, 1}."""
    z = X @ theta[1:] + theta[0]
    return np.mean(np.logaddexp(0.0, z) - y * z)     # log(1 + e^z) - y z


def predict(theta, X):
    return (X @ theta[1:] + theta[0] > 0).astype(float)


def make_data(rng, n):
    y = (rng.random(n) < 0.5).astype(float)
    centres = np.where(y[:, None] == 1.0, [1.0, 1.0], [-1.0, -0.5])
    X = centres + rng.normal(scale=1.0, size=(n, 2))
    return X, y


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    steps = 60 if args.fast else 300
    rng = np.random.default_rng(args.seed)
    X, y = make_data(rng, 400)
    X_test, y_test = make_data(rng, 1000)
    print(f"logistic regression: {len(y)} training points, {len(y_test)} test points, 2 features")

    loss_and_grad = s2sad.value_and_grad(nll)
    theta = np.zeros(3)
    opt = s2sad.optim.SGD(lr=0.5, momentum=0.9)
    state = opt.init(theta)
    losses = []
    start = time.perf_counter()
    bar = progress(steps, "gradient descent")
    for _ in bar:
        loss, g = loss_and_grad(theta, X, y)
        losses.append(float(loss))
        set_postfix(bar, loss=loss)
        theta, state = opt.update(theta, g, state)
    seconds = time.perf_counter() - start
    losses.append(float(nll(theta, X, y)))

    # Newton's method as the reference: theta <- theta - H^-1 g, with H from s2sad.hessian.
    gradient, hessian = s2sad.grad(nll), s2sad.hessian(nll)
    theta_newton = np.zeros(3)
    for _ in range(10):
        theta_newton = theta_newton - np.linalg.solve(hessian(theta_newton, X, y),
                                                      gradient(theta_newton, X, y))
    newton_loss = float(nll(theta_newton, X, y))

    train_acc = float(np.mean(predict(theta, X) == y))
    test_acc = float(np.mean(predict(theta, X_test) == y_test))
    newton_test_acc = float(np.mean(predict(theta_newton, X_test) == y_test))
    print(f"gradient descent, {steps} steps ({seconds:.2f} s): theta = {np.round(theta, 4)}"
          f"  loss {losses[0]:.4f} -> {losses[-1]:.6f}")
    print(f"Newton (s2sad.hessian), 10 steps:      theta = {np.round(theta_newton, 4)}"
          f"  loss {newton_loss:.6f}")
    print(f"accuracy: train {train_acc:.1%}, test {test_acc:.1%} (Newton's theta: test {newton_test_acc:.1%})")

    plot = save_loss_plot(losses, args.out, "logistic_loss.png", "Logistic regression (SGD, momentum 0.9)",
                          ylabel="mean negative log-likelihood")
    boundary = None
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=10)
        xs = np.linspace(X[:, 0].min(), X[:, 0].max(), 2)
        ax.plot(xs, -(theta[0] + theta[1] * xs) / theta[2], "k-", label="gradient descent")
        ax.plot(xs, -(theta_newton[0] + theta_newton[1] * xs) / theta_newton[2], "g--", label="Newton")
        ax.set_ylim(X[:, 1].min(), X[:, 1].max())
        ax.legend()
        ax.set_title("Decision boundary")
        boundary = savefig(fig, args.out, "logistic_boundary.png")
    return {"theta": theta, "theta_newton": theta_newton, "losses": losses,
            "initial_loss": losses[0], "final_loss": losses[-1], "newton_loss": newton_loss,
            "train_accuracy": train_acc, "test_accuracy": test_acc,
            "newton_test_accuracy": newton_test_acc, "plot": plot, "boundary_plot": boundary}


if __name__ == "__main__":
    main()
