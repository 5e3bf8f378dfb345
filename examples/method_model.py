"""A model written with methods: layers as named tuples, trained with Adam.

    python examples/method_model.py [--fast] [--out DIR]

A two-layer tanh network fits a noisy sine. The parameters live in named
tuples with methods, as in Equinox or flax.struct: `Dense.__call__` applies a
layer, `MLP.loss` is the mean squared error. `s2sad.grad(MLP.loss)` takes the
gradient with respect to `self`, the whole model, and returns an `MLP` of
`Dense`s; `s2sad.optim.Adam` updates it and returns an `MLP` again. A
trainer object with hyper-parameters as attributes shows the other form,
`s2sad.grad(trainer.objective)`: a bound method whose attributes (the
weight decay) are read at each call. Saves the loss curve (method_loss.png)
and the fit (method_fit.png).
"""

from typing import NamedTuple

import numpy as np

import s2sad
import s2sad.optim

from _common import parse_args, pyplot, save_loss_plot, savefig, train


class Dense(NamedTuple):
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return x @ self.W + self.b


class MLP(NamedTuple):
    hidden: Dense
    out: Dense

    def predict(self, x):
        return self.out(np.tanh(self.hidden(x)))

    def loss(self, x, y):
        r = self.predict(x) - y
        return np.mean(r * r)


class Trainer:
    """Hyper-parameters as attributes; the objective adds weight decay."""

    def __init__(self, decay):
        self.decay = decay

    def objective(self, model, x, y):
        penalty = np.sum(model.hidden.W ** 2) + np.sum(model.out.W ** 2)
        return model.loss(x, y) + self.decay * penalty


def init(rng, width):
    return MLP(Dense(rng.normal(size=(1, width)), np.zeros(width)),
               Dense(rng.normal(size=(width, 1)) / np.sqrt(width), np.zeros(1)))


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    steps = 300 if args.fast else 2000
    rng = np.random.default_rng(args.seed)
    x = np.linspace(-3.0, 3.0, 128)[:, None]
    y = np.sin(x) + 0.1 * rng.normal(size=x.shape)
    model = init(rng, 16)
    print(f"method model: a 1-16-1 tanh network as named tuples, {len(x)} points, {steps} Adam steps")

    trainer = Trainer(decay=1e-4)
    step_gradient = s2sad.value_and_grad(trainer.objective)      # wrt=0: the model
    grad_of_self = s2sad.grad(MLP.loss)                          # wrt=0: self
    check = grad_of_self(model, x, y)
    assert isinstance(check, MLP) and isinstance(check.hidden, Dense)

    model, losses, seconds = train(step_gradient, model, s2sad.optim.Adam(lr=0.02), steps, "Adam", x, y)
    final = float(MLP.loss(model, x, y))
    print(f"mean squared error {losses[0]:.4f} -> {final:.4f} in {seconds:.2f} s; "
          f"the model is still an {type(model).__name__}")

    plot = save_loss_plot(losses, args.out, "method_loss.png", "A model of named tuples (Adam)")
    plt = pyplot()
    fit_plot = None
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(x[:, 0], y[:, 0], ".", label="data")
        ax.plot(x[:, 0], MLP.predict(model, x)[:, 0], label="fit")
        ax.legend()
        fit_plot = savefig(fig, args.out, "method_fit.png")
    return {"initial_loss": losses[0], "final_loss": final, "model": model,
            "gradient_type": type(check).__name__, "plot": plot, "fit_plot": fit_plot}


if __name__ == "__main__":
    main()
