"""Pytrees: the containers a gradient has the structure of.

Dicts, lists, tuples and named tuples hold their children as items;
dataclasses and the classes registered with `register_pytree` hold them
as attributes.  A child's key says which: an int or a dict key is read
`tree[key]`, a `Field` is read `tree.field`.  Everything that walks a
pytree at run time (the optimisers, `check_grad`, tangent checks, the
runtime helpers) and the kinds the builds specialise on use these
functions, so one idea of "pytree" serves the whole library.
"""

import copy
import dataclasses

__all__ = ["Field", "register_pytree", "children", "rebuild", "is_node", "path_text"]


class Field(str):
    """The key of a child held as an attribute: `p.w`, not `p['w']`."""
    __slots__ = ()

    def __repr__(self):
        return f"Field({str(self)!r})"


REGISTERED = {}       # class -> (flatten, unflatten)


def register_pytree(cls, flatten, unflatten):
    """Make instances of `cls` pytrees, as `jax.tree_util.register_pytree_node`:
    `flatten(obj)` returns `(children, aux)`, `unflatten(aux, children)` builds
    an instance.  Each child must be one of `obj`'s attributes (the
    differentiated code reads it as `obj.attr`), and `aux` must be hashable:
    it is part of the structure a gradient is built for, as in JAX."""
    if not isinstance(cls, type):
        raise TypeError(f"register_pytree: {cls!r} is not a class")
    if not callable(flatten) or not callable(unflatten):
        raise TypeError(f"register_pytree({cls.__name__}, flatten, unflatten): flatten and unflatten "
                        f"must be callables: flatten(obj) -> (children, aux), "
                        f"unflatten(aux, children) -> obj")
    REGISTERED[cls] = (flatten, unflatten)
    return cls


def registered(cls):
    return cls in REGISTERED


def is_dataclass_value(value):
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def is_node(value):
    """Is `value` a container of a pytree (rather than a leaf)?"""
    return isinstance(value, (dict, list, tuple)) or type(value) in REGISTERED \
        or is_dataclass_value(value)


def children(value):
    """The (key, child) pairs of a pytree node, in order; None for a leaf."""
    if type(value) in REGISTERED:
        return list(zip(_registered_fields(value)[0], _flatten(value)[0]))
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, (list, tuple)):
        return list(enumerate(value))
    if is_dataclass_value(value):
        return [(Field(f.name), getattr(value, f.name)) for f in dataclasses.fields(value)]
    return None


def child(tree, key):
    """The child of a pytree node at `key`."""
    return getattr(tree, key) if isinstance(key, Field) else tree[key]


def leaves(tree, path=()):
    """(path, leaf) of every leaf of a pytree, in order."""
    kids = children(tree)
    if kids is None:
        yield path, tree
        return
    for k, v in kids:
        yield from leaves(v, path + (k,))


def at(tree, path):
    """The part of a pytree at `path` (None below a None)."""
    for k in path:
        if tree is None:
            return None
        tree = child(tree, k)
    return tree


def map_leaves(fn, tree, path=()):
    """A pytree of `tree`'s structure holding `fn(path, leaf)` for each leaf."""
    kids = children(tree)
    if kids is None:
        return fn(path, tree)
    return rebuild(tree, [map_leaves(fn, v, path + (k,)) for k, v in kids])


def replace(tree, path, leaf):
    """`tree` with the part at `path` replaced (nodes along the path copied)."""
    if not path:
        return leaf
    return rebuild(tree, [replace(v, path[1:], leaf) if k == path[0] else v
                          for k, v in children(tree)])


def aux_of(value):
    """The static part of a registered class's instance (None for other nodes)."""
    return _registered_fields(value)[1] if type(value) in REGISTERED else None


def _flatten(value):
    flatten, _ = REGISTERED[type(value)]
    kids, aux = flatten(value)
    return list(kids), aux


def _registered_fields(value):
    """The attribute each child of a registered instance is (found by
    identity, in order), and its aux data."""
    cls = type(value)
    kids, aux = _flatten(value)
    attrs = list(getattr(value, "__dict__", {})) + [
        s for c in cls.__mro__ for s in getattr(c, "__slots__", ()) if hasattr(value, s)]
    fields, free = [], list(attrs)
    for kid in kids:
        match = next((a for a in free if getattr(value, a) is kid), None)
        if match is None:
            raise TypeError(f"register_pytree({cls.__name__}): flatten returned a child that is not "
                            f"one of the instance's attributes; s2sad reads each child as an "
                            f"attribute (`obj.w`), so flatten must return attributes themselves "
                            f"(`(obj.w, obj.b), aux`)")
        free.remove(match)
        fields.append(Field(match))
    try:
        hash(aux)
    except TypeError:
        raise TypeError(f"register_pytree({cls.__name__}): the aux data flatten returned "
                        f"({type(aux).__name__}) must be hashable, as in JAX") from None
    return fields, aux


def rebuild(like, values):
    """A node of `like`'s type and structure holding `values` (in `children`
    order)."""
    if type(like) in REGISTERED:
        return build(type(like), [k for k, _ in children(like)], values, aux_of(like))
    if isinstance(like, dict):
        if type(like) is dict:
            return dict(zip(like.keys(), values))
        new = copy.copy(like)                          # OrderedDict, defaultdict, ... keep their type
        new.clear()
        new.update(zip(like.keys(), values))
        return new
    if isinstance(like, tuple) and hasattr(like, "_fields"):
        return type(like)(*values)
    if isinstance(like, (list, tuple)):
        return type(like)(values)
    return build(type(like), [k for k, _ in children(like)], values)


def build(cls, fields, values, aux=None):
    """An instance of a dataclass or registered class with these children.
    A dataclass is made without calling its `__init__` (whose
    `__post_init__` may check what a gradient, with `None` in its int
    fields, would fail), as Equinox and flax.struct do."""
    if cls in REGISTERED:
        return REGISTERED[cls][1](aux, list(values))
    obj = object.__new__(cls)
    for f, v in zip(fields, values):
        object.__setattr__(obj, f, v)
    return obj


def new(cls, aux=None, /, **fields):
    """`new(Params, W=dW, b=db)`: what generated code calls to build a
    gradient or tangent of a dataclass or registered class (`aux` its
    static data) whose `__init__` cannot be trusted to take its fields as
    given.  (Transformed again, the call is a literal of the class, as
    `Params(W=dW, b=db)` is.)"""
    return build(cls, list(fields), list(fields.values()), aux)


def plain_init(cls):
    """Does `cls(f1=..., f2=...)` build a dataclass from its fields as given
    (every field taken by `__init__`, no `__post_init__`)?"""
    return dataclasses.is_dataclass(cls) and cls not in REGISTERED \
        and not hasattr(cls, "__post_init__") \
        and all(f.init for f in dataclasses.fields(cls)) and "__init__" not in _own_init(cls)


def _own_init(cls):
    """'__init__' where a class defines its own `__init__` (then not the dataclass's)."""
    init = cls.__dict__.get("__init__")
    generated = init is not None and getattr(init, "__qualname__", "").endswith("__init__") \
        and getattr(init, "__code__", None) is not None \
        and init.__code__.co_filename.startswith("<")
    return () if init is None or generated else ("__init__",)


def path_text(name, path):
    """`grads['layer'][1].w`: where a leaf of a pytree named `name` is."""
    return name + "".join(f".{k}" if isinstance(k, Field) else f"[{k!r}]" for k in path)
