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
  reverse rule's gradient and summed over the reduced axes.
"""

import types

import gast
import numpy as np

from . import rules, runtime
from .analyze import (has_effect, assigned_names_deep, concatenated_kind, literal_elements, named_field,
                      tree_span, is_append, is_pop, updated_name)
from .kinds import UNKNOWN, Array, Scalar, Seq, Tree, leaves
from .errors import TransformError
from .parse import MISSING, bind_arguments, user_text
from .sweep import Sweep, access, annotate, helper_dependencies, same_atom, tree_literal
from .rules.tangents import ELEMENTWISE, LINEAR_GIVEN_SHAPES, REDUCTIONS, linear_positions
from .templates import CallSite, Operand, inline
from .trees import Comment, assign, call, child_blocks, const, copy_node, name


class Forward(Sweep):
    """Builds the forward-mode function of one core function."""

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

    # ---- names and the table ------------------------------------------------------------

    def tangent_name(self, ref):
        key = (ref[0], ref[2])
        if key not in self.names:
            suffix = "_".join(str(p) for p in ref[2])
            self.names[key] = self.ctx.namer.fresh(f"d{ref[0]}_{suffix}" if suffix else f"d{ref[0]}")
        return self.names[key]

    def kind(self, atom):
        return super().kind(atom) or UNKNOWN

    def variable_name(self, ref):
        return self.tangent_name(ref)

    def zeros(self, ref):
        kind = self.leaf_kind(ref)
        if isinstance(kind, Tree) and kind.type is not list:
            # a tuple, dict or named tuple (what a helper's forward half saved):
            # the structure with a zero per leaf, None where none is differentiable
            return tree_literal(self.ctx, kind, [
                self.zeros(ref[:2] + (ref[2] + (k,),)) if c.differentiable else const(None)
                for k, c in zip(kind.keys, kind.children)])
        if isinstance(kind, Scalar) or getattr(kind, "ndim", None) == 0:
            return const(0.0)
        if isinstance(kind, Seq) or isinstance(kind, Tree) and kind.type is list:
            return call(name(self.ctx.spell(runtime.zeros_list, "zeros_list")),
                        access(ref[0], ref[2], ref[1]))
        if isinstance(kind, Array) and kind.ndim is None:
            # a kind not known (a recursive helper's result, or in generated code
            # transformed again what it saved): zeros of whatever it is, a list too
            return call(name(self.ctx.spell(runtime.zeros_like_value, "zeros_like_value")),
                        access(ref[0], ref[2], ref[1]))
        return call(gast.Attribute(value=self.ctx.numpy(), attr="zeros_like", ctx=gast.Load()),
                    access(ref[0], ref[2], ref[1]))

    def tangent_of(self, ref):
        """The tangent atom of a leaf ref, or None where it is not varied."""
        return self.table.get(ref)

    def release(self, id_, keep):
        """Before `id_` is assigned: refs whose tangent is that name get their own."""
        for ref, expr in list(self.table.items()):
            if ref != keep and isinstance(expr, gast.Name) and expr.id == id_:
                own = self.ctx.namer.fresh(self.tangent_name(ref))
                self.emit(assign(name(own, store=True), name(id_)))
                self.table[ref] = name(own)

    def define(self, ref, expr):
        """The tangent of `ref` is `expr`: an atom is an alias, else a new variable."""
        if expr is None:
            self.table.pop(ref, None)
            return
        if isinstance(expr, (gast.Name, gast.Constant)):
            self.table[ref] = expr
            return
        target = self.tangent_name(ref)
        self.release(target, ref)
        self.emit(assign(name(target, store=True), expr))
        self.table[ref] = name(target)

    # ---- the sweep ---------------------------------------------------------------------

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

    def branch(self, stmt):
        sf = stmt.s2sad_facts
        entry = dict(self.table)
        results = []
        for which, block in ((1, stmt.body), (2, stmt.orelse)):
            self.table = dict(entry)
            items = self.nested(block)
            for name_, (phi, *versions) in sf.joins.items():
                version = versions[which - 1]
                for path, _ in leaves(self.facts.kind(name_, phi)):
                    t = self.table.get((name_, version, path)) if version is not None else None
                    if t is None and version is not None and path == () \
                            and isinstance(self.facts.kind(name_, version), Tree):
                        t = self.grown_literal(name_, version)    # a literal joining a list
                        if t is not None:
                            holder = self.ctx.namer.fresh("d" + name_)
                            items.append(assign(name(holder, store=True), t))
                            t = name(holder)
                    self.table.pop((name_, phi, path), None)
                    if t is not None:
                        self.table[(name_, phi, path)] = t
            results.append((items, self.table))
        (body, t1), (orelse, t2) = results
        made = (_versions_made(stmt.body), _versions_made(stmt.orelse))
        merged = {}
        for ref in sorted(set(t1) | set(t2), key=repr):
            a, b = t1.get(ref), t2.get(ref)
            if a is not None and b is not None and same_atom(a, b):
                merged[ref] = a
                continue
            if not self.facts.active(ref):
                continue
            own = self.own_variable(ref, [t1, t2, merged])
            for items, value, other in ((body, a, made[1]), (orelse, b, made[0])):
                if value is None and ref[:2] in other:
                    # a value only the other branch makes (`x_1 = x` on one path):
                    # this path never reads it, nor its tangent, and has no zeros_like
                    value = const(None)
                value = value if value is not None else self.zeros(ref)
                if not (isinstance(value, gast.Name) and value.id == own):
                    _on_every_path(items, self.joined(own, value))
            merged[ref] = name(own)
        self.table = merged
        node = gast.If(test=copy_node(stmt.test), body=body, orelse=orelse)
        self.emit(node)

    def concatenation(self, value, outs):
        """`zs = xs + ys` of lists: the tangents joined the same way."""
        left, right = value.left, value.right
        if isinstance(self.facts.kind(*outs[0][:2]), Tree):
            n = len(self.kind(left).keys)
            for ref in outs:
                key, rest = ref[2][0], ref[2][1:]
                side, at = (left, key) if key < n else (right, key - n)
                src = getattr(side, "s2sad_ref", None)
                self.define(ref, self.table.get(src + ((at,) + rest,)) if src else None)
            return
        parts = []
        for atom in (left, right):
            ref = getattr(atom, "s2sad_ref", None)
            part = None
            if ref is not None:
                part = self.grown_literal(*ref) if isinstance(self.kind(atom), Tree) \
                    else self.table.get(ref + ((),))
            parts.append(part if part is not None else self.zeros_of(atom))
        self.define(outs[0], gast.BinOp(left=parts[0], op=gast.Add(), right=parts[1]))

    def grown_literal(self, name_, version):
        """The tangent of a list literal that a loop grows: a list of its
        elements' tangents (None where none is varied)."""
        parts = [self.table.get((name_, version, path)) for path, _ in
                 leaves(self.facts.kind(name_, version))]
        if all(p is None for p in parts) or any(len(path) != 1 for path, _ in
                                                leaves(self.facts.kind(name_, version))):
            return None
        kind = self.facts.kind(name_, version)
        return tree_literal(self.ctx, kind, [       # (a tuple's: a tuple, where a branch
            copy_node(p) if p is not None else self.zeros((name_, version, path))   # joins it)
            for p, (path, _) in zip(parts, leaves(kind))])

    def loop(self, stmt):
        sf = stmt.s2sad_facts
        self.keep_through(stmt)
        carried = []
        for name_, (phi, before, end) in sorted(sf.carried.items()):
            for path, _ in leaves(self.facts.kind(name_, phi)):
                ref = (name_, phi, path)
                if not self.facts.active(ref):
                    continue
                start = self.table.get((name_, before, path)) if before is not None else None
                if start is None and before is not None and path == () \
                        and isinstance(self.facts.kind(name_, before), Tree):
                    start = self.grown_literal(name_, before)
                own = self.own_variable(ref, [self.table])
                if start is None and before is None:
                    value = const(None)           # made in the loop: read only after it is
                else:
                    value = start if start is not None else self.zeros((name_, before, path))
                if not (isinstance(value, gast.Name) and value.id == own):
                    self.release(own, ref)
                    self.emit(self.joined(own, value))
                self.table[ref] = name(own)
                carried.append((ref, (name_, end, path), own))
        node = copy_node_shallow(stmt)
        body = self.nested(stmt.body)
        for ref, end, own in carried:       # on every way out of a trip, `break` too
            saved, self.items = self.items, []
            value = self.table.get(end)
            if value is None and end[2] == () and isinstance(self.facts.kind(*end[:2]), Tree):
                value = self.grown_literal(*end[:2])
            value = value if value is not None else self.zeros(end)
            if not (isinstance(value, gast.Name) and value.id == own):
                self.release(own, ref)
                self.emit(self.joined(own, value))
            for s in self.items:
                _on_every_path(body, s)
            self.items = saved
            self.table[ref] = name(own)
        node.body = body
        self.emit(node)

    def keep_through(self, loop):
        """A tangent of a value from before the loop (`w = v`: w's tangent is
        `dv`) that is the very variable of a name the loop assigns gets a
        variable of its own before the loop, not at the first assignment
        inside it, which every later trip would repeat."""
        names = assigned_names_deep(loop)
        assigned = {own for (base, _), own in self.names.items() if base in names}
        for ref, expr in sorted(self.table.items(), key=lambda item: repr(item[0])):
            if ref[0] in names or not isinstance(expr, gast.Name) or expr.id not in assigned:
                continue                  # (a name the loop assigns: its own variable is made below)
            own = self.ctx.namer.fresh(self.tangent_name(ref))
            self.emit(assign(name(own, store=True), name(expr.id)))
            self.table[ref] = name(own)

    # ---- statements ----------------------------------------------------------------------

    def statement(self, stmt):
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
                t = self.table.pop(src + (ref[2],), None)
                self.define(ref, copy_node(t) if t is not None else None)
            return
        if isinstance(value, gast.Name):
            self.primal(stmt)
            for ref in outs:
                self.define(ref, self.table.get(value.s2sad_ref + (ref[2],)))
            return
        literal = literal_elements(value, self.src.namespace, self.core.local_names)
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)) or literal is not None:
            self.primal(stmt)
            if literal is not None:              # (`P(a, b)` of a named tuple too)
                keys, elts = literal
            else:
                elts = value.values
                keys = [k.value for k in value.keys]
            by_key = dict(zip(keys, elts))
            for ref in outs:
                elt = by_key[ref[2][0]]
                src = getattr(elt, "s2sad_ref", None)
                self.define(ref, self.table.get(src + (ref[2][1:],)) if src else None)
            return
        if concatenated_kind(self.kind, value) is not None:
            self.primal(stmt)
            return self.concatenation(value, outs)
        if isinstance(value, gast.Subscript) and isinstance(self.kind(value.value), Tree):
            self.primal(stmt)
            return self.item(value, outs)
        key = named_field(self.kind, value)
        if key is not None:                      # `p.w` of a named tuple: by position
            self.primal(stmt)
            for ref in outs:
                self.define(ref, self.table.get(value.value.s2sad_ref + ((key,) + ref[2],)))
            return
        if isinstance(value, gast.Call):
            func = value.func
            if not (isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False)):
                obj = self.src.namespace.resolve(func, self.core.local_names)
                if obj is not MISSING and rules.lookup_tangent(obj) is None \
                        and _from_source(obj):
                    try:
                        return self.helper(stmt, sf, obj, outs)
                    except TransformError as exc:       # named at this (generated) line
                        what, target = _describe(obj)
                        raise self.src.error(
                            stmt.s2sad_origin, f"{what}, which this gradient calls, has no "
                            f"forward (tangent) rule, and its source could not be "
                            f"differentiated ({exc.message})",
                            f"register a tangent rule for it (@s2sad.tangent on {target}) and "
                            f"please report the gap") from None
                if obj is not MISSING and rules.lookup_tangent(obj) is None \
                        and rules.is_user_function(obj):
                    if rules.lookup_adjoint(obj) is not None:
                        # its source would disagree with the reverse rule that overrides it
                        raise self.src.error(
                            stmt.s2sad_origin, f"{obj.__name__} has a registered reverse rule "
                            f"(@s2sad.adjoint) but no forward rule", f"register one with "
                            f"@s2sad.tangent({obj.__name__}) so forward mode agrees with grad")
                    return self.helper(stmt, sf, obj, outs)
        self.primitive(stmt, sf, outs)

    def unpack(self, stmt, sf):
        target, value = stmt.targets[0], stmt.value
        source_kind = self.kind(value)
        for i, elt in enumerate(target.elts):
            for ref in self.leaf_refs(elt):
                if isinstance(source_kind, Tree):
                    self.define(ref, self.table.get(value.s2sad_ref + ((i,) + ref[2],)))
                else:
                    t = self.table.get(value.s2sad_ref + ((),)) if getattr(value, "s2sad_ref", None) else None
                    self.define(ref, gast.Subscript(value=copy_node(t), slice=const(i), ctx=gast.Load())
                                if t is not None else None)

    def item(self, value, outs):
        """`x = xs[k]` of a list, tuple or dict: the tangent of what it picks."""
        base = value.value
        picked = tree_span(self.kind(base), value.slice)
        if picked is not None:                   # `ys = xs[1:]`: by position
            for ref in outs:
                self.define(ref, self.table.get(base.s2sad_ref + ((picked[ref[2][0]],) + ref[2][1:],)))
            return
        if isinstance(value.slice, gast.Constant):
            key = self.kind(base).key_at(value.slice.value)
            for ref in outs:
                self.define(ref, self.table.get(base.s2sad_ref + ((key,) + ref[2],)))
            return
        leaves_ = self.leaf_refs(base)
        if not any(self.table.get(r) is not None for r in leaves_):
            for ref in outs:
                self.table.pop(ref, None)
            return
        kind = self.kind(base)
        index = copy_node(value.slice)
        if kind.type is dict:
            index = call(gast.Attribute(value=const(tuple(kind.keys)), attr="index", ctx=gast.Load()),
                         index)
        for ref in outs:                 # the same part of every element, picked at run time
            same = [r for r in leaves_ if r[2][1:] == ref[2]]
            parts = gast.Tuple(elts=[copy_node(self.table[r]) if self.table.get(r) is not None
                                     else self.zeros(r) for r in same], ctx=gast.Load())
            self.define(ref, gast.Subscript(value=parts, slice=copy_node(index), ctx=gast.Load()))

    def update(self, stmt, sf, base):
        """`x[i] = v`, `np.add.at(x, i, v)`, `xs.append(v)`: the same on the tangents."""
        old = (base, sf.reads[base])
        new = (base, sf.writes[base])
        kind = self.facts.kind(*new)
        if is_append(stmt) and not isinstance(kind, Tree) and self.table.get(old + ((),)) is None \
                and self.argument_tangent(stmt.value.args[0]) is not None:
            # zeros for the elements already there, made before the list grows
            self.table[old + ((),)] = name(self.owned(old + ((),), None))
        self.primal(stmt)
        if isinstance(kind, Tree) and isinstance(stmt, gast.Assign):
            return self.update_item(stmt, old, new, kind)
        if isinstance(kind, Tree):                # a list of known length: by position
            value = stmt.value.args[0] if is_append(stmt) else None
            popped = len(kind.children)           # past the end: nothing removed before it
            if is_pop(stmt) and stmt.value.args:  # `xs.pop(k)`: those after k move down one
                popped = stmt.value.args[0].value % (len(kind.children) + 1)
            for path, _ in leaves(kind):
                if value is not None and path[0] == len(kind.children) - 1:
                    src = getattr(value, "s2sad_ref", None)
                    self.define(new + (path,), self.table.get(src + (path[1:],)) if src else None)
                else:
                    at = path if path[0] < popped else (path[0] + 1,) + path[1:]
                    self.define(new + (path,), self.table.get(old + (at,)))
            return
        if is_pop(stmt):                          # `xs.pop()`: the same on the tangents
            t_old = self.table.get(old + ((),))
            if t_old is None:
                self.table.pop(new + ((),), None)
                return
            seq = self.owned(old + ((),), t_old)
            pop = gast.Expr(value=call(gast.Attribute(value=name(seq), attr="pop", ctx=gast.Load()),
                                       *[copy_node(a) for a in stmt.value.args]))
            pop.s2sad_effect = True
            self.emit(pop)
            self.table[new + ((),)] = name(seq)
            return
        if is_append(stmt):
            value = stmt.value.args[0]
            # an element that is a tuple (a helper's saved values) has a tuple tangent
            t_value = self.argument_tangent(value)
            t_old = self.table.get(old + ((),))
            if t_value is None and t_old is None:
                self.table.pop(new + ((),), None)
                return
            seq = self.owned(old + ((),), t_old)
            push = gast.Expr(value=call(gast.Attribute(value=name(seq), attr="append", ctx=gast.Load()),
                                        t_value if t_value is not None
                                        else self.argument_tangent(value, zeros=True)))
            push.s2sad_effect = True
            self.emit(push)
            self.table[new + ((),)] = name(seq)
            return
        if isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            value = stmt.value
            t_value = self.argument_tangent(value)    # (an element that is a tuple: its parts')
            t_old = self.table.get(old + ((),))
            if t_value is None and t_old is None:
                self.table.pop(new + ((),), None)
                return
            own = self.owned(old + ((),), t_old)
            index = copy_node(target)
            index.value = name(own)
            # (an item of a list is a value of its own: zeros of its shape, not 0)
            zero = self.zeros_of(value) if isinstance(self.kind(value), Tree) \
                or isinstance(self.facts.kind(*old), (Seq, Tree)) else const(0)
            self.emit(assign(index, copy_node(t_value) if t_value is not None else zero))
            self.table[new + ((),)] = name(own)
            return
        # np.add.at(x, i, v), np.fill_diagonal(x, v): linear in x and v, done on the tangents
        value = stmt.value.args[-1]
        t_value = self.table.get(value.s2sad_ref + ((),)) if getattr(value, "s2sad_ref", None) else None
        t_old = self.table.get(old + ((),))
        if t_value is None and t_old is None:
            self.table.pop(new + ((),), None)
            return
        own = self.owned(old + ((),), t_old)
        fills = len(stmt.value.args) == 2              # (what it overwrites has no tangent left)
        if t_value is not None or fills:
            update = copy_node(stmt.value)
            update.args = [name(own)] + [copy_node(a) for a in stmt.value.args[1:-1]] \
                + [copy_node(t_value) if t_value is not None else const(0.0)]
            update_stmt = gast.Expr(value=update)
            update_stmt.s2sad_effect = True
            self.emit(update_stmt)
        self.table[new + ((),)] = name(own)

    def update_item(self, stmt, old, new, kind):
        """`xs[k] = v` on a list of known length: v's tangent replaces the one
        at k (through a list of the elements' tangents where k is known only
        at run time)."""
        target, value = stmt.targets[0], stmt.value
        source = getattr(value, "s2sad_ref", None)
        t_value = self.table.get(source + ((),)) if source else None
        paths = [path for path, _ in leaves(kind)]
        if isinstance(target.slice, gast.Constant):  # v's leaves at k (v may be a list itself)
            key = kind.key_at(target.slice.value)
            for path in paths:
                if path[0] != key:
                    self.define(new + (path,), self.table.get(old + (path,)))
                else:
                    self.define(new + (path,), self.table.get(source + (path[1:],)) if source else None)
            return
        parts = [self.table.get(old + (path,)) for path in paths]
        if t_value is None and all(p is None for p in parts):
            for path in paths:
                self.table.pop(new + (path,), None)
            return
        holder = self.ctx.namer.fresh("d" + old[0])
        self.emit(assign(name(holder, store=True), gast.List(
            elts=[copy_node(p) if p is not None else self.zeros(old + (path,))
                  for p, path in zip(parts, paths)], ctx=gast.Load())))
        item = copy_node(target)
        item.value = name(holder)
        self.emit(assign(item, copy_node(t_value) if t_value is not None else self.zeros_of(value)))
        for path in paths:
            self.define(new + (path,), gast.Subscript(value=name(holder), slice=const(path[0]),
                                                      ctx=gast.Load()))

    def joined(self, own, value):
        """`own = value` where branches or trips join: `dx = dw` on one path
        makes dx that array (an in-place update of dx then copies it first)."""
        if isinstance(value, gast.Name):
            self.may_share.add(own)
        return assign(name(own, store=True), copy_node(value))

    def owned(self, ref, tangent):
        """A tangent variable that only this value's tangent holds (zeros if none)."""
        own = self.tangent_name(ref)
        if tangent is None:
            self.release(own, ref)
            self.emit(assign(name(own, store=True), self.zeros(ref)))
            self.may_share.discard(own)
            return own
        in_use = {e.id for r, e in self.table.items() if r != ref and isinstance(e, gast.Name)}
        if isinstance(tangent, gast.Name) and tangent.id not in in_use \
                and tangent.id not in self.may_share:
            return tangent.id
        self.release(own, ref)
        self.emit(assign(name(own, store=True), call(gast.Attribute(
            value=copy_node(tangent), attr="copy", ctx=gast.Load()))))
        self.may_share.discard(own)
        return own

    # ---- calls and operations ----------------------------------------------------------

    def primitive(self, stmt, sf, outs):
        value = stmt.value
        start = len(self.items)
        self.primal(stmt)
        self.overwrite = (outs[0][0], sf.reads.get(outs[0][0]), start)
        key, args, keywords = self.operation(stmt, value)
        tangents = [self.tangent_expr(a) for a in args]
        if all(t is None for t in tangents):
            for ref in outs:
                self.table.pop(ref, None)
            return
        for k, a in keywords.items():
            if self.tangent_expr(a) is not None:
                raise self.src.error(stmt.s2sad_origin,
                                     f"the differentiated value is passed by keyword (`{k}=`)",
                                     "pass it positionally")
        result = copy_node(stmt.targets[0])
        result.ctx = gast.Load()
        expr = self.call_tangent(stmt, key, args, keywords, tangents, result)
        if expr is None:                          # varied only where it lends a shape
            for ref in outs:
                self.table.pop(ref, None)
            return
        expr = self.keep_overwritten(expr)
        if len(outs) == 1 and outs[0][2] == ():
            self.define(outs[0], expr)
            return
        # a tuple-valued result (`np.split`, `slogdet`): one tangent per part
        if isinstance(expr, gast.Tuple) and len(expr.elts) == len(outs):
            for ref, part in zip(outs, expr.elts):
                self.define(ref, None if isinstance(part, gast.Constant) and part.value is None
                            else part)
            return
        holder = self.ctx.namer.fresh("d" + outs[0][0])
        self.emit(assign(name(holder, store=True), expr))
        for i, ref in enumerate(outs):
            part = gast.Subscript(value=name(holder), slice=const(ref[2][0]), ctx=gast.Load())
            self.define(ref, part)

    def keep_overwritten(self, expr):
        """`y = y * x`: the tangent reads the old y, which the statement just
        replaced; the old value is kept under a name of its own first."""
        name_, version, start = self.overwrite
        if version is None:
            return expr
        tail = self.items[start + 1:] + [expr]
        reads = [n for item in tail for n in gast.walk(item)
                 if isinstance(n, gast.Name) and getattr(n, "s2sad_ref", None) == (name_, version)
                 and isinstance(n.ctx, gast.Load)]
        if not reads:
            return expr
        prev = self.ctx.namer.fresh(f"{name_}_prev")
        for n in reads:
            n.id = prev
        self.items.insert(start, assign(name(prev, store=True), name(name_, (name_, version))))
        return expr

    def tangent_expr(self, atom):
        """The tangent of an operand: an atom, a tuple of tangents for a tuple
        of arrays, or None where it is not varied."""
        ref = getattr(atom, "s2sad_ref", None)
        if ref is None:
            return None
        kind = self.facts.kind(*ref)
        if isinstance(kind, Tree):
            refs = self.leaf_refs(atom)
            if not any(self.table.get(r) is not None for r in refs):
                return None
            parts = [copy_node(self.table[r]) if self.table.get(r) is not None else self.zeros(r)
                     for r in refs]
            if any(len(r[2]) != 1 for r in refs) or kind.type is dict:
                raise self.src.error(self.current_origin, "nested lists or dicts of arrays as "
                                     "one argument have no forward rule yet",
                                     "pass the arrays one by one")
            node = gast.List if kind.type is list else gast.Tuple
            return node(elts=parts, ctx=gast.Load())
        t = self.table.get(ref + ((),))
        return copy_node(t) if t is not None else None

    def site(self, args, keywords, g, result, result_kind):
        operands = [Operand(a, self.kind(a) or UNKNOWN, False) for a in args]
        kw_operands = {k: Operand(a, self.kind(a) or UNKNOWN, False) for k, a in keywords.items()}
        site = CallSite(operands, kw_operands, g, result, result_kind, self.kind, self.ctx.spell,
                        self.ctx.namer.fresh)
        return site

    def call_tangent(self, stmt, key, args, keywords, tangents, result):
        self.current_origin = stmt.s2sad_origin
        result_kind = self.facts.kind(*result.s2sad_ref) if getattr(result, "s2sad_ref", None) \
            else UNKNOWN
        rule = rules.lookup_tangent(key)
        if rule is not None:
            elts = []
            for a, t in zip(args, tangents):
                node = t if t is not None else const(None)
                if t is not None:
                    node.s2sad_operand = Operand(node, self.kind(a) or UNKNOWN, True)
                elts.append(node)
            g = gast.Tuple(elts=elts, ctx=gast.Load())
            site = self.site(args, keywords, g, result, result_kind)
            site.single = True
            inlined = inline(rule, site)
            if inlined is not None:
                for s in inlined.stmts:
                    self.emit(s)
                if len(inlined.outputs) > 1:     # a tuple-valued result's parts
                    return gast.Tuple(elts=[o if o is not None else const(None)
                                            for o in inlined.outputs], ctx=gast.Load())
                return inlined.outputs[0]
            return call(name(self.ctx.spell(rule, _rule_name(key) + "_tangent")), g, copy_node(result),
                        *[copy_node(a) for a in args],
                        **{k: copy_node(a) for k, a in keywords.items()})
        terms = []
        if _member(key, ELEMENTWISE):
            reverse = rules.lookup_adjoint(key)
            emitted = []
            for i, t in enumerate(tangents):
                if t is None:
                    continue
                site = self.site(args, keywords, t, result, result_kind)
                site.tangent = True
                inlined = inline(reverse, site)
                if inlined is None or i >= len(inlined.outputs):
                    break
                if inlined.outputs[i] is None:   # no derivative (`np.where`'s condition, a
                    continue                     # bool whose kind was not known): no term
                emitted.extend(inlined.stmts)
                terms.append(inlined.outputs[i])
            else:
                if not terms:
                    return None
                for s in emitted:
                    self.emit(s)
                return self.broadcast_to_result(_sum_terms(terms), emitted, [
                    a for a, t in zip(args, tangents) if t is not None],
                    list(args) + list(keywords.values()), result, result_kind)
            terms = []
        given_shapes = _lookup(key, LINEAR_GIVEN_SHAPES)
        if given_shapes is not None:            # the other arguments lend shapes only
            if all(i >= len(tangents) or tangents[i] is None for i in given_shapes):
                return None
            replaced = [copy_node(a) for a in args]
            for i in given_shapes:
                if i < len(args):
                    replaced[i] = tangents[i] if tangents[i] is not None else self.zeros_of(args[i])
            return _recall(stmt.value, replaced, keywords)
        linear = linear_positions(key, len(args))
        if linear is not None:
            positions, jointly = linear
            if any(t is not None and _known_float(self.kind(args[i]))
                   for i, t in enumerate(tangents) if i not in positions):
                raise self.no_rule(stmt, key)
            # (the other positions take indices, shapes and axes: an argument there
            # whose kind was not known, as what a recursive helper saved, has a
            # tangent only on paper, None at run time)
            if jointly:                       # f(dx, dy): zeros where an argument is not varied
                replaced = [copy_node(a) for a in args]
                for i in positions:
                    if i < len(args):
                        replaced[i] = tangents[i] if tangents[i] is not None else self.zeros_of(args[i])
                return _recall(stmt.value, replaced, keywords)
            for i in positions:               # f(dx, y) + f(x, dy)
                if i < len(tangents) and tangents[i] is not None:
                    replaced = [copy_node(a) for a in args]
                    replaced[i] = tangents[i]
                    terms.append(_recall(stmt.value, replaced, keywords))
            return _sum_terms(terms)
        if _member(key, REDUCTIONS) and sum(t is not None for t in tangents) == 1 and tangents[0] is not None:
            reverse = rules.lookup_adjoint(key)
            ones = call(gast.Attribute(value=self.ctx.numpy(), attr="ones_like", ctx=gast.Load()),
                        copy_node(result))
            site = self.site(args, keywords, ones, result, result_kind)
            inlined = inline(reverse, site)
            if inlined is not None and inlined.outputs and inlined.outputs[0] is not None:
                for s in inlined.stmts:
                    self.emit(s)
                weights = inlined.outputs[0]
            else:
                weights = gast.Subscript(value=call(
                    name(self.ctx.spell(runtime.cotangents, "cotangents")),
                    call(name(self.ctx.spell(reverse, _rule_name(key) + "_adjoint")), ones,
                         copy_node(result), *[copy_node(a) for a in args],
                         **{k: copy_node(a) for k, a in keywords.items()}),
                    const(tuple([True] + [False] * (len(args) - 1))), const(_rule_name(key))),
                    slice=const(0), ctx=gast.Load())
            at = REDUCTIONS[key]
            axis = keywords.get("axis", args[at] if len(args) > at else None)
            keepdims = keywords.get("keepdims")
            product = gast.BinOp(left=weights, op=gast.Mult(), right=tangents[0])
            kw = {}
            if axis is not None:
                kw["axis"] = copy_node(axis)
            if keepdims is not None:
                kw["keepdims"] = copy_node(keepdims)
            return call(gast.Attribute(value=self.ctx.numpy(), attr="sum", ctx=gast.Load()),
                        product, **kw)
        raise self.no_rule(stmt, key)

    def broadcast_to_result(self, expr, stmts, varied, operands, result, result_kind):
        """An elementwise operation's tangent has the shape of what its terms
        read, which a broadcast may have made smaller than the result (`A - s`
        of an array and a number: `-ds`); then it is spread over the result's
        shape and dtype (`-ds + np.zeros_like(A)`).  The terms cover the result
        where they read the result, every array operand (the result's shape is
        their broadcast), or a value provably of the result's shape."""
        if isinstance(result_kind, Scalar) or getattr(result_kind, "ndim", None) == 0:
            return expr
        read = {tuple(a.s2sad_ref[:2]) for a in varied if getattr(a, "s2sad_ref", None)}
        globals_read = set()
        for node in [expr] + list(stmts):
            for n in gast.walk(node):
                if isinstance(n, gast.Name) and getattr(n, "s2sad_ref", None) is not None:
                    read.add(tuple(n.s2sad_ref[:2]))
                elif isinstance(n, gast.Name):
                    globals_read.add(n.id)
        own = getattr(result, "s2sad_ref", None)
        own = tuple(own[:2]) if own is not None else None
        if own in read or any(self.shaped_as(ref, own, result_kind) for ref in read):
            return expr
        for atom in operands:
            if isinstance(atom, gast.Constant):
                continue
            kind = self.kind(atom)
            if isinstance(kind, Scalar) or getattr(kind, "ndim", None) == 0:
                continue                  # a number or a 0-d array widens nothing
            ref = getattr(atom, "s2sad_ref", None)
            if ref is not None and tuple(ref[:2]) in read:
                continue
            if ref is None and isinstance(atom, gast.Name) and atom.id in globals_read:
                continue
            break
        else:
            return expr
        zeros = call(gast.Attribute(value=self.ctx.numpy(), attr="zeros_like", ctx=gast.Load()),
                     copy_node(result))
        return gast.BinOp(left=expr, op=gast.Add(), right=zeros)

    def shaped_as(self, ref, result_ref, result_kind):
        """Does the value `ref` provably have the result's shape?"""
        if result_ref is not None and self.facts.same_shape(result_ref, ref):
            return True
        kind = self.facts.kind(*ref)
        ones, result_ones = getattr(kind, "ones", None), getattr(result_kind, "ones", None)
        if ones is None or result_ones is None or len(ones) != len(result_ones):
            return False
        return all(r or not o for o, r in zip(ones, result_ones))  # size one only where it is

    def zeros_of(self, atom):
        """A zero tangent for an operand that is not varied."""
        ref = getattr(atom, "s2sad_ref", None)
        kind = self.kind(atom)
        if isinstance(kind, Tree):
            node = gast.List if kind.type is list else gast.Tuple
            return node(elts=[self.zeros(r) for r in self.leaf_refs(atom)], ctx=gast.Load())
        if ref is not None:
            return self.zeros(ref + ((),))
        if isinstance(kind, Scalar) or getattr(kind, "ndim", None) == 0:
            return const(0.0)
        return call(gast.Attribute(value=self.ctx.numpy(), attr="zeros_like", ctx=gast.Load()),
                    copy_node(atom))

    def no_rule(self, stmt, key):
        what = getattr(key, "__name__", None) or repr(key)
        return self.src.error(
            stmt.s2sad_origin, f"`{what}` has no forward (tangent) rule",
            f"register one with @s2sad.tangent({what}) (see the API docs), or wrap the argument "
            f"in s2sad.stop_gradient if no derivative should flow through it")

    # ---- the user's own functions ------------------------------------------------------

    def argument_tangent(self, atom, zeros=False):
        """The tangent a helper's argument passes (or a list takes), of the
        argument's own structure (`{'w': dp_w, 'b': 0.0}` for a dict); None
        where it is not varied, unless `zeros` asks for zeros then."""
        ref = getattr(atom, "s2sad_ref", None)
        if ref is None:                              # a global or a constant
            return self.zeros_of(atom) if zeros else None
        if not zeros and not any(self.table.get(r) is not None for r in self.leaf_refs(atom)):
            return None

        def build(kind, path):
            if isinstance(kind, Tree):
                return tree_literal(self.ctx, kind, [build(c, path + (k,))
                                                     for k, c in zip(kind.keys, kind.children)])
            if not kind.differentiable:
                return const(None)
            t = self.table.get(ref + (path,))
            return copy_node(t) if t is not None else self.zeros(ref + (path,))

        return build(self.facts.kind(*ref), ())

    def helper(self, stmt, sf, func, outs):
        value = stmt.value
        try:
            binding = bind_arguments(func, value.args, {k.arg: k.value for k in value.keywords})
        except TypeError as exc:
            raise self.src.error(stmt.s2sad_origin, f"the call to {func.__name__} does not match "
                                 f"its parameters: {exc}") from None
        needed = helper_dependencies(self, func, value)    # (see Reverse.helper)
        arg_kinds, active, tangents = {}, [], []
        for param, atom in binding.arguments.items():
            arg_kinds[param] = self.kind(atom) or UNKNOWN
            t = self.argument_tangent(atom)
            if t is not None and (needed is None or param in needed):
                active.append(param)
                tangents.append(t)
        if not active:
            self.primal(stmt)
            for ref in outs:
                self.table.pop(ref, None)
            return
        jvp = self.ctx.builder.jvp_helper(func, arg_kinds, tuple(active), stmt.s2sad_origin, self.src)
        fname = self.ctx.spell(jvp, jvp.__name__)
        target = copy_node(stmt.targets[0])
        holder = self.ctx.namer.fresh("d" + outs[0][0]) if len(outs) != 1 or outs[0][2] != () \
            else self.tangent_name(outs[0])
        if holder == self.tangent_name(outs[0]) if outs else False:
            self.release(holder, outs[0])
        fcall = copy_node(value)
        fcall.func = name(fname)
        fcall.args = tangents + list(fcall.args)
        self.emit(assign(gast.Tuple(elts=[target, name(holder, store=True)], ctx=gast.Store()), fcall))
        if len(outs) == 1 and outs[0][2] == ():
            self.table[outs[0]] = name(holder)
            return
        kinds = dict(leaves(self.facts.kind(*outs[0][:2])))
        for ref in outs:
            if not kinds[ref[2]].differentiable:      # an int the helper returns: no tangent
                self.table.pop(ref, None)
                continue
            part = name(holder)
            for key in ref[2]:
                part = gast.Subscript(value=part, slice=const(key), ctx=gast.Load())
            self.define(ref, part)


