"""Numba-friendly emission: the generated tree in forms Numba compiles well.

Run on each generated function's body just before it is printed, only for
`compile="numba"` builds (the plain output stays as it is: readable first):

* `for t in reversed(range(a, b))` counts down, `range(b - 1, a - 1, -1)`:
  Numba has no `reversed`;
* a stack of numbers pushed inside a `range` loop (at most once a trip, so
  the trip count bounds it) is a preallocated array and a count,
  `temp_stack[temp_stack_size] = temp`, not a list that grows: no
  allocation per trip, and it compiles faster.  Other stacks (arrays,
  tuples, pushes in `while` loops or inner loops) stay lists, which Numba
  compiles as typed lists.
"""

from __future__ import annotations

from dataclasses import replace

import gast
import numpy as np

from ..emit import FunctionSpec
from ..kinds import Scalar
from ..names import Namer
from ..trees import Comment, call, const, name

_DTYPES = {"float": None, "int": "int64", "bool": "bool_"}     # (None: np.empty's float64)


def lower_for_numba(spec: FunctionSpec) -> FunctionSpec:
    """The spec with its body in Numba-friendly forms."""
    used = {n.id for item in spec.body if isinstance(item, gast.AST)
            for n in gast.walk(item) if isinstance(n, gast.Name)}
    used |= {p.strip().split("=")[0].strip(" *") for p in spec.params.split(",")}
    numpy, cells = _numpy_name(spec, used)
    body = list(spec.body)
    for loop in _loops(body):
        if isinstance(loop, gast.For):
            loop.iter = _counting_down(loop.iter)
    changed = False
    for block in _blocks(body):
        index = 0
        while index < len(block):             # (a preallocation makes one statement two)
            if getattr(block[index], "s2sad_stack_kind", None) is not None:
                changed |= _preallocate(body, block, index, numpy, used)
            index += 1
    return replace(spec, body=body, cells=cells if changed else spec.cells)


def _numpy_name(spec, used):
    """A name the function reads NumPy by, and the cells that give it."""
    for held in (spec.cells, spec.globals):
        if held.get("np") is np:
            return "np", spec.cells
    for held in (spec.cells, spec.globals):
        for key, value in held.items():
            if value is np and key in used:
                return key, spec.cells
    spelled = "np" if "np" not in used else "numpy_"
    return spelled, {**spec.cells, spelled: np}


def _blocks(items):
    yield items
    for item in items:
        if isinstance(item, (gast.If, gast.For, gast.While)):
            yield from _blocks(item.body)
            yield from _blocks(item.orelse)


def _loops(items):
    for block in _blocks(items):
        yield from (item for item in block if isinstance(item, (gast.For, gast.While)))


def _is_call(node, func, nargs=None):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
        and node.func.id == func and not node.keywords \
        and (nargs is None or len(node.args) in nargs)


def _op(left, op, right):
    return gast.BinOp(left=left, op=op, right=right)


def _counting_down(it):
    """`reversed(range(...))` (or `reversed(range(...)[:k])`, the first k
    trips of a loop left by `break`) as a range counting down.  A step of 1,
    the reverse of a forward loop, reads `range(b - 1, a - 1, -1)`; any
    other step (the reverse of a user's loop counting down) takes the trip
    count m: `range(a + (m - 1) * s, a - s, -s)`."""
    if not _is_call(it, "reversed", (1,)):
        return it
    node, first = it.args[0], None
    if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Slice) \
            and node.slice.lower is None and node.slice.step is None and node.slice.upper is not None:
        node, first = node.value, node.slice.upper
    if not _is_call(node, "range", (1, 2, 3)):
        return it
    args = node.args
    start = args[0] if len(args) > 1 else const(0)
    stop = args[1] if len(args) > 1 else args[0]
    step = args[2] if len(args) == 3 else const(1)
    if isinstance(step, gast.Constant) and step.value == 1:
        if first is not None:                     # range(a, b)[:k] is range(a, min(b, a + k))
            stop = call(name("min"), stop, first if _zero(start) else _op(start, gast.Add(), first))
        end = const(-1) if _zero(start) else _op(start, gast.Sub(), const(1))
        return call(name("range"), _op(stop, gast.Sub(), const(1)), end, const(-1))
    trips = call(name("len"), call(name("range"), *args))
    if first is not None:
        trips = call(name("min"), trips, first)
    last = _op(_op(trips, gast.Sub(), const(1)), gast.Mult(), step)
    last = last if _zero(start) else _op(start, gast.Add(), last)
    if isinstance(step, gast.Constant) and isinstance(step.value, int):
        end = const(-step.value) if _zero(start) else _op(start, gast.Sub(), step) if step.value > 0 \
            else _op(start, gast.Add(), const(-step.value))
        return call(name("range"), last, end, const(-step.value))
    end = _op(start, gast.Sub(), step) if not _zero(start) else gast.UnaryOp(op=gast.USub(), operand=step)
    return call(name("range"), last, end, gast.UnaryOp(op=gast.USub(), operand=step))


def _zero(node):
    return isinstance(node, gast.Constant) and node.value == 0


