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
`optimize`."""

import gast

from .. import rules, runtime
from ..kinds import Array, Scalar, Seq
from ..runtime.pytrees import Field
from ..analyze import updated_name
from ..trees import assign, call, const, copy_node, name
from ..sweep import Sweep, access, annotate
from .adjoints import Adjoint, AdjointTable  # noqa: F401 (the stage's API)
from .calls import Calls
from .containers import Containers
from .control_flow import ControlFlow
from .gradients import gradient_of, leaf_gradient  # noqa: F401 (the stage's API)


class Reverse(AdjointTable, ControlFlow, Containers, Calls, Sweep):
    """Builds the forward and reverse sweeps of one core function."""

    # the reverse of `target = value`, by what the assignment does (`assignment_form`)
    ASSIGNMENTS = {"concatenation": "concatenation", "list item": "item_of_list",
                   "tuple item": "item_of_sequence", "helper": "user_call", "operation": "primitive"}

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

    def transforms(self, obj):
        return rules.lookup_adjoint(obj) is None and (rules.is_user_function(obj)
                                                      or rules.is_own_helper(obj))

    def entry_expr(self, entry):
        return entry.expr

    def variable_name(self, ref):
        return self.adjoint_name(ref)

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
        ref = watched.s2sad_ref.leaf()
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

    def zeros(self, ref):
        """A zero adjoint for a ref (0.0 for a Python float)."""
        kind = self.leaf_kind(ref)
        if isinstance(kind, Scalar) or getattr(kind, "ndim", None) == 0:
            return const(0.0)             # broadcasts like a 0-d array, keeps its dtype
        if getattr(self.src.func, "__s2sad_source__", None) is not None \
                and not any(isinstance(k, Field) for k in ref.path):
            # generated code transformed again: what a path did not make is None there
            return call(name(self.ctx.spell(runtime.zeros_at, "zeros_at")), name(ref.name, ref.local),
                        *[const(k) for k in ref.path])
        if isinstance(kind, Seq):
            return call(name(self.ctx.spell(runtime.zeros_list, "zeros_list")),
                        access(ref))
        return call(gast.Attribute(value=self.ctx.numpy(), attr="zeros_like", ctx=gast.Load()),
                    access(ref))

    def statement(self, stmt, sf):
        """The reverse of `target = value`: where it moves values, the adjoints
        move back; otherwise the handler for what it does (`ASSIGNMENTS`)."""
        target, value = stmt.targets[0], stmt.value
        if isinstance(target, gast.Tuple):
            return self.unpack(stmt, sf)
        outs = self.leaf_refs(target)
        for ref in outs:
            self.adopt_user_name(ref)
        adjoints = {ref.path: self.table.get(ref) for ref in outs}
        if all(a is None for a in adjoints.values()):
            return
        if getattr(stmt, "s2sad_copy_on_write", False):
            value = value.func.value          # `x = x.copy()`: the adjoint passes through
            adj, src = adjoints.get(()), value.s2sad_ref.leaf()
            if len(outs) == 1 and adj is not None and isinstance(self.kind(value), Array) and adj.owned \
                    and isinstance(adj.expr, gast.Name) and src in sf.active_inputs and src not in self.table \
                    and adj.expr.id not in self.names_in_use(self.table, outs[0]):
                self.table.pop(outs[0], None)     # still ours alone
                self.table[src] = adj
                return
        moved = self.moved_from(value, outs)
        if moved is not None:                     # the adjoints go where the values came from
            return self.finish(outs, [(src, adjoints[ref.path].expr, adjoints[ref.path].scalar)
                                      for ref, src in moved.items()
                                      if adjoints[ref.path] is not None and src in sf.active_inputs])
        handler = getattr(self, self.ASSIGNMENTS[self.assignment_form(value, outs)])
        return handler(stmt, sf, outs, adjoints)
