"""What the analysis and the sweeps ask of single values and statements: kinds
joined (`merge_kinds`), what a literal, a concatenation, an index or a named
field picks, which name a statement updates, whether a call may run on
stand-ins (`is_pure`)."""

import dataclasses
import types

import gast
import numpy as np

from .. import rules
from ..runtime import pytrees
from ..kinds import (UNKNOWN, Array, Opaque, Scalar, Seq, Tree, is_namedtuple)
from ..trees import child_blocks


NONDIFF_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides",
                      "flags", "device"}


VIEW_METHODS = {"reshape", "transpose", "ravel", "view", "swapaxes", "squeeze", "T"}


SAFE_BUILTINS = {len, float, int, abs, min, max, sum, round, range, tuple, list, bool,
                  isinstance, type, complex}


PENDING = Opaque(type(NotImplemented))   # a loop value not made yet on the first walk


def merge_kinds(a, b):
    """The kind of a value that is `a` on one path and `b` on another."""
    a = None if a == PENDING else a
    b = None if b == PENDING else b
    if a is None or a == b:
        return b if b is not None else a
    if b is None:
        return a
    if isinstance(a, Array) and isinstance(b, Array) and a.ndim == b.ndim:
        if a.dtype == b.dtype or not (a.differentiable or b.differentiable):
            return Array(a.ndim, a.dtype if a.dtype == b.dtype else np.promote_types(a.dtype, b.dtype))
        return Array(a.ndim, None)           # (a float32 or a float64, or an int or a float)
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        order = ["bool", "int", "float", "complex"]
        return Scalar(max(a.dtype, b.dtype, key=order.index))
    for x, y in ((a, b), (b, a)):            # 0.0, then a numpy float: a 0-d array
        if isinstance(x, Scalar) and isinstance(y, Array) and y.ndim == 0:
            # (a float on one path and np.int64 on the other: a float of either width)
            return Array(0, y.dtype if x.differentiable <= y.differentiable else None)
    if isinstance(a, Tree) and isinstance(b, Tree) and a.type == b.type and a.keys == b.keys \
            and a.aux == b.aux:
        return Tree(a.type, a.keys, tuple(merge_kinds(x, y) for x, y in zip(a.children, b.children)),
                    a.aux)
    if all(isinstance(k, Seq) or isinstance(k, Tree) and k.type is list for k in (a, b)):
        element = None                       # lists of different lengths: one element kind
        for k in (a, b):
            for child in ((k.element,) if isinstance(k, Seq) else k.children):
                element = merge_kinds(element, child)
        return Seq(element if element is not None else UNKNOWN)
    return UNKNOWN


def tree_span(kind, index):
    """`xs[1:]`, `xs[::2]` of a list or tuple of known length with constant
    bounds: the positions it picks, else None."""
    if not isinstance(kind, Tree) or not isinstance(index, gast.Slice):
        return None
    bounds = []
    for part in (index.lower, index.upper, index.step):
        if part is not None and not (isinstance(part, gast.Constant) and type(part.value) is int):
            return None
        bounds.append(part.value if part is not None else None)
    return kind.span(*bounds)


def concatenated_kind(kind_of_atom, value):
    """The kind of `xs + ys` of two lists (or tuples), or None for any other value."""
    if not (isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add)):
        return None
    a, b = kind_of_atom(value.left), kind_of_atom(value.right)
    if isinstance(a, Tree) and isinstance(b, Tree) and a.type == b.type and a.type in (list, tuple):
        return Tree(a.type, tuple(range(len(a.keys) + len(b.keys))), a.children + b.children)
    listy = [isinstance(k, Seq) or isinstance(k, Tree) and k.type is list for k in (a, b)]
    if all(listy):
        return merge_kinds(a, b)
    if any(listy) and UNKNOWN in (a, b):     # a list plus a list not known yet (recursion)
        known = a if listy[0] else b
        return Seq(known.element) if isinstance(known, Seq) else merge_kinds(known, Seq(UNKNOWN))
    return None


