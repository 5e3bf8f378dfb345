"""Algebraic simplification of the reverse sweep, after rules are inlined.

Rules are written for every shape, so at a given call site they can leave
work a person would not write:

* `np.ones_like(a) * c * b` where `b` has a's shape and dtype: the ones
  only broadcast `c`, and `b` does that already: `c * b` (the sum and mean
  rules spread the adjoint over their operand with `ones_like`);
* `e * 1.0`, `1.0 * e`, `e + 0.0`, `0.0 + e`: `e`; `e + e`: `2 * e`;
  `a + -b`: `a - b`;
* `a.T.T`: `a`;
* `a.size`, `np.ones_like(a)` where the statement reads `b` of a's shape
  anyway, a parameter has it, or the forward sweep makes `b` at its top
  level and the reverse sweep reads it anyway: `b.size` (so `a` need not be
  kept for it, nor computed: `np.sum(z + np.log1p(e))`'s forward then
  skips the sum's operand).

Only provable rewrites: the shapes and dtypes come from the analysis.

`propagate_constants` first puts a constant adjoint (a loop's `dtotal =
1.0`, never changed) into the expressions that read it, for the rules
above to fold.

After recording, `factor_sums_out_of_loops` moves a loop-invariant factor of
a sum out of a reverse loop: `dx = zeros; for ...: dx += g * 2 * x` sums
`g` and multiplies by `2 * x` once, as a person writes it.
"""

import gast

from .kinds import Array, Scalar
from .optimize import header, names_read, names_written
from .refs import Version
from .trees import CONTROL, Comment, child_blocks, is_boolean, statements


def simplify(items, facts, params=(), kept=()):
    """Rewrite the expressions of these statements in place (`params`: the
    function's parameters, always at hand for a shape; `kept`: refs the
    forward sweep makes at its top level and the reverse sweep reads anyway,
    at hand for a shape anywhere in the reverse sweep)."""
    for item in items:
        if isinstance(item, Comment):
            continue
        for field, value in gast.iter_fields(item):
            if isinstance(value, gast.expr):
                # an augmented assignment adds its value in: a bare value is not aliased
                setattr(item, field, _expr(value, facts, nested=isinstance(item, gast.AugAssign)))
            elif isinstance(value, list) and field not in ("body", "orelse"):
                setattr(item, field, [_expr(v, facts) if isinstance(v, gast.expr) else v
                                      for v in value])
        if not child_blocks(item):
            _sizes_from_values_at_hand(item, facts, params, kept)
        for block in child_blocks(item):
            simplify(block, facts, params, kept)
    return items


def _expr(node, facts, nested=False):
    """`nested`: the value is an operand of arithmetic, which makes a new
    object of it, so simplifying down to a bare name aliases nothing."""
    arithmetic = isinstance(node, (gast.BinOp, gast.UnaryOp))
    for field, value in gast.iter_fields(node):
        if isinstance(value, gast.expr):
            setattr(node, field, _expr(value, facts, arithmetic))
        elif isinstance(value, list):
            setattr(node, field, [_expr(v, facts) if isinstance(v, gast.expr) else v for v in value])
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
        return _product(node, facts, nested)
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Add) \
            and isinstance(node.right, gast.UnaryOp) and isinstance(node.right.op, gast.USub):
        return gast.BinOp(left=node.left, op=gast.Sub(), right=node.right.operand)
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Add) \
            and isinstance(node.left, gast.BinOp) and gast.dump(node.left) == gast.dump(node.right):
        return gast.BinOp(left=gast.Constant(value=2, kind=None), op=gast.Mult(), right=node.left)
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Add):
        for zero, other in ((node.right, node.left), (node.left, node.right)):
            if _is_number(zero, 0) and isinstance(other, (gast.BinOp, gast.Call)):
                return other               # (not a bare value: that would alias it)
    if isinstance(node, gast.Attribute) and node.attr == "T" and isinstance(node.value, gast.Attribute) \
            and node.value.attr == "T":
        return node.value.value
    return node


