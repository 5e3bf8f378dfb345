"""Higher order: Hessian-vector products, Jacobians and Hessians.

All three are compositions of the two transformations s2sad has, since
the code `grad` generates is ordinary Python that `jvp` transforms again:

* `hvp(f)` is forward over reverse, `jvp(grad(f))`: one Hessian-vector
  product costs about two gradients and never forms the Hessian;
* `jacobian(f)` stacks one `jvp` per input element ("fwd") or one
  vector-Jacobian product per output element ("rev", the gradient of the
  generated wrapper `sum(f(...) * w)`), whichever needs fewer sweeps;
* `hessian(f)` stacks one `hvp` per input element.

The returned functions are thin loops over generated code, so what they
cost is the sweeps they run.
"""

from __future__ import annotations

import inspect
import itertools
import linecache
from typing import Callable

import numpy as np

from .runtime import pytrees
from .api import Wrt, check_tangent, forward_mode, grad
from .bound import through_bound
from .runtime import zeros_like_value

_wrappers = itertools.count()


def _name(f):
    name = getattr(f, "__name__", None) or type(f).__name__
    return "lambda" if name == "<lambda>" else name


def _check_callable(f, what):
    if not callable(f):
        raise TypeError(f"s2sad.{what} expects a function, not {type(f).__name__}")


def _signature(f):
    """f's own signature (a function made by s2sad has that of the function it transforms)."""
    state = getattr(f, "__s2sad__", None)
    return state.signature if state is not None else inspect.signature(f)


def _wrt_name(f, sig, wrt):
    """The parameter name one `wrt` (index or name) stands for."""
    params = list(sig.parameters)
    if isinstance(wrt, bool) or not isinstance(wrt, (int, str)):
        raise TypeError(f"wrt must be one argument index or name, not {wrt!r}")
    if isinstance(wrt, int):
        if not -len(params) <= wrt < len(params):
            raise ValueError(f"wrt={wrt} is out of range: {_name(f)} has parameters "
                             f"{tuple(params)}")
        return params[wrt]
    if wrt not in params:
        raise ValueError(f"wrt={wrt!r}: {_name(f)} has no parameter named {wrt!r}")
    return wrt


def _bind(fname, sig, args, kwargs):
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{fname}(): {exc}") from None
    bound.apply_defaults()
    return bound.arguments


def _input(fname, param, x):
    """The one argument a Jacobian or Hessian is taken with respect to: a
    float, a floating array, or a pytree holding some."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    if _is_float_array(x) or pytrees.children(x) is not None and _float_leaves(x):
        return x
    what = type(x).__name__ + (f" of dtype {x.dtype}" if hasattr(x, "dtype") else "")
    raise TypeError(f"{fname}(): cannot differentiate with respect to {param!r}: it is {what}; "
                    f"pass a float, a floating-point array, or a pytree of them")


def _is_float_array(x):
    return getattr(x, "dtype", None) is not None and x.dtype.kind == "f" and hasattr(x, "shape")


def _float_leaves(x):
    """(path, leaf) of the leaves of `x` a derivative is taken along ((), x) for
    a float or an array)."""
    return [(path, float(leaf) if isinstance(leaf, int) and path == () else leaf)
            for path, leaf in pytrees.leaves(x)
            if isinstance(leaf, float) or _is_float_array(leaf)]


def _units(x, path, leaf):
    """Tangents of x's structure, zero but for one element of the leaf at `path`."""
    zero = zeros_like_value(x)
    for e in _basis(leaf):
        yield pytrees.replace(zero, path, e)


def _by_leaf(x, parts):
    """A pytree of x's structure holding `parts[path]` at each float leaf
    (None at the others); for a float or an array x, `parts[()]` itself."""
    return pytrees.map_leaves(lambda path, _: parts.get(path), x)


def _basis(x):
    """The unit vectors of x's space, shaped like x (1.0 for a float)."""
    if isinstance(x, float):
        yield 1.0
        return
    for i in range(x.size):
        e = np.zeros_like(x, order="C")     # (C order: `reshape(-1)` is a view of e)
        e.reshape(-1)[i] = 1
        yield e