def _versions_made(block):
    """(name, version) of every value a block's statements make, nested ones too."""
    made = set()
    for stmt in block:
        sf = getattr(stmt, "s2sad_facts", None)
        if sf is not None:
            made.update(sf.writes.items())
        for inner in child_blocks(stmt):
            made |= _versions_made(inner)
    return made


def _on_every_path(items, stmt):
    """Add `stmt` at the end of a block, before a `break` that ends it, and on
    every path of an `if` that ends it (a path may break)."""
    last = next((i for i in reversed(range(len(items))) if not isinstance(items[i], Comment)), None)
    if last is not None and isinstance(items[last], gast.Break):
        while last > 0 and isinstance(items[last - 1], Comment):
            last -= 1                     # before the comment naming the `break`
        items.insert(last, stmt)
    elif last is not None and isinstance(items[last], gast.If) and _breaks(items[last]):
        _on_every_path(items[last].body, copy_node(stmt))
        _on_every_path(items[last].orelse, copy_node(stmt))
    else:
        items.append(stmt)


def _breaks(node):
    return any(isinstance(n, gast.Break) for b in child_blocks(node) for s in b
               if not isinstance(s, Comment) for n in [s]) or any(
        _breaks(s) for b in child_blocks(node) for s in b if isinstance(s, gast.If))


