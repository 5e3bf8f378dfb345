"""Stage 6: clean the generated statements.

* dead code elimination: a statement stays only if something returned (or
  a side effect of the user's) needs it, so the loss value itself is not
  computed when only its gradient was asked for, and a rule's unused
  cotangents vanish;
* storage: the reverse sweep runs after the whole forward sweep, so a
  value it reads that the forward sweep later overwrote gets a name of its
  own (`x_1`); everything else keeps the user's name;
* temporaries the reverse sweep does not need go back into the one
  expression that uses them, so `h = np.tanh(x @ W1 + b1)` reads as the
  user wrote it;
* orphan comments (a comment whose block was removed) go too.
"""


import builtins

import gast

from .analyze import mutable, updated_name
from .kinds import UNKNOWN
from .trees import CONTROL, Comment, child_blocks, copy_node, header_text, unparse




def header(node):
    """The expressions a control statement evaluates itself."""
    if isinstance(node, (gast.If, gast.While)):
        return [node.test]
    if isinstance(node, gast.For):
        return [node.iter]
    return []


def names_read(node):
    """Names a statement reads (a subscript or attribute target reads its base)."""
    if isinstance(node, CONTROL):
        read = set().union(*[names_read(h) for h in header(node)])
        for block in child_blocks(node):
            for item in block:
                if not isinstance(item, Comment):
                    read |= names_read(item)
        return read
    read = set()
    for child in gast.walk(node):
        if isinstance(child, gast.Name) and isinstance(child.ctx, gast.Load):
            read.add(child.id)
    if isinstance(node, (gast.Assign, gast.AugAssign)):
        targets = node.targets if isinstance(node, gast.Assign) else [node.target]
        for t in targets:
            read |= _updated_base(t)
            if isinstance(node, gast.AugAssign) and isinstance(t, gast.Name):
                read.add(t.id)
    return read


def _updated_base(target):
    """`{'x'}` for a target `x[i].a` that updates the object `x` names."""
    if not isinstance(target, (gast.Subscript, gast.Attribute)):
        return set()
    base = target.value
    while isinstance(base, (gast.Subscript, gast.Attribute)):
        base = base.value
    return {base.id} if isinstance(base, gast.Name) else set()


def names_written(node):
    """Names a statement (re)binds or mutates."""
    if isinstance(node, CONTROL):
        out = {node.target.id} if isinstance(node, gast.For) else set()
        for block in child_blocks(node):
            for item in block:
                if not isinstance(item, Comment):
                    out |= names_written(item)
        return out
    if isinstance(node, gast.Assign):
        out = set()
        for t in node.targets:
            for child in gast.walk(t):
                if isinstance(child, gast.Name) and isinstance(child.ctx, gast.Store):
                    out.add(child.id)
            out |= _updated_base(t)
        return out
    if isinstance(node, gast.AugAssign):
        return {node.target.id} if isinstance(node.target, gast.Name) else _updated_base(node.target)
    if isinstance(node, gast.Expr) and getattr(node, "s2sad_update", False):
        return {updated_name(node)}          # `xs.pop(0)`, `xs.append(v)`, `np.add.at(x, ...)`
    if isinstance(node, gast.Expr) and isinstance(node.value, gast.Call):
        # a rule's `np.add.at(dx, ...)` mutates its first argument
        args = node.value.args
        if args and isinstance(args[0], gast.Name) and not getattr(node, "s2sad_effect", False):
            return {args[0].id}
    return set()


def _mutates(node):
    if isinstance(node, (gast.Assign, gast.AugAssign)):
        targets = node.targets if isinstance(node, gast.Assign) else [node.target]
        return any(isinstance(t, (gast.Subscript, gast.Attribute)) for t in targets) \
            or isinstance(node, gast.AugAssign)
    return isinstance(node, gast.Expr) and not getattr(node, "s2sad_effect", False)