def _stack(parts, shape, axis=-1):
    """Parts computed one element each, stacked on `axis`, as one array of `shape`."""
    if not parts:
        return np.zeros(shape)
    return np.stack(parts, axis=axis).reshape(shape) if shape else parts[0]


@through_bound
def hvp(f: Callable, wrt: Wrt = 0, *, compile: str | None = None) -> Callable:
    """`hvp(f, wrt)(*args, v)`: the Hessian of scalar `f` w.r.t. argument(s)
    `wrt` times `v`, by forward over reverse (the jvp of the generated
    gradient), so the Hessian is never formed. `v` has the structure of the
    `wrt` argument, a tuple of them for a tuple `wrt`.  `compile="numba"`
    compiles that generated code (as `grad`'s)."""
    _check_callable(f, "hvp")
    fname = _name(f)
    inner = grad(f, wrt)
    if compile:             # the gradient in Numba-friendly forms (stacks as arrays), not compiled
        inner.__s2sad__.compile = "lowered"
    forward = forward_mode(inner, wrt, tangent_only=True, compile=compile)   # builds nothing yet
    sig = _signature(f)
    several = isinstance(wrt, (tuple, list))
    params = [_wrt_name(f, sig, w) for w in (wrt if several else (wrt,))]

    def hessian_vector_product(*args, **kwargs):
        if not args:
            raise TypeError(f"{name}() needs the arguments of {fname} and a vector v")
        *args, v = args
        bound = _bind(name, sig, args, kwargs)
        vs = v if several else (v,)
        if several and (not isinstance(v, (tuple, list)) or len(v) != len(params)):
            raise TypeError(f"{name}(): give v as a tuple of {len(params)} vectors, one per "
                            f"wrt argument {tuple(params)}")
        for p, t in zip(params, vs):
            check_tangent(name, p, bound[p], t)
        return forward(*args, v, **kwargs)

    name = "hvp_" + fname
    hessian_vector_product.__s2sad__ = forward.__s2sad__   # (its generated code: a jvp's)
    hessian_vector_product.__name__ = hessian_vector_product.__qualname__ = name
    hessian_vector_product.__doc__ = (
        f"Hessian of {fname} w.r.t. {', '.join(params)} times v (forward over reverse, "
        f"generated by s2sad): {name}(*args, v).")
    return hessian_vector_product


