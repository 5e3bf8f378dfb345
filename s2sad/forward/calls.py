"""Tangents of calls: a primitive's forward rule (inlined where simple) or one
derived from what is known of the function (elementwise, linear, a product,
a reduction), and a call to one of the user's helpers replaced by a call to
its generated forward-mode function."""

import gast
import numpy as np

from .. import rules, runtime
from ..kinds import UNKNOWN, Array, Scalar, Tree, leaves
from ..errors import TransformError
from ..sweep import helper_dependencies
from ..templates import CallSite, Operand, inline
from ..trees import assign, at, call, const, copy_node, name


NOT_THIS_WAY = object()      # a way to a tangent that does not apply to this call


def from_source(obj):
    """A function of s2sad's own that a generated gradient calls (a reverse
    rule it could not inline, a runtime helper) with no tangent of its own:
    forward mode over the gradient (`hvp`) differentiates it from its source,
    as it does the user's helpers."""
    return rules.is_own_helper(obj) and not derivable(obj)


def _known_float(kind):
    """Is a value of this kind known to be a float (not an index that an
    unknown kind made look differentiable)?"""
    if isinstance(kind, Scalar):
        return kind.dtype in ("float", "complex")
    dtype = getattr(kind, "dtype", None)
    return isinstance(kind, Array) and dtype is not None and np.dtype(dtype).kind in "fc" \
        or isinstance(kind, Tree) and kind.differentiable


def linear_positions(key, nargs):
    """(positions, jointly): the arguments `key` is linear in, all together
    (`sum(xs, start)`) or each factor on its own (`a @ b`); None if neither."""
    if key is np.einsum:
        return tuple(range(1, nargs)), False     # every operand after the subscripts
    facts = rules.facts(key)
    if facts.linear is not None:
        return facts.linear, True
    if facts.factors is not None:
        return facts.factors, False
    return None


def derivable(obj):
    """Does forward mode know `obj`'s tangent from its declared facts?"""
    facts = rules.facts(obj)
    return facts.elementwise or facts.linear_given_shapes is not None \
        or facts.reduction_axis is not None or linear_positions(obj, 1) is not None


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


