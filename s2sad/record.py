"""What the reverse sweep needs of values that loops overwrite: stacks.

The reverse sweep runs after the whole forward sweep, so a value made
inside a loop is gone by then: the next trip overwrote it.  Each such value
the reverse sweep reads is either

* recomputed at the start of the reverse of the block that made it, where
  that is cheap and its operands are at hand there (`xs_t = xs[t]`, a
  comparison of numbers), or
* pushed on a list of its own right where the forward sweep makes it
  (`t_stack.append(t)`) and popped at the start of the reverse of that
  block (`t = t_stack.pop()`),

so the reverse of every trip sees that trip's value.  Nothing else is
recorded: values from outside the loops are read where they are, a `for`
loop's counter is recounted by the reverse loop, and a loop's trip count
is recorded only where it cannot be recomputed (`while`, `break`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gast

from .kinds import Array, Scalar, Seq, Tree
from .trees import Comment, child_blocks, copy_node, statements

if TYPE_CHECKING:                   # (for the hints only)
    from .analyze import Facts
    from .names import Namer

_LOOPS = (gast.For, gast.While)


def _name(id_, store=False):
    return gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(), annotation=None,
                     type_comment=None)


class _Block:
    """A forward block: its items, the loops around it, the block around it,
    the loop around it that is outermost (with the list holding that loop),
    and the statement (and field) owning it."""

    def __init__(self, items, loops, parent, outermost, owner, field):
        self.items, self.loops, self.parent = items, loops, parent
        self.outermost, self.owner, self.field = outermost, owner, field

    def within(self, other):
        block = self
        while block is not None:
            if block is other:
                return True
            block = block.parent
        return False


def record(forward: list, reverse: list, namer: Namer, facts: Facts, share_stacks: bool = True) -> None:
    """Insert the recomputations, pushes and pops; each read they serve is
    marked `s2sad_recorded` (storage leaves it alone).
    (`share_stacks=False` for loops to be checkpointed: a stack shared by a
    trip's start and end values would need its first value before each segment.)"""
    _Recorder(forward, reverse, namer, facts, share_stacks).run()


class _Recorder:
    """One `record`: which forward values the reverse reads need (`needs`, in
    the order first read), then how each is served: recomputed where cheap,
    else pushed on a stack where made and popped where the reverse of its
    block starts."""

    def __init__(self, forward, reverse, namer, facts, share_stacks):
        self.reverse, self.namer, self.facts, self.share_stacks = reverse, namer, facts, share_stacks
        self.sites, self.top_sites, self.counters = _forward_map(forward)
        self.needs = {}                   # key -> [(block, anchor), [reading nodes]]
        self.order = []
        self.shape_reads = []             # (node, inside): `np.ones_like(x)` needs x's shape only

    def run(self):
        self.visit(self.reverse, frozenset())
        self.serve_shape_reads()
        remade = self.recomputations()
        if not self.needs:
            return
        shared = self.shared_stacks(remade)
        starts, after_loops = self.stacks(remade, shared)
        _insert_at_starts(self.reverse, starts)
        for loop, drop in after_loops:    # what was there before the loop: no longer needed
            _insert_after(self.reverse, loop, drop)
        for key in self.order:            # reads that see a popped or remade value
            for node in self.needs[key][1]:
                node.s2sad_recorded = True

    # ---- what the reverse reads need ----------------------------------------------------

    def need(self, node, key, site):
        if site is None or not site[0].loops:
            return
        if key not in self.needs:
            self.needs[key] = [site, []]
            self.order.append(key)
        self.needs[key][1].append(node)

    def site_of(self, ref, inside):
        """Where the value a reverse read sees was made: a loop's top-of-trip
        value is that trip's inside the loop's reverse, its final one after."""
        if ref in self.top_sites and self.top_sites[ref][0].owner in inside:
            return self.top_sites[ref]
        return self.sites.get(ref)

    def read(self, node, inside):
        if getattr(node, "s2sad_trips_of", None) is not None:
            self.need(node, ("trips", node.id), self.sites.get(("trips", node.id)))
            return
        ref = getattr(node, "s2sad_ref", None)
        if ref is None or len(ref) != 2 or self.counters.get(ref) in inside \
                or isinstance(node.ctx, gast.Store):
            return                        # (a counter inside its loop: the reverse loop recounts it)
        site = self.site_of(ref, inside)
        self.need(node, (ref, id(site[0]) if site else None), site)

    def visit(self, items, inside):
        for item in items:
            if isinstance(item, Comment):
                continue
            shaped = {id(n.args[0]) for n in _own_nodes(item) if _shape_only(n)}
            for node in _own_nodes(item):
                if id(node) in shaped:
                    self.shape_reads.append((node, inside))
                else:
                    self.read(node, inside)
            pair = getattr(item, "s2sad_pair", None)
            for block in child_blocks(item):
                self.visit(block, inside | ({pair} if isinstance(pair, _LOOPS) else set()))

    def serve_shape_reads(self):
        """A read of a shape only: a value of the same shape already at hand will do."""
        facts = self.facts
        for node, inside in self.shape_reads:
            ref = getattr(node, "s2sad_ref", None)
            site = self.site_of(ref, inside) if ref is not None else None
            if site is not None and site[0].loops:
                for key in self.order:
                    other = key[0]
                    if other == "trips" or other == ref or self.needs[key][0][0] is not site[0] \
                            or facts.kind(*other) != facts.kind(*ref) \
                            or facts.shape_class.get(other) != facts.shape_class.get(ref) \
                            or facts.shape_class.get(ref) is None:
                        continue
                    node.id, node.s2sad_ref = other.name, other
                    self.needs[key][1].append(node)
                    break
                else:
                    self.read(node, inside)
            else:
                self.read(node, inside)

    def recomputations(self):
        """key -> the forward statement recomputed in the reverse sweep, for the
        values cheap to make again from what is at hand there (`order` grows
        while recomputations read more)."""
        remade = {}
        for key in self.order:
            (block, anchor), _ = self.needs[key]
            if key[0] == "trips" or not _cheap(anchor, key[0], self.facts):
                continue
            operands = [n for n in gast.walk(anchor.value) if getattr(n, "s2sad_ref", None)]
            if not all(_at_hand(n.s2sad_ref, block, self.sites, self.top_sites, self.counters)
                       for n in operands):
                continue
            if any(n.s2sad_ref in self.facts.changed_in_place for n in operands):
                continue                  # `a[i]` of an array an update then changes in place
            if any(n.s2sad_ref in self.top_sites
                   and (n.s2sad_ref, id(self.top_sites[n.s2sad_ref][0])) not in self.needs
                   for n in operands):
                continue                  # it would record a trip's starting value just for this
            copied = copy_node(anchor)
            remade[key] = copied
            inside = frozenset(loop for loop in block.loops)
            for node in gast.walk(copied.value):
                if getattr(node, "s2sad_ref", None) is not None:
                    self.read(node, inside)
            self.needs[key][1].append(copied.targets[0])
        return remade

    def shared_stacks(self, remade):
        """A name carried from trip to trip whose values at the top and at the end
        of a trip are both needed: one stack holds them (the top of a trip is the
        end of the one before, or the value before the loop).  End key -> top key."""
        shared = {}
        for key in self.order:
            if key[0] == "trips" or key[0] not in self.top_sites or key in remade:
                continue
            body = self.top_sites[key[0]][0]
            if key[1] != id(body):
                continue
            name, top = key[0]
            _, before, end = body.owner.s2sad_facts.carried[name]
            end_key = ((name, end), id(body))
            if self.share_stacks and before is not None and end_key in self.needs \
                    and end_key not in remade and self.needs[end_key][0][0] is body \
                    and isinstance(self.needs[end_key][0][1], gast.Assign):
                shared[end_key] = key
        return shared

    # ---- serving them -------------------------------------------------------------------

    def stacks(self, remade, shared):
        """The pushes (placed where each value is made) and, per block of the
        reverse sweep, the statements its start takes: pops in the reverse order
        of the pushes, then recomputations in forward order."""
        versions = {}
        for key in self.order:
            if key[0] != "trips":
                versions.setdefault(key[0][0], set()).add(key[0])
        skipped = set(shared.values())
        after_loops = []                  # (forward loop, statement after its reverse)
        starts = {}                       # (id(owner), field) -> [(block, push or anchor, statements)]
        for key in self.order:
            if key in skipped:
                continue
            (block, anchor), nodes = self.needs[key]
            name = key[1] if key[0] == "trips" else key[0][0]
            if key[0] != "trips" and len(versions[name]) > 1:   # two values of one name: each its own
                target = self.namer.fresh(f"{name}_{key[0][1]}")
                for node in nodes:
                    node.id = target
            slot = starts.setdefault((id(block.owner), block.field), [])
            if key in remade:
                slot.append((block, anchor, [remade[key]], False))
                continue
            push, taken = self.stack_for(key, name, block, anchor, nodes, shared, after_loops)
            slot.append((block, push, taken, True))
        for key, entries in starts.items():
            pops = sorted((e for e in entries if e[3]), key=lambda e: -_index(e[0].items, e[1]))
            remakes = sorted((e for e in entries if not e[3]), key=lambda e: _index(e[0].items, e[1]))
            starts[key] = [s for e in pops + remakes for s in e[2]]
        return starts, after_loops

    def stack_for(self, key, name, block, anchor, nodes, shared, after_loops):
        """A stack for one needed value: its initialisation before the outermost
        loop, the push where the value is made; returns the push and what the
        start of the reverse block takes (the pop, and the top of the trip
        where one stack serves both)."""
        facts = self.facts
        target = nodes[0].id if nodes else name
        stack = self.namer.fresh(f"{name}_stack")
        origin = getattr(anchor, "s2sad_origin", None) or getattr(block.owner, "s2sad_origin", None)
        push = gast.Expr(value=gast.Call(
            func=gast.Attribute(value=_name(stack), attr="append", ctx=gast.Load()),
            args=[_snapshot(name, key[0] if key[0] != "trips" else None, facts)], keywords=[]))
        push.s2sad_origin = origin
        push.s2sad_effect = push.s2sad_push = True
        position = 0 if anchor is None else _index(block.items, anchor) + 1
        while position < len(block.items) and getattr(block.items[position], "s2sad_push", False):
            position += 1
        block.items.insert(position, push)
        holder, loop = block.outermost
        init = gast.Assign(targets=[_name(stack, True)], value=gast.List(elts=[], ctx=gast.Load()),
                           type_comment=None)
        init.s2sad_origin = getattr(loop, "s2sad_origin", None)
        init.s2sad_effect = True
        init.s2sad_stack_kind = facts.kind(*key[0]) if key[0] != "trips" else Scalar("int")
        holder.insert(_index(holder, loop), init)
        pop = gast.Assign(targets=[_name(target, True)], value=gast.Call(
            func=gast.Attribute(value=_name(stack), attr="pop", ctx=gast.Load()), args=[],
            keywords=[]), type_comment=None)
        taken = [pop]
        if key in shared:                 # the value at the top of this trip: left on the stack
            top_nodes = self.needs[shared[key]][1]
            top_target = top_nodes[0].id if top_nodes else name
            taken.append(gast.Assign(targets=[_name(top_target, True)], value=gast.Subscript(
                value=_name(stack), slice=gast.Constant(value=-1, kind=None), ctx=gast.Load()),
                type_comment=None))
            holder, loop = self.sites[shared[key][0]]
            first = gast.Expr(value=gast.Call(
                func=gast.Attribute(value=_name(stack), attr="append", ctx=gast.Load()),
                args=[_snapshot(name, key[0], facts)], keywords=[]))
            first.s2sad_origin, first.s2sad_effect = init.s2sad_origin, True
            holder.items.insert(_index(holder.items, loop), first)
            drop = gast.Expr(value=gast.Call(
                func=gast.Attribute(value=_name(stack), attr="pop", ctx=gast.Load()), args=[],
                keywords=[]))
            after_loops.append((loop, drop))
        return push, taken


_DECIDING = {"all", "any", "isnan", "isfinite", "isinf", "array_equal", "allclose", "isclose"}


def decide_once(forward: list, reverse: list, facts: Facts) -> None:
    """A branch on an array's truth (`cond = np.sum(z) > 0`) that the reverse
    sweep branches on again keeps its decision as a Python bool
    (`cond = bool(np.sum(z) > 0)`): on Dask each `if` on an array computes it,
    on CuPy copies it to the host, so the reverse sweep reads the decision
    instead of deciding again.  Only comparisons and truth tests are wrapped
    (a number used as a condition keeps its value)."""
    tests = {s.test.id for s in statements(reverse) if isinstance(s, gast.If)
             and isinstance(s.test, gast.Name)}
    tests -= _read_as_values(forward + reverse)
    for stmt in statements(forward):
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], gast.Name) and stmt.targets[0].id in tests
                and _a_truth(stmt.value)):
            continue
        ref = getattr(stmt.targets[0], "s2sad_ref", None)
        if ref is not None and isinstance(facts.kind(*ref), Scalar):
            continue                      # (already a Python bool)
        stmt.value = gast.Call(func=_name("bool"), args=[stmt.value], keywords=[])