def _weighted_sum(f, sig):
    """`sum(f(...) * w)`, whose gradient is the vector-Jacobian product w^T J,
    and the name of its parameter w.  It is generated as source (registered in
    linecache) so that s2sad can read it: s2sad does not transform *args."""
    params = list(sig.parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        raise TypeError(f"s2sad.jacobian(mode='rev') needs {_name(f)} to name its parameters")
    names = [p.name for p in params]
    w = "cotangent"
    while w in names:
        w += "_"
    passed = ", ".join(p.name if p.kind is not p.KEYWORD_ONLY else f"{p.name}={p.name}"
                       for p in params)
    vjp_name = "vjp_" + _name(f)
    text = (f"def {vjp_name}({', '.join(names + [w])}):\n"
            f"    return np.sum(f({passed}) * {w})\n")
    filename = f"<s2sad {vjp_name} #{next(_wrappers)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    scope = {"np": np, "f": f, "__name__": "s2sad_generated_wrapper"}
    exec(compile(text, filename, "exec"), scope)
    return scope[vjp_name], w


@through_bound
def jacobian(f: Callable, wrt: Wrt = 0, mode: str | None = None) -> Callable:
    """`jacobian(f, wrt)(*args)`: the derivative of `f` w.r.t. one argument as an
    array of shape `out.shape + in.shape` ((m, n) for R^n -> R^m).

    mode "fwd" runs one jvp per input element, "rev" one reverse sweep per
    output element; None picks "fwd" when the input has no more elements than
    the output, else "rev"."""
    _check_callable(f, "jacobian")
    if mode not in (None, "fwd", "rev"):
        raise ValueError(f"mode must be None, 'fwd' or 'rev', not {mode!r}")
    fname = _name(f)
    sig = _signature(f)
    param = _wrt_name(f, sig, wrt)
    forward = forward_mode(f, wrt, tangent_only=True)
    reverse = {}                               # the rev-mode gradient, built at first use

    def vjp(args, kwargs, w):
        """w^T J: the gradient of the weighted sum, every argument by name (defaults too)."""
        target = f
        state = getattr(f, "__s2sad__", None)
        if state is not None:                  # read the generated code, not s2sad's wrapper
            if getattr(state, "forward", False):
                raise TypeError(f"{name}(): mode='rev' cannot take the Jacobian of a jvp; "
                                f"use mode='fwd'")
            target = state.lookup(tuple(args), kwargs).function
        if target not in reverse:
            wrapper, w_name = _weighted_sum(target, sig)
            reverse[target] = grad(wrapper, wrt=param), w_name
        gradient, w_name = reverse[target]
        return gradient(**_bind(name, sig, args, kwargs), **{w_name: w})

    def jacobian_function(*args, **kwargs):
        x = _input(name, param, _bind(name, sig, args, kwargs)[param])
        along = _float_leaves(x)
        in_size = sum(int(np.size(leaf)) for _, leaf in along)
        out = f(*args, **kwargs)
        how = mode or ("fwd" if in_size <= np.size(out) else "rev")
        if how == "fwd":
            return _by_leaf(x, {path: _stack([forward(*args, e, **kwargs) for e in _units(x, path, leaf)],
                                             np.shape(out) + np.shape(leaf))
                                for path, leaf in along})
        rows = []
        dtype = np.result_type(getattr(out, "dtype", float), *[getattr(v, "dtype", float) for _, v in along])
        for i in range(np.size(out)):
            w = np.zeros_like(out, dtype=dtype, order="C")
            w.reshape(-1)[i] = 1
            rows.append(vjp(args, kwargs, w))
        return _by_leaf(x, {path: _stack([pytrees.at(r, path) for r in rows], np.shape(out) + np.shape(leaf),
                                         axis=0)                # one row per output element
                            for path, leaf in along})

    name = "jacobian_" + fname
    jacobian_function.__s2sad_stacked__ = "jacobian"          # (refused inside a loss: nested.py)
    jacobian_function.__name__ = jacobian_function.__qualname__ = name
    jacobian_function.__doc__ = (
        f"Jacobian of {fname} w.r.t. {param} (generated by s2sad, mode {mode or 'by size'}): "
        f"shape out.shape + {param}.shape.")
    return jacobian_function


@through_bound
def hessian(f: Callable, wrt: Wrt = 0) -> Callable:
    """`hessian(f, wrt)(*args)`: the Hessian of scalar `f` w.r.t. one argument,
    of shape `in.shape + in.shape`: the Jacobian of the gradient, one
    Hessian-vector product per input element."""
    _check_callable(f, "hessian")
    fname = _name(f)
    sig = _signature(f)
    param = _wrt_name(f, sig, wrt)
    product = hvp(f, wrt)

    def hessian_function(*args, **kwargs):
        x = _input(name, param, _bind(name, sig, args, kwargs)[param])
        along = _float_leaves(x)
        blocks = {}                         # {(row leaf, column leaf): block}
        for col, leaf in along:
            cols = [product(*args, e, **kwargs) for e in _units(x, col, leaf)]
            for row, row_leaf in along:
                blocks[row, col] = _stack([pytrees.at(c, row) for c in cols],
                                          np.shape(row_leaf) + np.shape(leaf))
        return _by_leaf(x, {row: _by_leaf(x, {col: blocks[row, col] for col, _ in along})
                            for row, _ in along})

    name = "hessian_" + fname
    hessian_function.__s2sad_stacked__ = "hessian"
    hessian_function.__name__ = hessian_function.__qualname__ = name
    hessian_function.__doc__ = (f"Hessian of {fname} w.r.t. {param} (generated by s2sad): "
                                f"shape {param}.shape * 2.")
    return hessian_function
