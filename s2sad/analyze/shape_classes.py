"""Which dimensions have size one, and which versions provably have the same
shape (shape classes): what lets `unbroadcast` fold away where the shapes
are known."""

import gast
import numpy as np

from ..kinds import (Array, Scalar)


_ELEMENTWISE_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.Mod, gast.FloorDiv)


_REDUCTIONS = ("sum", "mean", "max", "min", "amax", "amin", "prod", "var", "std")


def _broadcast_ones(masks):
    """Size-one dimensions of the broadcast of shapes with these ones."""
    ndim = max(len(m) for m in masks)
    padded = [(True,) * (ndim - len(m)) + tuple(m) for m in masks]
    return tuple(all(dims) for dims in zip(*padded))


def _product_ones(a, b, dot=False):
    """Size-one dimensions of `a @ b` (or np.dot up to 2-D)."""
    if a is None or b is None or not a or not b or dot and (len(a) > 2 or len(b) > 2):
        return None
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(a) == 1:
        return b[:-2] + b[-1:]
    if len(b) == 1:
        return a[:-1]
    return _broadcast_ones([a[:-2], b[:-2]]) + (a[-2], b[-1])


class ShapeClasses:
    """Size-one dimensions and shape classes, mixed into `Analyzer`."""

    def new_class(self, kind):
        if getattr(kind, "ndim", None) == 0:
            return "()"
        self._classes += 1
        return self._classes

    def atom_class(self, atom):
        if isinstance(atom, gast.Name) and atom.id in self.core.local_names:
            return self.shape_class.get((atom.id, self.current.get(atom.id)))
        kind = self.atom_kind(atom)
        return "()" if getattr(kind, "ndim", None) == 0 else None

    def size_fact(self, value):
        """Whether an int that is an array's size is one (`W.shape[0]`,
        `len(x)`: from the array's kind), or a tuple of those for a shape,
        so `np.zeros((B, H))` knows which of its dimensions have size one."""
        def of(atom):
            if isinstance(atom, gast.Constant) and type(atom.value) is int:
                return atom.value == 1
            if isinstance(atom, gast.Name) and atom.id in self.current:
                return self.sizes.get((atom.id, self.current[atom.id]))
            return None

        if isinstance(value, gast.Name):
            return of(value)
        if isinstance(value, gast.Attribute) and value.attr == "shape":
            return self.atom_ones(value.value)
        if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Constant):
            shape = of(value.value)
            if isinstance(shape, tuple) and type(value.slice.value) is int \
                    and -len(shape) <= value.slice.value < len(shape):
                return shape[value.slice.value]
        if isinstance(value, gast.Tuple):
            flags = tuple(of(e) for e in value.elts)
            return flags if all(isinstance(f, bool) for f in flags) else None
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and len(value.args) == 1 \
                and self.ns.resolve(value.func, self.core.local_names) is len:
            ones = self.atom_ones(value.args[0])
            return ones[0] if ones else None
        return None

    def elementwise_operands(self, value):
        """The operands of an elementwise operation, or None."""
        if isinstance(value, gast.BinOp) and isinstance(value.op, _ELEMENTWISE_OPS):
            return [value.left, value.right]
        if isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.USub, gast.UAdd)):
            return [value.operand]
        if isinstance(value, gast.Call) and not value.keywords:
            obj = self.ns.resolve(value.func, self.core.local_names)
            if isinstance(obj, np.ufunc) and obj.signature is None and obj.nin == len(value.args):
                return list(value.args)
        return None

    def atom_ones(self, atom):
        kind = self.atom_kind(atom)
        if isinstance(kind, Scalar):
            return ()
        return kind.ones if isinstance(kind, Array) else None

    def value_ones(self, value, kind):
        """Which dimensions of the result have size one, where that is provable
        from the operands' (broadcasting, products, transposes, reductions)."""
        if not isinstance(kind, Array) or not isinstance(kind.ndim, int):
            return None
        if isinstance(value, gast.Name):
            ones = self.atom_ones(value)
        else:
            ones = self.derived_ones(value, kind.ndim)
        return ones if ones is not None and len(ones) == kind.ndim else None

    def derived_ones(self, value, ndim):
        if ndim == 0:
            return ()
        operands = self.elementwise_operands(value)
        if operands is not None:
            masks = [self.atom_ones(a) for a in operands]
            return None if None in masks else _broadcast_ones(masks)
        if isinstance(value, gast.Attribute) and value.attr == "T":
            ones = self.atom_ones(value.value)
            return None if ones is None else ones[::-1]
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.MatMult):
            return _product_ones(self.atom_ones(value.left), self.atom_ones(value.right))
        if isinstance(value, gast.Subscript):
            return self.index_ones(value)
        if not isinstance(value, gast.Call):
            return None
        func = value.func
        method = isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False)
        obj = None if method else self.ns.resolve(func, self.core.local_names)
        args = ([func.value] if method else []) + list(value.args)
        if (obj is np.matmul or obj is np.dot) and len(args) == 2:
            return _product_ones(*[self.atom_ones(a) for a in args], dot=obj is np.dot)
        if any(obj is f for f in (np.zeros, np.ones, np.empty, np.full)) and args:
            shape = self.size_fact(args[0])          # `np.zeros((B, H))` of sizes of arrays
            shape = (shape,) if isinstance(shape, bool) else shape
            return shape if isinstance(shape, tuple) and len(shape) == ndim else None
        name = func.attr if method else getattr(obj, "__name__", None)
        if name in _REDUCTIONS and (method or obj is getattr(np, name, None)):
            keywords = {k.arg: k.value for k in value.keywords}
            axis = args[1] if len(args) > 1 else keywords.get("axis")
            keepdims = keywords.get("keepdims")
            base = self.atom_ones(args[0])
            if base is None or any(a is not None and not isinstance(a, gast.Constant)
                                   for a in (axis, keepdims)):
                return None
            axes = range(len(base)) if axis is None or axis.value is None else \
                (axis.value if isinstance(axis.value, tuple) else (axis.value,))
            try:
                axes = {a % len(base) for a in axes}
            except TypeError:
                return None
            if keepdims is not None and keepdims.value:
                return tuple(True if i in axes else o for i, o in enumerate(base))
            return tuple(o for i, o in enumerate(base) if i not in axes)
        return None

    def index_ones(self, value):
        """`xs[t]`, `X[:, j]`: integers drop a dimension, a bare `:` keeps it."""
        base = self.atom_ones(value.value)
        index = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        if base is None or len(index) > len(base):
            return None
        out = []
        for i, part in enumerate(index):
            if isinstance(part, gast.Slice) and part.lower is None and part.upper is None \
                    and part.step is None:
                out.append(base[i])
            elif not isinstance(part, gast.Slice) and self.atom_kind(part) == Scalar("int"):
                continue
            else:
                return None
        return tuple(out) + tuple(base[len(index):])

    def unify_operand_classes(self, value, kind):
        """`a * b` run unconditionally, both with the result's size-one
        dimensions: broadcasting leaves them no other choice than one shape,
        so from here on their classes are one (lets the simplifier see that
        `np.ones_like(a) * b` needs no ones).  Only at the function's top
        level: a statement that may not run proves nothing."""
        operands = self.elementwise_operands(value)
        ones = getattr(kind, "ones", None)
        if operands is None or ones is None:
            return
        classes = []
        for a in operands:
            cls = self.atom_class(a)
            if self.atom_ones(a) == ones and cls not in (None, "()") and cls not in classes:
                classes.append(cls)
        for key, cls in self.shape_class.items():
            if cls in classes[1:]:
                self.shape_class[key] = classes[0]

    def value_class(self, value, kind):
        if getattr(kind, "ndim", None) == 0:
            return "()"
        if isinstance(value, gast.Name):
            return self.atom_class(value)
        operands = self.elementwise_operands(value)
        if operands is None:
            return None
        ones = getattr(kind, "ones", None)
        if ones is not None:
            # an operand with the result's size-one dimensions has its shape:
            # broadcasting makes every other dimension equal to the operand's
            for a in operands:
                if self.atom_ones(a) == ones and self.atom_class(a) not in (None, "()"):
                    return self.atom_class(a)
        classes = {self.atom_class(a) for a in operands} - {"()"}
        if len(classes) == 1 and None not in classes:
            return classes.pop()
        return None
