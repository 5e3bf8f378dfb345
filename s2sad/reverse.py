"""Stage 4: reverse mode.  A forward sweep, then a reverse sweep.

The forward sweep is the core function's own statements (annotated with
the version of every name they read and write).  The reverse sweep walks
them backwards; for each statement that carries a gradient it inlines the
rule of the operation (`templates.inline`) with `g` replaced by the
result's adjoint, and adds each contribution to the adjoint of the operand
it belongs to:

* the first contribution to an adjoint is an assignment (`dW2 = h.T @ g`),
  later ones add to it; a contribution that is just a name becomes an
  alias, not a copy;
* adjoints are named after their primal (`dW1`, `dparams_W1`);
* calls to the user's own functions call their generated halves:
  `h, layer_saved = layer_fwd(x, W)` forward and
  `dx, dW = layer_bwd(dh, layer_saved)` in reverse.

Which values the reverse sweep reads, and where they need names of their
own because the forward sweep overwrote them, is settled afterwards by
`optimize`.
"""

import inspect
import operator

import dataclasses
import types

import gast
import numpy as np

from . import rules, runtime
from .kinds import UNKNOWN, Array, Opaque, Scalar, Seq, Tree, is_namedtuple, kind_of, leaves
from .analyze import (concatenated_kind, index_atoms, literal_elements, named_field, tree_span,
                      is_append, updated_name)
from .normalize import is_atom
from .parse import MISSING, bind_arguments, user_text
from .templates import CallSite, Operand, inline
from .trees import Comment, assign, call, const, copy_node, name, slices_as_values, statements, unparse


def _loaded(target):
    """A copy of an assignment target that reads it."""
    copied = copy_node(target)
    for node in gast.walk(copied):
        if hasattr(node, "ctx"):
            node.ctx = gast.Load()
    return copied


def _positional_slots(rule):
    """How many positional parameters a rule has after `g, result` (all of
    them, for `*args`)."""
    try:
        params = list(inspect.signature(rule).parameters.values())[2:]
    except (TypeError, ValueError):
        return 0
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 1 << 30
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


class Adjoint:
    """The current adjoint of a ref: an expression, and whether we own its name."""

    def __init__(self, expr, owned, scalar):
        self.expr = expr
        self.owned = owned          # a variable of ours we may assign to
        self.scalar = scalar        # provably a Python scalar


class Context:
    """Names for one generated function: fresh names and closure cells."""

    def __init__(self, core, builder):
        from .names import Namer
        self.core = core
        self.builder = builder
        self.namer = Namer(core.namer.taken, core.namer.bases)
        self.cells = {}             # name -> object the generated code needs
        self._spelled = {}
        self._used = None

    def spell(self, obj, preferred):
        """The name generated code uses for a library object."""
        key = id(obj)
        if key in self._spelled:
            return self._spelled[key]
        names = [n for n in self.core.source.namespace.names_bound_to(obj)
                 if n not in self.core.local_names and n != "_"]
        used = [n for n in names if n in self._used_names()]
        if used:
            spelled = used[0]                 # the user's own spelling, e.g. `xp`
        elif names and isinstance(obj, types.ModuleType):
            spelled = preferred if preferred in names else sorted(names, key=len)[0]
        else:                                 # held by the function itself, not read from globals
            spelled = self.namer.fresh(preferred)
            self.cells[spelled] = obj
        self._spelled[key] = spelled
        return spelled

    def _used_names(self):
        if self._used is None:
            self._used = {n.id for n in gast.walk(self.core.source.node) if isinstance(n, gast.Name)}
        return self._used

    def numpy(self):
        return name(self.spell(np, "np"))


def annotate(core, facts):
    """Copies of the core statements whose local names carry their versions
    (and, as `s2sad_facts`, the statement's facts)."""
    return [_annotated(core, facts, stmt) for stmt in core.body]


def _annotated(core, facts, stmt):
    sf = facts.stmts[id(stmt)]
    blocks = {"body", "orelse"} if isinstance(stmt, (gast.If, gast.For, gast.While)) else set()
    copied = type(stmt)(**{f: copy_node(getattr(stmt, f, None)) if f not in blocks else None
                           for f in stmt._fields})
    copied.__dict__.update({k: v for k, v in stmt.__dict__.items() if k not in stmt._fields})
    for node in gast.walk(copied):
        if isinstance(node, gast.Name) and node.id in core.local_names:
            if isinstance(node.ctx, gast.Store):
                node.s2sad_ref = (node.id, sf.writes[node.id])
            elif node.id in sf.reads:
                node.s2sad_ref = (node.id, sf.reads[node.id])
    for field_ in blocks:
        setattr(copied, field_, [_annotated(core, facts, s) for s in getattr(stmt, field_)])
    if isinstance(stmt, gast.For):
        copied.target.s2sad_ref = sf.counter
    copied.s2sad_facts = sf
    return copied


