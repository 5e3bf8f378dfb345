"""Kinds: what a gradient is specialised for.

A kind says what a value is without its size: a Python scalar, an array of
some number of dimensions and dtype, a pytree (dict, list, tuple) of kinds,
or an opaque object.  Gradients are built and cached per tuple of argument
kinds, so the generated code can be as specific as hand-written code while
a new batch size costs nothing.
"""

from dataclasses import dataclass

import numpy as np

from .runtime import pytrees
from .runtime.pytrees import Field


@dataclass(frozen=True)
class Scalar:
    """A Python number: `dtype` is 'float', 'int', 'bool' or 'complex'."""
    dtype: str

    @property
    def ndim(self):
        return 0

    @property
    def differentiable(self):
        return self.dtype in ("float", "complex")


@dataclass(frozen=True)
class Array:
    """An array (NumPy, CuPy, or a numpy scalar); None where unknown.

    `ones` says, per dimension, whether it has size one (None: not known).
    Sizes are not part of a kind, but size-one dimensions are what
    broadcasting depends on: knowing them lets the analysis prove that an
    operation broadcast nothing, so the gradient needs no `unbroadcast`."""
    ndim: object = None
    dtype: object = None
    ones: object = None

    def without_ones(self):
        return Array(self.ndim, self.dtype)

    @property
    def differentiable(self):
        return self.dtype is None or np.dtype(self.dtype).kind in "fc"


def is_namedtuple(t):
    """A `collections.namedtuple` (or `typing.NamedTuple`) class."""
    return isinstance(t, type) and issubclass(t, tuple) and t is not tuple \
        and isinstance(getattr(t, "_fields", None), tuple) and hasattr(t, "_make")


@dataclass(frozen=True)
class Tree:
    """A dict, list or tuple (or named tuple: `type` is its class, keys are
    positions), or a dataclass or registered class (keys are `Field`s, its
    attributes; `aux` a registered class's static data): `keys` in order,
    one kind per key."""
    type: type
    keys: tuple
    children: tuple
    aux: object = None

    @property
    def differentiable(self):
        return any(c.differentiable for c in self.children)

    def child(self, key):
        return self.children[self.keys.index(key)]

    def field(self, attr):
        """The key `p.attr` picks: a named tuple's position, a dataclass's
        `Field`; else None."""
        if is_namedtuple(self.type) and attr in self.type._fields:
            return self.type._fields.index(attr)
        return next((k for k in self.keys if isinstance(k, Field) and k == attr), None)

    @property
    def by_attribute(self):
        """Are the children attributes (a dataclass or registered class)?"""
        return any(isinstance(k, Field) for k in self.keys)

    def span(self, lower, upper, step):
        """The positions `xs[lower:upper:step]` of a list or tuple picks (None if not one)."""
        if not issubclass(self.type, (list, tuple)):
            return None
        return list(range(len(self.keys)))[slice(lower, upper, step)]

    def key_at(self, key):
        """The key a constant subscript picks: `xs[-1]` of a list or tuple is
        its last element's position."""
        if issubclass(self.type, (list, tuple)) and type(key) is int and -len(self.keys) <= key < 0:
            return key + len(self.keys)
        return key


@dataclass(frozen=True)
class Seq:
    """A list whose length the build cannot know (one made by `append` in a
    loop, or a comprehension): every element has kind `element`.  Its
    adjoint is a list with one adjoint per element."""
    element: object

    @property
    def differentiable(self):
        return self.element.differentiable

    @property
    def ndim(self):
        return None


@dataclass(frozen=True)
class Opaque:
    """Anything else (None, strings, dtypes, modules): never differentiated.
    A class of the user's is `Opaque(type, cls)`: which class it is decides
    what `cls.make(x)` calls."""
    type: type
    cls: object = None

    differentiable = False
    ndim = None


UNKNOWN = Array()

_SCALARS = {bool: "bool", int: "int", float: "float", complex: "complex"}


