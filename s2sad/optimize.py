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


import gast

from .reverse import Comment
from .trees import copy_node


def names_read(node):
    """Names a statement reads (a subscript or attribute target reads its base)."""
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
    if isinstance(node, gast.Assign):
        out = set()
        for t in node.targets:
            for child in gast.walk(t):
                if isinstance(child, gast.Name) and isinstance(child.ctx, gast.Store):
                    out.add(child.id)
            out |= _updated_base(t)
        return out
    if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
        return {node.target.id}
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


def eliminate_dead_code(items, live):
    """Drop statements nothing in `live` (names needed at the end) depends on."""
    live = set(live)
    kept = []
    for item in reversed(items):
        if isinstance(item, Comment):
            kept.append(item)
            continue
        effect = getattr(item, "s2sad_effect", False) or isinstance(item, (gast.Assert, gast.Return))
        written = names_written(item)
        needed = effect or bool(written & live)
        if not needed:
            continue
        if not _mutates(item):
            live -= written
        live |= names_read(item)
        kept.append(item)
    kept.reverse()
    return drop_orphan_comments(kept)


def drop_orphan_comments(items):
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Comment):
            following = items[i + 1] if i + 1 < len(items) else None
            if following is None or isinstance(following, Comment):
                if not item.text.startswith("----"):
                    continue
        out.append(item)
    return out


def free_names(items):
    """Names the statements read before (or without) assigning them."""
    free, bound = set(), set()
    for item in items:
        if isinstance(item, Comment):
            continue
        free |= names_read(item) - bound
        bound |= names_written(item)
    return free


def assign_storage(forward, reverse, final_versions, namer):
    """Give versions the reverse sweep reads after they were overwritten a name of their own."""
    late = set()
    for item in reverse:
        if isinstance(item, Comment):
            continue
        for node in gast.walk(item):
            ref = getattr(node, "s2sad_ref", None)
            if ref is not None and ref[1] != final_versions.get(ref[0]):
                late.add(ref[0])
    if not late:
        return
    storage = {}
    for item in forward + reverse:
        if isinstance(item, Comment):
            continue
        for node in gast.walk(item):
            ref = getattr(node, "s2sad_ref", None)
            if ref is not None and ref[0] in late and ref[1] > 0:
                if ref not in storage:
                    storage[ref] = namer.fresh(f"{ref[0]}_{ref[1]}")
                node.id = storage[ref]


def drop_redundant_comments(items):
    """A forward block that is exactly the user's line needs no comment repeating it."""
    from .emit import unparse
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Comment) and i + 1 < len(items):
            nxt = items[i + 1]
            after = items[i + 2] if i + 2 < len(items) else None
            if not isinstance(nxt, Comment) and (after is None or isinstance(after, Comment)) \
                    and unparse(nxt) == item.text:
                continue
        out.append(item)
    return out


def fold_temporaries(items, later, temporaries):
    """Substitute each temporary used once, by a statement of the same user
    line, and not in `later` (names read after these items), into its use."""
    items = list(items)
    changed = True
    while changed:
        changed = False
        for i, item in enumerate(items):
            if _foldable(item, temporaries, later) and _fold_into_use(items, i):
                del items[i]
                changed = True
                break
    return items


def _foldable(item, temporaries, later):
    return (isinstance(item, gast.Assign) and len(item.targets) == 1
            and isinstance(item.targets[0], gast.Name) and item.targets[0].id in temporaries
            and item.targets[0].id not in later and not getattr(item, "s2sad_effect", False))


def _fold_into_use(items, i):
    temp, value = items[i].targets[0].id, items[i].value
    reads = names_read(value)
    has_call = any(isinstance(n, gast.Call) for n in gast.walk(value))
    uses = [(j, node) for j in range(i + 1, len(items)) if not isinstance(items[j], Comment)
            for node in gast.walk(items[j]) if isinstance(node, gast.Name) and node.id == temp]
    if len(uses) != 1:
        return False
    j, use = uses[0]
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
    folded = copy_node(items[j])
    use = next(n for n in gast.walk(folded) if isinstance(n, gast.Name) and n.id == temp)
    parent = next(p for p in gast.walk(folded) for field, v in gast.iter_fields(p)
                  if v is use or isinstance(v, list) and any(x is use for x in v))
    for field, v in gast.iter_fields(parent):
        if v is use:
            setattr(parent, field, copy_node(value))
        elif isinstance(v, list):
            setattr(parent, field, [copy_node(value) if x is use else x for x in v])
    from .emit import unparse
    if len(unparse(folded)) > MAX_LINE:
        return False
    items[j] = folded
    return True


MAX_LINE = 84          # folding stops where a statement (indented: 88) would grow longer
