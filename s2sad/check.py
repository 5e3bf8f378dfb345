"""`check_grad`: s2sad's gradient against central finite differences.

The tool to reach for when a gradient looks wrong.  Both sides are computed
on float64 copies of the arguments (float32 differences are too noisy to
tell a wrong rule from rounding), and the comparison is one number per
element that can be read against `rtol` directly:

    err = |g - n| / max(|g|, |n|, atol / rtol)

so `err <= rtol` means `|g - n| <= rtol * max(|g|, |n|)`, or `<= atol` for
gradients near zero (where finite differences only carry absolute accuracy).
"""

import inspect

import numpy as np

from .runtime import pytrees
from .api import grad
from .bound import name_of, unbound


class GradientCheckError(AssertionError):
    """s2sad's gradient disagrees with finite differences (an AssertionError,
    so a failed check in a test reads as a failed assertion)."""


def check_grad(f, *args, wrt=0, rtol=1e-5, atol=1e-6, eps=1e-6, verbose=False):
    """Compare `s2sad.grad(f, wrt)(*args)` with central finite differences.

    `wrt` is an argument index or name, or a tuple of them.  Arguments may be
    floats, floating arrays, or pytrees (dicts, lists, tuples, named
    tuples, dataclasses, registered classes) of them; ints
    and other leaves inside a pytree are not checked.  Each element of each
    checked argument is perturbed by +-eps in turn, so the check costs
    2 * n evaluations of `f` for n checked elements (O(n)): meant for small
    inputs.

    Returns a dict {parameter name: worst relative error} in the order of
    `wrt` (the error as defined in this module's docstring; inf for NaN or
    infinite values).  Raises `GradientCheckError` (an AssertionError) naming
    each argument above `rtol`, with its worst element's index, both values
    and the error.  `verbose=True` prints a table of every checked leaf.
    """
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, not {rtol!r}")
    try:
        bound = inspect.signature(f).bind(*[_float64(a) for a in args])
    except TypeError as exc:
        raise TypeError(f"check_grad: {name_of(f)}(): {exc}") from None
    wrts = tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,)
    df = grad(f, wrt=wrts)                              # checks `wrt`, names each parameter
    names = list(unbound(df, (), {})[0].__s2sad__.wrt)
    for name in names:
        if name not in bound.arguments:
            raise TypeError(f"check_grad: pass {name_of(f)}'s argument {name!r} explicitly "
                            f"(a default is not checked)")
        if type(bound.arguments[name]) is int:          # s2sad takes a Python int as a float
            bound.arguments[name] = float(bound.arguments[name])
    grads = df(*bound.args, **bound.kwargs)

    def value_at(name, path, leaf):
        saved = bound.arguments[name]
        bound.arguments[name] = pytrees.replace(saved, path, leaf)
        try:
            out = np.asarray(f(*bound.args, **bound.kwargs))
        finally:
            bound.arguments[name] = saved
        if out.size != 1:
            raise ValueError(f"check_grad: {name_of(f)} must return a scalar, "
                             f"not shape {out.shape}")
        return float(out.reshape(()))

    rows, worst = [], {}
    for name, g_tree in zip(names, grads):
        worst[name] = 0.0
        for path, leaf in _leaves(bound.arguments[name]):
            numeric = _central_differences(lambda v: value_at(name, path, v), leaf, eps)
            g = pytrees.at(g_tree, path)
            g = np.zeros_like(numeric) if g is None else np.asarray(g, dtype=np.float64)
            label = pytrees.path_text(name, path)
            if g.shape != numeric.shape:
                raise GradientCheckError(f"check_grad({name_of(f)}): the gradient of {label} has "
                                         f"shape {g.shape}, the argument has shape {numeric.shape}")
            if not g.size:
                continue
            scale = np.maximum(np.maximum(np.abs(g), np.abs(numeric)), atol / rtol)
            with np.errstate(invalid="ignore"):
                err = np.abs(g - numeric) / scale
            err = np.where(np.isfinite(err), err, np.inf)          # NaN or inf: a failure
            i = tuple(int(k) for k in np.unravel_index(np.argmax(err), err.shape))
            rows.append((label, err.size, i, float(g[i]), float(numeric[i]), float(err[i]),
                         int(np.sum(err > rtol))))
            worst[name] = max(worst[name], float(err[i]))
    if verbose:
        print(_table(f, rows, rtol, atol, eps))
    bad = [r for r in rows if r[5] > rtol]
    if bad:
        lines = [f"s2sad's gradient of {name_of(f)} disagrees with central differences "
                 f"(rtol={rtol:g}, atol={atol:g}, eps={eps:g}):"]
        for label, size, i, g, n, e, count in bad:
            where = f"{count} of {size} elements differ; worst at index {i}: " if i else ""
            lines.append(f"  argument {label}: {where}s2sad {g:.10g}, numeric {n:.10g}, "
                         f"relative error {e:.3g}")
        raise GradientCheckError("\n".join(lines))
    return worst


def _float64(value):
    """A float64 copy of `value` (floating arrays and scalars, through pytrees);
    copies also keep `f` from changing the caller's arrays between evaluations."""
    kids = pytrees.children(value)
    if kids is not None:
        return pytrees.rebuild(value, [_float64(v) for _, v in kids])
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype.kind == "f" else value.copy()
    if isinstance(value, np.floating):
        return np.float64(value)
    return value


def _leaves(tree):
    """(path, leaf) of each float leaf (Python float, floating scalar or array)."""
    return [(path, leaf) for path, leaf in pytrees.leaves(tree)
            if isinstance(leaf, (float, np.floating)) or
            isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f"]


def _central_differences(value_at, leaf, eps):
    """(value_at(leaf + eps e_i) - value_at(leaf - eps e_i)) / 2 eps for each i."""
    if not isinstance(leaf, np.ndarray):
        return np.array((value_at(leaf + eps) - value_at(leaf - eps)) / (2 * eps))
    out = np.zeros(leaf.shape)
    for i in np.ndindex(leaf.shape):
        plus, minus = leaf.copy(), leaf.copy()
        plus[i] += eps
        minus[i] -= eps
        out[i] = (value_at(plus) - value_at(minus)) / (2 * eps)
    return out


def _table(f, rows, rtol, atol, eps):
    evaluations = 2 * sum(r[1] for r in rows)
    lines = [f"check_grad({name_of(f)}): central differences, eps={eps:g}, rtol={rtol:g}, "
             f"atol={atol:g} ({evaluations} evaluations)"]
    header = ("argument", "size", "worst index", "s2sad", "numeric", "rel. error", "")
    cells = [header] + [(label, str(size), str(i) if i else "-", f"{g:.8g}", f"{n:.8g}", f"{e:.2e}",
                         "ok" if e <= rtol else f"FAIL ({count} elements)")
                        for label, size, i, g, n, e, count in rows]
    widths = [max(len(c[j]) for c in cells) for j in range(len(header))]
    for c in cells:
        lines.append("  ".join(s.ljust(w) for s, w in zip(c, widths)).rstrip())
    return "\n".join(lines)
