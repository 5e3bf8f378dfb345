"""The rule registry: from a function object to its gradient rules.

Rules are data, not code paths.  A reverse rule is an ordinary Python
function in the form users register with (`s2sad.adjoint`):

    @adjoint(np.exp)
    def _(g, result, x):
        return g * result

`g` is the adjoint of the result, then come the result and the call's
arguments as the call site passes them.  The transformer inlines a rule's
body at the call site where it is simple (see `templates`), so the
generated code shows the math.  The built-in rules use this very form, one
family per module (`elementwise`, `reductions`, `linalg`, `shapes`,
`indexing`; `runtime_rules` for what generated code calls, `tangents` for
the few forward rules that do not follow from a function's facts).  A
function's rule and its facts (`@adjoint(np.sin, elementwise=True)`, see
`Facts`) are declared together.

Branches in a rule on `np.ndim(...)`, `is None`, `keepdims` and
`selects_each_once(...)` are decided when the gradient is built, from the
argument kinds, so the inlined code is as specific as hand-written code
(`a.T @ g` for matrices); where the kinds are unknown the rule runs as an
ordinary function.  Rules stay backend-neutral: no host arrays, only
functions that dispatch on the array's type.
"""

import dataclasses
import functools
import inspect
import operator
import types

import gast
import numpy as np

from ..errors import TransformError

_ADJOINTS = {}          # id(fn) -> (fn, rule)
_TANGENTS = {}          # id(fn) -> (fn, rule)
_NONDIFF = {}           # id(fn) -> fn: outputs carry no gradient
_FACTS = {}             # id(fn) -> (fn, Facts)
_BUILTIN = set()        # keys of the rules s2sad itself registers
_loading_builtins = True
generation = 0          # bumped by every registration: built gradients are stale

BINARY_OPERATORS = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
    gast.Div: operator.truediv, gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod,
    gast.Pow: operator.pow, gast.MatMult: operator.matmul, gast.BitAnd: operator.and_,
    gast.BitOr: operator.or_, gast.BitXor: operator.xor, gast.LShift: operator.lshift,
    gast.RShift: operator.rshift,
}
UNARY_OPERATORS = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
                   gast.Invert: operator.invert}
COMPARE_OPERATORS = {
    gast.Lt: operator.lt, gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge,
    gast.Eq: operator.eq, gast.NotEq: operator.ne, gast.Is: operator.is_,
    gast.IsNot: operator.is_not, gast.In: lambda a, b: a in b, gast.NotIn: lambda a, b: a not in b,
}

# Libraries whose functions are primitives (they need a rule), never transformed.
LIBRARY_PREFIXES = ("numpy", "cupy", "cupyx", "scipy", "s2sad", "jax", "torch", "math",
                     "builtins", "operator", "functools")


class _Method:
    """Stands for an array method or attribute no library object names."""

    def __init__(self, name):
        self.__name__ = self.name = name

    def __repr__(self):
        return f"<array method {self.name}>"


_METHODS = {}


def method_key(name):
    """The object rules for `x.name(...)` / `x.name` are registered under."""
    obj = getattr(np.ndarray, name, None)
    if obj is None:
        obj = _METHODS.setdefault(name, _Method(name))
    return obj


def _bump():
    global generation
    generation += 1