def _read_as_values(items):
    """Names read other than as an `if`'s test or pushed on a stack: values
    (`y = x * m` after `if m:`), whose value a bool would change."""
    used = set()
    for stmt in statements(items):
        allowed = set()
        if isinstance(stmt, gast.If) and isinstance(stmt.test, gast.Name):
            allowed.add(id(stmt.test))
        if isinstance(stmt, gast.Expr) and getattr(stmt, "s2sad_push", False):
            allowed.update(id(a) for a in stmt.value.args if isinstance(a, gast.Name))
        parts = [stmt.test] if isinstance(stmt, (gast.If, gast.While)) else \
            [stmt.iter] if isinstance(stmt, gast.For) else [stmt]
        for part in parts:
            used.update(n.id for n in gast.walk(part) if isinstance(n, gast.Name)
                        and isinstance(n.ctx, gast.Load) and id(n) not in allowed)
    return used


def _a_truth(node):
    """Is `node` a comparison or a truth test (`a > b`, `not c`, `np.all(m)`)?"""
    if isinstance(node, (gast.Compare, gast.BoolOp)):
        return True
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.Not):
        return True
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
        and node.func.attr in _DECIDING


def _snapshot(name, ref, facts):
    """What a stack keeps of a value: a list that may grow later, as it is now;
    an array an update later in the trip changes in place (`np.add.at(x, 0,
    s)` after `x = np.exp(x)`, whose rule reads the result), as it is now."""
    kind = facts.kind(*ref) if ref is not None else None
    if isinstance(kind, Seq) or isinstance(kind, Tree) and kind.type is list:
        return gast.Call(func=_name("list"), args=[_name(name)], keywords=[])
    if ref in facts.changed_in_place and isinstance(kind, Array):
        copied = gast.Call(func=gast.Attribute(value=_name(name), attr="copy", ctx=gast.Load()),
                           args=[], keywords=[])
        if kind.ndim is not None:
            return copied
        # a kind not known (joined with None before the loop made it): `x.copy()` only
        # where it is an array by then
        return gast.IfExp(test=gast.Compare(left=_name(name), ops=[gast.Is()],
                                            comparators=[gast.Constant(value=None, kind=None)]),
                          body=_name(name), orelse=copied)
    return _name(name)


