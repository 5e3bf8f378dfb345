"""Forward mode: one sweep, each statement followed by its tangent.

The tangent of a value is kept in a table from ref to an atom, as the
reverse sweep keeps adjoints: a tangent that is another value's is an
alias, a value that is not varied has none, and zeros appear only where a
branch or a loop needs one variable for a tangent.  Control flow stays as
the user wrote it and nothing is recorded: the tangent runs alongside.

A call's tangent comes from its forward rule (`@tangent`, inlined where
simple), or is derived from what is known of the function:

* elementwise functions: each varied operand's reverse rule with `g` its
  tangent (`unbroadcast` dropped): `dy = dx * np.cos(x)`;
* functions linear in their array arguments (`reshape`, `sum`, indexing,
  `concatenate`...): the same call on the tangents;
* products (`@`, `dot`, `einsum`...): one term per varied factor;
* reductions (`prod`, `max`, `var`, `norm`...): the tangent weighted by the
  reverse rule's gradient and summed over the reduced axes."""

import gast

from .. import rules
from ..analyze import has_effect, updated_name
from ..kinds import UNKNOWN
from ..parse import user_text
from ..sweep import Sweep, annotate
from ..trees import Comment, copy_node
from .calls import Calls, derivable, from_source
from .containers import Containers
from .control_flow import ControlFlow
from .tangents import TangentTable


class Forward(TangentTable, ControlFlow, Containers, Calls, Sweep):
    """Builds the forward-mode function of one core function."""

    # the tangent of `target = value`, by what the assignment does (`assignment_form`)
    ASSIGNMENTS = {"concatenation": "concatenation", "list item": "primitive",
                   "tuple item": "item", "helper": "user_call", "operation": "primitive"}

    def __init__(self, core, facts, ctx):
        self.core = core
        self.src = core.source
        self.facts = facts
        self.ctx = ctx
        self.stmts = annotate(core, facts)
        self.table = {}                   # ref -> tangent atom
        self.names = {}
        self.may_share = set()            # tangent variables a join set to another's array
        self.last_origin = None

    def kind(self, atom):
        return super().kind(atom) or UNKNOWN

    def transforms(self, obj):
        # a user's function, or one of s2sad's own a gradient calls with no tangent
        # (not where its declared facts give the tangent: `@adjoint(f, elementwise=True)`)
        return rules.lookup_tangent(obj) is None and not derivable(obj) \
            and (from_source(obj) or rules.is_user_function(obj))

    def variable_name(self, ref):
        return self.tangent_name(ref)

    def run(self):
        self.items = []
        self.block(self.stmts)
        return self

    def emit(self, stmt):
        self.items.append(stmt)

    def primal(self, stmt):
        """The user's statement itself (kept even unused where it has an effect)."""
        copied = copy_node(stmt)
        if getattr(stmt, "s2sad_update", False) or has_effect(self.core, copied):
            copied.s2sad_effect = True
        self.emit(copied)

    def block(self, stmts):
        for stmt in stmts:
            if isinstance(stmt, gast.Return):
                continue
            origin = stmt.s2sad_origin
            if origin is not self.last_origin:
                self.items.append(Comment(user_text(origin)))
                self.last_origin = origin
            if isinstance(stmt, gast.If):
                self.branch(stmt)
            elif isinstance(stmt, (gast.For, gast.While)):
                self.loop(stmt)
            else:
                self.statement(stmt)

    def nested(self, stmts):
        saved, origin = self.items, self.last_origin
        self.items, self.last_origin = [], None
        try:
            self.block(stmts)
            return self.items
        finally:
            self.items, self.last_origin = saved, origin

    def statement(self, stmt):
        """A statement and its tangent: where it moves values, the tangents move
        with them; otherwise the handler for what it does (`ASSIGNMENTS`)."""
        sf = stmt.s2sad_facts
        self.current_origin = stmt.s2sad_origin     # for errors raised while it is handled
        base = updated_name(stmt)
        if base is not None:
            return self.update(stmt, sf, base)
        if getattr(stmt, "s2sad_hook", None) is not None:
            return                        # a grad_of block acts on adjoints only
        if not isinstance(stmt, gast.Assign):
            self.primal(stmt)
            return
        target, value = stmt.targets[0], stmt.value
        if isinstance(target, gast.Tuple):
            self.primal(stmt)
            return self.unpack(stmt, sf)
        outs = self.leaf_refs(target)
        active = sf.active and any(self.table.get(r) is not None for r in sf.active_inputs)
        if not active:
            self.primal(stmt)
            for ref in outs:
                self.table.pop(ref, None)
            return
        if getattr(stmt, "s2sad_copy_on_write", False) and not sf.copy_needed:
            src = value.func.value.s2sad_ref         # the copy is not needed: nor is its tangent's
            for ref in outs:                         # (nothing else reads the old value)
                t = self.table.pop(src.leaf(ref.path), None)
                self.define(ref, copy_node(t) if t is not None else None)
            return
        moved = self.moved_from(value, outs)
        if moved is not None:                     # the tangents move with the values
            self.primal(stmt)
            for ref, src in moved.items():
                self.define(ref, self.table.get(src) if src is not None else None)
            return
        handler = getattr(self, self.ASSIGNMENTS[self.assignment_form(value, outs)])
        return handler(stmt, sf, outs)