def _name(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def function_name(fn):
    """A short name for a function or array method, for names and messages
    (a `functools.partial`'s function's)."""
    if isinstance(fn, functools.partial):
        return function_name(fn.func)
    return getattr(fn, "__name__", None) or getattr(fn, "name", None) or "rule"


def check_call(fn, rule, head, args, keywords, what="rule"):
    """The message where a user's rule cannot take what a call passes (a
    partial's rule need not take the keywords its calls leave out), else None."""
    try:
        inspect.signature(rule).bind(*head, *args, **keywords)
    except TypeError as exc:
        return f"the {what} registered for {function_name(fn)} cannot take what this call passes: {exc}"
    except ValueError:
        pass
    return None


def _check_target(fn, decorator):
    """Reject registering on something that cannot be called (an array attribute
    such as `np.ndarray.T`, a descriptor, or a `method_key` is fine)."""
    if not (callable(fn) or isinstance(fn, _Method) or hasattr(type(fn), "__get__")):
        raise TypeError(f"@s2sad.{decorator}({fn!r}): rules are registered on a callable "
                        f"(a function, ufunc, method or partial), not on a "
                        f"{type(fn).__name__}; {fn!r} is not callable")


def _check_signature(fn, rule, head):
    """Reject a rule that cannot take the function's parameters; `head` names
    the rule's leading parameters ("g, result" or "tangents, result")."""
    if not callable(rule):
        raise TypeError(f"the rule registered for {_name(fn)} must be a callable "
                        f"({head}, ...), not {rule!r}, which is not callable")
    try:
        rule_sig = inspect.signature(rule)
    except (TypeError, ValueError):
        raise TypeError(f"the rule registered for {_name(fn)} has no inspectable signature") from None
    placeholders = [object()] * len(head.split(", "))
    try:
        fn_sig = None if isinstance(fn, np.ufunc) else inspect.signature(fn)
    except (TypeError, ValueError):
        fn_sig = None
    ufunc = fn.func if isinstance(fn, functools.partial) else fn
    if isinstance(ufunc, np.ufunc):     # its out=, where=, ... keywords are not differentiated
        bound = len(fn.args) if ufunc is not fn else 0
        positional, keywords = [object()] * (ufunc.nin - bound), {}
    elif fn_sig is None:
        return
    else:
        positional, keywords = [], {}
        partial = isinstance(fn, functools.partial)
        for p in fn_sig.parameters.values():
            if partial and (p.name in fn.keywords or p.default is not p.empty):
                continue                # (a partial's rule takes what its calls pass: the
                #                           keywords it froze, and the defaults, are not required)
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
                positional.append(object())
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                keywords[p.name] = object()
            elif p.kind is p.POSITIONAL_ONLY:
                positional.append(object())
    try:
        rule_sig.bind(*placeholders, *positional, **keywords)
    except TypeError as exc:
        raise TypeError(
            f"the rule registered for {_name(fn)} cannot accept its parameters {fn_sig or ''}: "
            f"{exc}. A rule takes ({head}, ...) followed by the function's parameters, with "
            f"the function's defaults (or **kwargs for those it ignores)") from None
    if keywords:
        try:                            # a call that leaves the defaults out
            rule_sig.bind(*placeholders, *positional)
        except TypeError as exc:
            raise TypeError(
                f"the rule registered for {_name(fn)} cannot accept a call that leaves out the "
                f"parameters with defaults {fn_sig}: {exc}. Give the rule the function's "
                f"defaults (or **kwargs for those it ignores)") from None


def _bound(fn):
    """Whether `fn` is a bound method: a new object at every attribute access
    (`np.add.at`, `Model.from_config` of a classmethod, `rng.normal`)."""
    if isinstance(fn, types.MethodType):
        return True
    owner = getattr(fn, "__self__", None)
    return isinstance(fn, types.BuiltinMethodType) and owner is not None \
        and not isinstance(owner, types.ModuleType)


def _key(fn):
    """Registry key: the object's identity; a bound method is a new object at
    every access, so it is keyed by its owner and function (or name).  The
    registry keeps the first object alive, so the ids stay valid."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, np.ufunc):
        return ("ufunc", id(owner), fn.__name__)
    if isinstance(fn, types.MethodType):
        return ("method", id(owner), id(fn.__func__))
    if _bound(fn):
        return ("builtin method", id(owner), fn.__name__)
    return id(fn)


def _same(a, b):
    if a is b:
        return True
    try:
        return _bound(a) and _bound(b) and a == b
    except Exception:           # an owner whose __eq__ misbehaves
        return False


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the transformer may assume of a function besides its rules.
    Forward mode derives a tangent from them where no `@tangent` rule is
    registered; the analysis asks them which results may share memory."""
    elementwise: bool = False         # each result element from the same elements of the inputs
    linear: tuple = None              # positions of the arguments it is linear in, together
    factors: tuple = None             # positions of the factors it is linear in, each alone
    linear_given_shapes: tuple = None  # linear in these; the others lend shapes and indices
    reduction_axis: int = None        # a reduction: the position of its `axis` argument
    view: bool = False                # may return a view of its first argument


_NO_FACTS = Facts()


def declare(fn, **facts):
    """Record facts about `fn` (see `Facts`); given ones replace earlier ones."""
    entry = _FACTS.get(_key(fn))
    old = entry[1] if entry is not None and _same(entry[0], fn) else _NO_FACTS
    _FACTS[_key(fn)] = (fn, dataclasses.replace(old, **facts))
    _bump()


def facts(fn):
    """The facts declared about `fn` (none: `Facts()`)."""
    try:
        entry = _FACTS.get(_key(fn))
    except TypeError:
        return _NO_FACTS
    return entry[1] if entry is not None and _same(entry[0], fn) else _NO_FACTS


def is_builtin(fn):
    """Is `fn`'s reverse rule one of s2sad's own (not one a user registered)?"""
    return _key(fn) in _BUILTIN and lookup_adjoint(fn) is not None


def adjoint(fn, **facts):
    """Register the reverse rule of `fn`: `rule(g, result, *args, **kwargs)`;
    keyword arguments declare facts about `fn` (see `Facts`)."""
    _check_target(fn, "adjoint")
    if facts:
        declare(fn, **facts)

    def register(rule):
        _check_signature(fn, rule, "g, result")
        _ADJOINTS[_key(fn)] = (fn, rule)
        (_BUILTIN.add if _loading_builtins else _BUILTIN.discard)(_key(fn))
        _bump()
        return rule
    return register


def tangent(fn):
    """Register the forward rule of `fn`: `rule(tangents, result, *args, **kwargs)`."""
    _check_target(fn, "tangent")

    def register(rule):
        _check_signature(fn, rule, "tangents, result")
        _TANGENTS[_key(fn)] = (fn, rule)
        _bump()
        return rule
    return register


def nondifferentiable(*fns):
    """Declare functions whose outputs carry no gradient (shapes, indices, constants)."""
    for fn in fns:
        _NONDIFF[_key(fn)] = fn
    _bump()


def registered():
    """Every function with a reverse rule, in the order they were registered."""
    return [fn for fn, _ in _ADJOINTS.values()]


def snapshot():
    """The registry's state, for `restore` (tests register rules and take them back)."""
    return [table.copy() for table in (_ADJOINTS, _TANGENTS, _NONDIFF, _FACTS, _BUILTIN)]


def restore(state):
    """Put back the registry as `snapshot` saw it; gradients built since are stale."""
    for table, saved in zip((_ADJOINTS, _TANGENTS, _NONDIFF, _FACTS, _BUILTIN), state):
        table.clear()
        table.update(saved)
    _bump()


def lookup_adjoint(fn):
    entry = _ADJOINTS.get(_key(fn))
    return entry[1] if entry is not None and _same(entry[0], fn) else None


def lookup_tangent(fn):
    entry = _TANGENTS.get(_key(fn))
    return entry[1] if entry is not None and _same(entry[0], fn) else None


def is_nondifferentiable(fn):
    entry = _NONDIFF.get(_key(fn))
    return entry is not None and _same(entry, fn)


_NOT_FROM_SOURCE = {}   # id(fn) -> fn: own helpers whose source is not differentiated again


def is_own(obj):
    """A function of s2sad's own that generated code calls (a runtime helper,
    a reverse rule called rather than inlined)."""
    return isinstance(obj, types.FunctionType) \
        and (getattr(obj, "__module__", None) or "").startswith(("s2sad.rules.", "s2sad.runtime"))


def is_own_helper(obj):
    """One of s2sad's own functions with no rule of its own that a gradient
    transformed again (grad of grad, hvp) differentiates from its source, as
    it does the user's helpers."""
    return is_own(obj) and not is_nondifferentiable(obj) and _key(obj) not in _NOT_FROM_SOURCE


def not_from_source(*fns):
    """Own helpers whose source s2sad's sweeps do not yet follow: a gradient
    calling them is refused when transformed again, not differentiated wrong."""
    for fn in fns:
        _NOT_FROM_SOURCE[_key(fn)] = fn


def describe_own(obj):
    """(what one of s2sad's own functions is, for a message; how to name it to
    register a rule): the reverse rule of which function, or the runtime helper."""
    for fn, rule in list(_ADJOINTS.values()):
        if rule is obj:
            what = getattr(fn, "__name__", None) or repr(fn)
            return f"the reverse rule of `{what}`", f"s2sad.rules.lookup_adjoint({what})"
    return f"s2sad's runtime helper `{obj.__name__}`", f"s2sad.runtime.{obj.__name__}"


def is_user_function(obj):
    """A Python function of the user's, whose source s2sad transforms."""
    if not isinstance(obj, types.FunctionType):
        return False
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] not in LIBRARY_PREFIXES


# the built-in rules register themselves, in the form users register with
from . import elementwise, indexing, linalg, reductions, shapes, special, tangents, runtime_rules  # noqa: E402,F401,E501
_loading_builtins = False

__all__ = ["adjoint", "tangent", "nondifferentiable", "declare", "facts", "Facts", "is_builtin",
           "lookup_adjoint", "lookup_tangent",
           "is_nondifferentiable", "is_own", "is_own_helper", "not_from_source", "describe_own",
           "is_user_function", "method_key", "TransformError"]