def named_field(kind_of_atom, value):
    """The position `p.w` picks of a named tuple `p`, else None."""
    if not isinstance(value, gast.Attribute) or getattr(value, "s2sad_global", False):
        return None
    base = kind_of_atom(value.value)
    return base.field(value.attr) if isinstance(base, Tree) else None


def literal_elements(value, ns=None, local_names=()):
    """`(a, b)`, `[a, b]`, `{"k": a}` with constant keys, `P(a, b=b)` of a
    named tuple class (every field given) or of a dataclass whose
    `__init__` takes its fields as given (a field left out has a constant
    default): its keys and element atoms, else None."""
    if isinstance(value, (gast.Tuple, gast.List)):
        return list(range(len(value.elts))), list(value.elts)
    if isinstance(value, gast.Dict):
        if all(isinstance(k, gast.Constant) for k in value.keys):
            return [k.value for k in value.keys], list(value.values)
        return None
    if ns is None or not isinstance(value, gast.Call) or isinstance(value.func, gast.Attribute) \
            and not getattr(value.func, "s2sad_global", False):
        return None
    cls = ns.resolve(value.func, local_names)
    if cls is pytrees.new:                # `new_pytree(Params, W=dW)` of generated code
        return [pytrees.Field(k.arg) for k in value.keywords], [k.value for k in value.keywords]
    if is_namedtuple(cls):
        names, defaults = cls._fields, {}
    elif isinstance(cls, type) and pytrees.plain_init(cls):
        fields = [f for f in dataclasses.fields(cls)]
        names = tuple(f.name for f in fields)
        defaults = {f.name: f.default for f in fields if type(f.default) in (int, float, bool, str)
                    or f.default is None}
    else:
        return None
    if len(value.args) > len(names) or any(isinstance(a, gast.Starred) for a in value.args):
        return None
    given = dict(zip(names, value.args))
    for k in value.keywords:
        if k.arg not in names or k.arg in given:
            return None
        given[k.arg] = k.value
    for f in names:
        if f not in given and f in defaults:
            given[f] = gast.Constant(value=defaults[f], kind=None)
    if len(given) != len(names):
        return None
    keys = list(range(len(names))) if is_namedtuple(cls) else [pytrees.Field(f) for f in names]
    return keys, [given[f] for f in names]


def constructed_type(value, ns, local_names):
    """(class, aux) of the named tuple or dataclass `P(a, b)` constructs (or
    `new_pytree(Linear, aux, W=dW, b=db)`), else None."""
    if literal_elements(value, ns, local_names) is None or not isinstance(value, gast.Call):
        return None
    cls = ns.resolve(value.func, local_names)
    if cls is not pytrees.new:
        return cls, None
    cls, *aux = [a.value if isinstance(a, gast.Constant) else _constant_tuple(a) if isinstance(a, gast.Tuple)
                 else ns.resolve(a, local_names) for a in value.args]
    return cls, aux[0] if aux else None


def _constant_tuple(node):
    return tuple(e.value if isinstance(e, gast.Constant) else _constant_tuple(e) for e in node.elts)


def appended_kind(seq, value):
    """The kind of a list after `seq.append(value)`."""
    if isinstance(seq, Tree) and seq.type is list:
        return Tree(list, tuple(range(len(seq.children) + 1)), seq.children + (value,))
    if isinstance(seq, Seq):
        return Seq(merge_kinds(seq.element, value))
    return UNKNOWN


def value_operands(value):
    """The atoms a core value reads, in evaluation order."""
    if isinstance(value, gast.BinOp):
        return [value.left, value.right]
    if isinstance(value, gast.UnaryOp):
        return [value.operand]
    if isinstance(value, gast.Compare):
        return [value.left] + list(value.comparators)
    if isinstance(value, gast.Call):
        base = [value.func.value] if isinstance(value.func, gast.Attribute) \
            and not getattr(value.func, "s2sad_global", False) else []
        return base + list(value.args) + [k.value for k in value.keywords]
    if isinstance(value, gast.Attribute):
        return [] if getattr(value, "s2sad_global", False) else [value.value]
    if isinstance(value, gast.Subscript):
        return [value.value] + index_atoms(value.slice)
    if isinstance(value, (gast.Tuple, gast.List)):
        return list(value.elts)
    if isinstance(value, gast.Dict):
        return list(value.keys) + list(value.values)
    if isinstance(value, gast.Name):
        return [value]
    if isinstance(value, gast.JoinedStr):
        return [n for n in gast.walk(value) if isinstance(n, gast.Name)]
    return []