def is_self_assignment(item):
    """`A = A` (the core form of `u, A = f(u), A`): it does nothing."""
    return isinstance(item, gast.Assign) and len(item.targets) == 1 \
        and isinstance(item.targets[0], gast.Name) and isinstance(item.value, gast.Name) \
        and item.targets[0].id == item.value.id


def eliminate_dead_code(items, live):
    """Drop statements nothing in `live` (names needed at the end) depends on."""
    kept, _ = _live_block(items, set(live))
    return kept


def _live_block(items, live):
    """The statements of a block that `live` needs, and what is live before it."""
    live = set(live)
    kept = []
    for item in reversed(items):
        if isinstance(item, Comment):
            kept.append(item)
            continue
        if isinstance(item, CONTROL):
            node, live = _live_control(item, live)
            if node is not None:
                kept.append(node)
            continue
        if is_self_assignment(item):
            continue
        effect = getattr(item, "s2sad_effect", False) or isinstance(
            item, (gast.Assert, gast.Return, gast.Break, gast.Continue))
        written = names_written(item)
        needed = effect or bool(written & live)
        if not needed:
            continue
        if not _mutates(item):
            live -= written
        live |= names_read(item)
        kept.append(item)
    kept.reverse()
    return drop_orphan_comments(kept), live


def _live_control(node, live):
    heads = set().union(*[names_read(h) for h in header(node)])
    if isinstance(node, gast.If):
        body, live_body = _live_block(node.body, live)
        orelse, live_else = _live_block(node.orelse, live)
        if not _statements_in(body) and not _statements_in(orelse):
            return None, live
        new = copy_node_shallow(node)
        new.body, new.orelse = body, orelse
        return new, live_body | live_else | heads
    # a loop: what the body needs at its top is needed at its end too (the next trip)
    carried = set(live) | (heads if isinstance(node, gast.While) else set())
    while True:
        body, live_in = _live_block(node.body, carried)
        grown = carried | live_in
        if grown == carried:
            break
        carried = grown
    counted = isinstance(node, gast.For) and node.target.id in live
    if not _statements_in(body):
        if not counted:
            return None, live
        body = [gast.Pass()]              # kept for the counter's last value alone
    new = copy_node_shallow(node)
    new.body = body
    before = carried | heads
    if isinstance(node, gast.For):
        before -= {node.target.id} - live
    return new, before


def _statements_in(items):
    return any(not isinstance(i, Comment) for i in items)


def copy_node_shallow(node):
    new = type(node)(**{f: getattr(node, f, None) for f in node._fields})
    new.__dict__.update({k: v for k, v in node.__dict__.items() if k not in node._fields})
    return new


def drop_orphan_comments(items):
    out = []
    for i, item in enumerate(items):
        if isinstance(item, CONTROL):
            item = copy_node_shallow(item)
            for field_ in ("body", "orelse"):
                if getattr(item, field_, None):
                    setattr(item, field_, drop_orphan_comments(getattr(item, field_)))
        if isinstance(item, Comment):
            following = items[i + 1] if i + 1 < len(items) else None
            if following is None or isinstance(following, Comment):
                if not item.text.startswith("----"):
                    continue
        out.append(item)
    return out


def free_names(items, bound=frozenset()):
    """Names the statements read before (or without) assigning them; inside
    a branch or loop, a name its block assigns before reading it is not free."""
    free, bound = set(), set(bound)
    for item in items:
        if isinstance(item, Comment):
            continue
        if isinstance(item, CONTROL):
            free |= set().union(*[names_read(h) for h in header(item)]) - bound
            if isinstance(item, gast.For):
                bound.add(item.target.id) if isinstance(item.target, gast.Name) else None
            for block in child_blocks(item):
                free |= free_names(block, bound)
        else:
            free |= names_read(item) - bound
        bound |= _always_written([item])
    return free