def copy_node_shallow(node):
    new = type(node)(**{f: getattr(node, f, None) for f in node._fields})
    new.__dict__.update({k: v for k, v in node.__dict__.items() if k not in node._fields})
    return new


def _from_source(obj):
    """A function of s2sad's own that a generated gradient calls (a reverse
    rule it could not inline, a runtime helper) with no tangent of its own:
    forward mode over the gradient (`hvp`) differentiates it from its source,
    as it does the user's helpers."""
    if not isinstance(obj, types.FunctionType) or rules.is_nondifferentiable(obj) \
            or _lookup(obj, LINEAR_GIVEN_SHAPES) is not None or _member(obj, ELEMENTWISE) \
            or _member(obj, REDUCTIONS) or linear_positions(obj, 1) is not None:
        return False
    return (getattr(obj, "__module__", None) or "").startswith(("s2sad.rules.", "s2sad.runtime"))


def _describe(obj):
    """What one of s2sad's own functions is, for a message, and how to name it
    to register a tangent: the reverse rule of which function, or the runtime
    helper."""
    for fn, rule in list(rules._ADJOINTS.values()):
        if rule is obj:
            what = getattr(fn, "__name__", None) or repr(fn)
            return f"the reverse rule of `{what}`", f"s2sad.rules.lookup_adjoint({what})"
    return f"s2sad's runtime helper `{obj.__name__}`", f"s2sad.runtime.{obj.__name__}"