class Reverse:
    """Builds the forward and reverse sweeps of one core function."""

    def __init__(self, core, facts, ctx):
        self.core = core
        self.src = core.source
        self.facts = facts
        self.ctx = ctx
        self.forward = annotate(core, facts)
        self.table = {}                   # ref -> Adjoint
        self.adjoint_names = {}
        self.replacements = {}            # id(forward statement) -> statement (helper calls)
        self.items = []                   # the reverse sweep: statements and Comments
        self.outer = []                   # the items of the blocks around this one
        # code and adjoints made but held aside while a block inside a branch or
        # loop is reversed (the branch beside it, the adjoints at the `if`'s end,
        # what goes before a loop): renamed with the rest (`adopt_user_name`)
        self.aside = []
        self.pinned = set()               # the variables of the loops around this block
        self.block = []
        self.last_origin = None
        self.temporary_adjoints = set()   # adjoint names of the normaliser's temporaries
        self.in_place = set()             # loop sums only their own variable holds
        self.pending = []                 # expressions still to be emitted (`release` spares them)

    # ---- adjoint bookkeeping ---------------------------------------------------

    def adjoint_name(self, ref):
        key = (ref[0], ref[2])
        if key not in self.adjoint_names:
            base, path = ref[0], ref[2]
            suffix = "_".join(str(p) for p in path)
            self.adjoint_names[key] = self.ctx.namer.fresh(f"d{base}_{suffix}" if suffix else f"d{base}")
            if base not in self.core.user_names:
                self.temporary_adjoints.add(self.adjoint_names[key])
        return self.adjoint_names[key]

    def temporaries(self):
        """Names the reverse sweep assigns that are not a user variable's adjoint."""
        user = set(self.adjoint_names.values()) - self.temporary_adjoints
        return {n.id for item in self.items if not isinstance(item, Comment)
                for n in gast.walk(item)
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
                and getattr(n, "s2sad_ref", None) is None} - user

    def adopt_user_name(self, ref):
        """`dlogits`, not `dlogits_minus_y`: a user variable whose adjoint is
        the very array a temporary's adjoint holds gives it its name."""
        adj = self.table.get(ref)
        if adj is None or not isinstance(adj.expr, gast.Name) or ref[0] not in self.core.user_names \
                or adj.expr.id not in self.temporary_adjoints or adj.expr.id in self.pinned:
            return
        old, new = adj.expr.id, self.adjoint_name(ref)
        everything = [i for items in self.outer + self.aside for i in items] + self.items \
            + self.block + [a.expr for a in self.table.values()]
        if any(isinstance(n, gast.Name) and n.id == new for item in everything
               if not isinstance(item, Comment) for n in gast.walk(item)):
            return
        for item in everything:
            if not isinstance(item, Comment):
                for n in gast.walk(item):
                    if isinstance(n, gast.Name) and n.id == old:
                        n.id = new

    def emit(self, stmt):
        self.block.append(stmt)

    def release(self, id_, keep, *reads):
        """Before `id_` is assigned: refs aliasing it get a copy of their own,
        in a variable that neither another adjoint nor what is about to be
        computed (`reads`, and contributions still pending) reads."""
        for ref, adj in list(self.table.items()):
            if ref != keep and isinstance(adj.expr, gast.Name) and adj.expr.id == id_:
                own = self.adjoint_name(ref)
                in_use = {a.expr.id for a in self.table.values() if isinstance(a.expr, gast.Name)}
                in_use |= {n.id for e in list(reads) + self.pending for n in gast.walk(e)
                           if isinstance(n, gast.Name)}
                if own == id_ or own in in_use:
                    own = self.ctx.namer.fresh(own)
                self.emit(assign(name(own, store=True), name(id_)))
                self.table[ref] = Adjoint(name(own), False, adj.scalar)   # the same object

    def accumulate(self, ref, expr, scalar):
        current = self.table.get(ref)
        if current is None:
            if is_atom(expr):             # just scattered into new zeros: ours alone
                self.table[ref] = Adjoint(expr, self.scattered(expr), scalar)
                return
            value = expr
        else:
            value = self.plus(ref, copy_node(current.expr), expr)
            scalar = scalar and current.scalar
        target = current.expr.id if current is not None and current.owned else self.adjoint_name(ref)
        if current is not None and current.owned and (target in self.in_place or self.scattered(
                expr) and target not in self.names_in_use(self.table, ref) and self.exclusive(target)):
            self.emit(self.add_in_place(target, expr))
            return
        self.release(target, ref, value)
        self.emit(assign(name(target, store=True), value))
        self.table[ref] = Adjoint(name(target), True, scalar)

    def exclusive(self, id_):
        """Does variable `id_` hold an array nothing else holds, so that it may be
        changed in place? Its last assignment so far made a new array (arithmetic,
        zeros, a copy), and nothing since bound what it holds to another name
        (`dx = unbroadcast(dy, x)` may return dy itself)."""
        emitted = [s for items in self.outer + [self.items, self.block] for s in statements(items)]
        for stmt in reversed(emitted):
            if isinstance(stmt, gast.Assign) and any(
                    isinstance(n, gast.Name) and n.id == id_ for n in gast.walk(stmt.targets[0])):
                return isinstance(stmt.targets[0], gast.Name) and _fresh(stmt.value)
            if isinstance(stmt, gast.Assign) and not _fresh(stmt.value) and any(
                    isinstance(n, gast.Name) and n.id == id_ for n in gast.walk(stmt.value)):
                return False
        return False

    def scattered(self, expr):
        """Is `expr` a contribution just scattered into zeros (`t = zeros_like(x); t[i] = g`)?"""
        block = self.block
        return isinstance(expr, gast.Name) and len(block) >= 2 and _zeros_of(block[-2], expr.id) \
            and isinstance(block[-1], gast.Assign) and isinstance(block[-1].targets[0], gast.Subscript) \
            and _is_name(block[-1].targets[0].value, expr.id)

    def add_in_place(self, target, expr):
        """`dx += c` on an array only this loop's sum holds; a scattered
        contribution (`t = zeros_like(x); t[i] = g`) goes straight in: `dx[i] += g`."""
        block = self.block
        if isinstance(expr, gast.Name) and len(block) >= 2 and _zeros_of(block[-2], expr.id):
            last = block[-1]
            if isinstance(last, gast.Assign) and isinstance(last.targets[0], gast.Subscript) \
                    and _is_name(last.targets[0].value, expr.id):
                block[-2:] = []
                index = copy_node(last.targets[0])
                index.value = name(target)
                return gast.AugAssign(target=index, op=gast.Add(), value=last.value)
            if isinstance(last, gast.Expr) and isinstance(last.value, gast.Call) \
                    and last.value.args and _is_name(last.value.args[0], expr.id):
                block[-2:] = []
                last.value.args[0] = name(target)     # np.add.at(dx, index, g)
                return last
        return gast.AugAssign(target=name(target, store=True), op=gast.Add(), value=expr)

    def is_list(self, ref):
        return isinstance(self.facts.kind(ref[0], ref[1]), Seq) and ref[2] == ()

    def plus(self, ref, a, b):
        """The sum of two adjoints of ref (element by element for a list's)."""
        if self.is_list(ref):
            return call(name(self.ctx.spell(runtime.add_lists, "add_lists")), a, b)
        return gast.BinOp(left=a, op=gast.Add(), right=b)

    def contribute(self, contributions):
        """Add (ref, expr, scalar) contributions; writes read by others go last."""
        grouped = {}
        for ref, expr, scalar in contributions:
            if ref in grouped:
                old, old_scalar = grouped[ref]
                grouped[ref] = (self.plus(ref, old, expr), old_scalar and scalar)
            else:
                grouped[ref] = (expr, scalar)
        pending = list(grouped.items())

        def writes_read_elsewhere(item):
            ref = item[0]
            target = self.table[ref].expr.id if ref in self.table and self.table[ref].owned \
                else self.adjoint_name(ref)
            return any(isinstance(n, gast.Name) and n.id == target
                       for other in pending if other is not item for n in gast.walk(other[1][0]))

        ordered = sorted(pending, key=writes_read_elsewhere)
        outer = self.pending
        try:
            for i, (ref, (expr, scalar)) in enumerate(ordered):
                self.pending = outer + [e for _, (e, _) in ordered[i + 1:]]
                self.accumulate(ref, expr, scalar)
        finally:
            self.pending = outer

    # ---- kinds and refs ---------------------------------------------------------------

    def kind(self, atom):
        ref = getattr(atom, "s2sad_ref", None)
        if ref is not None:
            return self.facts.kind(*ref)
        if isinstance(atom, gast.Constant):
            return kind_of(atom.value)
        if isinstance(atom, gast.Name) or getattr(atom, "s2sad_global", False):
            obj = self.src.namespace.resolve(atom, self.core.local_names)
            return UNKNOWN if obj is MISSING else kind_of(obj)
        return None

    def leaf_refs(self, atom):
        ref = getattr(atom, "s2sad_ref", None)
        if ref is None:
            return []
        return [ref + (path,) for path, _ in leaves(self.facts.kind(*ref))]

    def is_scalar(self, atom):
        return isinstance(self.kind(atom), Scalar)

    # ---- the sweep --------------------------------------------------------------------

    def run(self):
        self.reverse_block(self.forward)
        return self

    def reverse_block(self, stmts):
        """Appends the reverse of a block to `self.items`."""
        for stmt in reversed(stmts):
            sf = stmt.s2sad_facts
            if isinstance(stmt, gast.If):
                self.reverse_if(stmt, sf)
                continue
            if isinstance(stmt, (gast.For, gast.While)):
                self.reverse_loop(stmt, sf)
                continue
            if getattr(stmt, "s2sad_hook", None) is not None:
                self.hook(stmt)
                continue
            if not sf.active or not (isinstance(stmt, gast.Assign) or updated_name(stmt)):
                continue
            self.block = []
            if updated_name(stmt):
                self.update(stmt, sf)
            else:
                self.statement(stmt, sf)
            if self.block:
                self.comment(stmt.s2sad_origin)
                self.items.extend(self.block)

    def hook(self, stmt):
        """`with s2sad.grad_of(h) as dh: body`: here, h's adjoint holds what the
        code after the block contributed; the user's body runs on it (its names
        renamed apart from ours, the values it reads as the forward sweep had
        them here) and what `dh` ends as is h's adjoint from now on."""
        target, body, reads, assigned, alone = stmt.s2sad_hook
        watched, *values = stmt.value.args
        ref = watched.s2sad_ref + ((),)
        adj = self.table.get(ref)
        if adj is None:
            return                              # no gradient reaches h here
        # the block's own names, where the user uses them nowhere else, as written
        fresh = (lambda n: n) if alone else self.ctx.namer.fresh
        own = fresh(target)
        renames = {target: own}
        for n in assigned:
            renames[n] = fresh(n)
        refs = {a.id: a.s2sad_ref for a in [watched] + values}
        block = [assign(name(own, store=True), copy_node(adj.expr))]
        for s in copy_node(body):
            for n in gast.walk(s):
                if isinstance(n, gast.Name) and n.id in renames:
                    n.id = renames[n.id]
                elif isinstance(n, gast.Name) and n.id in refs and isinstance(n.ctx, gast.Load):
                    n.s2sad_ref = refs[n.id]
            s.s2sad_effect = True
            block.append(s)
        self.comment(stmt.s2sad_origin)
        self.items.extend(block)
        self.table[ref] = Adjoint(name(own), False, False)

    def comment(self, origin):
        if origin is not self.last_origin:
            self.items.append(Comment(user_text(origin)))
            self.last_origin = origin

    def nested(self, stmts):
        """The reverse of a block inside a branch or loop, as a list of its own."""
        self.outer.append(self.items)
        self.items, origin, self.last_origin = [], self.last_origin, None
        try:
            self.reverse_block(stmts)
            return self.items
        finally:
            self.items = self.outer.pop()
            self.last_origin = origin

    # ---- control flow -----------------------------------------------------------------

    def zeros(self, ref):
        """A zero adjoint for a ref (0.0 for a Python float)."""
        kind = self.facts.kind(ref[0], ref[1])
        for key in ref[2]:
            kind = kind.child(key) if isinstance(kind, Tree) else UNKNOWN
        if isinstance(kind, Scalar) or getattr(kind, "ndim", None) == 0:
            return const(0.0)             # broadcasts like a 0-d array, keeps its dtype
        if isinstance(kind, Seq):
            return call(name(self.ctx.spell(runtime.zeros_list, "zeros_list")),
                        access(ref[0], ref[2], ref[1]))
        return call(gast.Attribute(value=self.ctx.numpy(), attr="zeros_like", ctx=gast.Load()),
                    access(ref[0], ref[2], ref[1]))

    def names_in_use(self, table, but=None):
        return {a.expr.id for r, a in table.items() if r != but and isinstance(a.expr, gast.Name)}

    def own_variable(self, ref, tables):
        """A variable for ref's adjoint that no other entry of these tables names."""
        in_use = set().union(*[self.names_in_use(t, ref) for t in tables])
        own = self.adjoint_name(ref)
        return own if own not in in_use else self.ctx.namer.fresh(own)

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
                        self.hand_to((name_, version, ref[2]), ref, adj)
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
            if a1 is not None and a2 is not None and _same(a1.expr, a2.expr):
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
        if not (isinstance(self.facts.kind(ref[0], ref[1]), Tree) and self.is_list(joined)):
            self.table[ref] = adj
            return
        for leaf in self.leaf_refs(name(ref[0], ref[:2])):
            if self.facts.active(leaf):
                part = copy_node(adj.expr)
                for key in leaf[2]:
                    part = gast.Subscript(value=part, slice=const(key), ctx=gast.Load())
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
                carried.append((ref, (name_, before, ref[2]) if before is not None else None,
                                (name_, end, ref[2]), own, bool(adj and adj.scalar)))
        defined = _defined_in(stmt)
        fresh_sums, summed = set(), set()
        for ref in sorted(_active_inputs(stmt), key=repr):
            if (ref[0], ref[1]) in defined:
                continue
            adj = self.table.get(ref)         # summed over the trips
            own = self.own_variable(ref, tables)
            if adj is None or not (isinstance(adj.expr, gast.Name) and adj.expr.id == own):
                pre.append(assign(name(own, store=True),
                                  copy_node(adj.expr) if adj is not None else self.zeros(ref)))
            if adj is None and not isinstance(self.facts.kind(ref[0], ref[1]), (Scalar, Tree)) \
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

    def statement(self, stmt, sf):
        target, value = stmt.targets[0], stmt.value
        if isinstance(target, gast.Tuple):
            return self.unpack(stmt, sf)
        outs = self.leaf_refs(target)
        for ref in outs:
            self.adopt_user_name(ref)
        adjoints = {ref[2]: self.table.get(ref) for ref in outs}
        if all(a is None for a in adjoints.values()):
            return
        if getattr(stmt, "s2sad_copy_on_write", False):
            value = value.func.value          # `x = x.copy()`: the adjoint passes through
            adj, src = adjoints.get(()), value.s2sad_ref + ((),)
            if len(outs) == 1 and adj is not None and isinstance(self.kind(value), Array) and adj.owned \
                    and isinstance(adj.expr, gast.Name) and src in sf.active_inputs and src not in self.table \
                    and adj.expr.id not in self.names_in_use(self.table, outs[0]):
                self.table.pop(outs[0], None)     # still ours alone
                self.table[src] = adj
                return
        if isinstance(value, gast.Name):
            contributions = []
            for ref in outs:
                adj = adjoints[ref[2]]
                src = value.s2sad_ref + (ref[2],)
                if adj is not None and src in sf.active_inputs:
                    contributions.append((src, adj.expr, adj.scalar))
            return self.finish(outs, contributions)
        literal = literal_elements(value, self.src.namespace, self.core.local_names)
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)) or literal is not None:
            if literal is not None:              # (`P(a, b)` of a named tuple too)
                keys, elts = literal
            else:
                elts = value.values
                keys = [k.value for k in value.keys]
            by_key = dict(zip(keys, elts))
            contributions = []
            for ref in outs:
                adj = adjoints[ref[2]]
                elt = by_key[ref[2][0]]
                src_ref = getattr(elt, "s2sad_ref", None)
                if adj is not None and src_ref is not None and src_ref + (ref[2][1:],) in sf.active_inputs:
                    contributions.append((src_ref + (ref[2][1:],), adj.expr, adj.scalar))
            return self.finish(outs, contributions)
        if concatenated_kind(self.kind, value) is not None:
            return self.concatenation(stmt, sf, outs, adjoints)
        if isinstance(value, gast.Subscript) and isinstance(self.kind(value.value), Seq) \
                and not isinstance(value.slice, gast.Slice) and [o[2] for o in outs] == [()]:
            return self.item_of_list(stmt, sf, outs, adjoints)
        picked = tree_span(self.kind(value.value), value.slice) \
            if isinstance(value, gast.Subscript) else None
        if isinstance(value, gast.Subscript) and isinstance(self.kind(value.value), Tree) \
                and not isinstance(value.slice, gast.Constant) and picked is None:
            return self.item_of_sequence(stmt, sf, outs, adjoints)
        if isinstance(value, gast.Subscript) and isinstance(self.kind(value.value), Tree):
            contributions = []
            for ref in outs:
                adj = adjoints[ref[2]]
                if picked is not None:            # `ys = xs[1:]`: by position
                    src = value.value.s2sad_ref + ((picked[ref[2][0]],) + ref[2][1:],)
                else:
                    src = value.value.s2sad_ref + (
                        (self.kind(value.value).key_at(value.slice.value),) + ref[2],)
                if adj is not None and src in sf.active_inputs:
                    contributions.append((src, adj.expr, adj.scalar))
            return self.finish(outs, contributions)
        key = named_field(self.kind, value)
        if key is not None:                       # `p.w` of a named tuple: by position
            contributions = []
            for ref in outs:
                adj = adjoints[ref[2]]
                src = value.value.s2sad_ref + ((key,) + ref[2],)
                if adj is not None and src in sf.active_inputs:
                    contributions.append((src, adj.expr, adj.scalar))
            return self.finish(outs, contributions)
        if isinstance(value, gast.Call):
            func = value.func
            if not (isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False)):
                obj = self.src.namespace.resolve(func, self.core.local_names)
                if obj is not MISSING and rules.lookup_adjoint(obj) is None and rules.is_user_function(obj):
                    return self.helper(stmt, sf, obj, outs, adjoints)
        if any(len(ref[2]) > 1 for ref in outs):
            raise self.src.error(stmt.s2sad_origin, "this operation returns nested tuples or "
                                 "dicts of arrays, which s2sad cannot differentiate yet",
                                 "register a rule with @s2sad.adjoint that returns a flat tuple")
        self.primitive(stmt, sf, outs, adjoints)

    def update(self, stmt, sf):
        """`x[i] = v` / `np.add.at(x, i, v)`: the new x's adjoint goes to v's
        items and to the old x (less what was overwritten)."""
        base = updated_name(stmt)
        outs = [(base, sf.writes[base], path) for path, _ in leaves(self.facts.kind(base, sf.writes[base]))]
        adjoints = {ref[2]: self.table.get(ref) for ref in outs}
        if all(a is None for a in adjoints.values()):
            return
        if is_append(stmt):
            return self.append(stmt, sf, outs, adjoints)
        if isinstance(stmt, gast.Assign) and isinstance(self.facts.kind(*outs[0][:2]), Tree) \
                and isinstance(stmt.targets[0].slice, gast.Constant):
            return self.replace_element(stmt, sf, outs, adjoints)
        if isinstance(stmt, gast.Assign) and self.overwrite_in_place(stmt, sf, outs, adjoints):
            return
        if isinstance(stmt, gast.Assign) and getattr(self.facts.kind(*outs[0][:2]), "ndim", None) == 0 \
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
        at = self.facts.kind(*outs[0][:2]).key_at(target.slice.value)
        old = (base, sf.reads[base])
        source = getattr(value, "s2sad_ref", None)
        contributions = []
        for ref in outs:
            adj = adjoints[ref[2]]
            if adj is None:
                continue
            if ref[2][0] != at:
                src = old + (ref[2],)
            elif source is not None:
                src = source + (ref[2][1:],)
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
        kind = self.facts.kind(*outs[0][:2])
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
        old = (outs[0][0], sf.reads[outs[0][0]], ())
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
        if isinstance(self.facts.kind(*outs[0][:2]), Tree):
            last = len(outs) - 1
            for ref in outs:
                adj = adjoints[ref[2]]
                if adj is None:
                    continue
                if ref[2][0] == last:
                    contributions += [(r, adj.expr, adj.scalar) for r in value_refs
                                      if r[2] == ref[2][1:]]
                else:
                    contributions += [(r, adj.expr, adj.scalar) for r in old_refs if r[2] == ref[2]]
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
        kind = self.facts.kind(*outs[0][:2]) if outs else None
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
        if isinstance(self.facts.kind(*outs[0][:2]), Tree):
            n = len(lk.keys)
            for ref in outs:
                adj = adjoints[ref[2]]
                key, rest = ref[2][0], ref[2][1:]
                side, at = (left, key) if key < n else (right, key - n)
                src = side.s2sad_ref + ((at,) + rest,) if getattr(side, "s2sad_ref", None) else None
                if adj is not None and src in sf.active_inputs:
                    contributions.append((src, adj.expr, adj.scalar))
            return self.finish(outs, contributions)
        g = adjoints[()]
        if g is None:
            return self.finish(outs, [])
        span = lambda lower, upper: gast.Subscript(value=copy_node(g.expr), slice=gast.Slice(
            lower=lower, upper=upper, step=None), ctx=gast.Load())
        at = lambda i: gast.Subscript(value=copy_node(g.expr), slice=i, ctx=gast.Load())
        if isinstance(lk, Tree):
            parts = [(left, [at(const(i)) for i in range(len(lk.keys))]), (right, span(const(len(lk.keys)), None))]
        elif isinstance(rk, Tree):
            m = len(rk.keys)
            parts = [(left, span(None, const(-m)) if m else copy_node(g.expr)),
                     (right, [at(const(i - m)) for i in range(m)])]
        else:
            n = call(name("len"), copy_node(left))
            parts = [(left, span(None, n)), (right, span(copy_node(n), None))]
        for atom, part in parts:
            for ref in self.leaf_refs(atom):
                if ref not in sf.active_inputs:
                    continue
                if isinstance(part, list):        # a list literal's elements: by position
                    expr = part[ref[2][0]]
                    for key in ref[2][1:]:
                        expr = gast.Subscript(value=expr, slice=const(key), ctx=gast.Load())
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
        list_ref = value.value.s2sad_ref + ((),)
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
            by_rest.setdefault(ref[2][1:], []).append(ref)
        if any(len(refs) != len(kind.keys) or [r[2][0] for r in refs] != list(kind.keys)
               for refs in by_rest.values()) or {o[2] for o in outs} != set(by_rest):
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
            adj = adjoints[out[2]]
            self.table.pop(out, None)
            refs = by_rest[out[2]]
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

    def finish(self, outs, contributions):
        """The outputs' adjoints pass to the inputs; a variable of ours passed
        on whole (`ys = xs`, a list's adjoint) stays ours."""
        owned = set()
        for ref in outs:
            adj = self.table.pop(ref, None)
            if adj is not None and adj.owned and isinstance(adj.expr, gast.Name) and self.is_list(ref):
                owned.add(adj.expr.id)
        handed = [c for c in contributions if isinstance(c[1], gast.Name) and c[1].id in owned
                  and c[0] not in self.table
                  and sum(isinstance(o[1], gast.Name) and o[1].id == c[1].id for o in contributions) == 1
                  and c[1].id not in self.names_in_use(self.table)]
        for ref, expr, scalar in handed:
            self.table[ref] = Adjoint(expr, True, scalar)
        self.contribute([c for c in contributions if c not in handed])

    def primitive(self, stmt, sf, outs, adjoints):
        """A call or operation with a rule: `g` is the result's adjoint, or for a
        result that is a tuple or list of arrays, a list of the parts' adjoints
        (None for parts nobody used)."""
        value = stmt.value
        if len(outs) == 1 and outs[0][2] == ():
            g = adjoints[()]
            g_expr, g_scalar = copy_node(g.expr), g.scalar
        else:
            g_expr = gast.List(elts=[copy_node(adjoints[ref[2]].expr)
                                     if adjoints[ref[2]] is not None else const(None)
                                     for ref in outs], ctx=gast.Load())
            for elt in g_expr.elts:              # an adjoint there is never None
                if not isinstance(elt, gast.Constant):
                    elt.s2sad_operand = Operand(elt, UNKNOWN, True)
            g_scalar = False
        key, args, keywords = self.operation(stmt, value)
        rule = rules.lookup_adjoint(key)
        if rule is None:
            what = getattr(key, "__name__", None) or repr(key)
            raise self.src.error(
                stmt.s2sad_origin,
                f"`{what}` has no gradient rule and no Python source s2sad can read",
                f"register one with @s2sad.adjoint({what}) (see the API docs), or wrap the "
                f"argument in s2sad.stop_gradient if no gradient should flow through it")
        base = updated_name(stmt)
        result = name(base, outs[0][:2]) if base else copy_node(stmt.targets[0])
        result.ctx = gast.Load()
        result_kind = self.facts.kind(*result.s2sad_ref)
        operands = [Operand(a, self.kind(a) or UNKNOWN, self.same_shape(result, a)) for a in args]
        kw_operands = {k: Operand(a, self.kind(a) or UNKNOWN, self.same_shape(result, a))
                       for k, a in keywords.items()}
        for k, a in keywords.items():
            if any(r in sf.active_inputs for r in self.leaf_refs(a)):
                raise self.src.error(stmt.s2sad_origin,
                                     f"the differentiated value is passed by keyword (`{k}=`)",
                                     "pass it positionally")
        site = CallSite(operands, kw_operands, g_expr, result, result_kind,
                        self.kind, self.ctx.spell, self.ctx.namer.fresh)
        popped = self.pop_of_literal(key, args, keywords, g_expr)
        inlined = inline(rule, site) if popped is None else None
        scalar = g_scalar and all(isinstance(o.kind, Scalar) for o in operands) \
            and isinstance(result_kind, Scalar)
        for ref in outs:
            self.table.pop(ref, None)
        if popped is not None:
            outputs = popped
        elif inlined is not None:
            for s in inlined.stmts:
                self.emit(s)
            outputs = inlined.outputs
        else:
            needed = [any(r in sf.active_inputs for r in self.leaf_refs(a)) for a in args]
            outputs = self.call_rule(rule, key, site, needed)
        outputs = self.one_per_argument(stmt, sf, rule, key, args, outputs)
        if not getattr(rule, "__module__", "").startswith("s2sad."):
            outputs = self.shaped_like_arguments(key, args, outputs)
        contributions = []
        for i, atom in enumerate(args):
            if i >= len(outputs) or outputs[i] is None:
                continue
            refs = [r for r in self.leaf_refs(atom) if r in sf.active_inputs]
            if refs and isinstance(self.kind(atom), Tree):
                contributions += self.parts(atom, outputs[i], refs)
            elif refs and isinstance(self.kind(atom), Seq):   # a list of unknown length:
                as_list = name(self.ctx.spell(runtime.as_list, "as_list"))  # one adjoint each
                contributions += [(ref, call(as_list, outputs[i]), False) for ref in refs]
            else:
                contributions += [(ref, outputs[i], scalar) for ref in refs]
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

    def parts(self, atom, cotangent, refs):
        """Contributions to the leaves of a tuple or list operand from its
        cotangent: a literal's elements, or subscripts of a named tuple."""
        if not isinstance(cotangent, (gast.Tuple, gast.List, gast.Name)):
            temp = self.ctx.namer.fresh("d" + _word(atom))
            self.emit(assign(name(temp, store=True), cotangent))
            cotangent = name(temp)
        out = []
        for ref in refs:
            part = cotangent
            for key in ref[2]:
                if isinstance(part, (gast.Tuple, gast.List)) and isinstance(key, int):
                    part = part.elts[key]
                else:
                    part = gast.Subscript(value=copy_node(part), slice=const(key), ctx=gast.Load())
            if not (isinstance(part, gast.Constant) and part.value is None):
                out.append((ref, part, False))
        return out

    def one_per_argument(self, stmt, sf, rule, key, args, outputs):
        """Pad a rule's cotangents with None to one per positional argument,
        refusing to pad where an argument needs a gradient."""
        outputs = list(outputs)
        what = getattr(key, "__name__", None) or repr(key)
        for i in range(len(outputs), len(args)):
            if any(r in sf.active_inputs for r in self.leaf_refs(args[i])):
                raise self.src.error(
                    stmt.s2sad_origin,
                    f"the gradient rule of `{what}` returns {len(outputs)} cotangent(s), but "
                    f"positional argument {i + 1} of this call needs one",
                    "return one cotangent per positional argument (None where there is no gradient)")
        # cotangents for parameters this call left to their defaults or passed by
        # keyword (constants: a differentiated keyword is refused) are dropped
        if any(o is not None for o in outputs[max(len(args), _positional_slots(rule)):]):
            raise self.src.error(
                stmt.s2sad_origin,
                f"the gradient rule of `{what}` returns {len(outputs)} cotangents for a call with "
                f"{len(args)} positional argument(s)",
                "return one cotangent per positional argument (None where there is no gradient)")
        return outputs[:len(args)] + [None] * (len(args) - len(outputs))

    def shaped_like_arguments(self, key, args, outputs):
        """A user's rule need not sum its cotangents down to broadcast
        arguments' shapes: `shaped_like(c, x, name)` does, and refuses a
        shape broadcasting cannot explain."""
        what = getattr(key, "__name__", None) or repr(key)
        helper = name(self.ctx.spell(runtime.shaped_like, "shaped_like"))
        return [call(copy_node(helper), out, copy_node(atom), const(what))
                if out is not None and isinstance(self.kind(atom), Array) else out
                for atom, out in zip(args, outputs)]

    def call_rule(self, rule, key, site, needed):
        """A rule that cannot be inlined is called:
        `da, db = cotangents(matmul_adjoint(...), (True, True), 'matmul')`."""
        base = getattr(key, "__name__", "op")
        func = name(self.ctx.spell(rule, f"{base}_adjoint"))
        args = [site.g, site.result] + [slices_as_values(copy_node(o.atom)) for o in site.args]
        expr = gast.Call(func=func, args=args,
                         keywords=[gast.keyword(arg=k, value=o.atom) for k, o in site.keywords.items()])
        expr = call(name(self.ctx.spell(runtime.cotangents, "cotangents")), expr,
                    const(tuple(needed)), const(base), const(_positional_slots(rule)))
        unused = "_" if "_" not in self.core.local_names else self.ctx.namer.fresh("unused")
        temps = [self.ctx.namer.fresh("d" + _word(o.atom)) if n else unused
                 for o, n in zip(site.args, needed)]
        self.emit(assign(gast.Tuple(elts=[name(t, store=True) for t in temps], ctx=gast.Store()), expr))
        return [name(t) if n else None for t, n in zip(temps, needed)]

    def same_shape(self, result, atom):
        ref = getattr(atom, "s2sad_ref", None)
        if ref is not None:
            return self.facts.same_shape(result.s2sad_ref, ref)
        kind = self.kind(atom)
        return getattr(kind, "ndim", None) == 0 and getattr(self.facts.kind(*result.s2sad_ref), "ndim", None) == 0

    def operation(self, stmt, value):
        """The rule key, positional atoms and keyword atoms of an operation."""
        if updated_name(stmt) and isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            return runtime.setitem, [target.value, target.slice, value], {}
        if isinstance(value, gast.BinOp):
            return rules.BINARY_OPERATORS[type(value.op)], [value.left, value.right], {}
        if isinstance(value, gast.UnaryOp):
            return rules.UNARY_OPERATORS[type(value.op)], [value.operand], {}
        if isinstance(value, gast.Attribute):
            return rules.method_key(value.attr), [value.value], {}
        if isinstance(value, gast.Subscript):
            return operator.getitem, [value.value, value.slice], {}
        if isinstance(value, gast.Call):
            keywords = {k.arg: k.value for k in value.keywords}
            func = value.func
            if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
                return rules.method_key(func.attr), [func.value] + list(value.args), keywords
            obj = self.src.namespace.resolve(func, self.core.local_names)
            if obj is MISSING:
                raise self.src.error(stmt.s2sad_origin,
                                     f"cannot tell which function `{unparse(func)}` is",
                                     "call a function defined at module level or imported")
            return obj, list(value.args), keywords
        raise self.src.error(stmt.s2sad_origin, f"`{type(value).__name__}` cannot be differentiated")

    def unpack(self, stmt, sf):
        target, value = stmt.targets[0], stmt.value
        contributions = []
        source_kind = self.kind(value)
        elements = []
        for i, elt in enumerate(target.elts):
            for ref in self.leaf_refs(elt):
                adj = self.table.pop(ref, None)
                if isinstance(source_kind, Tree):
                    src = value.s2sad_ref + ((i,) + ref[2],)
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

    # ---- the user's own functions -----------------------------------------------------

    def helper(self, stmt, sf, func, outs, adjoints):
        value = stmt.value
        try:
            binding = bind_arguments(func, value.args, {k.arg: k.value for k in value.keywords})
        except TypeError as exc:
            raise self.src.error(stmt.s2sad_origin, f"the call to {func.__name__} does not match "
                                 f"its parameters: {exc}") from None
        out_paths = tuple(ref[2] for ref in outs if adjoints[ref[2]] is not None)
        # a parameter the used parts of the result do not depend on gets no
        # adjoint, even where its argument is active through another (`f(x, x)`)
        needed = helper_dependencies(self, func, value, out_paths)
        arg_kinds, active = {}, []
        for param, atom in binding.arguments.items():
            arg_kinds[param] = self.kind(atom) or UNKNOWN
            if any(r in sf.active_inputs for r in self.leaf_refs(atom)) \
                    and (needed is None or param in needed):
                active.append(param)
        pair = self.ctx.builder.helper(func, arg_kinds, tuple(active), out_paths,
                                       stmt.s2sad_origin, self.src)
        fwd = self.ctx.spell(pair.forward, pair.forward.__name__)
        bwd = self.ctx.spell(pair.backward, pair.backward.__name__)
        saved = self.ctx.namer.fresh(f"{func.__name__}_saved")
        # forward: y, saved = f_fwd(...)
        target = copy_node(stmt.targets[0])
        fcall = copy_node(value)
        fcall.func = name(fwd)
        fstmt = assign(gast.Tuple(elts=[target, name(saved, store=True)], ctx=gast.Store()), fcall)
        fstmt.s2sad_origin = stmt.s2sad_origin
        # what the call saves is a value of its own, kept per trip inside a loop
        fstmt.s2sad_facts = dataclasses.replace(stmt.s2sad_facts,
                                                writes={**stmt.s2sad_facts.writes, saved: 1})
        self.facts.final_versions[saved] = 1
        fstmt.s2sad_effect = True
        self.replacements[id(stmt)] = fstmt
        # reverse: dx, dW = f_bwd(dy, saved)
        seeds = [copy_node(adjoints[p].expr) for p in out_paths]
        for ref in outs:
            self.table.pop(ref, None)
        expr = call(name(bwd), *seeds, name(saved, (saved, 1)))
        refs = []
        for param, path in pair.returns:
            atom = binding.arguments[param]
            refs.append(atom.s2sad_ref + (path,))
        if not refs:
            return
        # the first adjoint a ref gets takes its name; one it has already, or one
        # an earlier parameter of this call took (`f(x, x)`), adds a fresh one
        temps, first = [], []
        for ref in refs:
            first.append(ref not in self.table and ref not in refs[:len(temps)])
            temps.append(self.adjoint_name(ref) if first[-1] else
                         self.ctx.namer.fresh(self.adjoint_name(ref)))
        for t, ref, new in zip(temps, refs, first):
            if new:
                self.release(t, ref, expr, *[name(other) for other in temps])
        targets = [name(t, store=True) for t in temps]
        self.emit(assign(targets[0] if len(targets) == 1 else
                         gast.Tuple(elts=targets, ctx=gast.Store()), expr))
        for t, ref, new in zip(temps, refs, first):
            if new:
                self.table[ref] = Adjoint(name(t), True, False)
            else:
                self.accumulate(ref, name(t), False)


