"""An MLP as nested frozen dataclasses, trained with Adam on two moons.

    python examples/dataclass_mlp.py [--fast] [--out DIR]

The model is written as people write models for JAX with Equinox or
flax.struct: frozen dataclasses holding arrays, with methods. A `Dense`
layer is called (`layer(h)`), the `MLP` holds a tuple of layers and a
non-trainable setting (`leak`, for the leaky ReLU), `MLP.loss` is the
logistic loss with an L2 penalty read from a property. `s2sad.grad(MLP.loss)`
differentiates with respect to `self`, following the method calls, the loop
over the layers and the property, and returns an `MLP` of `Dense`s with
`None` where a field carries no gradient; `s2sad.optim.Adam` updates the
model and returns an `MLP` again, the frozen dataclasses rebuilt. Saves the
loss curve (dataclass_loss.png).
"""

import dataclasses

import numpy as np

import s2sad
import s2sad.optim

from _common import parse_args, save_loss_plot, train


@dataclasses.dataclass(frozen=True)
class Dense:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return x @ self.W + self.b


@dataclasses.dataclass(frozen=True)
class MLP:
    layers: tuple
    leak: float = 0.01               # a setting: differentiated too, but never trained here
    decay: float = 1e-4

    def logits(self, x):
        h = x
        for layer in self.layers[:-1]:
            z = layer(h)
            h = np.maximum(z, self.leak * z)
        return self.layers[-1](h)[:, 0]

    @property
    def penalty(self):
        total = 0.0
        for layer in self.layers:
            total = total + np.sum(layer.W ** 2)
        return self.decay * total

    def loss(self, x, y):
        z = self.logits(x)
        return np.mean(np.logaddexp(0.0, z) - y * z) + self.penalty

    def accuracy(self, x, y):
        return float(np.mean((self.logits(x) > 0) == (y > 0.5)))


def moons(rng, n):
    """Two interleaving half circles with noise."""
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], axis=1) + 0.1 * rng.normal(size=(n, 2))
    return points, upper.astype(float)


def init(rng, sizes):
    return MLP(tuple(Dense(rng.normal(size=(m, n)) * np.sqrt(2.0 / m), np.zeros(n))
                     for m, n in zip(sizes[:-1], sizes[1:])))


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    steps = 300 if args.fast else 3000
    rng = np.random.default_rng(args.seed)
    x, y = moons(rng, 256)
    model = init(rng, [2, 32, 32, 1])
    print(f"dataclass MLP: 2-32-32-1 leaky ReLU as frozen dataclasses, {len(x)} points, {steps} Adam steps")

    step = s2sad.value_and_grad(MLP.loss)                 # wrt=0: self, the whole model
    _, g = step(model, x, y)
    assert type(g) is MLP and all(type(layer) is Dense for layer in g.layers)

    model, losses, seconds = train(                       # the layers only: a None gradient leaves a field
        step, model, s2sad.optim.Adam(lr=0.01), steps, "Adam", x, y,
        adjust=lambda g: dataclasses.replace(g, leak=None, decay=None))
    final = float(model.loss(x, y))
    accuracy = model.accuracy(x, y)
    print(f"loss {losses[0]:.4f} -> {final:.4f}, accuracy {accuracy:.1%} in {seconds:.2f} s; "
          f"the model is still an {type(model).__name__} of {type(model.layers[0]).__name__}s")
    plot = save_loss_plot(losses, args.out, "dataclass_loss.png", "An MLP of frozen dataclasses (Adam)")
    return {"initial_loss": losses[0], "final_loss": final, "accuracy": accuracy, "model": model,
            "gradient_type": type(g).__name__, "plot": plot}


if __name__ == "__main__":
    main()
