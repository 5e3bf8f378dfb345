"""The reverse of calls: a primitive's registered rule inlined at the call
site (or called), and a call to one of the user's helpers replaced by its
generated forward and backward halves."""

import inspect

import dataclasses

import gast

from .. import rules, runtime
from ..errors import TransformError
from ..kinds import UNKNOWN, Array, Scalar, Seq, Tree
from ..analyze import updated_name
from ..templates import CallSite, Operand, inline
from ..trees import assign, at, call, const, copy_node, name, slices_as_values
from ..names import atom_word, function_word
from ..sweep import helper_dependencies
from .adjoints import Adjoint


def _positional_slots(rule):
    """How many positional parameters a rule has after `g, result` (all of
    them, for `*args`)."""
    try:
        params = list(inspect.signature(rule).parameters.values())[2:]
    except (TypeError, ValueError):
        return 0
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 1 << 30
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _word(atom):
    return atom_word(atom) or "arg"


class Calls:
    """Primitives and helpers, mixed into `Reverse`."""

    def user_call(self, stmt, sf, outs, adjoints):
        """A call to one of the user's functions (or one of s2sad's own with no
        reverse rule, in a gradient differentiated again): its generated halves."""
        obj = self.helper_called(stmt.value)
        if not rules.is_own_helper(obj):
            return self.helper(stmt, sf, obj, outs, adjoints)
        try:
            return self.helper(stmt, sf, obj, outs, adjoints)
        except TransformError as exc:           # named at this (generated) line
            raise self.not_again(stmt, obj, f", and its source could not be differentiated "
                                 f"({exc.message})") from None

    def not_again(self, stmt, obj, why=""):
        """The refusal of a gradient that calls one of s2sad's own functions
        which reverse mode cannot follow (reverse over reverse)."""
        what, target = rules.describe_own(obj)
        return self.src.error(stmt.s2sad_origin, f"{what}, which this gradient calls, has no "
                              f"reverse rule{why}", f"take this second derivative forward over "
                              f"reverse (s2sad.hvp, or s2sad.jacobian of the gradient in mode "
                              f"'fwd'), or register a rule for it (@s2sad.adjoint on {target})")

    def primitive(self, stmt, sf, outs, adjoints):
        """A call or operation with a rule: `g` is the result's adjoint, or for a
        result that is a tuple or list of arrays, a list of the parts' adjoints
        (None for parts nobody used)."""
        if any(len(ref.path) > 1 for ref in outs):
            raise self.src.error(stmt.s2sad_origin, "this operation returns nested tuples or "
                                 "dicts of arrays, which s2sad cannot differentiate yet",
                                 "register a rule with @s2sad.adjoint that returns a flat tuple")
        value = stmt.value
        if len(outs) == 1 and outs[0].path == ():
            g = adjoints[()]
            g_expr, g_scalar = copy_node(g.expr), g.scalar
        else:
            g_expr = gast.List(elts=[copy_node(adjoints[ref.path].expr)
                                     if adjoints[ref.path] is not None else const(None)
                                     for ref in outs], ctx=gast.Load())
            for elt in g_expr.elts:              # an adjoint there is never None
                if not isinstance(elt, gast.Constant):
                    elt.s2sad_operand = Operand(elt, UNKNOWN, True)
            g_scalar = False
        key, args, keywords = self.operation(stmt, value)
        rule = rules.lookup_adjoint(key)
        if rule is None and rules.is_own(key):
            raise self.not_again(stmt, key)
        if rule is None:
            what = getattr(key, "__name__", None) or repr(key)
            raise self.src.error(
                stmt.s2sad_origin,
                f"`{what}` has no gradient rule and no Python source s2sad can read",
                f"register one with @s2sad.adjoint({what}) (see the API docs), or wrap the "
                f"argument in s2sad.stop_gradient if no gradient should flow through it")
        if not rules.is_builtin(key):
            wrong = rules.check_call(key, rule, (None, None), args, keywords)
            if wrong is not None:
                raise self.src.error(stmt.s2sad_origin, wrong, "give the rule that parameter (or "
                                     "**kwargs for the ones it ignores)")
        base = updated_name(stmt)
        result = name(base, outs[0].local) if base else copy_node(stmt.targets[0])
        result.ctx = gast.Load()
        result_kind = self.facts.kind(*result.s2sad_ref)
        operands = [Operand(a, self.kind(a) or UNKNOWN, self.same_shape(result, a)) for a in args]
        kw_operands = {k: Operand(a, self.kind(a) or UNKNOWN, self.same_shape(result, a))
                       for k, a in keywords.items()}
        for k, a in keywords.items():
            if any(r in sf.active_inputs for r in self.leaf_refs(a)):
                raise self.src.error(stmt.s2sad_origin,
                                     f"the differentiated value is passed by keyword (`{k}=`)",
                                     "pass it positionally")
        site = CallSite(operands, kw_operands, g_expr, result, result_kind,
                        self.kind, self.ctx.spell, self.ctx.namer.fresh)
        popped = self.pop_of_literal(key, args, keywords, g_expr)
        inlined = inline(rule, site) if popped is None else None
        scalar = g_scalar and all(isinstance(o.kind, Scalar) for o in operands) \
            and isinstance(result_kind, Scalar)
        for ref in outs:
            self.table.pop(ref, None)
        if popped is not None:
            outputs = popped
        elif inlined:
            for s in inlined.stmts:
                self.emit(s)
            outputs = inlined.outputs
        else:
            needed = [any(r in sf.active_inputs for r in self.leaf_refs(a)) for a in args]
            outputs = self.call_rule(rule, key, site, needed)
            if inlined is not None:
                self.ctx.note(stmt, f"the reverse rule of {rules.function_name(key)} is called, not inlined: "
                                    f"{inlined.reason}")
        outputs = self.one_per_argument(stmt, sf, rule, key, args, outputs)
        if not rules.is_builtin(key):
            outputs = self.shaped_like_arguments(key, args, outputs)
        contributions = []
        for i, atom in enumerate(args):
            if i >= len(outputs) or outputs[i] is None:
                continue
            refs = [r for r in self.leaf_refs(atom) if r in sf.active_inputs]
            if refs and isinstance(self.kind(atom), Tree):
                contributions += self.parts(atom, outputs[i], refs)
            elif refs and isinstance(self.kind(atom), Seq):   # a list of unknown length:
                as_list = name(self.ctx.spell(runtime.as_list, "as_list"))  # one adjoint each
                contributions += [(ref, call(as_list, outputs[i]), False) for ref in refs]
            else:
                contributions += [(ref, outputs[i], scalar) for ref in refs]
        self.contribute(contributions)

    def parts(self, atom, cotangent, refs):
        """Contributions to the leaves of a tuple or list operand from its
        cotangent: a literal's elements, or subscripts of a named tuple."""
        if not isinstance(cotangent, (gast.Tuple, gast.List, gast.Name)):
            temp = self.ctx.namer.fresh("d" + _word(atom))
            self.emit(assign(name(temp, store=True), cotangent))
            cotangent = name(temp)
        out = []
        for ref in refs:
            part = cotangent
            for key in ref.path:
                if isinstance(part, (gast.Tuple, gast.List)) and isinstance(key, int):
                    part = part.elts[key]
                else:
                    part = at(copy_node(part), (key,))
            if not (isinstance(part, gast.Constant) and part.value is None):
                out.append((ref, part, False))
        return out

    def one_per_argument(self, stmt, sf, rule, key, args, outputs):
        """Pad a rule's cotangents with None to one per positional argument,
        refusing to pad where an argument needs a gradient."""
        outputs = list(outputs)
        what = getattr(key, "__name__", None) or repr(key)
        for i in range(len(outputs), len(args)):
            if any(r in sf.active_inputs for r in self.leaf_refs(args[i])):
                raise self.src.error(
                    stmt.s2sad_origin,
                    f"the gradient rule of `{what}` returns {len(outputs)} cotangent(s), but "
                    f"positional argument {i + 1} of this call needs one",
                    "return one cotangent per positional argument (None where there is no gradient)")
        # cotangents for parameters this call left to their defaults or passed by
        # keyword (constants: a differentiated keyword is refused) are dropped
        if any(o is not None for o in outputs[max(len(args), _positional_slots(rule)):]):
            raise self.src.error(
                stmt.s2sad_origin,
                f"the gradient rule of `{what}` returns {len(outputs)} cotangents for a call with "
                f"{len(args)} positional argument(s)",
                "return one cotangent per positional argument (None where there is no gradient)")
        return outputs[:len(args)] + [None] * (len(args) - len(outputs))

    def shaped_like_arguments(self, key, args, outputs):
        """A user's rule need not sum its cotangents down to broadcast
        arguments' shapes: `shaped_like(c, x, name)` does, and refuses a
        shape broadcasting cannot explain."""
        what = rules.function_name(key)
        helper = name(self.ctx.spell(runtime.shaped_like, "shaped_like"))
        return [call(copy_node(helper), out, copy_node(atom), const(what))
                if out is not None and isinstance(self.kind(atom), Array) else out
                for atom, out in zip(args, outputs)]

    def call_rule(self, rule, key, site, needed):
        """A rule that cannot be inlined is called:
        `da, db = cotangents(matmul_adjoint(...), (True, True), 'matmul')`."""
        base = getattr(key, "__name__", "op")
        func = name(self.ctx.spell(rule, f"{base}_adjoint"))
        args = [site.g, site.result] + [slices_as_values(copy_node(o.atom)) for o in site.args]
        expr = gast.Call(func=func, args=args,
                         keywords=[gast.keyword(arg=k, value=o.atom) for k, o in site.keywords.items()])
        expr = call(name(self.ctx.spell(runtime.cotangents, "cotangents")), expr,
                    const(tuple(needed)), const(base), const(_positional_slots(rule)))
        unused = "_" if "_" not in self.core.local_names else self.ctx.namer.fresh("unused")
        temps = [self.ctx.namer.fresh("d" + _word(o.atom)) if n else unused
                 for o, n in zip(site.args, needed)]
        self.emit(assign(gast.Tuple(elts=[name(t, store=True) for t in temps], ctx=gast.Store()), expr))
        return [name(t) if n else None for t, n in zip(temps, needed)]

    def same_shape(self, result, atom):
        ref = getattr(atom, "s2sad_ref", None)
        if ref is not None:
            return self.facts.same_shape(result.s2sad_ref, ref)
        kind = self.kind(atom)
        return getattr(kind, "ndim", None) == 0 and getattr(self.facts.kind(*result.s2sad_ref), "ndim", None) == 0

    def helper(self, stmt, sf, func, outs, adjoints):
        value = stmt.value
        binding = self.bind_call(stmt, func)
        out_paths = tuple(ref.path for ref in outs if adjoints[ref.path] is not None)
        # a parameter the used parts of the result do not depend on gets no
        # adjoint, even where its argument is active through another (`f(x, x)`)
        needed = helper_dependencies(self, func, value, out_paths)
        arg_kinds, active = {}, []
        for param, atom in binding.arguments.items():
            arg_kinds[param] = self.kind(atom) or UNKNOWN
            if any(r in sf.active_inputs for r in self.leaf_refs(atom)) \
                    and (needed is None or param in needed):
                active.append(param)
        pair = self.ctx.builder.helper(func, arg_kinds, tuple(active), out_paths,
                                       stmt.s2sad_origin, self.src)
        fwd = self.ctx.spell(pair.forward, pair.forward.__name__)
        bwd = self.ctx.spell(pair.backward, pair.backward.__name__)
        saved = self.ctx.namer.fresh(f"{function_word(func)}_saved")
        # forward: y, saved = f_fwd(...)
        target = copy_node(stmt.targets[0])
        fcall = copy_node(value)
        fcall.func = name(fwd)
        fstmt = assign(gast.Tuple(elts=[target, name(saved, store=True)], ctx=gast.Store()), fcall)
        fstmt.s2sad_origin = stmt.s2sad_origin
        # what the call saves is a value of its own, kept per trip inside a loop
        fstmt.s2sad_facts = dataclasses.replace(stmt.s2sad_facts,
                                                writes={**stmt.s2sad_facts.writes, saved: 1})
        self.facts.final_versions[saved] = 1
        fstmt.s2sad_effect = True
        self.replacements[id(stmt)] = fstmt
        # reverse: dx, dW = f_bwd(dy, saved)
        seeds = [copy_node(adjoints[p].expr) for p in out_paths]
        for ref in outs:
            self.table.pop(ref, None)
        expr = call(name(bwd), *seeds, name(saved, (saved, 1)))
        refs = []
        for param, path in pair.returns:
            atom = binding.arguments[param]
            refs.append(atom.s2sad_ref.leaf(path))
        if not refs:
            return
        # the first adjoint a ref gets takes its name; one it has already, or one
        # an earlier parameter of this call took (`f(x, x)`), adds a fresh one; a
        # leaf nothing differentiated reads (`p['b']` of a dict whose `p['w']` is
        # read) gets what the helper returns for it (zeros) in `_`: no name of its
        # own, which a loop of no trips would leave unbound
        unused = "_" if "_" not in self.core.local_names else self.ctx.namer.fresh("unused")
        temps, first = [], []
        for ref in refs:
            if ref not in sf.active_inputs:
                temps.append(unused)
                first.append(None)
                continue
            first.append(ref not in self.table and ref not in refs[:len(temps)])
            temps.append(self.adjoint_name(ref) if first[-1] else
                         self.ctx.namer.fresh(self.adjoint_name(ref)))
        for t, ref, new in zip(temps, refs, first):
            if new:
                self.release(t, ref, expr, *[name(other) for other in temps])
        targets = [name(t, store=True) for t in temps]
        self.emit(assign(targets[0] if len(targets) == 1 else
                         gast.Tuple(elts=targets, ctx=gast.Store()), expr))
        for t, ref, new in zip(temps, refs, first):
            if new:
                self.table[ref] = Adjoint(name(t), True, False)
            elif new is not None:
                self.accumulate(ref, name(t), False)