def _always_written(items):
    """Names the statements assign on every path through them (a loop may
    not run; an `if` assigns what both its branches do)."""
    written = set()
    for item in items:
        if isinstance(item, Comment):
            continue
        if isinstance(item, gast.If):
            written |= _always_written(item.body) & _always_written(item.orelse)
        elif not isinstance(item, CONTROL):
            written |= names_written(item)
    return written


def settle_names(items, namer, params=(), avoid=()):
    """A name made with a suffix (`x_shape_1`, `dx1`) because its plain form
    was taken when it was made takes the plain form where nothing in the
    final function uses that any more (the temporary that held it was folded
    away): the generated code reads `x_shape_0`, not `x_shape1_0`.  Builtins
    and the names in `avoid` (the module's globals) are never taken."""
    used = set(params) | set(avoid) | _BUILTINS
    order = []
    for node in walk_items(items):
        if isinstance(node, gast.Name):
            if node.id not in used:
                order.append(node.id)
            used.add(node.id)
    renames = {}
    for name in order:
        base = namer.bases.get(name)
        if base is not None and base not in used:
            renames[name] = base
            used.add(base)
    for node in walk_items(items):
        if isinstance(node, gast.Name) and node.id in renames:
            node.id = renames[node.id]
    return items


_BUILTINS = set(dir(builtins))


def walk_items(items):
    """Every gast node of a list of items, into nested blocks (Comments skipped)."""
    for item in items:
        if not isinstance(item, Comment):
            yield from gast.walk(item)


def assign_storage(forward, reverse, final_versions, namer, kinds=None):
    """Give versions the reverse sweep reads after the forward sweep overwrote
    them a name of their own.  Where every later version of the name is a
    plain statement outside branches and loops, those get new names
    (`x_1`) and the first keeps the user's; otherwise the late version
    gets one, by renaming its assignment or, for a value that joins
    others after a branch or loop, by a copy right where it is made."""
    late, popped = set(), set()
    for node, counting in _reads_in_reverse(reverse):
        ref = getattr(node, "s2sad_ref", None)
        if ref is None or len(ref) != 2 or ref in counting:
            continue                      # a counter inside its loop: the reverse loop recounts it
        if getattr(node, "s2sad_recorded", False):
            popped.add(ref)               # `record` gives this read its value
        elif ref.version != final_versions.get(ref.name):
            late.add(ref)
    if not late:
        return
    sites = _definition_sites(forward)
    updated = {updated_name(n) for n in walk_items(forward) if getattr(n, "s2sad_update", False)}
    storage = {}
    for name in sorted({r.name for r in late}):
        versions = [v for (n, v), site in sites.items() if n == name and v > 0]
        if name not in updated and all(sites[(name, v)].plain and sites[(name, v)].top
                                       for v in versions):
            for v in versions:                # the first version keeps the user's name
                storage[(name, v)] = namer.fresh(f"{name}_{v}")
            continue
        for ref in sorted(r for r in late if r.name == name):
            site = sites.get(ref)
            new = storage[ref] = namer.fresh(f"{name}_{ref.version}")
            if site is not None and site.plain and name not in updated and ref not in popped:
                continue                      # renamed where it is assigned
            value = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
            if name in updated and (kinds is None or mutable(kinds.get(ref, UNKNOWN))):
                # it changes in place later: a real copy (not of a number: `a = n > 0 and x`)
                value = gast.Call(func=gast.Attribute(value=value, attr="copy", ctx=gast.Load()),
                                  args=[], keywords=[])
            copy = gast.Assign(targets=[gast.Name(id=new, ctx=gast.Store(), annotation=None,
                                                  type_comment=None)],
                               value=value, type_comment=None)
            copy.s2sad_effect = True
            if site is not None:
                block, index = site.block, _index_in(site.block, site.anchor) + 1
            elif ref.version > 0 and _first_reader(forward, ref) is not None:
                # a copy-on-write copy (`x = x.copy()`) the forward dropped, as the
                # update needs none: the value just before the update, which reads it
                block, index = _first_reader(forward, ref)
            else:
                block, index = forward, 0                # a parameter
            block.insert(index, copy)
            storage[ref] = (new, "copied")
    kept = lambda node, counting: getattr(node, "s2sad_ref", None) in counting \
        or getattr(node, "s2sad_recorded", False)    # the reverse loop's count, a popped value
    for node in walk_items(forward):
        ref = getattr(node, "s2sad_ref", None)
        if ref is not None and len(ref) == 2 and isinstance(storage.get(ref), str):
            node.id = storage[ref]
    for node, counting in _reads_in_reverse(reverse):
        ref = getattr(node, "s2sad_ref", None)
        if ref is not None and len(ref) == 2 and ref in storage and not kept(node, counting):
            new = storage[ref]
            node.id = new[0] if isinstance(new, tuple) else new