def _known_float(kind):
    """Is a value of this kind known to be a float (not an index that an
    unknown kind made look differentiable)?"""
    if isinstance(kind, Scalar):
        return kind.dtype in ("float", "complex")
    dtype = getattr(kind, "dtype", None)
    return isinstance(kind, Array) and dtype is not None and np.dtype(dtype).kind in "fc" \
        or isinstance(kind, Tree) and kind.differentiable


def _lookup(key, table):
    try:
        return table.get(key)
    except TypeError:
        return None


def _member(key, group):
    try:
        return key in group
    except TypeError:
        return False


def _sum_terms(terms):
    out = None
    for t in terms:
        out = t if out is None else gast.BinOp(left=out, op=gast.Add(), right=t)
    return out


def _recall(value, args, keywords):
    """The operation of `value` again, on other positional arguments."""
    if isinstance(value, gast.BinOp):
        return gast.BinOp(left=args[0], op=value.op, right=args[1])
    if isinstance(value, gast.UnaryOp):
        return gast.UnaryOp(op=value.op, operand=args[0])
    if isinstance(value, gast.Subscript):
        return gast.Subscript(value=args[0], slice=copy_node(value.slice), ctx=gast.Load())
    if isinstance(value, gast.Attribute):
        return gast.Attribute(value=args[0], attr=value.attr, ctx=gast.Load())
    func = value.func
    if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
        return call(gast.Attribute(value=args[0], attr=func.attr, ctx=gast.Load()), *args[1:],
                    **{k: copy_node(a) for k, a in keywords.items()})
    return call(copy_node(func), *args, **{k: copy_node(a) for k, a in keywords.items()})


def _rule_name(key):
    return getattr(key, "__name__", None) or getattr(key, "name", None) or "rule"