def helper_dependencies(sweep, func, call_, out_paths=None):
    """The parameters of a helper that the leaves `out_paths` of its result
    (all, where None) depend on, for a call's argument kinds; None where
    that is not known (every parameter may matter)."""
    deps = sweep.ctx.builder.helper_dependencies(
        func, [sweep.kind(a) or UNKNOWN for a in call_.args],
        {k.arg: sweep.kind(k.value) or UNKNOWN for k in call_.keywords})
    if deps is None:
        return None
    paths = list(deps) if out_paths is None else out_paths
    if any(p not in deps for p in paths):
        return None
    return {param for p in paths for param, _ in deps[p]}


def _is_name(node, id_):
    return isinstance(node, gast.Name) and node.id == id_


_FRESH_CALLS = ("zeros_like", "ones_like", "zeros", "ones", "copy", "zeros_list", "add_lists",
                "list", "full_like", "outer", "dot", "matmul", "stack", "concatenate")


def _fresh(value):
    """Does this expression make a new array (or list), never one of its operands?"""
    if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.List)):
        return True
    if isinstance(value, gast.Call):
        func = value.func
        name_ = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None)
        return name_ in _FRESH_CALLS
    return False


def _zeros_of(stmt, id_):
    """Is `stmt` `id_ = np.zeros_like(...)`?"""
    return isinstance(stmt, gast.Assign) and _is_name(stmt.targets[0], id_) \
        and isinstance(stmt.value, gast.Call) and isinstance(stmt.value.func, gast.Attribute) \
        and stmt.value.func.attr == "zeros_like"


