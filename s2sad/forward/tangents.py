"""The forward sweep's table of tangents: a tangent that is another value's
is an alias, a new one gets a variable named after its primal (`dh`), and
zeros appear only where one variable must hold a tangent on every path."""

import gast

from .. import runtime
from ..kinds import Array, Opaque, Scalar, Seq, Tree
from ..sweep import access, tree_literal
from ..trees import assign, call, const, copy_node, name


class TangentTable:
    """Tangent bookkeeping, mixed into `Forward`."""

    def tangent_name(self, ref):
        key = (ref.name, ref.path)
        if key not in self.names:
            suffix = "_".join(str(p) for p in ref.path)
            self.names[key] = self.ctx.namer.fresh(f"d{ref.name}_{suffix}" if suffix else f"d{ref.name}")
        return self.names[key]

    def zeros(self, ref):
        kind = self.leaf_kind(ref)
        if isinstance(kind, Tree) and kind.type is not list:
            # a tuple, dict or named tuple (what a helper's forward half saved):
            # the structure with a zero per leaf, None where none is differentiable
            return tree_literal(self.ctx, kind, [
                self.zeros(ref.child((k,))) if c.differentiable else const(None)
                for k, c in zip(kind.keys, kind.children)])
        if isinstance(kind, Scalar) or getattr(kind, "ndim", None) == 0:
            return const(0.0)
        if isinstance(kind, Opaque) and kind.type is type(None):
            return const(None)            # (None has no tangent: `[None, dy]` of a gradient)
        if isinstance(kind, Seq) or isinstance(kind, Tree) and kind.type is list:
            return call(name(self.ctx.spell(runtime.zeros_list, "zeros_list")),
                        access(ref))
        if isinstance(kind, Array) and kind.ndim is None:
            # a kind not known (a recursive helper's result, or in generated code
            # transformed again what it saved): zeros of whatever it is, a list too
            return call(name(self.ctx.spell(runtime.zeros_like_value, "zeros_like_value")),
                        access(ref))
        return call(gast.Attribute(value=self.ctx.numpy(), attr="zeros_like", ctx=gast.Load()),
                    access(ref))

    def zeros_of(self, atom):
        """A zero tangent for an operand that is not varied."""
        ref = getattr(atom, "s2sad_ref", None)
        kind = self.kind(atom)
        if isinstance(kind, Tree):
            node = gast.List if kind.type is list else gast.Tuple
            return node(elts=[self.zeros(r) for r in self.leaf_refs(atom)], ctx=gast.Load())
        if ref is not None:
            return self.zeros(ref.leaf())
        if isinstance(kind, Scalar) or getattr(kind, "ndim", None) == 0:
            return const(0.0)
        return call(gast.Attribute(value=self.ctx.numpy(), attr="zeros_like", ctx=gast.Load()),
                    copy_node(atom))

    def tangent_of(self, ref):
        """The tangent atom of a leaf ref, or None where it is not varied."""
        return self.table.get(ref)

    def release(self, id_, keep):
        """Before `id_` is assigned: refs whose tangent is that name get their own."""
        for ref, expr in list(self.table.items()):
            if ref != keep and isinstance(expr, gast.Name) and expr.id == id_:
                own = self.ctx.namer.fresh(self.tangent_name(ref))
                self.emit(assign(name(own, store=True), name(id_)))
                self.table[ref] = name(own)

    def define(self, ref, expr):
        """The tangent of `ref` is `expr`: an atom is an alias, else a new variable."""
        if expr is None:
            self.table.pop(ref, None)
            return
        if isinstance(expr, (gast.Name, gast.Constant)):
            self.table[ref] = expr
            return
        target = self.tangent_name(ref)
        self.release(target, ref)
        self.emit(assign(name(target, store=True), expr))
        self.table[ref] = name(target)

    def joined(self, own, value):
        """`own = value` where branches or trips join: `dx = dw` on one path
        makes dx that array (an in-place update of dx then copies it first)."""
        if isinstance(value, gast.Name):
            self.may_share.add(own)
        return assign(name(own, store=True), copy_node(value))

    def owned(self, ref, tangent):
        """A tangent variable that only this value's tangent holds (zeros if none)."""
        own = self.tangent_name(ref)
        if tangent is None:
            self.release(own, ref)
            self.emit(assign(name(own, store=True), self.zeros(ref)))
            self.may_share.discard(own)
            return own
        in_use = {e.id for r, e in self.table.items() if r != ref and isinstance(e, gast.Name)}
        if isinstance(tangent, gast.Name) and tangent.id not in in_use \
                and tangent.id not in self.may_share:
            return tangent.id
        self.release(own, ref)
        self.emit(assign(name(own, store=True), call(gast.Attribute(
            value=copy_node(tangent), attr="copy", ctx=gast.Load()))))
        self.may_share.discard(own)
        return own

    def argument_tangent(self, atom, zeros=False):
        """The tangent a helper's argument passes (or a list takes), of the
        argument's own structure (`{'w': dp_w, 'b': 0.0}` for a dict); None
        where it is not varied, unless `zeros` asks for zeros then."""
        ref = getattr(atom, "s2sad_ref", None)
        if ref is None:                              # a global or a constant
            return self.zeros_of(atom) if zeros else None
        if not zeros and not any(self.table.get(r) is not None for r in self.leaf_refs(atom)):
            return None

        def build(kind, path):
            if isinstance(kind, Tree):
                return tree_literal(self.ctx, kind, [build(c, path + (k,))
                                                     for k, c in zip(kind.keys, kind.children)])
            if not kind.differentiable:
                return const(None)
            t = self.table.get(ref.leaf(path))
            return copy_node(t) if t is not None else self.zeros(ref.leaf(path))

        return build(self.facts.kind(*ref), ())
