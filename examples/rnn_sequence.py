"""An Elman RNN, written as a plain Python loop, learns to continue sine waves.

    python examples/rnn_sequence.py [--fast] [--out DIR]

Each sequence is x[t] = sin(omega * t * 0.3 + phase) with a random frequency
omega in [0.5, 1.5] and a random phase; at every step the network reads x[t]
and predicts x[t + 1]. The model is the loop

    for t in range(T):
        h = np.tanh(x[t] @ Wxh + h @ Whh + bh)
        loss = loss + np.mean((h @ Why + by - y[t]) ** 2)

and s2sad turns it into a reverse loop over the same steps (backpropagation
through time) that records only the hidden states. Trained with
s2sad.optim.Adam on fresh batches; the test error is compared with the
naive forecast "the next value is the current one". Saves rnn_loss.png.
"""

import time

import numpy as np

import s2sad
import s2sad.optim

from _common import parse_args, progress, save_loss_plot, set_postfix


def sequence_loss(params, xs, ys):
    """Mean squared error of the one-step-ahead predictions; xs, ys: (T, batch, 1)."""
    T = xs.shape[0]
    h = np.zeros((xs.shape[1], params["Whh"].shape[0]))
    loss = 0.0
    for t in range(T):
        h = np.tanh(xs[t] @ params["Wxh"] + h @ params["Whh"] + params["bh"])
        prediction = h @ params["Why"] + params["by"]
        loss = loss + np.mean((prediction - ys[t]) ** 2)
    return loss / T


def make_batch(rng, batch, T):
    omega = rng.uniform(0.5, 1.5, size=(1, batch, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(1, batch, 1))
    t = np.arange(T + 1).reshape(-1, 1, 1)
    wave = np.sin(omega * t * 0.3 + phase)
    return wave[:-1], wave[1:]                       # inputs, next values


def init_params(rng, hidden):
    return {"Wxh": rng.normal(scale=1.0, size=(1, hidden)),
            "Whh": rng.normal(scale=1.0 / np.sqrt(hidden), size=(hidden, hidden)),
            "bh": np.zeros(hidden),
            "Why": rng.normal(scale=1.0 / np.sqrt(hidden), size=(hidden, 1)),
            "by": np.zeros(1)}


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    steps = 40 if args.fast else 2000
    T, batch, hidden = 30, 32, 24
    rng = np.random.default_rng(args.seed)
    params = init_params(rng, hidden)
    xs_test, ys_test = make_batch(rng, 256, T)
    naive = float(np.mean((xs_test - ys_test) ** 2))
    print(f"RNN with {hidden} hidden units on sine waves of {T} steps, "
          f"batches of {batch}, Adam lr 1e-2, {steps} steps")

    loss_and_grad = s2sad.value_and_grad(sequence_loss)
    opt = s2sad.optim.Adam(lr=1e-2)
    state = opt.init(params)
    initial_test = float(sequence_loss(params, xs_test, ys_test))
    losses = []
    start = time.perf_counter()
    bar = progress(steps, "training")
    for _ in bar:
        xs, ys = make_batch(rng, batch, T)
        loss, grads = loss_and_grad(params, xs, ys)
        losses.append(float(loss))
        set_postfix(bar, loss=loss)
        params, state = opt.update(params, grads, state)
    seconds = time.perf_counter() - start
    final_test = float(sequence_loss(params, xs_test, ys_test))
    print(f"trained in {seconds:.1f} s; training loss {losses[0]:.4f} -> {np.mean(losses[-10:]):.5f} "
          f"(mean of the last 10 batches)")
    print(f"test MSE {initial_test:.4f} -> {final_test:.5f}; "
          f"naive forecast x[t+1] = x[t]: {naive:.5f}")

    plot = save_loss_plot(losses, args.out, "rnn_loss.png", "RNN, next value of a sine wave (Adam)",
                          ylabel="mean squared error", smooth=True)
    return {"losses": losses, "initial_loss": losses[0], "final_loss": float(np.mean(losses[-10:])),
            "initial_test_mse": initial_test, "test_mse": final_test, "naive_mse": naive,
            "seconds": seconds, "plot": plot}


if __name__ == "__main__":
    main()