def _index_in(block, item):
    return next(i for i, x in enumerate(block) if x is item)


def find_statement(items, wanted):
    """(block, index) of the first statement, at any depth, that is `wanted`."""
    for i, item in enumerate(items):
        if isinstance(item, Comment):
            continue
        if wanted(item):
            return items, i
        for block in child_blocks(item):
            found = find_statement(block, wanted)
            if found is not None:
                return found
    return None


def _first_reader(items, ref):
    """(block, index) of the first forward statement that reads `ref`."""
    def reads(item):
        facts = getattr(item, "s2sad_facts", None)
        return facts is not None and facts.reads.get(ref.name) == ref.version
    return find_statement(items, reads)


def _reads_in_reverse(items, counting=frozenset()):
    """Every node of the reverse sweep, with the counters of the loops around it."""
    for item in items:
        if isinstance(item, Comment):
            continue
        if isinstance(item, gast.For):
            inner = counting | {getattr(item.target, "s2sad_ref", None)}
            for node in gast.walk(item.target):
                yield node, inner
            for node in gast.walk(item.iter):
                yield node, counting
            yield from _reads_in_reverse(item.body, inner)
        elif isinstance(item, (gast.If, gast.While)):
            for node in gast.walk(item.test):
                yield node, counting
            for block in child_blocks(item):
                yield from _reads_in_reverse(block, counting)
        else:
            for node in gast.walk(item):
                yield node, counting


class _Site:
    def __init__(self, block, anchor, plain, top):
        self.block, self.anchor = block, anchor
        self.plain = plain                    # a plain assignment no join reads
        self.top = top                        # outside every branch and loop


def _definition_sites(forward):
    """(name, version) -> where a forward value is made."""
    sites, joined = {}, set()

    def visit(block, top):
        for item in block:
            if isinstance(item, Comment):
                continue
            facts = getattr(item, "s2sad_facts", None)
            if isinstance(item, CONTROL):
                for name, (phi, *incoming) in list(facts.joins.items()) + list(facts.carried.items()):
                    sites[(name, phi)] = _Site(block, item, False, top)
                    joined.update((name, v) for v in incoming if v is not None)
                if isinstance(item, gast.For) and facts.counter is not None:
                    sites[facts.counter] = _Site(block, item, False, top)   # its last value
                for inner in child_blocks(item):
                    visit(inner, False)
                continue
            if facts is not None:
                for ref in facts.writes.items():
                    sites[ref] = _Site(block, item, not getattr(item, "s2sad_update", False), top)

    visit(forward, True)
    for ref in joined:
        if ref in sites:
            sites[ref].plain = False
    return sites


def drop_redundant_comments(items):
    """A forward block that is exactly the user's line needs no comment repeating it."""
    out = []
    for i, item in enumerate(items):
        if isinstance(item, CONTROL):
            item = copy_node_shallow(item)
            for field_ in ("body", "orelse"):
                if getattr(item, field_, None):
                    setattr(item, field_, drop_redundant_comments(getattr(item, field_)))
        if isinstance(item, Comment) and i + 1 < len(items):
            nxt = items[i + 1]
            after = items[i + 2] if i + 2 < len(items) else None
            if not isinstance(nxt, Comment) and (after is None or isinstance(after, Comment)) \
                    and _first_line(nxt) == item.text:
                continue
        out.append(item)
    return out