def _shape_only(node):
    """`np.ones_like(x)` / `np.zeros_like(x)`: a read of x's shape and dtype only."""
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
        and node.func.attr in ("ones_like", "zeros_like") and len(node.args) == 1 \
        and not node.keywords and isinstance(node.args[0], gast.Name) \
        and getattr(node.args[0], "s2sad_ref", None) is not None


def _index(items, item):
    return next(i for i, x in enumerate(items) if x is item)


def _cheap(stmt, ref, facts):
    """Is recomputing this statement as cheap as keeping its value: a view
    (`xs[t]`, `x.T`, `x.shape`) or arithmetic on Python numbers?"""
    if not isinstance(stmt, gast.Assign) or not isinstance(stmt.targets[0], gast.Name):
        return False
    value = stmt.value
    if any(isinstance(n, gast.Call) for n in gast.walk(value)):
        return False
    if isinstance(value, (gast.Attribute, gast.Name)):
        return True
    if isinstance(value, gast.Subscript):
        base = getattr(value.value, "s2sad_ref", None)
        if base is not None and isinstance(facts.kind(*base), Seq):
            return False          # keeping the element beats keeping a growing list
        index = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        return all(isinstance(p, (gast.Slice, gast.Constant)) or isinstance(
            facts.kind(*p.s2sad_ref) if getattr(p, "s2sad_ref", None) else None, Scalar)
            for p in index)
    return isinstance(facts.kind(*ref), Scalar)