def _sizes_from_values_at_hand(stmt, facts, params, kept=()):
    """`a.size`, `np.ones_like(a)` -> `b.size`, `np.ones_like(b)` where the
    statement reads `b` of a's shape (and dtype) as a value, or `b` is a
    parameter or kept anyway: `a` need not be kept (nor computed) for its
    shape."""
    # (node, needs the dtype too)
    holders = [(n, isinstance(n, gast.Call)) for n in gast.walk(stmt) if _holds_shape(n)]
    inside = {id(_held(n)) for n, _ in holders}
    values = [n.s2sad_ref for n in gast.walk(stmt) if isinstance(n, gast.Name) and id(n) not in inside
              and isinstance(n.ctx, gast.Load) and len(getattr(n, "s2sad_ref", ()) or ()) == 2]
    at_hand = values + [Version(p, 0) for p in params] + sorted(kept)
    for node, typed in holders:
        ref = getattr(_held(node), "s2sad_ref", None)
        if ref is None or len(ref) != 2 or ref in at_hand:
            continue
        other = next((v for v in at_hand if facts.same_shape(ref, v) and (
            not typed or facts.kind(*v) == facts.kind(*ref) and isinstance(facts.kind(*v), Array))),
            None)                         # (`np.ones_like` of a Python number is a host value)
        if other is not None:
            name = gast.Name(id=other.name, ctx=gast.Load(), annotation=None, type_comment=None)
            name.s2sad_ref = other
            if isinstance(node, gast.Attribute):
                node.value = name
            else:
                node.args[0] = name


def values_kept(forward, items):
    """Refs the forward sweep assigns at its top level (there for the whole
    reverse sweep) that the reverse sweep's `items` read as values anyway."""
    made = {t.s2sad_ref for stmt in forward if isinstance(stmt, gast.Assign)
            for t in stmt.targets if isinstance(t, gast.Name) and getattr(t, "s2sad_ref", None)}
    read = set()
    for item in items:
        if isinstance(item, Comment):
            continue
        shapes_only = {id(_held(n)) for n in gast.walk(item) if _holds_shape(n)}
        read |= {n.s2sad_ref for n in gast.walk(item) if isinstance(n, gast.Name)
                 and isinstance(n.ctx, gast.Load) and id(n) not in shapes_only
                 and len(getattr(n, "s2sad_ref", ()) or ()) == 2}
    return made & read


def _holds_shape(n):
    """`a.size`, `a.shape`, `np.ones_like(a)`, `np.zeros_like(a)`: a read for a shape only."""
    return isinstance(n, gast.Attribute) and n.attr in ("size", "shape") \
        and isinstance(n.value, gast.Name) \
        or isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) \
        and n.func.attr in ("ones_like", "zeros_like") and len(n.args) == 1 \
        and not n.keywords and isinstance(n.args[0], gast.Name)


def _held(node):
    return node.value if isinstance(node, gast.Attribute) else node.args[0]


def _product(node, facts, nested=False):
    factors = _factors(node)
    kept = [f for f in factors if not _is_number(f, 1)] or factors[:1]
    for ones in [f for f in kept if _ones_of(f) is not None]:
        ref = _ones_of(ones)
        if any(f is not ones and _same_array(ref, getattr(f, "s2sad_ref", None), facts) for f in kept):
            kept.remove(ones)              # another factor already has its shape
    if all(is_boolean(f) for f in kept):
        return node                        # (a mask alone is boolean: True + True is True)
    if len(kept) == len(factors) or len(kept) == 1 and not nested \
            and not isinstance(kept[0], (gast.BinOp, gast.Call)):
        return node                        # a bare value would alias it: the adjoint may be
        #                                    updated in place, or returned to the caller
    out = kept[0]
    for f in kept[1:]:
        out = gast.BinOp(left=out, op=gast.Mult(), right=f)
    return out


