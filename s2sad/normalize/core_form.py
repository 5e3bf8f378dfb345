"""The core form's data and the block rewrites several normalising steps share:
what an atom is, and moving the statements after a jump into the paths that
fall through (so a jump is always the last statement of its block)."""

from __future__ import annotations

from dataclasses import dataclass, field

import gast

from ..names import Namer
from ..parse import Source
from ..trees import copy_node


@dataclass
class CoreFunction:
    """A function in core form, with what later stages need to know of it."""
    source: Source
    node: gast.FunctionDef       # body in core form
    params: list                 # positional-or-keyword, then keyword-only names
    local_names: set             # the user's local names and the temporaries
    namer: Namer
    user_names: frozenset = frozenset()   # the user's own local names
    made: dict = field(default_factory=dict)   # local name -> a transform made inside (nested.py)

    @property
    def temporaries(self):
        return self.local_names - self.user_names

    @property
    def body(self):
        return self.node.body


JUMPS = (gast.Break, gast.Continue, gast.Return)


def is_atom(node):
    return isinstance(node, (gast.Name, gast.Constant)) or getattr(node, "s2sad_global", False)


def same_object(a, b):
    try:
        return a is b or a == b
    except Exception:
        return False


def may_jump(stmt):
    """Does a branch of this `if` end in a jump (after restructuring, jumps
    only ever end a block)?"""
    return isinstance(stmt, gast.If) and any(
        branch and (isinstance(branch[-1], JUMPS) or may_jump(branch[-1]))
        for branch in (stmt.body, stmt.orelse))


def append_to_fallthrough(block, rest, continues=False):
    """`block` followed by `rest`, where `rest` runs only on the paths
    through `block` that do not jump (and, with `continues`, on those that
    `continue`: a `while` loop's test runs after a `continue`)."""
    if block and continues and isinstance(block[-1], gast.Continue):
        return block[:-1] + rest
    if block and isinstance(block[-1], JUMPS):
        return block
    if block and may_jump(block[-1]):
        last = copy_node(block[-1])
        last.body = append_to_fallthrough(last.body, [copy_node(r) for r in rest], continues)
        last.orelse = append_to_fallthrough(last.orelse, [copy_node(r) for r in rest], continues)
        return block[:-1] + [last]
    return block + rest


def drop_jumps(block, loop=False):
    """Jumps that only say "this path is done": `continue` at the end of a loop
    body's branch, `return` at the end of a function's branch (`break` stays)."""
    done = gast.Continue if loop else gast.Return
    if block and isinstance(block[-1], done):
        block = block[:-1]
    if block and isinstance(block[-1], gast.If):
        last = block[-1]
        last.body = drop_jumps(last.body, loop)
        last.orelse = drop_jumps(last.orelse, loop)
    return block


def mark_breaks(block, flag):
    """Each `break` of this loop (not of an inner one) sets `flag` first."""
    if flag is None:
        return block
    out = []
    for stmt in block:
        if isinstance(stmt, gast.Break):
            mark = gast.Assign(targets=[gast.Name(id=flag, ctx=gast.Store(), annotation=None,
                                                  type_comment=None)],
                               value=gast.Constant(value=True, kind=None), type_comment=None)
            mark.s2sad_origin = stmt.s2sad_origin
            out.append(gast.copy_location(mark, stmt))
        if isinstance(stmt, gast.If):
            stmt.body = mark_breaks(stmt.body, flag)
            stmt.orelse = mark_breaks(stmt.orelse, flag)
        out.append(stmt)
    return out


def returns_inside(block, flag):
    """Does this loop body set the returned-flag (a `return` inside it)?"""
    return flag is not None and any(
        isinstance(n, gast.Name) and n.id == flag and isinstance(n.ctx, gast.Store)
        for stmt in block for n in gast.walk(stmt))
