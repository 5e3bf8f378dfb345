"""Tangents of what builds and changes containers: concatenated lists, items
read from lists and tuples, tuple unpacking, items set in place."""

import gast

from ..analyze import is_append, is_pop
from ..kinds import Seq, Tree, leaves
from ..refs import Version
from ..trees import assign, call, const, copy_node, name


class Containers:
    """Lists, tuples, dicts and updated items, mixed into `Forward`."""

    def concatenation(self, stmt, sf, outs):
        """`zs = xs + ys` of lists: the tangents joined the same way."""
        self.primal(stmt)
        value = stmt.value
        left, right = value.left, value.right
        if isinstance(self.facts.kind(*outs[0].local), Tree):
            n = len(self.kind(left).keys)
            for ref in outs:
                key, rest = ref.path[0], ref.path[1:]
                side, at = (left, key) if key < n else (right, key - n)
                src = getattr(side, "s2sad_ref", None)
                self.define(ref, self.table.get(src.leaf((at,) + rest)) if src else None)
            return
        parts = []
        for atom in (left, right):
            ref = getattr(atom, "s2sad_ref", None)
            part = None
            if ref is not None:
                part = self.grown_literal(*ref) if isinstance(self.kind(atom), Tree) \
                    else self.table.get(ref.leaf())
            parts.append(part if part is not None else self.zeros_of(atom))
        self.define(outs[0], gast.BinOp(left=parts[0], op=gast.Add(), right=parts[1]))

    def unpack(self, stmt, sf):
        target, value = stmt.targets[0], stmt.value
        source_kind = self.kind(value)
        for i, elt in enumerate(target.elts):
            for ref in self.leaf_refs(elt):
                if isinstance(source_kind, Tree):
                    self.define(ref, self.table.get(value.s2sad_ref.leaf((i,) + ref.path)))
                else:
                    t = self.table.get(value.s2sad_ref.leaf()) if getattr(value, "s2sad_ref", None) else None
                    self.define(ref, gast.Subscript(value=copy_node(t), slice=const(i), ctx=gast.Load())
                                if t is not None else None)

    def item(self, stmt, sf, outs):
        """`x = t[k]` of a tuple or dict, k known only at run time: the tangent
        of what it picks, picked at run time from the tangents of every element."""
        self.primal(stmt)
        value = stmt.value
        base = value.value
        leaves_ = self.leaf_refs(base)
        if not any(self.table.get(r) is not None for r in leaves_):
            for ref in outs:
                self.table.pop(ref, None)
            return
        kind = self.kind(base)
        index = copy_node(value.slice)
        if kind.type is dict:
            index = call(gast.Attribute(value=const(tuple(kind.keys)), attr="index", ctx=gast.Load()),
                         index)
        for ref in outs:                 # the same part of every element, picked at run time
            same = [r for r in leaves_ if r.path[1:] == ref.path]
            parts = gast.Tuple(elts=[copy_node(self.table[r]) if self.table.get(r) is not None
                                     else self.zeros(r) for r in same], ctx=gast.Load())
            self.define(ref, gast.Subscript(value=parts, slice=copy_node(index), ctx=gast.Load()))

    def update(self, stmt, sf, base):
        """`x[i] = v`, `np.add.at(x, i, v)`, `xs.append(v)`: the same on the tangents."""
        old = Version(base, sf.reads[base])
        new = Version(base, sf.writes[base])
        kind = self.facts.kind(*new)
        if is_append(stmt) and not isinstance(kind, Tree) and self.table.get(old.leaf()) is None \
                and self.argument_tangent(stmt.value.args[0]) is not None:
            # zeros for the elements already there, made before the list grows
            self.table[old.leaf()] = name(self.owned(old.leaf(), None))
        self.primal(stmt)
        if isinstance(kind, Tree) and isinstance(stmt, gast.Assign):
            return self.update_item(stmt, old, new, kind)
        if isinstance(kind, Tree):                # a list of known length: by position
            value = stmt.value.args[0] if is_append(stmt) else None
            popped = len(kind.children)           # past the end: nothing removed before it
            if is_pop(stmt) and stmt.value.args:  # `xs.pop(k)`: those after k move down one
                popped = stmt.value.args[0].value % (len(kind.children) + 1)
            for path, _ in leaves(kind):
                if value is not None and path[0] == len(kind.children) - 1:
                    src = getattr(value, "s2sad_ref", None)
                    self.define(new.leaf(path), self.table.get(src.leaf(path[1:])) if src else None)
                else:
                    at = path if path[0] < popped else (path[0] + 1,) + path[1:]
                    self.define(new.leaf(path), self.table.get(old.leaf(at)))
            return
        if is_pop(stmt):                          # `xs.pop()`: the same on the tangents
            t_old = self.table.get(old.leaf())
            if t_old is None:
                self.table.pop(new.leaf(), None)
                return
            seq = self.owned(old.leaf(), t_old)
            pop = gast.Expr(value=call(gast.Attribute(value=name(seq), attr="pop", ctx=gast.Load()),
                                       *[copy_node(a) for a in stmt.value.args]))
            pop.s2sad_effect = True
            self.emit(pop)
            self.table[new.leaf()] = name(seq)
            return
        if is_append(stmt):
            value = stmt.value.args[0]
            # an element that is a tuple (a helper's saved values) has a tuple tangent
            t_value = self.argument_tangent(value)
            t_old = self.table.get(old.leaf())
            if t_value is None and t_old is None:
                self.table.pop(new.leaf(), None)
                return
            seq = self.owned(old.leaf(), t_old)
            push = gast.Expr(value=call(gast.Attribute(value=name(seq), attr="append", ctx=gast.Load()),
                                        t_value if t_value is not None
                                        else self.argument_tangent(value, zeros=True)))
            push.s2sad_effect = True
            self.emit(push)
            self.table[new.leaf()] = name(seq)
            return
        if isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            value = stmt.value
            t_value = self.argument_tangent(value)    # (an element that is a tuple: its parts')
            t_old = self.table.get(old.leaf())
            if t_value is None and t_old is None:
                self.table.pop(new.leaf(), None)
                return
            own = self.owned(old.leaf(), t_old)
            index = copy_node(target)
            index.value = name(own)
            # (an item of a list is a value of its own: zeros of its shape, not 0)
            zero = self.zeros_of(value) if isinstance(self.kind(value), Tree) \
                or isinstance(self.facts.kind(*old), (Seq, Tree)) else const(0)
            self.emit(assign(index, copy_node(t_value) if t_value is not None else zero))
            self.table[new.leaf()] = name(own)
            return
        # np.add.at(x, i, v), np.fill_diagonal(x, v): linear in x and v, done on the tangents
        value = stmt.value.args[-1]
        t_value = self.table.get(value.s2sad_ref.leaf()) if getattr(value, "s2sad_ref", None) else None
        t_old = self.table.get(old.leaf())
        if t_value is None and t_old is None:
            self.table.pop(new.leaf(), None)
            return
        own = self.owned(old.leaf(), t_old)
        fills = len(stmt.value.args) == 2              # (what it overwrites has no tangent left)
        if t_value is not None or fills:
            update = copy_node(stmt.value)
            update.args = [name(own)] + [copy_node(a) for a in stmt.value.args[1:-1]] \
                + [copy_node(t_value) if t_value is not None else const(0.0)]
            update_stmt = gast.Expr(value=update)
            update_stmt.s2sad_effect = True
            self.emit(update_stmt)
        self.table[new.leaf()] = name(own)

    def update_item(self, stmt, old, new, kind):
        """`xs[k] = v` on a list of known length: v's tangent replaces the one
        at k (through a list of the elements' tangents where k is known only
        at run time)."""
        target, value = stmt.targets[0], stmt.value
        source = getattr(value, "s2sad_ref", None)
        t_value = self.table.get(source.leaf()) if source else None
        paths = [path for path, _ in leaves(kind)]
        if isinstance(target.slice, gast.Constant):  # v's leaves at k (v may be a list itself)
            key = kind.key_at(target.slice.value)
            for path in paths:
                if path[0] != key:
                    self.define(new.leaf(path), self.table.get(old.leaf(path)))
                else:
                    self.define(new.leaf(path), self.table.get(source.leaf(path[1:])) if source else None)
            return
        parts = [self.table.get(old.leaf(path)) for path in paths]
        if t_value is None and all(p is None for p in parts):
            for path in paths:
                self.table.pop(new.leaf(path), None)
            return
        holder = self.ctx.namer.fresh("d" + old[0])
        self.emit(assign(name(holder, store=True), gast.List(
            elts=[copy_node(p) if p is not None else self.zeros(old.leaf(path))
                  for p, path in zip(parts, paths)], ctx=gast.Load())))
        item = copy_node(target)
        item.value = name(holder)
        self.emit(assign(item, copy_node(t_value) if t_value is not None else self.zeros_of(value)))
        for path in paths:
            self.define(new.leaf(path), gast.Subscript(value=name(holder), slice=const(path[0]),
                                                      ctx=gast.Load()))
