"""The reverse of control flow: `if` reverses to `if` over the branches'
reverses; a loop to a loop over its recorded trips backwards, its adjoints
carried from trip to trip in variables of their own."""

import gast

from ..kinds import Scalar, Seq, Tree
from ..refs import Ref
from ..trees import assign, at, call, copy_node, name
from ..sweep import same_atom
from .adjoints import Adjoint


def _statements(stmt):
    yield stmt
    for field_ in ("body", "orelse"):
        for s in getattr(stmt, field_, None) or []:
            if isinstance(s, gast.stmt):
                yield from _statements(s)


def _defined_in(loop):
    """(name, version) of every value a loop defines, its top-of-trip values too."""
    out = set()
    for s in _statements(loop):
        sf = s.s2sad_facts
        out.update(sf.writes.items())
        out.update((n, v[0]) for n, v in sf.joins.items())
        out.update((n, v[0]) for n, v in sf.carried.items())
    return out


def _active_inputs(loop):
    """Refs that statements inside a loop send adjoints to."""
    return set().union(*[s.s2sad_facts.active_inputs for s in _statements(loop) if s is not loop])


def _breaks(stmts):
    """Does a `break` of this loop body (not an inner loop's) occur?"""
    for s in stmts:
        if isinstance(s, gast.Break):
            return True
        if isinstance(s, gast.If) and (_breaks(s.body) or _breaks(s.orelse)):
            return True
    return False