def _same(a, b):
    if isinstance(a, gast.Name) and isinstance(b, gast.Name):
        return a.id == b.id
    return isinstance(a, gast.Constant) and isinstance(b, gast.Constant) and a.value == b.value


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


def _word(atom):
    from .names import atom_word
    return atom_word(atom) or "arg"


def leaf_gradient(rev, param, path, kind, final=True):
    """The gradient of one leaf of a parameter: its adjoint, zeros if it got
    none, and (`final`, for the user) a Python float for a float."""
    if not kind.differentiable or isinstance(kind, Opaque):
        return const(None)
    adj = rev.table.get((param, 0, path))
    if adj is None:
        if isinstance(kind, Scalar):
            return const(0.0)
        return call(gast.Attribute(value=rev.ctx.numpy(), attr="zeros_like", ctx=gast.Load()),
                    access(param, path))
    expr = copy_node(adj.expr)
    if not final:
        return expr
    if isinstance(kind, Scalar):          # a Python float, not a NumPy scalar
        if isinstance(expr, gast.Constant):
            return const(float(expr.value))
        return call(name("float"), expr)
    if isinstance(expr, gast.Constant) or adj.scalar or getattr(kind, "ndim", None) == 0:
        # (a 0-d array's gradient a 0-d array: NumPy's reductions give NumPy scalars)
        return call(gast.Attribute(value=rev.ctx.numpy(), attr="full_like", ctx=gast.Load()),
                    access(param, path), expr)
    if getattr(kind, "dtype", None) in ("float32", "float16", "complex64"):
        return call(name(rev.ctx.spell(runtime.in_dtype_of, "in_dtype_of")), expr, access(param, path))
    return expr


def access(param, path, version=0):
    """`params['W1']`: the expression reading a leaf of a value."""
    node = name(param, (param, version))
    for key in path:
        node = gast.Subscript(value=node, slice=const(key), ctx=gast.Load())
    return node


def tree_literal(ctx, kind, children):
    """A dict, list, tuple or named tuple of the kind's structure holding `children`."""
    if kind.type is dict:
        return gast.Dict(keys=[const(k) for k in kind.keys], values=children)
    if is_namedtuple(kind.type):                  # `P(dw, None)`: the argument's own class
        return call(name(ctx.spell(kind.type, kind.type.__name__)), *children)
    node = gast.List if kind.type is list else gast.Tuple
    return node(elts=children, ctx=gast.Load())


def gradient_of(rev, param):
    """The gradient expression returned for a parameter (a pytree literal for pytrees)."""
    def build(kind, path):
        if isinstance(kind, Tree):
            children = [build(c, path + (k,)) for k, c in zip(kind.keys, kind.children)]
            return tree_literal(rev.ctx, kind, children)
        return leaf_gradient(rev, param, path, kind)

    return build(rev.facts.kind(param, 0), ())