def _first_line(node):
    if isinstance(node, CONTROL):
        return header_text(node)
    return unparse(node)


def fold_temporaries(items, later, temporaries, tidy=None):
    """Substitute each temporary used once, by a statement of the same user
    line, and not in `later` (names read after these items), into its use
    (`tidy(statement)`, where given, rewrites a folded statement before its
    length is judged)."""
    items = list(items)
    for j, item in enumerate(items):
        if isinstance(item, CONTROL):
            outside = set(later).union(*[names_read(h) for h in header(item)])
            for i, other in enumerate(items):
                if i != j and not isinstance(other, Comment):
                    outside |= names_read(other)
            new = copy_node_shallow(item)
            blocks = [f for f in ("body", "orelse") if getattr(item, f, None)]
            for f in blocks:                  # branches exclude each other
                setattr(new, f, fold_temporaries(getattr(item, f), outside, temporaries, tidy))
            items[j] = new
    # (a fold never lets an earlier temporary fold where it could not before, so
    # the scan goes on from where it folded rather than from the start)
    i = 0
    while i < len(items):
        if _foldable(items[i], temporaries, later) and _fold_into_use(items, i, tidy):
            del items[i]
        else:
            i += 1
    return items


def _foldable(item, temporaries, later):
    return (isinstance(item, gast.Assign) and len(item.targets) == 1
            and isinstance(item.targets[0], gast.Name) and item.targets[0].id in temporaries
            and item.targets[0].id not in later and not getattr(item, "s2sad_effect", False))


def _fold_into_use(items, i, tidy=None):
    temp, value = items[i].targets[0].id, items[i].value
    reads = names_read(value)
    has_call = any(isinstance(n, gast.Call) for n in gast.walk(value))
    uses = [(j, node) for j in range(i + 1, len(items)) if not isinstance(items[j], Comment)
            for node in gast.walk(items[j]) if isinstance(node, gast.Name) and node.id == temp]
    if len(uses) != 1:
        return False
    j, use = uses[0]
    if isinstance(items[j], CONTROL) and not (isinstance(items[j], gast.If) and items[j].test is use):
        return False                      # never into a loop, nor into a branch
    if updated_name(items[j]) == temp:
        return False                      # nor into what an update changes (`xs.append(v)`)
    origin = getattr(items[i], "s2sad_origin", None)
    if origin is not None and getattr(items[j], "s2sad_origin", None) is not origin:
        return False
    for between in items[i + 1:j]:
        if isinstance(between, Comment):
            if origin is None:            # reverse sweep: stay inside the user line's block
                return False
            continue
        if names_written(between) & (reads | {temp}) or has_call and getattr(between, "s2sad_effect", False):
            return False
    if isinstance(items[j], gast.If):
        folded = copy_node_shallow(items[j])
        folded.test = copy_node(value)
        if len(header_text(folded)) > MAX_LINE:
            return False
        items[j] = folded
        return True
    folded = copy_node(items[j])
    use = next(n for n in gast.walk(folded) if isinstance(n, gast.Name) and n.id == temp)
    parent = next(p for p in gast.walk(folded) for field, v in gast.iter_fields(p)
                  if v is use or isinstance(v, list) and any(x is use for x in v))
    for field, v in gast.iter_fields(parent):
        if v is use:
            setattr(parent, field, copy_node(value))
        elif isinstance(v, list):
            setattr(parent, field, [copy_node(value) if x is use else x for x in v])
    if tidy is not None:
        folded = tidy(folded)
    if len(unparse(folded)) > MAX_LINE:
        return False
    items[j] = folded
    return True


MAX_LINE = 84          # folding stops where a statement (indented: 88) would grow longer