def kind_of(value):
    """The kind of a runtime value."""
    t = type(value)
    if t in _SCALARS:
        return Scalar(_SCALARS[t])
    if t is tuple or t is list:
        return Tree(t, tuple(range(len(value))), tuple(kind_of(v) for v in value))
    if isinstance(value, tuple):                 # a named tuple (`np.linalg.slogdet`, `P(w, b)`)
        return Tree(t if is_namedtuple(t) else tuple, tuple(range(len(value))),
                    tuple(kind_of(v) for v in value))
    if t is dict:
        return Tree(dict, tuple(value), tuple(kind_of(v) for v in value.values()))
    if pytrees.registered(t) or pytrees.is_dataclass_value(value):
        kids = pytrees.children(value)
        return Tree(t, tuple(k for k, _ in kids), tuple(kind_of(v) for _, v in kids),
                    pytrees.aux_of(value))
    if isinstance(value, float):                 # np.float64 is a float subclass
        return Scalar("float")
    dtype = getattr(value, "dtype", None)
    ndim = getattr(value, "ndim", None)
    if dtype is not None and isinstance(ndim, int) and hasattr(value, "shape"):
        return Array(ndim, np.dtype(dtype).name, tuple(n == 1 for n in value.shape))
    if isinstance(value, type) and user_class(value):
        return Opaque(t, value)
    return Opaque(t)


def user_class(cls):
    """Is `cls` a class of the user's (not a builtin's or a library's)?"""
    from .rules import LIBRARY_PREFIXES
    module = getattr(cls, "__module__", None)
    return isinstance(module, str) and module != "builtins" \
        and module.split(".")[0] not in LIBRARY_PREFIXES


def forget_sizes(kind):
    """A kind with its size-one facts dropped (those of a stand-in value)."""
    if isinstance(kind, Array):
        return kind.without_ones()
    if isinstance(kind, Tree):
        return Tree(kind.type, kind.keys, tuple(forget_sizes(c) for c in kind.children), kind.aux)
    return kind


def leaves(kind, path=()):
    """(path, kind) of every leaf of a kind, in order."""
    if isinstance(kind, Tree):
        for key, child in zip(kind.keys, kind.children):
            yield from leaves(child, path + (key,))
    else:
        yield path, kind


def dummy(kind, size=1):
    """A small stand-in value of a kind, for working out result kinds.

    Arrays have every dimension of size one, so broadcasting, reductions,
    reshapes to (1, -1) and indexing with 0 or -1 all work on them; where
    that fails (`x[1:, [0, 2]]`, `x.reshape(3, -1)`), a retry uses `size`.
    """
    if isinstance(kind, Scalar):
        # (a float as np.float64, a float too, which has NumPy's methods: a float
        # is often one, `np.sum(x)`, whose `.item()` is then a Python float)
        return {"float": np.float64(0.5), "int": 1, "bool": True, "complex": 0.5 + 0.5j}[kind.dtype]
    if isinstance(kind, Array):
        if kind.ndim is None:
            raise LookupError("unknown kind")
        dtype = kind.dtype or "float64"        # (a join of float32 and float64: some float)
        return np.full((size,) * kind.ndim, 0.5 if np.dtype(dtype).kind in "fc" else 1,
                       dtype=dtype)
    if isinstance(kind, Tree):
        values = [dummy(c, size) for c in kind.children]
        if kind.type is dict:
            return dict(zip(kind.keys, values))
        if kind.by_attribute:
            return pytrees.build(kind.type, kind.keys, values, kind.aux)
        return kind.type._make(values) if is_namedtuple(kind.type) else kind.type(values)
    if isinstance(kind, Seq):
        return [dummy(kind.element, size)]
    if isinstance(kind, Opaque) and isinstance(kind.type, type) and issubclass(kind.type, np.dtype):
        return kind.type()               # `x.dtype` (its class is the dtype's, float64's own)
    if kind == Opaque(type(None)):
        return None
    raise LookupError("opaque kind")