def index_atoms(index):
    if isinstance(index, gast.Slice):
        return [p for p in (index.lower, index.upper, index.step) if p is not None]
    if isinstance(index, gast.Tuple):
        return [a for e in index.elts for a in index_atoms(e)]
    return [index]


def statement_value(stmt):
    if isinstance(stmt, gast.Assign):
        return stmt.value
    if isinstance(stmt, gast.Expr):
        return stmt.value
    if isinstance(stmt, gast.Return):
        return stmt.value
    if isinstance(stmt, gast.Assert):
        return gast.Tuple(elts=[stmt.test] + ([stmt.msg] if stmt.msg is not None else []),
                          ctx=gast.Load())
    return None


def updated_name(stmt):
    """The array (or list) an in-place update statement changes, or None."""
    if not getattr(stmt, "s2sad_update", False):
        return None
    if isinstance(stmt, gast.Assign):
        return stmt.targets[0].value.id
    if is_append(stmt) or is_pop(stmt):
        return stmt.value.func.value.id
    return stmt.value.args[0].id


def is_append(stmt, method="append"):
    """`xs.append(v)` (or `xs.pop()`) on a list of the function's own."""
    value = getattr(stmt, "value", None)
    return isinstance(stmt, gast.Expr) and getattr(stmt, "s2sad_update", False) \
        and isinstance(value.func, gast.Attribute) and value.func.attr == method \
        and not getattr(value.func, "s2sad_global", False)


def is_pop(stmt):
    return is_append(stmt, "pop")


def assigned_names(stmt):
    base = updated_name(stmt)
    if base is not None:
        return [base]
    if not isinstance(stmt, gast.Assign):
        return []
    target = stmt.targets[0]
    if isinstance(target, gast.Name):
        return [target.id]
    return [e.id for e in target.elts]


def assigned_names_deep(stmt):
    """Names a statement assigns, inside its blocks too."""
    names = set(assigned_names(stmt))
    if isinstance(stmt, gast.For):
        names.add(stmt.target.id)
    for block in child_blocks(stmt):
        for s in block:
            names |= assigned_names_deep(s)
    return names


def flatten(stmts, loops=()):
    """Every statement in program order, with the loops around it."""
    for stmt in stmts:
        yield stmt, loops
        inner = loops + (stmt,) if isinstance(stmt, (gast.For, gast.While)) else loops
        for block in child_blocks(stmt):
            yield from flatten(block, inner)


def is_pure(obj):
    """May this callable run on stand-ins to learn its result kind?"""
    if rules.lookup_adjoint(obj) is not None or rules.is_nondifferentiable(obj):
        return True
    try:
        if obj in SAFE_BUILTINS:
            return True
    except TypeError:
        return False
    module = getattr(obj, "__module__", None) or ""
    if isinstance(obj, np.ufunc):
        return True
    return module.startswith("numpy") and not module.startswith(("numpy.random", "numpy.lib.npyio"))

IMMUTABLE = (str, bytes, type(None), type, bool, int, float, complex, range, slice,
              type(Ellipsis), np.dtype, types.ModuleType, types.FunctionType,
              types.BuiltinFunctionType)


def mutable(kind):
    """Can a value of this kind be changed in place (an array, list, dict, object)?"""
    if isinstance(kind, Scalar):
        return False
    if isinstance(kind, Opaque):
        return not issubclass(kind.type, IMMUTABLE)
    if isinstance(kind, Tree) and issubclass(kind.type, tuple):
        return any(mutable(c) for c in kind.children)
    return True
