"""The reverse of what builds and changes containers: items set in place
(`x[i] = v`, `np.add.at`), list appends and concatenations, items read
from lists and tuples, tuple unpacking."""

import gast

from .. import rules, runtime
from ..kinds import Array, Scalar, Seq, Tree, leaves
from ..analyze import index_atoms, is_append, updated_name
from ..refs import Ref, Version
from ..trees import assign, at, call, const, copy_node, name
from .adjoints import Adjoint


def _loaded(target):
    """A copy of an assignment target that reads it."""
    copied = copy_node(target)
    for node in gast.walk(copied):
        if hasattr(node, "ctx"):
            node.ctx = gast.Load()
    return copied


class Containers:
    """Lists, tuples, dicts and updated items, mixed into `Reverse`."""

    def update(self, stmt, sf):
        """`x[i] = v` / `np.add.at(x, i, v)`: the new x's adjoint goes to v's
        items and to the old x (less what was overwritten)."""
        base = updated_name(stmt)
        outs = [Ref(base, sf.writes[base], path) for path, _ in leaves(self.facts.kind(base, sf.writes[base]))]
        adjoints = {ref.path: self.table.get(ref) for ref in outs}
        if all(a is None for a in adjoints.values()):
            return
        if is_append(stmt):
            return self.append(stmt, sf, outs, adjoints)
        if isinstance(stmt, gast.Assign) and isinstance(self.facts.kind(*outs[0].local), Tree) \
                and isinstance(stmt.targets[0].slice, gast.Constant):
            return self.replace_element(stmt, sf, outs, adjoints)
        if isinstance(stmt, gast.Assign) and self.overwrite_in_place(stmt, sf, outs, adjoints):
            return
        if isinstance(stmt, gast.Assign) and getattr(self.facts.kind(*outs[0].local), "ndim", None) == 0 \
                and getattr(self.kind(stmt.value), "ndim", 0) == 0:
            # `y[...] = v` overwrites all of a 0-d array: its adjoint is v's
            adj = adjoints[()]
            for ref in outs:
                self.table.pop(ref, None)
            return self.contribute([(r, adj.expr, adj.scalar) for r in self.leaf_refs(stmt.value)
                                    if r in sf.active_inputs])
        self.primitive(stmt, sf, outs, adjoints)

    def replace_element(self, stmt, sf, outs, adjoints):
        """`xs[k] = v` on a list of known length: the leaves at position k are
        v's now (their adjoints go to v), the others the old list's."""
        target, value = stmt.targets[0], stmt.value
        base = target.value.id
        at = self.facts.kind(*outs[0].local).key_at(target.slice.value)
        old = Version(base, sf.reads[base])
        source = getattr(value, "s2sad_ref", None)
        contributions = []
        for ref in outs:
            adj = adjoints[ref.path]
            if adj is None:
                continue
            if ref.path[0] != at:
                src = old.leaf(ref.path)
            elif source is not None:
                src = source.leaf(ref.path[1:])
            else:
                continue                          # a constant: no gradient
            if src in sf.active_inputs:
                contributions.append((src, adj.expr, adj.scalar))
        return self.finish(outs, contributions)

    def overwrite_in_place(self, stmt, sf, outs, adjoints):
        """`x[i] = v` where x's adjoint is ours alone and `i` picks each item
        once (integers and slices): v takes `dx[i]`, then `dx[i] = 0` makes it
        the old x's adjoint, touching only the overwritten items."""
        target, value = stmt.targets[0], stmt.value
        g = adjoints.get(())
        kind = self.facts.kind(*outs[0].local)
        if g is None or len(outs) != 1 or not g.owned or not isinstance(g.expr, gast.Name) \
                or g.expr.id in self.names_in_use(self.table, outs[0]) or not self.exclusive(g.expr.id) \
                or not isinstance(kind, Array) or not isinstance(kind.ndim, int) or kind.ndim == 0:
            return False
        parts = target.slice.elts if isinstance(target.slice, gast.Tuple) else [target.slice]
        for part in parts:
            atoms = index_atoms(part) if isinstance(part, gast.Slice) else [part]
            if not all(isinstance(a, gast.Constant) and type(a.value) is int
                       or isinstance(self.kind(a), Scalar) and self.kind(a).dtype == "int"
                       for a in atoms):
                return False
        whole_items = not any(isinstance(p, gast.Slice) for p in parts) and len(parts) == kind.ndim
        self.table.pop(outs[0], None)
        item = lambda ctx: gast.Subscript(value=name(g.expr.id), slice=copy_node(target.slice), ctx=ctx)
        refs = [r for r in self.leaf_refs(value) if r in sf.active_inputs]
        if refs:
            taken = self.ctx.namer.fresh(self.adjoint_name(refs[0]))
            read = item(gast.Load()) if whole_items else call(   # a number is a copy; a slice, a view
                gast.Attribute(value=item(gast.Load()), attr="copy", ctx=gast.Load()))
            self.emit(assign(name(taken, store=True), read))
            value_kind = self.kind(value)
            expr = name(taken)
            if not (whole_items and (isinstance(value_kind, Scalar) or getattr(value_kind, "ndim", None) == 0)):
                expr = call(name(self.ctx.spell(runtime.unbroadcast, "unbroadcast")), expr, copy_node(value))
            self.contribute([(r, expr, False) for r in refs])
        self.emit(assign(item(gast.Store()), const(0)))
        old = Ref(outs[0].name, sf.reads[outs[0].name])
        if old in sf.active_inputs:
            self.contribute([(old, name(g.expr.id), False)])
            if self.table.get(old) is not None and isinstance(self.table[old].expr, gast.Name) \
                    and self.table[old].expr.id == g.expr.id:
                self.table[old] = Adjoint(name(g.expr.id), True, False)
        return True

    def append(self, stmt, sf, outs, adjoints):
        """`xs.append(v)`: the last element's adjoint is v's, the others the old
        list's (by position; for a list of unknown length, `g[-1]` and `g[:-1]`)."""
        seq, value = stmt.value.func.value, stmt.value.args[0]
        self.refuse_nested_sequence(stmt, outs)
        for ref in outs:
            self.table.pop(ref, None)
        contributions = []
        value_refs = [r for r in self.leaf_refs(value) if r in sf.active_inputs]
        old_refs = [r for r in self.leaf_refs(seq) if r in sf.active_inputs]
        if isinstance(self.facts.kind(*outs[0].local), Tree):
            last = len(outs) - 1
            for ref in outs:
                adj = adjoints[ref.path]
                if adj is None:
                    continue
                if ref.path[0] == last:
                    contributions += [(r, adj.expr, adj.scalar) for r in value_refs
                                      if r.path == ref.path[1:]]
                else:
                    contributions += [(r, adj.expr, adj.scalar) for r in old_refs if r.path == ref.path]
        else:
            g = adjoints[()].expr
            if isinstance(g, gast.Name) and g.id not in self.names_in_use(self.table):
                # the list is ours alone: take the last adjoint off it
                last = self.ctx.namer.fresh(self.adjoint_name(value_refs[0]) if value_refs else "dlast")
                pop = assign(name(last, store=True), call(gast.Attribute(
                    value=copy_node(g), attr="pop", ctx=gast.Load())))
                pop.s2sad_effect = True          # it changes the list: it stays where it is
                self.emit(pop)
                contributions += [(r, name(last), False) for r in value_refs]
                for r in old_refs:
                    if r in self.table:
                        contributions.append((r, copy_node(g), False))
                    else:                        # still ours alone
                        self.table[r] = Adjoint(copy_node(g), True, False)
            else:
                index = lambda i: gast.Subscript(value=copy_node(g), slice=i, ctx=gast.Load())
                contributions += [(r, index(const(-1)), False) for r in value_refs]
                contributions += [(r, index(gast.Slice(lower=None, upper=const(-1), step=None)),
                                   False) for r in old_refs]
        self.contribute(contributions)

    def refuse_nested_sequence(self, stmt, outs):
        """A list of unknown length whose elements are tuples, lists or dicts:
        its adjoint would be a list of such trees, which the reverse sweep does
        not build yet."""
        kind = self.facts.kind(*outs[0].local) if outs else None
        if isinstance(kind, Seq) and isinstance(kind.element, (Tree, Seq)):
            raise self.src.error(
                stmt.s2sad_origin, "a list grown in a loop whose elements are tuples, lists or "
                "dicts is not differentiated yet",
                "keep one list per part (`hs.append(a); gs.append(b)` for `hs.append((a, b))`)")

    def concatenation(self, stmt, sf, outs, adjoints):
        """`zs = xs + ys` of lists: each part's adjoint is its span of the result's
        (by position where the lengths are known, else `dzs[:len(xs)]`...)."""
        left, right = stmt.value.left, stmt.value.right
        self.refuse_nested_sequence(stmt, outs)
        lk, rk = self.kind(left), self.kind(right)
        contributions = []
        if isinstance(self.facts.kind(*outs[0].local), Tree):
            n = len(lk.keys)
            for ref in outs:
                adj = adjoints[ref.path]
                key, rest = ref.path[0], ref.path[1:]
                side, pos = (left, key) if key < n else (right, key - n)
                src = side.s2sad_ref.leaf((pos,) + rest) if getattr(side, "s2sad_ref", None) else None
                if adj is not None and src in sf.active_inputs:
                    contributions.append((src, adj.expr, adj.scalar))
            return self.finish(outs, contributions)
        g = adjoints[()]
        if g is None:
            return self.finish(outs, [])
        span = lambda lower, upper: gast.Subscript(value=copy_node(g.expr), slice=gast.Slice(
            lower=lower, upper=upper, step=None), ctx=gast.Load())
        item = lambda i: gast.Subscript(value=copy_node(g.expr), slice=i, ctx=gast.Load())
        if isinstance(lk, Tree):
            parts = [(left, [item(const(i)) for i in range(len(lk.keys))]), (right, span(const(len(lk.keys)), None))]
        elif isinstance(rk, Tree):
            m = len(rk.keys)
            parts = [(left, span(None, const(-m)) if m else copy_node(g.expr)),
                     (right, [item(const(i - m)) for i in range(m)])]
        else:
            n = call(name("len"), copy_node(left))
            parts = [(left, span(None, n)), (right, span(copy_node(n), None))]
        for atom, part in parts:
            for ref in self.leaf_refs(atom):
                if ref not in sf.active_inputs:
                    continue
                if isinstance(part, list):        # a list literal's elements: by position
                    expr = at(part[ref.path[0]], ref.path[1:])
                    contributions.append((ref, copy_node(expr), False))
                else:
                    contributions.append((ref, copy_node(part), False))
        self.finish(outs, contributions)

    def item_of_list(self, stmt, sf, outs, adjoints):
        """`x = xs[k]` of a list of unknown length: `dxs[k] += dx` on a list of
        adjoints that is ours alone (a copy, or zeros, where it is not)."""
        value = stmt.value
        adj = adjoints[()]
        self.table.pop(outs[0], None)
        list_ref = value.value.s2sad_ref.leaf()
        if adj is None or list_ref not in sf.active_inputs:
            return
        current = self.table.get(list_ref)
        if current is not None and current.owned and isinstance(current.expr, gast.Name) \
                and current.expr.id not in self.names_in_use(self.table, list_ref) \
                and self.exclusive(current.expr.id):
            own = current.expr.id
        else:
            own = self.own_variable(list_ref, [self.table])
            start = call(name("list"), copy_node(current.expr)) if current is not None \
                else self.zeros(list_ref)
            self.release(own, list_ref, start, adj.expr)
            self.emit(assign(name(own, store=True), start))
        item = lambda ctx: gast.Subscript(value=name(own), slice=copy_node(value.slice), ctx=ctx)
        self.emit(assign(item(gast.Store()), gast.BinOp(left=item(gast.Load()), op=gast.Add(),
                                                         right=copy_node(adj.expr))))
        self.table[list_ref] = Adjoint(name(own), True, False)

    def item_of_sequence(self, stmt, sf, outs, adjoints):
        """`x = xs[k]` with `k` known only at run time (a loop over a list of
        arrays, or of dicts of arrays): each part of the adjoint goes to the
        same part of whichever element `k` picks, through `add_at_item` over
        those parts' adjoints."""
        value = stmt.value
        kind = self.kind(value.value)
        leaves = self.leaf_refs(value.value)
        by_rest = {}
        for ref in leaves:
            by_rest.setdefault(ref.path[1:], []).append(ref)
        if any(len(refs) != len(kind.keys) or [r.path[0] for r in refs] != list(kind.keys)
               for refs in by_rest.values()) or {o.path for o in outs} != set(by_rest):
            raise self.src.error(stmt.s2sad_origin, "indexing a list of lists or dicts of "
                                 "different shapes with a value known only at run time cannot be "
                                 "differentiated", "give every element the same keys, or index "
                                 "with a constant")
        position = copy_node(value.slice)
        if kind.type is dict:                # `d[key]`: the key's place among the keys
            position = call(gast.Attribute(value=const(tuple(kind.keys)), attr="index",
                                           ctx=gast.Load()), position)
        helper = name(self.ctx.spell(runtime.add_at_item, "add_at_item"))
        for out in outs:
            adj = adjoints[out.path]
            self.table.pop(out, None)
            refs = by_rest[out.path]
            if adj is None or not any(ref in sf.active_inputs for ref in refs):
                continue
            parts, targets = [], []
            for ref in refs:
                current = self.table.get(ref)
                parts.append(copy_node(current.expr) if current is not None else self.zeros(ref))
                own = self.own_variable(ref, [self.table])
                self.release(own, ref, *parts, adj.expr)
                targets.append(own)
            self.emit(assign(gast.Tuple(elts=[name(t, store=True) for t in targets], ctx=gast.Store()),
                             call(helper, gast.Tuple(elts=parts, ctx=gast.Load()),
                                  copy_node(position), copy_node(adj.expr))))
            for ref, t in zip(refs, targets):
                self.table[ref] = Adjoint(name(t), True, False)

    def unpack(self, stmt, sf):
        target, value = stmt.targets[0], stmt.value
        contributions = []
        source_kind = self.kind(value)
        elements = []
        for i, elt in enumerate(target.elts):
            for ref in self.leaf_refs(elt):
                adj = self.table.pop(ref, None)
                if isinstance(source_kind, Tree):
                    src = value.s2sad_ref.leaf((i,) + ref.path)
                    if adj is not None and src in sf.active_inputs:
                        contributions.append((src, adj.expr, adj.scalar))
                else:
                    elements.append((elt, adj))
        if elements and any(adj is not None for _, adj in elements):
            if isinstance(source_kind, Array) and source_kind.ndim is not None:   # rows
                parts = [adj.expr if adj is not None else call(gast.Attribute(
                    value=self.ctx.numpy(), attr="zeros_like", ctx=gast.Load()), _loaded(elt))
                    for elt, adj in elements]
                joined = call(gast.Attribute(value=self.ctx.numpy(), attr="stack", ctx=gast.Load()),
                              gast.List(elts=parts, ctx=gast.Load()))
            else:                                        # an array or a list: decided at run time
                parts = [adj.expr if adj is not None else gast.Constant(value=None, kind=None)
                         for _, adj in elements]
                joined = call(name(self.ctx.spell(runtime.unpack_adjoint, "unpack_adjoint")),
                              gast.List(elts=parts, ctx=gast.Load()), copy_node(value))
            for ref in self.leaf_refs(value):
                if ref in sf.active_inputs:
                    contributions.append((ref, joined, False))
        self.contribute(contributions)

    def pop_of_literal(self, key, args, keywords, g_expr):
        """`xs.pop()` / `xs.pop(k)` on a list of known length: the old list's
        adjoint is the new one's with no adjoint at the removed place, made
        here (at run time, `pop_adjoint` would hand on the unread elements'
        None as values)."""
        if key is not rules.method_key("pop") or keywords or not isinstance(g_expr, gast.List) \
                or len(args) > 2 or len(args) == 2 and not (
                    isinstance(args[1], gast.Constant) and type(args[1].value) is int):
            return None
        index = args[1].value if len(args) == 2 else -1
        elts = list(g_expr.elts)
        at = index % (len(elts) + 1)             # where it was in the longer, old list
        return [gast.List(elts=elts[:at] + [const(None)] + elts[at:], ctx=gast.Load()), None]
