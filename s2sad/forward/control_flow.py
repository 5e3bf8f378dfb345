"""Control flow in forward mode: branches and loops stay as the user wrote
them; where paths leave a tangent in different places, each puts it in one
variable of its own (zeros on a path that varied nothing)."""

import gast

from ..analyze import assigned_names_deep
from ..kinds import Tree, leaves
from ..refs import Ref
from ..sweep import same_atom, tree_literal
from ..trees import Comment, assign, child_blocks, const, copy_node, name


def _versions_made(block):
    """(name, version) of every value a block's statements make, nested ones too."""
    made = set()
    for stmt in block:
        sf = getattr(stmt, "s2sad_facts", None)
        if sf is not None:
            made.update(sf.writes.items())
        for inner in child_blocks(stmt):
            made |= _versions_made(inner)
    return made


def _on_every_path(items, stmt):
    """Add `stmt` at the end of a block, before a `break` that ends it, and on
    every path of an `if` that ends it (a path may break)."""
    last = next((i for i in reversed(range(len(items))) if not isinstance(items[i], Comment)), None)
    if last is not None and isinstance(items[last], gast.Break):
        while last > 0 and isinstance(items[last - 1], Comment):
            last -= 1                     # before the comment naming the `break`
        items.insert(last, stmt)
    elif last is not None and isinstance(items[last], gast.If) and _breaks(items[last]):
        _on_every_path(items[last].body, copy_node(stmt))
        _on_every_path(items[last].orelse, copy_node(stmt))
    else:
        items.append(stmt)


def _breaks(node):
    return any(isinstance(n, gast.Break) for b in child_blocks(node) for s in b
               if not isinstance(s, Comment) for n in [s]) or any(
        _breaks(s) for b in child_blocks(node) for s in b if isinstance(s, gast.If))


def copy_node_shallow(node):
    new = type(node)(**{f: getattr(node, f, None) for f in node._fields})
    new.__dict__.update({k: v for k, v in node.__dict__.items() if k not in node._fields})
    return new


class ControlFlow:
    """Branches and loops, mixed into `Forward`."""

    def branch(self, stmt):
        sf = stmt.s2sad_facts
        entry = dict(self.table)
        results = []
        for which, block in ((1, stmt.body), (2, stmt.orelse)):
            self.table = dict(entry)
            items = self.nested(block)
            for name_, (phi, *versions) in sf.joins.items():
                version = versions[which - 1]
                for path, _ in leaves(self.facts.kind(name_, phi)):
                    t = self.table.get(Ref(name_, version, path)) if version is not None else None
                    if t is None and version is not None and path == () \
                            and isinstance(self.facts.kind(name_, version), Tree):
                        t = self.grown_literal(name_, version)    # a literal joining a list
                        if t is not None:
                            holder = self.ctx.namer.fresh("d" + name_)
                            items.append(assign(name(holder, store=True), t))
                            t = name(holder)
                    self.table.pop(Ref(name_, phi, path), None)
                    if t is not None:
                        self.table[Ref(name_, phi, path)] = t
            results.append((items, self.table))
        (body, t1), (orelse, t2) = results
        made = (_versions_made(stmt.body), _versions_made(stmt.orelse))
        merged = {}
        for ref in sorted(set(t1) | set(t2), key=repr):
            a, b = t1.get(ref), t2.get(ref)
            if a is not None and b is not None and same_atom(a, b):
                merged[ref] = a
                continue
            if not self.facts.active(ref):
                continue
            own = self.own_variable(ref, [t1, t2, merged])
            for items, value, other in ((body, a, made[1]), (orelse, b, made[0])):
                if value is None and ref.local in other:
                    # a value only the other branch makes (`x_1 = x` on one path):
                    # this path never reads it, nor its tangent, and has no zeros_like
                    value = const(None)
                value = value if value is not None else self.zeros(ref)
                if not (isinstance(value, gast.Name) and value.id == own):
                    _on_every_path(items, self.joined(own, value))
            merged[ref] = name(own)
        self.table = merged
        node = gast.If(test=copy_node(stmt.test), body=body, orelse=orelse)
        self.emit(node)

    def loop(self, stmt):
        sf = stmt.s2sad_facts
        self.keep_through(stmt)
        carried = []
        for name_, (phi, before, end) in sorted(sf.carried.items()):
            for path, _ in leaves(self.facts.kind(name_, phi)):
                ref = Ref(name_, phi, path)
                if not self.facts.active(ref):
                    continue
                start = self.table.get(Ref(name_, before, path)) if before is not None else None
                if start is None and before is not None and path == () \
                        and isinstance(self.facts.kind(name_, before), Tree):
                    start = self.grown_literal(name_, before)
                own = self.own_variable(ref, [self.table])
                if start is None and before is None:
                    value = const(None)           # made in the loop: read only after it is
                else:
                    value = start if start is not None else self.zeros(Ref(name_, before, path))
                if not (isinstance(value, gast.Name) and value.id == own):
                    self.release(own, ref)
                    self.emit(self.joined(own, value))
                self.table[ref] = name(own)
                carried.append((ref, Ref(name_, end, path), own))
        node = copy_node_shallow(stmt)
        body = self.nested(stmt.body)
        for ref, end, own in carried:       # on every way out of a trip, `break` too
            saved, self.items = self.items, []
            value = self.table.get(end)
            if value is None and end.path == () and isinstance(self.facts.kind(*end.local), Tree):
                value = self.grown_literal(*end.local)
            value = value if value is not None else self.zeros(end)
            if not (isinstance(value, gast.Name) and value.id == own):
                self.release(own, ref)
                self.emit(self.joined(own, value))
            for s in self.items:
                _on_every_path(body, s)
            self.items = saved
            self.table[ref] = name(own)
        node.body = body
        self.emit(node)

    def keep_through(self, loop):
        """A tangent of a value from before the loop (`w = v`: w's tangent is
        `dv`) that is the very variable of a name the loop assigns gets a
        variable of its own before the loop, not at the first assignment
        inside it, which every later trip would repeat."""
        names = assigned_names_deep(loop)
        assigned = {own for (base, _), own in self.names.items() if base in names}
        for ref, expr in sorted(self.table.items(), key=lambda item: repr(item[0])):
            if ref.name in names or not isinstance(expr, gast.Name) or expr.id not in assigned:
                continue                  # (a name the loop assigns: its own variable is made below)
            own = self.ctx.namer.fresh(self.tangent_name(ref))
            self.emit(assign(name(own, store=True), name(expr.id)))
            self.table[ref] = name(own)

    def grown_literal(self, name_, version):
        """The tangent of a list literal that a loop grows: a list of its
        elements' tangents (None where none is varied)."""
        parts = [self.table.get(Ref(name_, version, path)) for path, _ in
                 leaves(self.facts.kind(name_, version))]
        if all(p is None for p in parts) or any(len(path) != 1 for path, _ in
                                                leaves(self.facts.kind(name_, version))):
            return None
        kind = self.facts.kind(name_, version)
        return tree_literal(self.ctx, kind, [       # (a tuple's: a tuple, where a branch
            copy_node(p) if p is not None else self.zeros(Ref(name_, version, path))   # joins it)
            for p, (path, _) in zip(parts, leaves(kind))])
