"""Functions bound in part: `functools.partial(loss, X=X, y=y)` as a plain
function s2sad can read.

A partial has no source of its own.  It becomes a generated function of the
parameters it leaves free, `def loss_partial(w, *, X=X, y=y): return
loss(w, X=X, y=y)`: its globals hold the function and the values bound by
position, its keyword defaults are the values bound by keyword (a call may
still override them, as with the partial).  The function is then
differentiated as a helper of the wrapper, and `wrt` counts over the free
parameters, as in JAX.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from typing import Callable

import gast

from .emit import FunctionSpec, compile_function

_WRAPPERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # partial -> its function


def as_function(f: Callable) -> Callable:
    """`f` itself, or for a `functools.partial` the generated function that
    calls it (one per partial object, so its builds are cached with it)."""
    if not isinstance(f, functools.partial):
        return f
    wrapper = _WRAPPERS.get(f)
    if wrapper is None:
        wrapper = _WRAPPERS[f] = _wrapper(f)
    return wrapper


def name_of(f: Callable) -> str:
    """The name errors and generated functions give `f` (a partial's: its function's)."""
    f = f.func if isinstance(f, functools.partial) else f
    return getattr(f, "__name__", None) or type(f).__name__


def _wrapper(p):
    func, name = p.func, name_of(p)
    if not name.isidentifier():
        name = "fn"                     # a lambda's `<lambda>`
    try:
        params = list(inspect.signature(func).parameters.values())
        free = list(inspect.signature(p).parameters.values())
    except (TypeError, ValueError):
        return p                        # no signature: parsing the partial says why
    taken = {name, "np"} | {q.name for q in free}
    namespace = {name: func}
    passed = []
    positional = [q for q in params if q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)]
    for i, value in enumerate(p.args):  # bound by position: a global named after its parameter
        word = positional[i].name if i < len(positional) else f"arg{i}"
        glob = word
        while glob in taken:
            glob += "_"
        taken.add(glob)
        namespace[glob] = value
        passed.append(glob)
    header, defaults, kwdefaults, star = [], [], {}, False
    for q in free:
        if q.kind is q.VAR_POSITIONAL:
            header.append(f"*{q.name}")
            passed.append(f"*{q.name}")
            star = True
        elif q.kind is q.VAR_KEYWORD:
            header.append(f"**{q.name}")
            passed.append(f"**{q.name}")
        elif q.kind is q.KEYWORD_ONLY:
            if not star:
                header.append("*")
                star = True
            has_default = q.default is not q.empty
            header.append(f"{q.name}={q.name}" if has_default else q.name)
            if has_default:
                kwdefaults[q.name] = q.default
            passed.append(f"{q.name}={q.name}")
        else:
            if q.default is not q.empty:
                defaults.append(q.default)
                header.append(f"{q.name}={q.name}")
            else:
                header.append(q.name)
            passed.append(q.name)
    body = gast.parse(f"return {name}({', '.join(passed)})").body
    spec = FunctionSpec(name=f"{name}_partial", params=", ".join(header), body=body,
                        globals=namespace, defaults=tuple(defaults) or None,
                        kwdefaults=kwdefaults or None, origin=f"functools.partial of {name}")
    wrapper, _ = compile_function(spec)
    wrapper.__wrapped_partial__ = p
    return wrapper
