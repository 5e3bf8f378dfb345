"""Shared plumbing for the examples: command line, progress bars and loss plots.

Not an example itself. Every example runs as a script (`python examples/ols.py`)
and exposes `main(argv=None)` returning a dict of outcomes; this module gives
them the same `--fast` / `--out DIR` options, a tqdm progress bar where tqdm is
installed (a plain range otherwise), and a PNG of the loss curve where
matplotlib is installed (a message otherwise). `pip install -e ".[examples]"`
installs both, and scikit-learn for examples/mlp_digits.py.
"""

import argparse
import os
import pathlib
import sys
import time

import numpy as np

try:
    from tqdm.auto import trange as _trange
except ImportError:                                  # the examples extra is optional
    _trange = None


def parse_args(description, argv=None, extra=None):
    """--fast (a few steps, for the test suite) and --out DIR (where PNGs go)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--fast", action="store_true",
                        help="run a few steps only (used by the test suite)")
    parser.add_argument("--out", default=".", help="folder for the PNG plots (default: .)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def progress(n, desc):
    """range(n), with a tqdm bar on stderr where tqdm is installed."""
    if _trange is None:
        return range(n)
    return _trange(n, desc=desc, leave=False, file=sys.stderr, mininterval=0.5)


def set_postfix(bar, **values):
    """Show the running loss on the bar (a no-op on a plain range)."""
    if hasattr(bar, "set_postfix"):
        bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)


def train(loss_and_grad, params, opt, steps, desc, *args, adjust=None):
    """`steps` optimiser steps on `loss_and_grad(params, *args)` (a
    `s2sad.value_and_grad`), with a progress bar: the final parameters, the
    loss at each step, the seconds taken. `adjust(g)` may edit each gradient
    (`None` for what is not trained)."""
    state = opt.init(params)
    losses = []
    start = time.perf_counter()
    bar = progress(steps, desc)
    for _ in bar:
        loss, g = loss_and_grad(params, *args)
        if adjust is not None:
            g = adjust(g)
        losses.append(float(loss))
        set_postfix(bar, loss=loss)
        params, state = opt.update(params, g, state)
    return params, losses, time.perf_counter() - start


_warned = False


def pyplot():
    """matplotlib.pyplot on the Agg backend, or None (with a message) without matplotlib."""
    global _warned
    try:
        import matplotlib
    except ImportError:
        if not _warned:
            print("matplotlib is not installed: no plots (pip install matplotlib)")
            _warned = True
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_loss_plot(losses, out, name, title, ylabel="loss", logy=True, smooth=False):
    """Save the loss curve as OUT/NAME and return its path (None without matplotlib)."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    losses = np.asarray(losses, dtype=float)
    ax.plot(np.arange(len(losses)), losses, linewidth=0.8, label=ylabel)
    if smooth and len(losses) >= 200:                # noisy minibatch losses: a running mean too
        w = len(losses) // 50
        ax.plot(np.arange(w - 1, len(losses)), np.convolve(losses, np.ones(w) / w, mode="valid"),
                linewidth=2, label=f"mean over {w} steps")
        ax.legend()
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if logy and min(losses) > 0:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return savefig(fig, out, name)


def savefig(fig, out, name):
    """Save a figure as OUT/NAME (creating OUT), close it, print and return the path."""
    plt = pyplot()
    os.makedirs(out, exist_ok=True)
    path = pathlib.Path(out) / name
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"saved {path}")
    return str(path)
