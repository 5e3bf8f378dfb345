"""First-order optimisers for parameters held in arrays or pytrees of arrays.

    opt = s2sad.optim.Adam(lr=1e-3)
    state = opt.init(params)                       # params: array or pytree
    for batch in data:
        grads = dloss(params, *batch)              # e.g. dloss = s2sad.grad(loss)
        params, state = opt.update(params, grads, state)

The interface is functional: `update` never modifies the arrays it is given
(params, grads or the state's buffers) and returns new ones, so an old
`(params, state)` pair stays valid -- to retry a step, evaluate along a
trajectory, or differentiate through nothing by accident.

Updates are written with array operators only (`*`, `+`, `-`, `/`, `**`) and
`np.zeros_like`, which dispatch on the array's own type: NumPy arrays stay
NumPy, CuPy arrays stay on their device and nothing is copied to the host.
Hyper-parameters and the step count are Python numbers, kept on the host, so
a float32 parameter stays float32.

The formulas are PyTorch's (`torch.optim.SGD`, `Adam`, `AdamW`), so
hyper-parameters carry over:

* SGD: `g = g + weight_decay*p`; `v = momentum*v + g` (no dampening; the
  first `v` is `g`); Nesterov uses `g + momentum*v`, plain momentum `v`, as the
  step direction; `p = p - lr*direction`.
* Adam: `g = g + weight_decay*p` (L2 penalty); `m = b1*m + (1-b1)*g`;
  `v = b2*v + (1-b2)*g*g`; `p = p - lr * m_hat / (sqrt(v_hat) + eps)` with the
  bias corrections `m_hat = m/(1-b1**t)`, `v_hat = v/(1-b2**t)`, `t` = 1, 2, ...
* AdamW: as Adam without the L2 term, plus the decoupled decay
  `p = p - lr*weight_decay*p` (PyTorch's default `weight_decay=1e-2`).

Learning rates may be a float or a schedule: any callable taking the step
number (a Python int) and returning the learning rate. Convention: the step
count lives in the state, starts at 0, and the update that takes the state
from step k to k+1 uses `lr(k)` -- so the first update uses `lr(0)`, as with
PyTorch's schedulers before their first `scheduler.step()`. `step_decay`,
`cosine` and `warmup` build the usual schedules.

Pytrees are dicts, lists and tuples (named tuples too), nested; their leaves
are arrays or Python floats. A leaf whose gradient is `None` (what
`s2sad.grad` gives for ints, strings, ... inside a pytree) is left as it is.
"""

import math
import numbers
from typing import Any, NamedTuple

import numpy as np

from .runtime import pytrees

__all__ = ["SGD", "Adam", "AdamW", "SGDState", "AdamState", "step_decay", "cosine", "warmup"]


# --------------------------------------------------------------------------
# pytrees

def _path_str(name, path):
    return pytrees.path_text(name, path)


def _tree_map(fn, trees, names, path=()):
    """`fn(path, *leaves)` over trees of one structure, which the first tree sets.

    The others must match it container by container; a mismatch is a
    ValueError naming where (`grads['layer'][1]`) and how they differ."""
    first = trees[0]
    kids = pytrees.children(first)
    if kids is None:
        for tree, name in zip(trees[1:], names[1:]):
            if pytrees.children(tree) is not None:
                raise ValueError(f"{_path_str(names[0], path)} is a leaf ({type(first).__name__}) but "
                                 f"{_path_str(name, path)} is a {type(tree).__name__}: "
                                 f"{names[0]} and {name} must have the same structure")
        return fn(path, *trees)
    for tree, name in zip(trees[1:], names[1:]):
        if isinstance(first, dict):
            if not isinstance(tree, dict):
                raise ValueError(f"{_path_str(names[0], path)} is a dict but {_path_str(name, path)} is "
                                 f"a {type(tree).__name__}: {names[0]} and {name} must have the same structure")
            if set(tree.keys()) != set(first.keys()):
                missing = [k for k in first if k not in tree]
                extra = [k for k in tree if k not in first]
                raise ValueError(f"{_path_str(name, path)} has different keys from "
                                 f"{_path_str(names[0], path)}: missing {missing}, unexpected {extra}")
        elif isinstance(first, (list, tuple)):
            if not isinstance(tree, (list, tuple)) or isinstance(tree, list) != isinstance(first, list):
                raise ValueError(f"{_path_str(names[0], path)} is a {type(first).__name__} but "
                                 f"{_path_str(name, path)} is a {type(tree).__name__}: "
                                 f"{names[0]} and {name} must have the same structure")
            if len(tree) != len(first):
                raise ValueError(f"{_path_str(names[0], path)} has {len(first)} entries but "
                                 f"{_path_str(name, path)} has {len(tree)}")
        elif type(tree) is not type(first):          # a dataclass or registered class
            raise ValueError(f"{_path_str(names[0], path)} is a {type(first).__name__} but "
                             f"{_path_str(name, path)} is a {type(tree).__name__}: "
                             f"{names[0]} and {name} must have the same structure")
    values = [_tree_map(fn, [pytrees.child(tree, k) for tree in trees], names, path + (k,))
              for k, _ in kids]
    return pytrees.rebuild(first, values)


