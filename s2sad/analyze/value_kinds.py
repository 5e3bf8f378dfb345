"""The kind of every value: each operation run once on tiny stand-in values
of its operands' kinds (an array of the right rank and dtype, size-one
dimensions where the kind says so), the result's kind read off."""

import builtins
import copy
import inspect
import types
import warnings

import gast
import numpy as np

from .. import rules, runtime
from ..kinds import (UNKNOWN, Array, Opaque, Scalar, Seq, Tree, dummy, forget_sizes, kind_of)
from ..guards import RECORDING, note
from ..parse import MISSING
from .values import (NONDIFF_ATTRIBUTES, PENDING, concatenated_kind,
                     constructed_type, is_pure, literal_elements, merge_kinds, tree_span)


def _apply(value, stand_in):
    if isinstance(value, gast.BinOp):
        return rules.BINARY_OPERATORS[type(value.op)](stand_in(value.left), stand_in(value.right))
    if isinstance(value, gast.UnaryOp):
        return rules.UNARY_OPERATORS[type(value.op)](stand_in(value.operand))
    left = stand_in(value.left)
    result = True
    for op, right in zip(value.ops, value.comparators):
        right = stand_in(right)
        result = result & rules.COMPARE_OPERATORS[type(op)](left, right)
        left = right
    return result


_SPLITS = (np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit)


def _class_attribute_kind(cls, attr):
    """The kind of `p.attr` where `attr` is no field of `p` but a constant of
    its class (`eps = 1e-3`, a `ClassVar`), read at run time: a build relies
    on its kind as on a global's (a guard rebuilds when it changes)."""
    try:
        found = inspect.getattr_static(cls, attr)
    except AttributeError:
        return Opaque(object)
    if callable(found) or hasattr(type(found), "__get__"):
        return Opaque(object)                       # (a method or descriptor: not a constant)
    if RECORDING.stack:
        owner = next(c for c in cls.__mro__ if attr in vars(c))
        note(owner, attr, found)
    return forget_sizes(kind_of(found))