class Calls:
    """Primitives and helpers, mixed into `Forward`."""

    def user_call(self, stmt, sf, outs):
        """A call to one of the user's functions (or one of s2sad's own with no
        tangent, in a gradient differentiated again): its generated jvp."""
        obj = self.helper_called(stmt.value)
        if from_source(obj):
            try:
                return self.helper(stmt, sf, obj, outs)
            except TransformError as exc:       # named at this (generated) line
                what, target = rules.describe_own(obj)
                raise self.src.error(
                    stmt.s2sad_origin, f"{what}, which this gradient calls, has no "
                    f"forward (tangent) rule, and its source could not be "
                    f"differentiated ({exc.message})",
                    f"register a tangent rule for it (@s2sad.tangent on {target}) and "
                    f"please report the gap") from None
        if rules.lookup_adjoint(obj) is not None:
            # its source would disagree with the reverse rule that overrides it
            raise self.src.error(
                stmt.s2sad_origin, f"{obj.__name__} has a registered reverse rule "
                f"(@s2sad.adjoint) but no forward rule", f"register one with "
                f"@s2sad.tangent({obj.__name__}) so forward mode agrees with grad")
        return self.helper(stmt, sf, obj, outs)

    def primitive(self, stmt, sf, outs):
        value = stmt.value
        start = len(self.items)
        self.primal(stmt)
        self.overwrite = (outs[0].name, sf.reads.get(outs[0].name), start)
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
        if len(outs) == 1 and outs[0].path == ():
            self.define(outs[0], expr)
            return
        # a tuple-valued result (`np.split`, `slogdet`): one tangent per part
        if isinstance(expr, gast.Tuple) and [ref.path for ref in outs] == [(i,) for i in range(len(expr.elts))]:
            for ref, part in zip(outs, expr.elts):
                self.define(ref, None if isinstance(part, gast.Constant) and part.value is None
                            else part)
            return
        holder = self.ctx.namer.fresh("d" + outs[0].name)
        self.emit(assign(name(holder, store=True), expr))
        for ref in outs:                          # (nested: `saved[0][1]` of a list of tuples)
            self.define(ref, at(name(holder), ref.path))

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
            if any(len(r.path) != 1 for r in refs) or kind.type is dict:
                raise self.src.error(self.current_origin, "nested lists or dicts of arrays as "
                                     "one argument have no forward rule yet",
                                     "pass the arrays one by one")
            node = gast.List if kind.type is list else gast.Tuple
            return node(elts=parts, ctx=gast.Load())
        t = self.table.get(ref.leaf())
        return copy_node(t) if t is not None else None

    def site(self, args, keywords, g, result, result_kind):
        operands = [Operand(a, self.kind(a) or UNKNOWN, False) for a in args]
        kw_operands = {k: Operand(a, self.kind(a) or UNKNOWN, False) for k, a in keywords.items()}
        site = CallSite(operands, kw_operands, g, result, result_kind, self.kind, self.ctx.spell,
                        self.ctx.namer.fresh)
        return site

    def call_tangent(self, stmt, key, args, keywords, tangents, result):
        """The tangent of a call: its registered forward rule, or one derived from
        the function's declared facts (elementwise, linear, a reduction)."""
        self.current_origin = stmt.s2sad_origin
        result_kind = self.facts.kind(*result.s2sad_ref) if getattr(result, "s2sad_ref", None) \
            else UNKNOWN
        for way in (self.registered_tangent, self.elementwise_tangent, self.tangent_given_shapes,
                    self.linear_tangent, self.reduction_tangent):
            tangent = way(stmt, key, args, keywords, tangents, result, result_kind)
            if tangent is not NOT_THIS_WAY:
                return tangent
        raise self.no_rule(stmt, key)

    def registered_tangent(self, stmt, key, args, keywords, tangents, result, result_kind):
        """The `@tangent` rule, inlined where it folds, else called."""
        rule = rules.lookup_tangent(key)
        if rule is None:
            return NOT_THIS_WAY
        if not rules.is_builtin(key):
            wrong = rules.check_call(key, rule, (None, None), args, keywords, "tangent rule")
            if wrong is not None:
                raise self.src.error(stmt.s2sad_origin, wrong,
                                     "give the rule that parameter (or **kwargs for the ones it ignores)")
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
        if inlined:
            for s in inlined.stmts:
                self.emit(s)
            if len(inlined.outputs) > 1:     # a tuple-valued result's parts
                return gast.Tuple(elts=[o if o is not None else const(None)
                                        for o in inlined.outputs], ctx=gast.Load())
            return inlined.outputs[0]
        return call(name(self.ctx.spell(rule, rules.function_name(key) + "_tangent")), g, copy_node(result),
                    *[copy_node(a) for a in args],
                    **{k: copy_node(a) for k, a in keywords.items()})

    def elementwise_tangent(self, stmt, key, args, keywords, tangents, result, result_kind):
        """An elementwise function: each varied operand's reverse rule, with `g`
        its tangent, summed (`dy = dx * np.cos(x)`)."""
        if not rules.facts(key).elementwise:
            return NOT_THIS_WAY
        reverse = rules.lookup_adjoint(key)
        emitted, terms = [], []
        for i, t in enumerate(tangents):
            if t is None:
                continue
            site = self.site(args, keywords, t, result, result_kind)
            site.tangent = True
            inlined = inline(reverse, site)
            if not inlined or i >= len(inlined.outputs):
                return NOT_THIS_WAY
            if inlined.outputs[i] is None:   # no derivative (`np.where`'s condition, a
                continue                     # bool whose kind was not known): no term
            emitted.extend(inlined.stmts)
            terms.append(inlined.outputs[i])
        if not terms:
            return None
        for s in emitted:
            self.emit(s)
        return self.broadcast_to_result(_sum_terms(terms), emitted, [
            a for a, t in zip(args, tangents) if t is not None],
            list(args) + list(keywords.values()), result, result_kind)

    def tangent_given_shapes(self, stmt, key, args, keywords, tangents, result, result_kind):
        """Linear in some arguments, the others lending shapes only: the call again
        on the tangents (`take_adjoint(dg, a, i, axis)`)."""
        given_shapes = rules.facts(key).linear_given_shapes
        if given_shapes is None:
            return NOT_THIS_WAY
        if all(i >= len(tangents) or tangents[i] is None for i in given_shapes):
            return None
        replaced = [copy_node(a) for a in args]
        for i in given_shapes:
            if i < len(args):
                replaced[i] = tangents[i] if tangents[i] is not None else self.zeros_of(args[i])
        return _recall(stmt.value, replaced, keywords)

    def linear_tangent(self, stmt, key, args, keywords, tangents, result, result_kind):
        """Linear in some arguments together (`f(dx, dy)`) or in each factor on
        its own (`f(dx, y) + f(x, dy)`)."""
        linear = linear_positions(key, len(args))
        if linear is None:
            return NOT_THIS_WAY
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
        terms = []
        for i in positions:               # f(dx, y) + f(x, dy)
            if i < len(tangents) and tangents[i] is not None:
                replaced = [copy_node(a) for a in args]
                replaced[i] = tangents[i]
                terms.append(_recall(stmt.value, replaced, keywords))
        return _sum_terms(terms)

    def reduction_tangent(self, stmt, key, args, keywords, tangents, result, result_kind):
        """A reduction of one varied array: the tangent weighted by the reverse
        rule's gradient and summed over the reduced axes."""
        if rules.facts(key).reduction_axis is None or sum(t is not None for t in tangents) != 1 \
                or tangents[0] is None:
            return NOT_THIS_WAY
        reverse = rules.lookup_adjoint(key)
        ones = call(gast.Attribute(value=self.ctx.numpy(), attr="ones_like", ctx=gast.Load()),
                    copy_node(result))
        site = self.site(args, keywords, ones, result, result_kind)
        inlined = inline(reverse, site)
        if inlined and inlined.outputs and inlined.outputs[0] is not None:
            for s in inlined.stmts:
                self.emit(s)
            weights = inlined.outputs[0]
        else:
            weights = gast.Subscript(value=call(
                name(self.ctx.spell(runtime.cotangents, "cotangents")),
                call(name(self.ctx.spell(reverse, rules.function_name(key) + "_adjoint")), ones,
                     copy_node(result), *[copy_node(a) for a in args],
                     **{k: copy_node(a) for k, a in keywords.items()}),
                const(tuple([True] + [False] * (len(args) - 1))), const(rules.function_name(key))),
                slice=const(0), ctx=gast.Load())
        at = rules.facts(key).reduction_axis
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

    def broadcast_to_result(self, expr, stmts, varied, operands, result, result_kind):
        """An elementwise operation's tangent has the shape of what its terms
        read, which a broadcast may have made smaller than the result (`A - s`
        of an array and a number: `-ds`); then it is spread over the result's
        shape and dtype (`-ds + np.zeros_like(A)`).  The terms cover the result
        where they read the result, every array operand (the result's shape is
        their broadcast), or a value provably of the result's shape."""
        if isinstance(result_kind, Scalar) or getattr(result_kind, "ndim", None) == 0:
            return expr
        read = {a.s2sad_ref for a in varied if getattr(a, "s2sad_ref", None)}
        globals_read = set()
        for node in [expr] + list(stmts):
            for n in gast.walk(node):
                if isinstance(n, gast.Name) and getattr(n, "s2sad_ref", None) is not None:
                    read.add(n.s2sad_ref)
                elif isinstance(n, gast.Name):
                    globals_read.add(n.id)
        own = getattr(result, "s2sad_ref", None)
        if own in read or any(self.shaped_as(ref, own, result_kind) for ref in read):
            return expr
        for atom in operands:
            if isinstance(atom, gast.Constant):
                continue
            kind = self.kind(atom)
            if isinstance(kind, Scalar) or getattr(kind, "ndim", None) == 0:
                continue                  # a number or a 0-d array widens nothing
            ref = getattr(atom, "s2sad_ref", None)
            if ref is not None and ref in read:
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

    def no_rule(self, stmt, key):
        what = getattr(key, "__name__", None) or repr(key)
        return self.src.error(
            stmt.s2sad_origin, f"`{what}` has no forward (tangent) rule",
            f"register one with @s2sad.tangent({what}) (see the API docs), or wrap the argument "
            f"in s2sad.stop_gradient if no derivative should flow through it")

    def helper(self, stmt, sf, func, outs):
        value = stmt.value
        binding = self.bind_call(stmt, func)
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
        holder = self.ctx.namer.fresh("d" + outs[0].name) if len(outs) != 1 or outs[0].path != () \
            else self.tangent_name(outs[0])
        if holder == self.tangent_name(outs[0]) if outs else False:
            self.release(holder, outs[0])
        fcall = copy_node(value)
        fcall.func = name(fname)
        fcall.args = tangents + list(fcall.args)
        self.emit(assign(gast.Tuple(elts=[target, name(holder, store=True)], ctx=gast.Store()), fcall))
        if len(outs) == 1 and outs[0].path == ():
            self.table[outs[0]] = name(holder)
            return
        kinds = dict(leaves(self.facts.kind(*outs[0].local)))
        for ref in outs:
            if not kinds[ref.path].differentiable:      # an int the helper returns: no tangent
                self.table.pop(ref, None)
                continue
            self.define(ref, at(name(holder), ref.path))