def _factors(node):
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [node]


def _ones_of(node):
    """`np.ones_like(a)` of a value the analysis knows: a's ref."""
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
            and node.func.attr == "ones_like" and len(node.args) == 1 and not node.keywords:
        return getattr(node.args[0], "s2sad_ref", None)
    return None


def _same_array(a, b, facts):
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return False
    ka, kb = facts.kind(*a), facts.kind(*b)
    return isinstance(ka, Array) and isinstance(kb, Array) and ka.dtype is not None \
        and ka.dtype == kb.dtype and facts.same_shape(a, b)


def _is_number(node, value):
    return isinstance(node, gast.Constant) and type(node.value) in (int, float) \
        and node.value == value


def factor_sums_out_of_loops(items):
    """`dx = zeros_like(x); for ...: dx += e * c` with `c` the same every trip
    (constants and values the loop does not assign): `dx += e` in the loop,
    `dx *= c` after it. (Zeros plus the sum of e_i * c is c times the sum.)"""
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if isinstance(item, Comment):
            continue
        for block in child_blocks(item):
            factor_sums_out_of_loops(block)
        if not isinstance(item, gast.For):
            continue
        written = names_written(item)
        after = []
        for own in _zero_starts(items, index):
            updates = [s for s in item.body if isinstance(s, gast.AugAssign)
                       and isinstance(s.op, gast.Add) and _is_name(s.target, own)]
            uses = [n for s in item.body if not isinstance(s, Comment) for n in gast.walk(s)
                    if isinstance(n, gast.Name) and n.id == own]
            if len(updates) != 1 or len(uses) != 1:
                continue
            factors = _factors(updates[0].value)
            fixed = [f for f in factors if _invariant(f, written)]
            varying = [f for f in factors if not _invariant(f, written)]
            if not fixed or not varying or not any(not isinstance(f, gast.Constant) for f in fixed):
                continue
            updates[0].value = _times(varying)
            after.append(gast.AugAssign(target=gast.Name(id=own, ctx=gast.Store(), annotation=None,
                                                         type_comment=None),
                                        op=gast.Mult(), value=_times(fixed)))
        items[index + 1:index + 1] = after


def _zero_starts(items, index):
    """Names set to zeros right before the loop at `index` (`dx = np.zeros_like(x)`, `dw = 0.0`)."""
    out = []
    for item in reversed(items[:index]):
        if isinstance(item, Comment):
            continue
        if not (isinstance(item, gast.Assign) and isinstance(item.targets[0], gast.Name)):
            break
        value = item.value
        zero = _is_number(value, 0) or isinstance(value, gast.Call) and isinstance(
            value.func, gast.Attribute) and value.func.attr == "zeros_like"
        if not zero:
            break
        out.append(item.targets[0].id)
    return out


def _invariant(node, written):
    return not any(isinstance(n, gast.Call) for n in gast.walk(node)) and not any(
        isinstance(n, gast.Name) and n.id in written for n in gast.walk(node))


def _times(factors):
    out = factors[0]
    for f in factors[1:]:
        out = gast.BinOp(left=out, op=gast.Mult(), right=f)
    return out


def _is_name(node, id_):
    return isinstance(node, gast.Name) and node.id == id_


def propagate_constants(items, live):
    """`dtotal = 1.0` at the top of the sweep and never written again: the
    statements after it read the number instead (and `simplify` folds
    `1.0 * e`); the assignment goes unless `live` (returned) needs it.  (A
    read before the assignment is another value: the forward sweep's.)"""
    writes = _write_counts(items)
    known = {}                                # name -> its assignment, once passed
    for item in items:
        if known and not isinstance(item, Comment):
            for stmt in statements([item]):
                for node in gast.walk(stmt):
                    for field, value in gast.iter_fields(node):
                        if isinstance(value, list):
                            setattr(node, field, [_constant_for(v, known) for v in value])
                        else:
                            setattr(node, field, _constant_for(value, known))
        if isinstance(item, gast.Assign) and len(item.targets) == 1 \
                and isinstance(item.targets[0], gast.Name) and writes.get(item.targets[0].id) == 1 \
                and isinstance(item.value, gast.Constant) and type(item.value.value) in (int, float):
            known[item.targets[0].id] = item
    dropped = {id(a) for name, a in known.items() if name not in live}
    return [item for item in items if id(item) not in dropped]