def _is_float_leaf(x):
    """An array (NumPy, CuPy, ...) or a real Python/NumPy number."""
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, numbers.Real):
        return True
    dtype = getattr(x, "dtype", None)
    return dtype is not None and hasattr(x, "shape")


def _check_pair(path, p, g):
    """A parameter leaf and its gradient can be updated together (or skipped)."""
    if g is None:
        return False
    where = _path_str("params", path)
    if not _is_float_leaf(p):
        raise TypeError(f"{where} is a {type(p).__name__}, which an optimiser cannot update, but "
                        f"{_path_str('grads', path)} is not None")
    if not _is_float_leaf(g):
        raise TypeError(f"{_path_str('grads', path)} is a {type(g).__name__}; expected an array or a float")
    if hasattr(p, "dtype") and p.dtype.kind not in "fc":
        raise TypeError(f"{where} has dtype {p.dtype}; only floating-point parameters can be "
                        f"updated (give it a float dtype, or a None gradient to freeze it)")
    pshape, gshape = getattr(p, "shape", ()), getattr(g, "shape", ())
    if tuple(pshape) != tuple(gshape):
        raise ValueError(f"{where} has shape {tuple(pshape)} but {_path_str('grads', path)} "
                         f"has shape {tuple(gshape)}")
    return True


def _check_buffer(path, p, buf, name):
    """A state buffer fits its parameter (else the state came from other params)."""
    if buf is None or tuple(getattr(buf, "shape", ())) != tuple(getattr(p, "shape", ())):
        got = "None" if buf is None else f"shape {tuple(getattr(buf, 'shape', ()))}"
        raise ValueError(f"{_path_str(name, path)} ({got}) does not fit {_path_str('params', path)} "
                         f"(shape {tuple(getattr(p, 'shape', ()))}): the state was made by init "
                         f"for other parameters")


def _zeros(p):
    """A zero buffer like `p`, on `p`'s device (a Python float for a float)."""
    if isinstance(p, numbers.Real) and not hasattr(p, "shape"):
        return 0.0
    return np.zeros_like(p)


# --------------------------------------------------------------------------
# hyper-parameters and schedules

def _check_number(name, value, low=0.0, high=None, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or value < low or (high is not None and (value >= high if high_open else value > high)):
        bound = f"in [{low}, {high}{')' if high_open else ']'}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def _check_lr(lr):
    if callable(lr):
        return lr
    return _check_number("lr", lr)


def _lr_at(lr, step):
    """The learning rate at `step`, a Python float (a schedule's NumPy scalar
    would otherwise promote float32 parameters to float64)."""
    if not callable(lr):
        return lr
    value = lr(step)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"the learning-rate schedule {getattr(lr, '__name__', lr)!r} returned a "
                        f"{type(value).__name__} at step {step}; it must return a Python float")
    return _check_number(f"the learning rate at step {step}", value)


