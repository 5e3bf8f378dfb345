"""Functions bound in part: `s2sad.grad(functools.partial(loss, X=X, y=y))`.

A partial has no source of its own, but its function has.  The API
differentiates the function itself, `wrt` counted over the parameters the
partial leaves free (as in JAX), and each call passes the bound values as
the partial would: its positional arguments first, its keywords under the
call's own.  So a partial's gradient is exactly its function's, built and
cached the same way, with the same generated source (`def dloss(w, X, y)`).
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable


def name_of(f: Callable) -> str:
    """The name errors give `f` (a partial's: its function's)."""
    f = f.func if isinstance(f, functools.partial) else f
    name = getattr(f, "__name__", None) or type(f).__name__
    return "lambda" if name == "<lambda>" else name


def through_partial(transform: Callable) -> Callable:
    """Make `transform(f, wrt, ...)` (grad, jvp, hvp, ...) accept a partial:
    it transforms the partial's function, `wrt` mapped from the partial's free
    parameters to the function's names, and its result is called with the
    bound arguments put back."""

    @functools.wraps(transform)
    def transform_partial(f=None, wrt=0, *options, **keywords):
        if not isinstance(f, functools.partial):
            return transform(f, wrt, *options, **keywords)
        func, lead, bound = f.func, f.args, f.keywords
        inner = transform(func, _wrt_of_function(f, wrt), *options, **keywords)

        def call(*args, **kwargs):
            return inner(*lead, *args, **{**bound, **kwargs})

        call.__name__ = call.__qualname__ = inner.__name__
        call.__doc__ = inner.__doc__
        call.__s2sad_bound__ = (inner, lead, bound)
        return call

    return transform_partial


def unbound(df: Callable, args: tuple, kwargs: dict):
    """(the function transformed, the call's full arguments) for a function
    `through_partial` made; (df, args, kwargs) for any other."""
    entry = getattr(df, "__s2sad_bound__", None)
    if entry is None:
        return df, args, kwargs
    inner, lead, bound = entry
    return inner, (*lead, *args), {**bound, **kwargs}


def _wrt_of_function(p, wrt):
    """`wrt` over the partial's free parameters, as the function's parameter names."""
    try:
        free = _free_parameters(p)
    except (TypeError, ValueError):
        return wrt                      # no signature: the transform says why
    several = isinstance(wrt, (tuple, list))
    names = []
    for w in (wrt if several else (wrt,)):
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            names.append(w)             # the transform's own check says what is wrong
        elif isinstance(w, int):
            if not -len(free) <= w < len(free):
                raise ValueError(f"wrt={w} is out of range: the partial of {name_of(p)} leaves "
                                 f"{len(free)} parameters free {tuple(free)}")
            names.append(free[w])
        else:
            if w not in free:
                raise ValueError(f"wrt={w!r}: the partial of {name_of(p)} leaves no parameter "
                                 f"named {w!r} free (its free parameters are {tuple(free)})")
            names.append(w)
    return tuple(names) if several else names[0]


def _free_parameters(p):
    """The names of the parameters partial `p` leaves free (of a function s2sad
    made, such as a gradient: those of the function it transforms)."""
    state = getattr(p.func, "__s2sad__", None)
    if state is not None:
        def stand_in(*args, **kwargs):
            pass
        stand_in.__signature__ = state.signature
        p = functools.partial(stand_in, *p.args, **p.keywords)
    return list(inspect.signature(p).parameters)
