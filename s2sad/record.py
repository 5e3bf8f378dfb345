"""What the reverse sweep needs of values that loops overwrite: stacks.

The reverse sweep runs after the whole forward sweep, so a value made
inside a loop is gone by then: the next trip overwrote it.  Each such value
the reverse sweep reads is pushed on a list of its own right where the
forward sweep makes it (`t_stack.append(t)`) and popped at the start of the
reverse of the block that made it (`t = t_stack.pop()`), so the reverse of
every trip sees that trip's value.  Nothing else is recorded: values from
outside the loop are read where they are, a `for` loop's counter is
recounted by the reverse loop, and a loop's trip count is recorded only
where it cannot be recomputed (`while`, `break`).
"""

import gast

from .optimize import Comment, blocks_of, walk_items

_LOOPS = (gast.For, gast.While)


def _name(id_, store=False):
    return gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(), annotation=None,
                     type_comment=None)


def _stmt(node, origin):
    if origin is not None:
        node.s2sad_origin = origin
    return node


class _Block:
    """A forward block: the list, whether a loop runs it, the loop around it
    that is outermost (and the block holding that loop), and the statement
    owning it."""

    def __init__(self, items, loops, outermost, owner, field):
        self.items, self.loops, self.outermost = items, loops, outermost
        self.owner, self.field = owner, field


def record(forward, reverse, namer):
    """Insert the pushes and pops; returns the versions recorded."""
    blocks, sites, top_sites, counters = _forward_map(forward)
    needs = {}                            # key -> [site, nodes reading it]
    order = []

    def visit(items, inside):
        for item in items:
            if isinstance(item, Comment):
                continue
            pair = getattr(item, "s2sad_pair", None)
            for node in _own_nodes(item):
                trips_of = getattr(node, "s2sad_trips_of", None)
                if trips_of is not None:
                    site = sites.get(("trips", node.id))
                    key = ("trips", node.id)
                else:
                    ref = getattr(node, "s2sad_ref", None)
                    if ref is None or len(ref) != 2 or ref in counters:
                        continue
                    site = top_sites.get(ref) if ref in top_sites and \
                        top_sites[ref][0].owner in inside else sites.get(ref)
                    key = (ref, site[0].owner if site else None, site[1] if site else None)
                if site is None or not site[0].loops:
                    continue
                if key not in needs:
                    needs[key] = [site, []]
                    order.append(key)
                needs[key][1].append(node)
            for field_ in ("body", "orelse"):
                block = getattr(item, field_, None)
                if block:
                    visit(block, inside | ({pair} if isinstance(pair, _LOOPS) else set()))

    visit(reverse, frozenset())
    if not needs:
        return set()
    versions = {}
    for key in order:
        if key[0] != "trips":
            versions.setdefault(key[0][0], set()).add(key[0])
    pops = {}                             # id(forward block) -> [(position, pop statement)]
    recorded = set()
    for key in order:
        (block, anchor), nodes = needs[key]
        if key[0] == "trips":
            name = key[1]
        else:
            ref = key[0]
            recorded.add(ref)
            name = ref[0]
        stack = namer.fresh(f"{name}_stack")
        target = name
        if key[0] != "trips" and len(versions[name]) > 1:
            target = namer.fresh(f"{name}_{ref[1]}")
            for node in nodes:
                node.id = target
        origin = getattr(anchor, "s2sad_origin", None) or getattr(block.owner, "s2sad_origin", None)
        push = _stmt(gast.Expr(value=gast.Call(
            func=gast.Attribute(value=_name(stack), attr="append", ctx=gast.Load()),
            args=[_name(name)], keywords=[])), origin)
        push.s2sad_effect = True
        position = 0 if anchor is None else next(
            i for i, x in enumerate(block.items) if x is anchor) + 1
        while position < len(block.items) and getattr(block.items[position], "s2sad_push", False):
            position += 1
        push.s2sad_push = True
        block.items.insert(position, push)
        holder, loop = block.outermost
        init = _stmt(gast.Assign(targets=[_name(stack, True)], value=gast.List(elts=[], ctx=gast.Load()),
                                 type_comment=None), getattr(loop, "s2sad_origin", None))
        init.s2sad_effect = True
        holder.insert(next(i for i, x in enumerate(holder) if x is loop), init)
        pop = gast.Assign(targets=[_name(target, True)], value=gast.Call(
            func=gast.Attribute(value=_name(stack), attr="pop", ctx=gast.Load()), args=[],
            keywords=[]), type_comment=None)
        pops.setdefault((id(block.owner), block.field), []).append((block, push, pop))
    for key, entries in pops.items():     # pop in the reverse order of the pushes
        pops[key] = [pop for block, push, pop in sorted(
            entries, key=lambda e: -next(i for i, x in enumerate(e[0].items) if x is e[1]))]
    _insert_pops(reverse, pops)
    return recorded


def _own_nodes(item):
    """The nodes of an item outside its nested blocks."""
    if isinstance(item, (gast.If, gast.While)):
        return list(gast.walk(item.test))
    if isinstance(item, gast.For):
        return list(gast.walk(item.iter)) + list(gast.walk(item.target))
    return list(gast.walk(item))


def _insert_pops(reverse, pops):
    def visit(items):
        for item in items:
            if isinstance(item, Comment):
                continue
            pair = getattr(item, "s2sad_pair", None)
            if pair is not None:
                fields = {"body": "body", "orelse": "orelse"}
                for field_, forward_field in fields.items():
                    block = getattr(item, field_, None)
                    if block is None:
                        continue
                    key = (id(pair), forward_field)
                    if key in pops:
                        block[:0] = pops.pop(key)
            for block in blocks_of(item):
                visit(block)

    visit(reverse)


def _forward_map(forward):
    """Blocks, the sites values are made at, and the loops' counters."""
    blocks = {}
    sites = {}                            # ref -> (_Block, anchor statement or None)
    top_sites = {}                        # a loop's top-of-trip value -> (_Block of its body, None)
    counters = set()

    def visit(items, loops, outermost, owner, field_):
        block = blocks[id(items)] = _Block(items, loops, outermost, owner, field_)
        for item in list(items):
            if isinstance(item, Comment):
                continue
            facts = getattr(item, "s2sad_facts", None)
            if isinstance(item, gast.Assign):
                for node in gast.walk(item.targets[0]):
                    ref = getattr(node, "s2sad_ref", None)
                    if ref is not None and isinstance(node.ctx, gast.Store):
                        sites[ref] = (block, item)
            if facts is None or not blocks_of(item):
                continue
            for name, (phi, *_) in facts.joins.items():
                sites[(name, phi)] = (block, item)
            inner_outermost = outermost if outermost is not None else (items, item)
            if isinstance(item, _LOOPS):
                for name, (phi, *_) in facts.carried.items():
                    sites[(name, phi)] = (block, item)
                if facts.counter is not None:
                    counters.add(facts.counter)
                trips = getattr(item, "s2sad_trips", None)
                if trips is not None:
                    sites[("trips", trips)] = (block, item)
                body = visit(item.body, loops + (item,), inner_outermost, item, "body")
                for name, (phi, *_) in facts.carried.items():
                    top_sites[(name, phi)] = (body, None)
            else:
                visit(item.body, loops, outermost, item, "body")
                visit(item.orelse, loops, outermost, item, "orelse")
        return block

    visit(forward, (), None, None, None)
    return blocks, sites, top_sites, counters