def _check_steps(name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return int(value)


def _check_step_arg(step):
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"a schedule takes the step number, an int; got {type(step).__name__}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return int(step)


def step_decay(lr, step_size, gamma):
    """`lr * gamma ** (step // step_size)`: multiply by `gamma` every `step_size`
    steps (PyTorch's StepLR), the classic staircase for SGD."""
    lr = _check_number("lr", lr)
    step_size = _check_steps("step_size", step_size)
    gamma = _check_number("gamma", gamma)

    def schedule(step):
        return lr * gamma ** (_check_step_arg(step) // step_size)
    schedule.__qualname__ = schedule.__name__ = f"step_decay(lr={lr}, step_size={step_size}, gamma={gamma})"
    return schedule


def cosine(lr, total_steps, final_lr=0.0):
    """Cosine annealing from `lr` at step 0 to `final_lr` at `total_steps`, and
    `final_lr` after: `final_lr + (lr - final_lr) * (1 + cos(pi*step/total_steps)) / 2`
    (PyTorch's CosineAnnealingLR with T_max=total_steps, eta_min=final_lr).
    It decays fast in the middle and gently at both ends."""
    lr = _check_number("lr", lr)
    total_steps = _check_steps("total_steps", total_steps)
    final_lr = _check_number("final_lr", final_lr)

    def schedule(step):
        step = min(_check_step_arg(step), total_steps)
        return final_lr + (lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    schedule.__qualname__ = schedule.__name__ = \
        f"cosine(lr={lr}, total_steps={total_steps}, final_lr={final_lr})"
    return schedule


def warmup(schedule_or_lr, warmup_steps):
    """Linear warm-up, then `schedule_or_lr` (a float or a schedule).

    Steps 0 .. warmup_steps-1 use `base(0) * (step + 1) / warmup_steps` -- no
    wasted zero step, full rate on the last warm-up step -- and later steps
    use `base(step - warmup_steps)`: the schedule starts when the warm-up
    ends (so `warmup(cosine(lr, T), W)` decays over steps W .. W+T). Adam's
    second-moment estimate is noisy over the first steps; a small rate there
    keeps the first updates from being huge."""
    base = schedule_or_lr if callable(schedule_or_lr) else _constant(_check_number("lr", schedule_or_lr))
    warmup_steps = _check_steps("warmup_steps", warmup_steps, allow_zero=True)

    def schedule(step):
        step = _check_step_arg(step)
        if step < warmup_steps:
            return _check_number("the schedule's value at step 0", base(0)) * (step + 1) / warmup_steps
        return base(step - warmup_steps)
    schedule.__qualname__ = schedule.__name__ = \
        f"warmup({getattr(base, '__name__', repr(base))}, warmup_steps={warmup_steps})"
    return schedule


def _constant(lr):
    def schedule(step):
        _check_step_arg(step)
        return lr
    schedule.__qualname__ = schedule.__name__ = repr(lr)
    return schedule


# --------------------------------------------------------------------------
# optimisers

class SGDState(NamedTuple):
    """SGD's state: the number of updates taken, and the momentum buffers (a
    pytree like params; None when momentum is 0)."""
    step: int
    velocity: Any


class AdamState(NamedTuple):
    """Adam's / AdamW's state: the number of updates taken, and the first
    (`mu`) and second (`nu`) moment estimates, pytrees like params."""
    step: int
    mu: Any
    nu: Any


class _Optimizer:
    """Shared plumbing: the learning rate, state checks, pytree traversal."""

    _state_type = None

    def learning_rate(self, state_or_step):
        """The learning rate the next `update` from this state (or at this
        step number) uses -- a Python float."""
        step = state_or_step.step if isinstance(state_or_step, tuple) else _check_step_arg(state_or_step)
        return _lr_at(self.lr, step)

    def _check_state(self, state):
        if not isinstance(state, self._state_type):
            raise TypeError(f"{type(self).__name__}.update expects the {self._state_type.__name__} "
                            f"made by {type(self).__name__}.init, got {type(state).__name__}")

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({args})"


class SGD(_Optimizer):
    """Stochastic gradient descent, with optional heavy-ball or Nesterov
    momentum and L2 weight decay, as `torch.optim.SGD` (dampening 0).

    Momentum averages gradients over roughly `1/(1-momentum)` steps, which
    speeds progress along shallow, consistent directions of the loss and
    damps oscillation across steep ones."""

    _state_type = SGDState

    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.lr = _check_lr(lr)
        self.momentum = _check_number("momentum", momentum)
        self.weight_decay = _check_number("weight_decay", weight_decay)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be a bool, got {type(nesterov).__name__}")
        if nesterov and self.momentum == 0:
            raise ValueError("Nesterov momentum requires momentum > 0")
        self.nesterov = nesterov

    def _hyper(self):
        return dict(lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                    weight_decay=self.weight_decay)

    def init(self, params):
        """The state before the first update: step 0, zero momentum buffers."""
        velocity = None
        if self.momentum:
            velocity = _tree_map(lambda path, p: _zeros(p) if _is_float_leaf(p) else None,
                                 [params], ["params"])
        return SGDState(0, velocity)

    def update(self, params, grads, state):
        """One step: returns `(new_params, new_state)`; the inputs are untouched."""
        self._check_state(state)
        lr = _lr_at(self.lr, state.step)
        mom, wd, nesterov = self.momentum, self.weight_decay, self.nesterov

        if not mom:
            def leaf(path, p, g):
                if not _check_pair(path, p, g):
                    return p
                if wd:
                    g = g + wd * p
                return p - lr * g
            new_params = _tree_map(leaf, [params, grads], ["params", "grads"])
            return new_params, SGDState(state.step + 1, None)

        if state.velocity is None:
            raise ValueError("this SGDState has no momentum buffers: it was made by an SGD "
                             "without momentum; call init of this optimiser")

        def leaf(path, p, g, v):
            if not _check_pair(path, p, g):
                return p, v
            _check_buffer(path, p, v, "state.velocity")
            if wd:
                g = g + wd * p
            v = mom * v + g           # v starts at 0, so the first v is g, as PyTorch's first buffer
            direction = g + mom * v if nesterov else v
            return p - lr * direction, v

        pairs = _tree_map(leaf, [params, grads, state.velocity], ["params", "grads", "state.velocity"])
        new_params, velocity = _unzip(params, pairs, 2)
        return new_params, SGDState(state.step + 1, velocity)


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015), defaults from the paper: lr=1e-3,
    betas=(0.9, 0.999), eps=1e-8; `weight_decay` adds `wd*p` to the gradient
    (L2 regularisation, as `torch.optim.Adam`).

    Each coordinate's step is scaled by a running estimate of its gradient's
    magnitude, so badly scaled parameters still move at about `lr` per step;
    bias correction undoes the zero initialisation of the running averages."""

    _state_type = AdamState
    _decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr = _check_lr(lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_number("betas[0]", betas[0], 0.0, 1.0, high_open=True),
                      _check_number("betas[1]", betas[1], 0.0, 1.0, high_open=True))
        self.eps = _check_number("eps", eps)
        self.weight_decay = _check_number("weight_decay", weight_decay)

    def _hyper(self):
        return dict(lr=self.lr, betas=self.betas, eps=self.eps, weight_decay=self.weight_decay)

    def init(self, params):
        """The state before the first update: step 0, zero moment estimates."""
        def zeros(path, p):
            return _zeros(p) if _is_float_leaf(p) else None
        return AdamState(0, _tree_map(zeros, [params], ["params"]),
                         _tree_map(zeros, [params], ["params"]))

    def update(self, params, grads, state):
        """One step: returns `(new_params, new_state)`; the inputs are untouched."""
        self._check_state(state)
        lr = _lr_at(self.lr, state.step)
        b1, b2 = self.betas
        eps, wd, decoupled = self.eps, self.weight_decay, self._decoupled
        t = state.step + 1
        step_size = lr / (1.0 - b1 ** t)              # PyTorch's arrangement of the bias corrections
        bc2_sqrt = (1.0 - b2 ** t) ** 0.5

        def leaf(path, p, g, m, v):
            if not _check_pair(path, p, g):
                return p, m, v
            _check_buffer(path, p, m, "state.mu")
            _check_buffer(path, p, v, "state.nu")
            if wd and not decoupled:
                g = g + wd * p
            m = b1 * m + (1.0 - b1) * g
            v = b2 * v + (1.0 - b2) * (g * g)
            if wd and decoupled:
                p = p - (lr * wd) * p
            return p - step_size * (m / (v ** 0.5 / bc2_sqrt + eps)), m, v

        triples = _tree_map(leaf, [params, grads, state.mu, state.nu],
                            ["params", "grads", "state.mu", "state.nu"])
        new_params, mu, nu = _unzip(params, triples, 3)
        return new_params, AdamState(t, mu, nu)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as
    `torch.optim.AdamW`: `p = p - lr*weight_decay*p` beside the Adam step,
    default weight_decay=1e-2.

    With L2 in the gradient (Adam's `weight_decay`) the adaptive scaling
    weakens the decay of parameters with large gradients; decoupled decay
    shrinks every weight by the same factor."""

    _decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def _unzip(like, tree, n):
    """Split a tree whose leaves are n-tuples into n trees shaped like `like`."""
    def walk(like_node, node):
        kids = pytrees.children(like_node)
        if kids is None:
            return node
        parts = [walk(c, pytrees.child(node, k)) for k, c in kids]
        return tuple(pytrees.rebuild(like_node, [part[i] for part in parts]) for i in range(n))

    return walk(like, tree)