def _at_hand(ref, block, sites, top_sites, counters):
    """Is this value available at the start of the reverse of `block`?"""
    if ref in counters and counters[ref] in block.loops:
        return True
    if ref in top_sites and top_sites[ref][0].owner in block.loops:
        return True
    site = sites.get(ref)
    if site is None or not site[0].loops:
        return site is not None or ref.version == 0       # made outside every loop (or a parameter)
    return block.within(site[0])


def _own_nodes(item):
    """The nodes of an item outside its nested blocks."""
    if isinstance(item, (gast.If, gast.While)):
        return list(gast.walk(item.test))
    if isinstance(item, gast.For):
        return list(gast.walk(item.iter)) + list(gast.walk(item.target))
    return list(gast.walk(item))


def _insert_at_starts(reverse, starts):
    def visit(items):
        for item in items:
            if isinstance(item, Comment):
                continue
            pair = getattr(item, "s2sad_pair", None)
            if pair is not None:
                for field_ in ("body", "orelse"):
                    block = getattr(item, field_, None)
                    key = (id(pair), field_)
                    if block is not None and key in starts:
                        block[:0] = starts.pop(key)
            for block in child_blocks(item):
                visit(block)

    visit(reverse)


def _insert_after(items, forward_loop, stmt):
    for i, item in enumerate(items):
        if isinstance(item, Comment):
            continue
        if getattr(item, "s2sad_pair", None) is forward_loop:
            items.insert(i + 1, stmt)
            return True
        if any(_insert_after(block, forward_loop, stmt) for block in child_blocks(item)):
            return True
    return False


