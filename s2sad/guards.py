"""What a build relied on in the user's namespaces, checked at every call.

A gradient is built from what the user's names resolve to when it is built:
the helper `act` names (differentiated from its source), the library
function a name picks the rule of, the kind of a global `C` (a float, or an
array whose size-one dimensions decide broadcasting).  While a build runs,
`parse.Namespace` notes every global or closure name it looks up (and the
attributes it resolves through the user's modules and classes); the build
then keeps a *guard* per name, and a small generated function that checks
them all at every call.  A build whose guard fails is built again:

* a function of the user's: the same object with the same `__code__` (a
  helper redefined in a notebook cell, or given a new `__code__`);
* a library function or class: the same object (it picked the rule);
* a string: the same value;
* data: the same kind, not the same value (the generated code reads globals
  when it runs, so `C = 3.0` after `C = 2.0` needs no new build, but a `C`
  that becomes a `(3, 1)` array does);
* modules are not guarded.
"""

import threading
import types

import numpy as np

from .runtime import pytrees

MISSING = object()                   # a name that names nothing (an empty cell)

SCALAR_TYPES = (float, int, bool, complex)

_ONES = {}                           # shape -> which of its dimensions have size one


def kind_key(value):
    """A cheap hashable key standing for a value's kind (it is computed on
    every call of a gradient: NumPy arrays, the common case, come first)."""
    t = type(value)
    if t is np.ndarray:
        shape = value.shape
        ones = _ONES.get(shape)
        if ones is None:
            if len(_ONES) > 4096:
                _ONES.clear()
            ones = _ONES[shape] = tuple([n == 1 for n in shape])
        return (t, ones, value.dtype)
    if t in SCALAR_TYPES:
        return t
    if t is tuple or t is list or isinstance(value, tuple):     # (named tuples too)
        return (t,) + tuple(kind_key(v) for v in value)
    if t is dict:
        return (t,) + tuple((k, kind_key(v)) for k, v in value.items())
    if isinstance(value, type):    # a class: which one decides what `cls.make(x)` calls
        return (type, value)
    kids = pytrees.children(value) if t in pytrees.REGISTERED or hasattr(t, "__dataclass_fields__") \
        else None
    if kids is not None:           # a dataclass or registered class: its fields' kinds count
        return (t, pytrees.aux_of(value)) + tuple((k, kind_key(v)) for k, v in kids)
    shape = getattr(value, "shape", None)
    if shape is not None:          # size-one dimensions decide broadcasting, so they count
        return (t, tuple(n == 1 for n in shape), getattr(value, "dtype", None))
    return t


_SAME, _CODE, _KIND, _EQUAL = "same", "code", "kind", "equal"


def guard_of(scope, name, value):
    """The guard of one name: (scope, name, how, expected, code), or None."""
    if isinstance(value, types.ModuleType):
        return None                       # `np`: a module is not rebound to another
    if isinstance(value, types.FunctionType):
        return (scope, name, _CODE, value, value.__code__)
    if isinstance(value, (str, bytes)):
        return (scope, name, _EQUAL, value, None)
    if value is MISSING or callable(value):
        return (scope, name, _SAME, value, None)
    return (scope, name, _KIND, kind_key(value), None)


def compile_check(guards):
    """A function telling whether the guards still hold (None: nothing to
    check).  It runs at every call, so it is generated code: one expression
    of a dict lookup and a comparison or two per name, over closure variables."""
    if not guards:
        return None
    env = {"MISSING": MISSING, "_kind_key": kind_key, "_cell": _cell_value, "_equal": _equal}
    tests = []
    for i, (scope, name, how, expected, code) in enumerate(guards):
        env[f"s{i}"], env[f"e{i}"], env[f"c{i}"] = scope, expected, code
        get = f"s{i}.get({name!r}, MISSING)" if type(scope) is dict else f"_cell(s{i})" \
            if isinstance(scope, types.CellType) else f"getattr(s{i}, {name!r}, MISSING)"
        tests.append(f"{get} is e{i} and e{i}.__code__ is c{i}" if how is _CODE else
                     f"type({get}) is e{i}" if how is _KIND and expected in SCALAR_TYPES else
                     f"_kind_key({get}) == e{i}" if how is _KIND else
                     f"{get} is e{i}" if how is _SAME else f"_equal({get}, e{i})")
    text = (f"def factory({', '.join(env)}):\n    def holds():\n        return "
            + " and ".join(f"({t})" for t in tests) + "\n    return holds\n")
    scope = {}
    exec(compile(text, "<s2sad guards>", "exec"), scope)
    return scope["factory"](**env)


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:                   # cell not yet filled
        return MISSING


def _equal(value, expected):
    return type(value) is type(expected) and value == expected


class _Recording(threading.local):
    """The builds in progress in this thread, innermost last: each a dict
    (id(scope), name) -> (scope, name, value) of a name looked up, or its guard
    (scope, name, how, expected, code) where an inner build already made it."""

    def __init__(self):
        self.stack = []


RECORDING = _Recording()


def note(scope, name, value):
    """A build in progress looked `name` up in `scope` (a globals dict, a
    closure cell, or a user's module or class) and found `value`."""
    RECORDING.stack[-1][(id(scope), name)] = (scope, name, value)


def record(guards):
    """A finished build was reused by the builds in progress (grad of grad):
    they rely on its names too."""
    if RECORDING.stack and guards:
        RECORDING.stack[-1].update(guards)


class recording:
    """`with recording(f) as names:` collects the names a build looks up; then
    `names.guards` (a dict of guards) and `names.check` (their check, or None).
    `f`, a function, is guarded by its `__code__` too.  An enclosing build
    relies on them as well."""

    def __init__(self, function=None):
        self.function = function
        self.guards = {}
        self.check = None

    def __enter__(self):
        RECORDING.stack.append({})
        return self

    def __exit__(self, *exc):
        found = RECORDING.stack.pop()
        if isinstance(self.function, types.FunctionType):
            found[(id(self), "")] = ({"": self.function}, "", self.function)
        for key, entry in found.items():
            guard = entry if len(entry) == 5 else guard_of(*entry)
            if guard is not None:
                self.guards[key] = guard
        self.check = compile_check(list(self.guards.values()))
        record(self.guards)
        return False