def _preallocate(body, block, index, numpy, used):
    """`X = []` (a stack of numbers) before a range loop that pushes on it
    outside inner loops (so at most once a trip from each place): an array
    and a count.  Returns whether it did."""
    init = block[index]
    kind = init.s2sad_stack_kind
    if not isinstance(kind, Scalar) or kind.dtype not in _DTYPES:
        return False
    stack = init.targets[0].id
    first_pushes, loop = 0, None
    for item in block[index + 1:]:
        if isinstance(item, gast.For):
            loop = item
            break
        if isinstance(item, Comment) or getattr(item, "s2sad_stack_kind", None) is not None:
            continue
        if isinstance(item, gast.Expr) and _method_call(item.value, stack, "append", 1):
            first_pushes += 1
            continue
        if isinstance(item, gast.Expr) and _method_call(item.value) or \
                isinstance(item, gast.Assign) and _method_call(item.value):
            continue                      # (another stack's push or pop)
        return False
    if loop is None or not _is_call(loop.iter, "range", (1, 2, 3)):
        return False
    pushes = {id(s) for b in _blocks_outside_loops(loop.body) for s in b
              if isinstance(s, gast.Expr) and _method_call(s.value, stack, "append", 1)}
    if not _only_stack_uses(body, stack, init, pushes, block[index + 1:block.index(loop)]):
        return False
    size = Namer(used).fresh(f"{stack}_size")
    used.add(size)
    trips = loop.iter.args[0] if len(loop.iter.args) == 1 else None
    capacity = call(name("len"), loop.iter) if trips is None else \
        const(max(trips.value, 0)) if isinstance(trips, gast.Constant) else \
        call(name("max"), trips, const(0))          # (range(n) of a negative n: no trips)
    if len(pushes) > 1:                   # (pushes at two places of a trip: room for each)
        capacity = _op(capacity, gast.Mult(), const(len(pushes)))
    if first_pushes:
        capacity = _op(capacity, gast.Add(), const(first_pushes))
    empty = gast.Attribute(value=name(numpy), attr="empty", ctx=gast.Load())
    dtype = _DTYPES[kind.dtype]
    made = call(empty, capacity) if dtype is None else gast.Call(
        func=empty, args=[capacity], keywords=[gast.keyword(
            arg="dtype", value=gast.Attribute(value=name(numpy), attr=dtype, ctx=gast.Load()))])
    block[index:index + 1] = [_assign(name(stack, store=True), made), _assign(name(size, store=True),
                                                                               const(0))]
    _rewrite_uses(body, stack, size)
    return True


def _blocks_outside_loops(items):
    """The blocks of a loop body not inside an inner loop."""
    yield items
    for item in items:
        if isinstance(item, gast.If):
            yield from _blocks_outside_loops(item.body)
            yield from _blocks_outside_loops(item.orelse)


def _method_call(node, stack=None, method=None, nargs=None):
    if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)
            and isinstance(node.func.value, gast.Name) and not node.keywords):
        return False
    if stack is None:
        return node.func.attr in ("append", "pop")
    return node.func.value.id == stack and node.func.attr == method and len(node.args) == nargs


def _only_stack_uses(body, stack, init, pushes, before_loop):
    """Is every read of the stack a push counted for, a pop, or a peek `X[-1]`?"""
    allowed = set(pushes) | {id(s) for s in before_loop if isinstance(s, gast.Expr)
                             and _method_call(s.value, stack, "append", 1)}
    seen = {id(init.targets[0])}
    for block in _blocks(body):
        for item in block:
            if not isinstance(item, gast.AST):
                continue
            if isinstance(item, gast.Expr) and _method_call(item.value, stack, "append", 1):
                if id(item) not in allowed:
                    return False
                seen.add(id(item.value.func.value))
            elif isinstance(item, (gast.Expr, gast.Assign)) and _method_call(item.value, stack, "pop", 0):
                seen.add(id(item.value.func.value))
            for node in gast.walk(item):
                if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) \
                        and node.value.id == stack and isinstance(node.slice, gast.Constant) \
                        and node.slice.value == -1 and isinstance(node.ctx, gast.Load):
                    seen.add(id(node.value))
    return all(id(n) in seen for item in body if isinstance(item, gast.AST)
               for n in gast.walk(item) if isinstance(n, gast.Name) and n.id == stack)


def _rewrite_uses(body, stack, size):
    for block in _blocks(body):
        at = 0
        while at < len(block):
            item = block[at]
            new = None
            if isinstance(item, gast.Expr) and _method_call(item.value, stack, "append", 1):
                new = [_assign(gast.Subscript(value=name(stack), slice=name(size), ctx=gast.Store()),
                               item.value.args[0]), _count(size, gast.Add())]
            elif isinstance(item, gast.Expr) and _method_call(item.value, stack, "pop", 0):
                new = [_count(size, gast.Sub())]
            elif isinstance(item, gast.Assign) and _method_call(item.value, stack, "pop", 0):
                new = [_count(size, gast.Sub()), _assign(item.targets[0], gast.Subscript(
                    value=name(stack), slice=name(size), ctx=gast.Load()))]
            if new is not None:
                for stmt in new:
                    for key in ("s2sad_origin", "s2sad_effect", "s2sad_push"):
                        if hasattr(item, key):
                            setattr(stmt, key, getattr(item, key))
                block[at:at + 1] = new
                at += len(new)
                continue
            if isinstance(item, gast.AST):
                for node in gast.walk(item):
                    if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) \
                            and node.value.id == stack and isinstance(node.slice, gast.Constant) \
                            and node.slice.value == -1:
                        node.slice = _op(name(size), gast.Sub(), const(1))
            at += 1


def _count(size, op):
    return gast.AugAssign(target=name(size, store=True), op=op, value=const(1))


def _assign(target, value):
    return gast.Assign(targets=[target], value=value, type_comment=None)

