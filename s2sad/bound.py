"""Functions bound in part: `s2sad.grad(functools.partial(loss, X=X, y=y))`,
`s2sad.grad(model.loss)`, `s2sad.grad(model)`.

A partial, a bound method or a callable object has no source of its own,
but its function has (the partial's function, the method's function, the
class's `__call__`).  The API differentiates that function, `wrt` counted
over the parameters left free (as in JAX; a method's after `self`), and
each call passes the bound values as Python would: the bound positional
arguments (`self`) first, the bound keywords under the call's own.  So the
gradient is exactly the function's, built and cached the same way, with
the same generated source (`def dloss(w, X, y)`).
"""

from __future__ import annotations

import functools
import inspect
import types
from typing import Callable


def name_of(f: Callable) -> str:
    """The name errors give `f` (a partial's or a method's: its function's)."""
    unbound_ = _unbind(f)
    f = unbound_[0] if unbound_ is not None else f
    name = getattr(f, "__name__", None) or type(f).__name__
    return "lambda" if name == "<lambda>" else name


def _unbind(f):
    """(function, bound positional arguments, bound keywords) of a partial, a
    bound method or a callable object whose function is Python's; else None."""
    if isinstance(f, functools.partial):
        return f.func, f.args, f.keywords
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        return f.__func__, (f.__self__,), {}
    call = getattr(type(f), "__call__", None)
    if isinstance(call, types.FunctionType) and not isinstance(f, (type, types.FunctionType)):
        return call, (f,), {}
    return None


def through_bound(transform: Callable) -> Callable:
    """Make `transform(f, wrt, ...)` (grad, jvp, hvp, ...) accept a partial, a
    bound method or a callable object: it transforms their function, `wrt`
    mapped from the free parameters to the function's names, and its result
    is called with the bound arguments put back."""

    @functools.wraps(transform)
    def transform_bound(f=None, wrt=0, *options, **keywords):
        unbound_ = _unbind(f) if f is not None else None
        if unbound_ is None:
            return transform(f, wrt, *options, **keywords)
        func, lead, bound = unbound_
        inner = transform(func, _wrt_of_function(f, func, lead, bound, wrt), *options, **keywords)

        def call(*args, **kwargs):
            return inner(*lead, *args, **{**bound, **kwargs})

        call.__name__ = call.__qualname__ = inner.__name__
        call.__doc__ = inner.__doc__
        call.__s2sad_bound__ = (inner, lead, bound)
        return call

    return transform_bound


def unbound(df: Callable, args: tuple, kwargs: dict):
    """(the function transformed, the call's full arguments) for a function
    `through_bound` made; (df, args, kwargs) for any other."""
    entry = getattr(df, "__s2sad_bound__", None)
    if entry is None:
        return df, args, kwargs
    inner, lead, bound = entry
    return inner, (*lead, *args), {**bound, **kwargs}


def _wrt_of_function(f, func, lead, bound, wrt):
    """`wrt` over the free parameters of `f`, as its function's parameter names."""
    try:
        free = _free_parameters(func, lead, bound)
    except (TypeError, ValueError):
        return wrt                      # no signature: the transform says why
    several = isinstance(wrt, (tuple, list))
    names = []
    for w in (wrt if several else (wrt,)):
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            names.append(w)             # the transform's own check says what is wrong
        elif isinstance(w, int):
            if not -len(free) <= w < len(free):
                raise ValueError(f"wrt={w} is out of range: {_what(f)} leaves "
                                 f"{len(free)} parameters free {tuple(free)}")
            names.append(free[w])
        else:
            if w not in free:
                raise ValueError(f"wrt={w!r}: {_what(f)} leaves no parameter named {w!r} "
                                 f"free (its free parameters are {tuple(free)})")
            names.append(w)
    return tuple(names) if several else names[0]


def _free_parameters(func, lead, bound):
    """The names of the parameters `func` with `lead` and `bound` given leaves
    free (of a function s2sad made, such as a gradient: those of the
    function it transforms)."""
    state = getattr(func, "__s2sad__", None)
    if state is not None:
        def stand_in(*args, **kwargs):
            pass
        stand_in.__signature__ = state.signature
        func = stand_in
    return list(inspect.signature(functools.partial(func, *lead, **bound)).parameters)


def _what(f):
    if isinstance(f, functools.partial):
        return f"the partial of {name_of(f)}"
    if isinstance(f, types.MethodType):
        return f"the method {name_of(f)}"
    return f"the {type(f).__name__} object"
