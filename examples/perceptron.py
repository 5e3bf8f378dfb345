"""A single-layer perceptron on a linearly separable 2-D toy set.

    python examples/perceptron.py [--fast] [--out DIR]

Points in the square [-1, 1]^2, labelled +1 or -1 by a hidden line, with a
gap of 0.1 around it so that the set is separable. The perceptron's output
is tanh(x . w + b); instead of Rosenblatt's step rule it is trained by plain
gradient descent (s2sad.optim.SGD, no momentum) on the smooth squared error
mean((tanh(X w + b) - y)^2), the "delta rule", with the gradient from s2sad.
Prints the accuracy and saves perceptron_loss.png and perceptron_boundary.png.
"""

import time

import numpy as np

import s2sad
import s2sad.optim

from _common import parse_args, progress, pyplot, save_loss_plot, savefig, set_postfix


def perceptron(w, b, X):
    return np.tanh(X @ w + b)


def squared_error(w, b, X, y):
    out = perceptron(w, b, X)                        # a helper: s2sad transforms it too
    return np.mean((out - y) ** 2)


def make_data(rng, n, w_true, b_true, gap=0.1):
    X = rng.uniform(-1.0, 1.0, size=(4 * n, 2))
    score = (X @ w_true + b_true) / np.linalg.norm(w_true)
    X, score = X[np.abs(score) > gap][:n], score[np.abs(score) > gap][:n]
    return X, np.sign(score)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    steps = 50 if args.fast else 500
    rng = np.random.default_rng(args.seed)
    w_true, b_true = np.array([1.5, -2.0]), 0.3
    X, y = make_data(rng, 200, w_true, b_true)
    print(f"perceptron: {len(y)} separable points ({int(np.sum(y > 0))} labelled +1), "
          f"hidden line {w_true[0]} x1 + {w_true[1]} x2 + {b_true} = 0")

    loss_and_grad = s2sad.value_and_grad(squared_error, wrt=("w", "b"))
    w, b = rng.normal(scale=0.1, size=2), 0.0
    opt = s2sad.optim.SGD(lr=0.5, momentum=0.0)
    params = (w, b)
    state = opt.init(params)
    initial_accuracy = float(np.mean(np.sign(perceptron(w, b, X)) == y))
    losses = []
    start = time.perf_counter()
    bar = progress(steps, "gradient descent")
    for _ in bar:
        loss, grads = loss_and_grad(*params, X, y)
        losses.append(float(loss))
        set_postfix(bar, loss=loss)
        params, state = opt.update(params, grads, state)
    seconds = time.perf_counter() - start
    w, b = params
    losses.append(float(squared_error(w, b, X, y)))
    accuracy = float(np.mean(np.sign(perceptron(w, b, X)) == y))
    print(f"{steps} steps of gradient descent ({seconds:.2f} s): w = {np.round(w, 3)}, b = {float(b):.3f}")
    print(f"squared error {losses[0]:.4f} -> {losses[-1]:.4f}; "
          f"accuracy {initial_accuracy:.1%} -> {accuracy:.1%}")

    plot = save_loss_plot(losses, args.out, "perceptron_loss.png", "Perceptron, delta rule",
                          ylabel="mean squared error")
    boundary = None
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=10)
        xs = np.linspace(-1.0, 1.0, 2)
        ax.plot(xs, -(b_true + w_true[0] * xs) / w_true[1], "k:", label="hidden line")
        ax.plot(xs, -(b + w[0] * xs) / w[1], "g-", label="learned")
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.legend()
        ax.set_title(f"Perceptron: accuracy {accuracy:.1%}")
        boundary = savefig(fig, args.out, "perceptron_boundary.png")
    return {"w": w, "b": float(b), "losses": losses, "initial_loss": losses[0], "final_loss": losses[-1],
            "initial_accuracy": initial_accuracy, "accuracy": accuracy, "plot": plot,
            "boundary_plot": boundary}


if __name__ == "__main__":
    main()
