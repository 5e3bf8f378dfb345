"""Method calls as calls of the class's own functions.

`self.features(x)`, `model(x)` and `self.width` (a property) of an object of
one of the user's classes name a function only once the receiver's class is
known, which the core form cannot tell: the analysis can, from the
receiver's kind (an argument's, a local's, or a global object's).  When it
meets one, it raises a `Rewrite` with the call written out against the
class -- `Model.features(self, x)`, `Model.__call__(model, x)`,
`Model.width.fget(self)`, `Model.make.__func__(Model, x)` for a class
method (`rewrites.py`).  From then on the call is a call of one of the
user's functions, which every later stage differentiates like any helper.
"""

import inspect
import types

import gast

from .. import rules
from ..kinds import Opaque, Tree, user_class
from ..trees import copy_node, name
from .rewrites import First


def receiver_class(kind):
    """The user's class a receiver of this kind is an instance of, else None."""
    cls = kind.type if isinstance(kind, (Tree, Opaque)) else None
    return cls if isinstance(cls, type) and user_class(cls) else None


def against_class(value, kind_of_atom, resolve):
    """`value` (a statement's value) as a call against the receiver's class, or
    None where it is no method call of one of the user's classes.  (`resolve`
    gives the object a global path names.)"""
    if getattr(value, "s2sad_against_class", False):
        return None
    if isinstance(value, gast.Call):
        found = resolve(value.func)               # `Model.make(x)`: a class method
        if isinstance(found, types.MethodType) and isinstance(found.__self__, type) \
                and user_class(found.__self__) and rules.is_user_function(found.__func__) \
                and not _has_rule(found):
            cls = found.__self__
            return _written(func=_path(cls, found.__func__.__name__, "__func__"),
                             args=[_class_name(cls)] + list(value.args),
                             keywords=[copy_node(k) for k in value.keywords]), cls
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
            and _is_receiver(value.func.value):
        receiver, attr, args = value.func.value, value.func.attr, list(value.args)
    elif isinstance(value, gast.Call) and isinstance(value.func, gast.Name):
        receiver, attr, args = value.func, "__call__", list(value.args)   # `model(x)`
    elif isinstance(value, gast.Attribute) and not getattr(value, "s2sad_global", False) \
            and _is_receiver(value.value):
        receiver, attr, args = value.value, value.attr, None              # `self.width`
    else:
        return None
    kind = kind_of_atom(receiver)
    held = getattr(resolve(receiver), "__dict__", None)
    if isinstance(held, dict) and attr in held:
        return None                 # (a global object's own attribute, shadowing the class's)
    if isinstance(kind, Opaque) and kind.cls is not None and args is not None:
        return _on_class(kind.cls, attr, args, value)       # `cls.sq(r)` in a class method
    cls = receiver_class(kind)
    try:
        found = inspect.getattr_static(cls, attr) if cls is not None and not (
            isinstance(kind, Tree) and kind.field(attr) is not None) else None
    except AttributeError:
        found = None
    if found is None:                                 # (a field: data, not a method)
        return _held(value, kind_of_atom) if args is not None and attr != "__call__" else None
    if args is None:                                  # a property: its getter
        if not isinstance(found, property) or not rules.is_user_function(found.fget):
            return None
        return _written(func=_path(cls, attr, "fget"), args=[copy_node(receiver)], keywords=[]), cls
    if isinstance(found, staticmethod) and rules.is_user_function(found.__func__):
        func, args = _path(cls, attr), args
    elif isinstance(found, classmethod) and rules.is_user_function(found.__func__):
        func, args = _class_method(cls, attr, args)
    elif isinstance(found, types.FunctionType) and rules.is_user_function(found):
        func, args = _path(cls, attr), [copy_node(receiver)] + args
    else:
        return None
    return _written(func=func, args=args, keywords=[copy_node(k) for k in value.keywords]), cls


def _on_class(cls, attr, args, value):
    """`cls.attr(args)` where `cls` is known to be this class."""
    try:
        found = inspect.getattr_static(cls, attr)
    except AttributeError:
        return None
    if isinstance(found, classmethod) and rules.is_user_function(found.__func__):
        func, args = _class_method(cls, attr, args)
    elif isinstance(found, (staticmethod, types.FunctionType)) \
            and rules.is_user_function(getattr(found, "__func__", found)):
        func = _path(cls, attr)
    else:
        return None
    return _written(func=func, args=args, keywords=[copy_node(k) for k in value.keywords]), cls


def _held(value, kind_of_atom):
    """`self.out(h)` where `self.out` holds a callable object of the user's:
    `Layer.__call__(self_out, h)`, with `self_out = self.out` first."""
    cls = receiver_class(kind_of_atom(value.func))
    try:
        found = inspect.getattr_static(cls, "__call__") if cls is not None else None
    except AttributeError:
        return None
    if not isinstance(found, types.FunctionType) or not rules.is_user_function(found):
        return None
    holder = name("")
    hint = f"{value.func.value.id}_{value.func.attr}"
    return (_written(_path(cls, "__call__"), [holder] + list(value.args),
                     [copy_node(k) for k in value.keywords]), cls, [First(hint, copy_node(value.func), holder)])


def _written(func, args, keywords):
    """The call against the class (marked: it is not rewritten again)."""
    node = gast.Call(func=func, args=args, keywords=keywords)
    node.s2sad_against_class = True
    return node


def _class_method(cls, attr, args):
    """`Model.make.__func__(Model, x)`, or `Model.make(x)` where a rule is
    registered for the class method (`@s2sad.adjoint(Model.make)`)."""
    if _has_rule(getattr(cls, attr)):
        return _path(cls, attr), args
    return _path(cls, attr, "__func__"), [_class_name(cls)] + args


def _has_rule(fn):
    return rules.lookup_adjoint(fn) is not None or rules.lookup_tangent(fn) is not None \
        or rules.is_nondifferentiable(fn)


def _is_receiver(node):
    return isinstance(node, gast.Name)


def _class_name(cls):
    node = name(cls.__name__)
    node.s2sad_class = cls
    return node


def _path(cls, *attrs):
    """`Model.features` (a global path, an atom of the core form)."""
    node = _class_name(cls)
    for attr in attrs:
        node = gast.Attribute(value=node, attr=attr, ctx=gast.Load())
        node.s2sad_global = True
    return node
