"""Checkpointed loops: O(sqrt(T)) memory for a loop of T trips.

A loop's reverse sweep needs, per trip, the values `record.py` pushed.  With
checkpointing (`s2sad.grad(f, checkpoint=True)`) the forward loop pushes
nothing; it keeps the loop's state (the names a trip reads before it
assigns them, and those it only reads that are rebound after the loop)
every `every` trips.  The reverse sweep takes the segments
last to first: it restores a segment's state, runs the segment's trips
forwards again with their pushes, then reverses them:

    every = checkpoint_every(n, None)              # about sqrt(n)
    h_checkpoints = []
    for t in range(n):
        if t % every == 0:
            h_checkpoints.append(h)
        h = np.tanh(...)
    ...
    for start in reversed(range(0, n, every)):
        h = h_checkpoints.pop()
        for t in range(start, min(start + every, n)):
            ...forward trip, pushing...
        for t in reversed(range(start, min(start + every, n))):
            ...reverse trip, popping...

The generated code is plain Python like the rest, so it is differentiable
again.  Loops that update arrays or lists in place, or that `break`, are
left as they are (their state is not just names).
"""

import gast

from . import runtime
from .optimize import find_statement, free_names, is_self_assignment, names_written
from .trees import Comment, child_blocks, copy_node, statements


def _name(id_, store=False):
    return gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(), annotation=None,
                     type_comment=None)


def _call(func, *args):
    return gast.Call(func=func if isinstance(func, gast.AST) else _name(func), args=list(args),
                     keywords=[])


def _assign(target, value):
    return gast.Assign(targets=[target], value=value, type_comment=None)


def checkpoint_loops(forward, reverse, namer, spell, every):
    """Checkpoint every outermost loop of `forward` that qualifies (see the
    module); `every` is the trips between checkpoints, None for sqrt(T)."""
    for index, loop in reversed(list(enumerate(forward))):
        if not _qualifies(loop):
            continue
        where = _find_reverse(reverse, loop)
        if where is None:
            continue
        # the state: what a trip reads that trips write, and what the trips only
        # read (`e = x[t]`) but code after the loop rebinds (`x = y`), or the
        # reverse sweep assigns, before a segment runs again
        read = free_names(loop.body) | free_names([gast.Expr(value=loop.iter)])
        rebound = _written(forward[index + 1:]) | _written(reverse)
        state = sorted((read & _written(loop.body) | read & rebound) - {loop.target.id})
        if not state:
            continue
        args = loop.iter.args
        start = args[0] if len(args) == 2 else gast.Constant(value=0, kind=None)
        stop = args[-1]
        stem = state[0] if len(state) == 1 else "state"
        every_name = namer.fresh("every")
        saved = namer.fresh(f"{stem}_checkpoints")
        segment = namer.fresh("start")
        counter = loop.target.id
        _drop(loop.body, is_self_assignment)         # (`A = A`: nothing to run again)
        rerun = copy_node(loop)                      # a trip with its pushes, for the reverse
        _drop(loop.body, lambda i: getattr(i, "s2sad_push", False))   # the forward keeps states only
        state_value = _name(state[0]) if len(state) == 1 else gast.Tuple(
            elts=[_name(s) for s in state], ctx=gast.Load())
        offset = _name(counter) if _is_zero(start) else gast.BinOp(
            left=_name(counter), op=gast.Sub(), right=copy_node(start))
        keep = gast.If(test=gast.Compare(
            left=gast.BinOp(left=offset, op=gast.Mod(), right=_name(every_name)),
            ops=[gast.Eq()], comparators=[gast.Constant(value=0, kind=None)]),
            body=[gast.Expr(value=_call(gast.Attribute(value=_name(saved), attr="append",
                                                       ctx=gast.Load()), state_value))],
            orelse=[])
        loop.body.insert(0, keep)
        trips = copy_node(stop) if _is_zero(start) else gast.BinOp(
            left=copy_node(stop), op=gast.Sub(), right=copy_node(start))
        every_value = gast.Constant(value=every, kind=None)
        forward[index:index] = [
            _assign(_name(every_name, True),
                    _call(spell(runtime.checkpoint_every, "checkpoint_every"), trips, every_value)),
            _assign(_name(saved, True), gast.List(elts=[], ctx=gast.Load()))]
        # the reverse: segment by segment, last first
        block, at = where
        rloop = block[at]
        end = _call("min", gast.BinOp(left=_name(segment), op=gast.Add(), right=_name(every_name)),
                    copy_node(stop))
        rerun.iter = _call("range", _name(segment), end)
        rloop.iter = _call("reversed", _call("range", _name(segment), copy_node(end)))
        restore = _assign(_name(state[0], True) if len(state) == 1 else gast.Tuple(
            elts=[_name(s, True) for s in state], ctx=gast.Store()),
            _call(gast.Attribute(value=_name(saved), attr="pop", ctx=gast.Load())))
        outer = gast.For(target=_name(segment, True),
                         iter=_call("reversed", _call("range", copy_node(start), copy_node(stop),
                                                      _name(every_name))),
                         body=[restore, rerun, rloop], orelse=[], type_comment=None)
        for stmt in (outer, restore, rerun, keep, keep.body[0]) + tuple(forward[index:index + 2]):
            stmt.s2sad_effect = True
        block[at] = outer


def _qualifies(loop):
    """A `for` over `range(n)` or `range(a, b)` that records per trip and whose
    state is names only."""
    if not isinstance(loop, gast.For) or getattr(loop, "s2sad_trips", None) is not None:
        return False
    it = loop.iter
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"
            and 1 <= len(it.args) <= 2 and not it.keywords and isinstance(loop.target, gast.Name)):
        return False
    pushes = updates = False
    for node in statements(loop.body):
        pushes |= getattr(node, "s2sad_push", False)
        updates |= getattr(node, "s2sad_update", False) or getattr(node, "s2sad_copy_on_write", False)
    return pushes and not updates


def _written(items):
    out = set()
    for item in items:
        if not isinstance(item, Comment):
            out |= names_written(item)
    return out


def _drop(items, unwanted):
    items[:] = [i for i in items if not unwanted(i)]
    for item in items:
        if not isinstance(item, Comment):
            for block in child_blocks(item):
                _drop(block, unwanted)


def _find_reverse(items, loop):
    """The reverse loop paired with a forward loop: (its block, its index)."""
    return find_statement(items, lambda item: getattr(item, "s2sad_pair", None) is loop)


def _is_zero(node):
    return isinstance(node, gast.Constant) and node.value == 0