class ControlFlow:
    """Branches and loops, mixed into `Reverse`."""

    def reverse_if(self, stmt, sf):
        """`if c:` reverses to `if c:` over the branches' reverses; where the
        branches leave an adjoint in different places, both put it in one
        variable (zeros on the branch that contributed nothing)."""
        entry = dict(self.table)
        branches = []
        for which, block in ((1, stmt.body), (2, stmt.orelse)):
            self.table = dict(entry)
            for name_, (phi, *versions) in sf.joins.items():
                for ref in self.leaf_refs(name(name_, (name_, phi))):
                    adj = self.table.pop(ref, None)
                    version = versions[which - 1]
                    if adj is not None and version is not None:
                        self.hand_to(Ref(name_, version, ref.path), ref, adj)
            self.aside.append([a.expr for a in entry.values()])
            items = self.nested(block)
            self.aside.pop()
            branches.append((items, self.table))
            # the other branch may give a temporary's adjoint a user's name
            # (`adopt_user_name`): this one's reverse is renamed with it
            self.aside.extend([items, [a.expr for a in self.table.values()]])
        del self.aside[-4:]
        (body, t1), (orelse, t2) = branches
        merged = {}
        for ref in sorted(set(t1) | set(t2), key=repr):
            a1, a2 = t1.get(ref), t2.get(ref)
            if a1 is not None and a2 is not None and same_atom(a1.expr, a2.expr):
                merged[ref] = Adjoint(a1.expr, a1.owned and a2.owned, a1.scalar and a2.scalar)
                continue
            own = self.own_variable(ref, [t1, t2, merged])
            for items, adj in ((body, a1), (orelse, a2)):
                value = adj.expr if adj is not None else self.zeros(ref)
                if not (isinstance(value, gast.Name) and value.id == own):
                    items.append(assign(name(own, store=True), copy_node(value)))
            merged[ref] = Adjoint(name(own), True, bool(a1 and a1.scalar and a2 and a2.scalar))
        self.table = merged
        if body or orelse:
            self.comment(stmt.s2sad_origin)
            node = gast.If(test=copy_node(stmt.test), body=body, orelse=orelse)
            node.s2sad_pair = stmt
            self.items.append(node)

    def hand_to(self, ref, joined, adj):
        """`adj`, the adjoint of a loop's or branch's joined value, is that of
        `ref` (the value before the loop, at the end of a trip, or at the end of
        a branch); where that is a list literal and the join a list of any
        length, its elements' adjoints are `adj[i]`."""
        if not (isinstance(self.facts.kind(*ref.local), Tree) and self.is_list(joined)):
            self.table[ref] = adj
            return
        for leaf in self.leaf_refs(name(ref.name, ref.local)):
            if self.facts.active(leaf):
                part = at(copy_node(adj.expr), leaf.path)
                self.table[leaf] = Adjoint(part, False, False)

    def reverse_loop(self, stmt, sf):
        """A loop reverses to a loop over the same trips backwards.  An adjoint
        carried from trip to trip (a name the body reassigns) lives in one
        variable; an adjoint summed over the trips (a value from before the
        loop that the body reads) starts from what it was, or from zeros."""
        carried = []                      # (top-of-trip ref, before ref or None, end ref, variable)
        pre = []
        tables = [self.table]
        for name_, (phi, before, end) in sorted(sf.carried.items()):
            for ref in self.leaf_refs(name(name_, (name_, phi))):
                if not self.facts.active(ref):
                    continue
                adj = self.table.pop(ref, None)
                own = self.own_variable(ref, tables)
                if adj is None or not (isinstance(adj.expr, gast.Name) and adj.expr.id == own):
                    pre.append(assign(name(own, store=True),
                                      copy_node(adj.expr) if adj is not None else self.zeros(ref)))
                carried.append((ref, Ref(name_, before, ref.path) if before is not None else None,
                                Ref(name_, end, ref.path), own, bool(adj and adj.scalar)))
        defined = _defined_in(stmt)
        fresh_sums, summed = set(), set()
        for ref in sorted(_active_inputs(stmt), key=repr):
            if ref.local in defined:
                continue
            adj = self.table.get(ref)         # summed over the trips
            own = self.own_variable(ref, tables)
            if adj is None or not (isinstance(adj.expr, gast.Name) and adj.expr.id == own):
                pre.append(assign(name(own, store=True),
                                  copy_node(adj.expr) if adj is not None else self.zeros(ref)))
            if adj is None and not isinstance(self.facts.kind(*ref.local), (Scalar, Tree, Seq)) \
                    and own not in self.in_place:
                fresh_sums.add(own)           # a new array: updated in place
            self.table[ref] = Adjoint(name(own), True, bool(adj and adj.scalar))
            summed.add(ref)
        self.keep_through(stmt, summed, pre)
        for top, _, end, own, scalar in carried:
            self.hand_to(end, top, Adjoint(name(own), True, scalar))
        self.in_place |= fresh_sums
        pinned = {own for *_, own, _ in carried} | {self.table[ref].expr.id for ref in summed}
        self.aside.append(pre)
        self.pinned, outer_pinned = self.pinned | pinned, self.pinned
        try:
            body = self.nested(stmt.body)
        finally:
            self.aside.pop()
            self.pinned = outer_pinned
        self.in_place -= fresh_sums
        moves = []                        # each carried variable takes its trip-top adjoint
        for top, _, end, own, scalar in carried:
            self.table.pop(end, None)
            adj = self.table.pop(top, None)
            value = adj.expr if adj is not None else self.zeros(top)
            if not (isinstance(value, gast.Name) and value.id == own):
                moves.append((own, value))
        saved, self.block = self.block, []
        for own, _ in moves:
            self.release(own, None, *[v for _, v in moves])
        body.extend(self.block)
        self.block = saved
        body.extend(self.parallel_assign(moves))
        for top, before, _, own, scalar in carried:
            if before is not None:
                self.hand_to(before, top, Adjoint(name(own), True, scalar))
        if not body:
            self.items.extend(pre)
            return
        self.comment(stmt.s2sad_origin)
        self.items.extend(pre)
        trips = None
        if isinstance(stmt, gast.While) or _breaks(stmt.body):
            trips = stmt.s2sad_trips = self.ctx.namer.fresh("trips")
        if isinstance(stmt, gast.For):
            counter = copy_node(stmt.iter)
            if trips is not None:
                counter = gast.Subscript(value=counter, slice=gast.Slice(
                    lower=None, upper=name(trips), step=None), ctx=gast.Load())
            iter_ = call(name("reversed"), counter)
            target = copy_node(stmt.target)
        else:
            iter_ = call(name("range"), name(trips))
            target = name("_", store=True)
        if trips is not None:
            for node in gast.walk(iter_):
                if isinstance(node, gast.Name) and node.id == trips:
                    node.s2sad_trips_of = stmt
        node = gast.For(target=target, iter=iter_, body=body, orelse=[], type_comment=None)
        node.s2sad_pair = stmt
        self.items.append(node)

    def parallel_assign(self, moves):
        """Assignments `own = value` that take effect together (`da, db = db, da`
        at the end of a trip): each in an order where no later value reads a
        variable already assigned, a cycle broken by a copy."""
        reads = lambda expr, id_: any(isinstance(n, gast.Name) and n.id == id_
                                      for n in gast.walk(expr))
        pending, out = [(own, copy_node(value)) for own, value in moves], []
        while pending:
            for i, (own, value) in enumerate(pending):
                if not any(reads(other, own) for j, (_, other) in enumerate(pending) if j != i):
                    out.append(assign(name(own, store=True), value))
                    del pending[i]
                    break
            else:
                own = pending[0][0]
                held = self.ctx.namer.fresh(own)
                out.append(assign(name(held, store=True), name(own)))
                for _, value in pending[1:]:
                    for n in gast.walk(value):
                        if isinstance(n, gast.Name) and n.id == own:
                            n.id = held
        return out

    def keep_through(self, loop, summed, pre):
        """An adjoint the loop leaves alone (of a value from before the loop that
        the loop does not read) may still be the very variable of a name the
        loop assigns (`b = a` after the loop: a's adjoint is `db`): it gets a
        variable of its own before the loop, not at the first assignment inside
        it, which every later trip would repeat."""
        names = {n for n, _ in _defined_in(loop)}
        assigned = {own for (base, _), own in self.adjoint_names.items() if base in names}
        taken = self.names_in_use(self.table) | assigned | {
            n.id for s in pre for n in gast.walk(s) if isinstance(n, gast.Name)}
        for ref, adj in sorted(self.table.items(), key=lambda item: repr(item[0])):
            if ref in summed or not isinstance(adj.expr, gast.Name) or adj.expr.id not in assigned:
                continue
            own = self.adjoint_name(ref)
            if own in taken:
                own = self.ctx.namer.fresh(own)
            taken.add(own)
            pre.append(assign(name(own, store=True), copy_node(adj.expr)))
            self.table[ref] = Adjoint(name(own), False, adj.scalar)