def _forward_map(forward):
    """The sites values are made at, and the loops' counters."""
    sites = {}                            # ref -> (_Block, anchor statement or None)
    top_sites = {}                        # a loop's top-of-trip value -> (_Block of its body, None)
    counters = {}                         # a loop's counter -> the loop

    def visit(items, loops, parent, outermost, owner, field_):
        block = _Block(items, loops, parent, outermost, owner, field_)
        for item in list(items):
            if isinstance(item, Comment):
                continue
            facts = getattr(item, "s2sad_facts", None)
            if facts is not None and not child_blocks(item):
                for ref in facts.writes.items():
                    sites[ref] = (block, item)
            if facts is None or not child_blocks(item):
                continue
            for name, (phi, *_) in facts.joins.items():
                sites[(name, phi)] = (block, item)
            if isinstance(item, _LOOPS):
                inner_outermost = outermost if outermost is not None else (items, item)
                for name, (phi, *_) in facts.carried.items():
                    sites[(name, phi)] = (block, item)
                if facts.counter is not None:
                    counters[facts.counter] = item
                    sites[facts.counter] = (block, item)    # after the loop: its last value
                trips = getattr(item, "s2sad_trips", None)
                if trips is not None:
                    sites[("trips", trips)] = (block, item)
                body = visit(item.body, loops + (item,), block, inner_outermost, item, "body")
                for name, (phi, *_) in facts.carried.items():
                    top_sites[(name, phi)] = (body, None)
            else:
                visit(item.body, loops, block, outermost, item, "body")
                visit(item.orelse, loops, block, outermost, item, "orelse")
        return block

    visit(forward, (), None, None, None, None)
    return sites, top_sites, counters


def separate_counters(reverse, namer):
    """A reverse loop recounts its forward loop's counter in the same name
    (`for t in reversed(range(n))`).  Where the reverse sweep reads or sets
    that name for another value once the loop may have run (a value from
    before the loop, one popped or remade in a trip, the forward loop's last
    count, anything in a later trip of a loop around it), the reverse loop
    counts in a name of its own (`for t1 in reversed(range(n))`)."""
    names = []                            # (position, Name node, the loops it is in)
    loops_of = {}                         # id(reverse loop) -> (the loops around it, end position)

    def visit(items, loops):
        for item in items:
            if isinstance(item, Comment):
                continue
            inner = loops + (item,) if isinstance(item, _LOOPS) else loops
            target = item.target if isinstance(item, gast.For) else None
            for node in (_own_nodes(item) if child_blocks(item) else gast.walk(item)):
                if isinstance(node, gast.Name):
                    names.append((len(names), node, inner if node is target else loops))
            for block in child_blocks(item):
                visit(block, inner)
            loops_of[id(item)] = (loops, len(names))

    visit(reverse, ())
    for item in statements(reverse):
        if not (isinstance(item, gast.For) and isinstance(getattr(item, "s2sad_pair", None), gast.For)
                and isinstance(item.target, gast.Name)):
            continue
        counter, count = item.target.id, getattr(item.target, "s2sad_ref", None)
        around, end = loops_of[id(item)]

        def clashes(position, node, loops):
            if node.id != counter or node is item.target:
                return False
            ref = getattr(node, "s2sad_ref", None)
            if item in loops:             # in a trip: only the count is read
                return ref != count or not isinstance(node.ctx, gast.Load)
            if not isinstance(node.ctx, gast.Load) or any(
                    isinstance(loop, gast.For) and loop.target.id == counter
                    and ref == getattr(loop.target, "s2sad_ref", None) for loop in loops):
                return False              # another loop's count
            # read outside: only before the loop has run
            return position >= end or any(loop in loops for loop in around)

        if not any(clashes(*entry) for entry in names):
            continue
        own = namer.fresh(counter)
        item.target.id = own
        for _, node, loops in names:
            if item in loops and node.id == counter and getattr(node, "s2sad_ref", None) == count \
                    and isinstance(node.ctx, gast.Load):
                node.id = own