class ValueKinds:
    """Kinds of values, mixed into `Analyzer`."""

    def atom_kind(self, atom, versions=None):
        """The kind of an atom: a local's version in `versions` (where the walk
        is now, by default), a global's or a constant's value."""
        if isinstance(atom, gast.Name):
            if atom.id in self.core.local_names:
                version = (self.current if versions is None else versions).get(atom.id)
                return self.kinds.get((atom.id, version), UNKNOWN)
            value = self.ns.lookup(atom.id)
            return Opaque(type(None)) if value is MISSING else kind_of(value)
        if isinstance(atom, gast.Constant):
            return kind_of(atom.value)
        if getattr(atom, "s2sad_global", False):
            value = self.ns.resolve(atom, self.core.local_names)
            if value is MISSING and isinstance(atom, gast.Attribute):
                # `W.T` of a global array W: resolving never runs attributes of data,
                # so its kind comes from the attribute of a stand-in of W's kind
                base = copy.copy(atom.value)
                base.s2sad_global = not isinstance(base, gast.Name)
                if self.atom_kind(base, versions) != UNKNOWN:
                    return self.evaluate(lambda: getattr(self.stand_in(base), atom.attr))
            return UNKNOWN if value is MISSING else kind_of(value)
        return UNKNOWN

    def stand_in(self, atom, for_index=False):
        if isinstance(atom, gast.Constant):
            return atom.value
        kind = self.atom_kind(atom)
        if for_index and isinstance(kind, Scalar) and kind.dtype == "int":
            return 0
        if for_index and isinstance(kind, Array) and kind.dtype is not None \
                and np.dtype(kind.dtype).kind == "b":
            return np.ones((1,) * (kind.ndim or 0), dtype=bool)
        if for_index and isinstance(kind, Array) and kind.dtype is not None \
                and np.dtype(kind.dtype).kind in "iu":
            return np.zeros((1,) * (kind.ndim or 0), dtype=kind.dtype)
        if getattr(atom, "s2sad_global", False):         # `np.newaxis`, `np.pi`
            value = self.ns.resolve(atom, self.core.local_names)
        elif not isinstance(atom, gast.Name) or atom.id in self.core.local_names:
            return dummy(kind, self.dummy_size)
        else:
            value = self.ns.lookup(atom.id)              # a global constant
        if isinstance(value, (int, float, bool, str, type(None), np.dtype, type)):
            return value
        if isinstance(value, (types.ModuleType, types.FunctionType)):
            return value
        return dummy(kind, self.dummy_size)

    def stand_in_index(self, index):
        if isinstance(index, gast.Slice):
            part = lambda p: None if p is None else self.stand_in(p, True)
            return slice(part(index.lower), part(index.upper), part(index.step))
        if isinstance(index, gast.Tuple):
            return tuple(self.stand_in_index(e) for e in index.elts)
        return self.stand_in(index, True)

    def evaluate(self, thunk):
        """Kind of what `thunk` returns on stand-ins; UNKNOWN if it cannot run.
        Stand-ins have dimensions of size one, or twelve where one fails."""
        for self.dummy_size in (1, 12):
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return forget_sizes(kind_of(thunk()))
            except Exception:
                continue
            finally:
                self.dummy_size = 1
        return UNKNOWN

    def value_kind(self, value):
        if isinstance(value, (gast.Name, gast.Constant)) or getattr(value, "s2sad_global", False):
            return self.atom_kind(value)
        if isinstance(value, (gast.Tuple, gast.List)):
            t = tuple if isinstance(value, gast.Tuple) else list
            elts = value.elts
            return Tree(t, tuple(range(len(elts))), tuple(self.atom_kind(e) for e in elts))
        if isinstance(value, gast.Dict):
            if all(isinstance(k, gast.Constant) for k in value.keys):
                return Tree(dict, tuple(k.value for k in value.keys),
                            tuple(self.atom_kind(v) for v in value.values))
            return Opaque(dict)
        if isinstance(value, gast.JoinedStr):
            return Opaque(str)
        if isinstance(value, gast.Subscript):
            base = self.atom_kind(value.value)
            if isinstance(base, Tree):
                picked = tree_span(base, value.slice)
                if picked is not None:
                    return Tree(base.type, tuple(range(len(picked))), tuple(base.children[i] for i in picked))
                if isinstance(value.slice, gast.Constant) and base.key_at(value.slice.value) in base.keys:
                    return base.child(base.key_at(value.slice.value))
                if base.children and not isinstance(value.slice, gast.Slice):
                    kind = base.children[0]         # `xs[k]`, `d[key]`: any of the elements
                    for child in base.children[1:]:
                        kind = merge_kinds(kind, child)
                    return kind
                return UNKNOWN
            if isinstance(base, Seq):           # (a stand-in list has one element: a list
                return base if isinstance(value.slice, gast.Slice) else base.element   # in it too)
            return self.evaluate(lambda: self.stand_in(value.value)[self.stand_in_index(value.slice)])
        if isinstance(value, gast.Attribute):
            base = self.atom_kind(value.value)
            if isinstance(base, Tree):            # `p.w` of a named tuple or dataclass: its field
                at = base.field(value.attr)
                return base.child(at) if at is not None else _class_attribute_kind(base.type, value.attr)
            if base == UNKNOWN:
                return Opaque(tuple) if value.attr in NONDIFF_ATTRIBUTES else UNKNOWN
            return self.evaluate(lambda: getattr(self.stand_in(value.value), value.attr))
        joined = concatenated_kind(self.atom_kind, value)
        if joined is not None:
            return joined
        if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            return self.evaluate(lambda: _apply(value, self.stand_in))
        constructed = constructed_type(value, self.ns, self.core.local_names)
        if constructed is not None:              # `P(a, b)`: a named tuple or dataclass of known fields
            keys, elts = literal_elements(value, self.ns, self.core.local_names)
            return Tree(constructed[0], tuple(keys), tuple(self.atom_kind(e) for e in elts), constructed[1])
        if isinstance(value, gast.Call):
            return self.call_result_kind(value)
        return UNKNOWN

    def reshape_kind(self, base, shape_atoms):
        """`x.reshape(3, -1)` cannot run on size-one stand-ins: its rank is
        the number of sizes given."""
        kinds = [self.atom_kind(a) for a in shape_atoms]
        if len(kinds) == 1 and isinstance(kinds[0], Tree):
            kinds = list(kinds[0].children)
        if isinstance(base, Array) and all(k == Scalar("int") for k in kinds):
            return Array(len(kinds), base.dtype)
        return UNKNOWN

    def split_kind(self, base, sections):
        """`np.split(x, 3)` or `np.split(x, [2, 5])`: a list of that many arrays."""
        value = sections.value if isinstance(sections, gast.Constant) else None
        count = value if isinstance(value, int) else len(value) + 1 \
            if isinstance(value, tuple) else None
        kind = self.atom_kind(sections)
        if isinstance(kind, Tree):                      # a list of split points
            count = len(kind.children) + 1
        if not isinstance(base, Array) or not isinstance(count, int) or isinstance(count, bool):
            return UNKNOWN
        part = Array(base.ndim, base.dtype)
        return Tree(list, tuple(range(count)), (part,) * count)

    def squeeze_kind(self, base, axis_given):
        """`np.squeeze(x)` drops every size-one dimension: its rank follows from
        which dimensions have size one, not from stand-ins (all of size one)."""
        if axis_given:
            return None
        if isinstance(base, Array) and base.ones is not None and None not in base.ones:
            return Array(base.ones.count(False), base.dtype)
        return UNKNOWN

    def call_result_kind(self, call):
        func = call.func
        axis_given = len(call.args) > 1 or any(k.arg == "axis" and not (
            isinstance(k.value, gast.Constant) and k.value.value is None) for k in call.keywords)
        if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
            base = self.atom_kind(func.value)
            if func.attr == "reshape" and not call.keywords:
                return self.reshape_kind(base, call.args)
            if func.attr == "copy" and not call.args and not call.keywords:
                return base
            if func.attr == "squeeze":
                kind = self.squeeze_kind(base, axis_given or len(call.args) > 0)
                if kind is not None:
                    return kind
            if isinstance(base, Array) and base.ndim is not None or isinstance(base, Scalar):
                # (a float's `.item()`: np.sum(x) of float64 is one)
                return self.evaluate(lambda: getattr(self.stand_in(func.value), func.attr)(
                    *[self.stand_in(a) for a in call.args],
                    **{k.arg: self.stand_in(k.value) for k in call.keywords}))
            return UNKNOWN
        obj = self.ns.resolve(func, self.core.local_names)
        if obj is MISSING and isinstance(func, gast.Attribute):
            # `BIAS.reshape(1, -1)`: a method of a global array, on a stand-in of its kind
            base = copy.copy(func.value)
            base.s2sad_global = not isinstance(base, gast.Name)
            if isinstance(self.atom_kind(base), Array) and self.atom_kind(base).ndim is not None:
                return self.evaluate(lambda: getattr(self.stand_in(base), func.attr)(
                    *[self.stand_in(a) for a in call.args],
                    **{k.arg: self.stand_in(k.value) for k in call.keywords}))
        if obj is MISSING:
            return UNKNOWN
        if rules.is_user_function(obj) and rules.lookup_adjoint(obj) is None:
            return self.call_kind(obj, [self.atom_kind(a) for a in call.args],
                                  {k.arg: self.atom_kind(k.value) for k in call.keywords})
        if obj is runtime.zeros_list and len(call.args) == 1:
            kind = self.atom_kind(call.args[0])          # generated code transformed again:
            if isinstance(kind, (Seq, Tree)):            # zeros shaped like each element
                return kind
        if obj is runtime.list_item_adjoint and len(call.args) == 3:
            kind = self.atom_kind(call.args[1])          # an adjoint per element of the list
            if isinstance(kind, Seq) or isinstance(kind, Tree) and kind.type is list:
                return kind
        if (obj is list or obj is tuple) and len(call.args) == 1 and not call.keywords:
            # the length of what stand-ins give is theirs: a list grown in a loop, or
            # an array's rows, are as long as they are at run time
            kind = self.atom_kind(call.args[0])
            if isinstance(kind, Tree) and issubclass(kind.type, (list, tuple)):
                return Tree(obj, kind.keys, kind.children)
            if isinstance(kind, Array) and isinstance(kind.ndim, int) and kind.ndim >= 1:
                return Seq(Array(kind.ndim - 1, kind.dtype)) if obj is list else UNKNOWN
            if isinstance(kind, Seq):            # (a tuple of any length reads as such a list)
                return kind
            if kind == Opaque(range):
                return Seq(Scalar("int")) if obj is list else UNKNOWN
        if obj is runtime.as_list and len(call.args) == 1:   # a stacked array's rows, or a list
            kind = self.atom_kind(call.args[0])
            if isinstance(kind, (Seq, Tree)):
                return merge_kinds(kind, Seq(PENDING))
            if isinstance(kind, Array) and isinstance(kind.ndim, int) and kind.ndim >= 1:
                return Seq(Array(kind.ndim - 1, kind.dtype))
            return Seq(UNKNOWN)
        if not is_pure(obj):
            return UNKNOWN
        if obj is np.squeeze and call.args:
            kind = self.squeeze_kind(self.atom_kind(call.args[0]), axis_given)
            if kind is not None:
                return kind
        if obj is np.reshape and len(call.args) == 2:
            return self.reshape_kind(self.atom_kind(call.args[0]), call.args[1:])
        if any(obj is f for f in _SPLITS) and len(call.args) >= 2:
            return self.split_kind(self.atom_kind(call.args[0]), call.args[1])
        if obj in (builtins.max, builtins.min) and len(call.args) >= 2 and not call.keywords:
            # which argument wins depends on the values, not the stand-ins': the
            # result may be any of them (`max(np.cos(s), 0)` is a float)
            kind = None
            for a in call.args:
                kind = merge_kinds(kind, self.atom_kind(a))
            return kind
        kind = self.evaluate(lambda: obj(*[self.stand_in(a) for a in call.args],
                                         **{k.arg: self.stand_in(k.value) for k in call.keywords}))
        if isinstance(kind, Tree) and kind.type is list and any(
                _holds_seq(self.atom_kind(a)) for a in list(call.args) + [k.value for k in call.keywords]):
            # a list made from a list of unknown length (one element in its stand-in):
            # as long as that one is at run time
            element = None
            for child in kind.children:
                element = merge_kinds(element, child)
            return Seq(element if element is not None else UNKNOWN)
        return kind


def _holds_seq(kind):
    """Is a list of unknown length this kind or part of it?"""
    if isinstance(kind, Seq):
        return True
    return isinstance(kind, Tree) and any(_holds_seq(c) for c in kind.children)