def _constant_for(node, known):
    if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and node.id in known:
        return gast.Constant(value=known[node.id].value.value, kind=None)
    return node


def _write_counts(items):
    """How many statements, in all nested blocks, assign each name."""
    writes = {}
    for stmt in statements(items):
        own = ({stmt.target.id} if isinstance(stmt, gast.For) else set()) \
            if isinstance(stmt, CONTROL) else names_written(stmt)
        for name in own:
            writes[name] = writes.get(name, 0) + 1
    return writes


_NEVER_RAISE = (gast.Add, gast.Sub, gast.Mult)     # on Python numbers (floats overflow to inf)


def hoist_invariants(items, facts, writes=None):
    """`RC = R * C` inside a reverse loop, of Python numbers the loop does not
    change: computed once, before the loop.  Only `+ - *` of scalars, which
    cannot raise, so a loop of no trips loses nothing by it; and only a name
    assigned nowhere else and not read in the loop before it (whose first
    trip would otherwise see an older value)."""
    if writes is None:
        writes = _write_counts(items)
    out = []
    for item in items:
        for block in child_blocks(item):
            block[:] = hoist_invariants(block, facts, writes)
        if isinstance(item, (gast.For, gast.While)):
            written = names_written(item)
            read_before = set().union(*(names_read(h) for h in header(item)))
            for stmt in list(item.body):
                if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 \
                        and isinstance(stmt.targets[0], gast.Name) \
                        and writes.get(stmt.targets[0].id) == 1 \
                        and stmt.targets[0].id not in read_before \
                        and _scalar_arithmetic(stmt.value, facts, written):
                    item.body.remove(stmt)
                    out.append(stmt)
                elif not isinstance(stmt, Comment):
                    read_before |= names_read(stmt)
        out.append(item)
    return out


def _scalar_arithmetic(node, facts, written):
    if isinstance(node, gast.Constant):
        return type(node.value) in (int, float)
    if isinstance(node, gast.Name):
        ref = getattr(node, "s2sad_ref", None)
        return node.id not in written and ref is not None and len(ref) == 2 \
            and isinstance(facts.kind(*ref), Scalar)
    if isinstance(node, gast.BinOp) and isinstance(node.op, _NEVER_RAISE):
        return _scalar_arithmetic(node.left, facts, written) \
            and _scalar_arithmetic(node.right, facts, written)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return _scalar_arithmetic(node.operand, facts, written)
    return False


def merge_item_updates(items):
    """`dheat[t] += a` ... `dheat[t] += b` in one block, nothing between
    touching `dheat`, `t` or what `a` reads: one update `dheat[t] += a + b`
    where the second was (one read and write of the item, not two)."""
    for item in items:
        for block in child_blocks(item):
            block[:] = merge_item_updates(block)
    out = list(items)
    i = 0
    while i < len(out):
        first = out[i]
        if _item_update(first):
            key = gast.dump(first.target)
            guarded = names_read(first.target) | names_read(first.value)
            for j in range(i + 1, len(out)):
                later = out[j]
                if isinstance(later, Comment):
                    continue
                if _item_update(later) and gast.dump(later.target) == key:
                    later.value = gast.BinOp(left=first.value, op=gast.Add(), right=later.value)
                    del out[i]
                    i -= 1
                    break
                if names_written(later) & guarded or names_read(later) & names_read(first.target):
                    break
        i += 1
    return out


def _item_update(stmt):
    return isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add) \
        and isinstance(stmt.target, gast.Subscript)
