"""The driver: runs the pipeline for one function and one tuple of kinds.

    parse -> normalize -> analyze -> reverse -> optimize -> emit

A *joint* build is the gradient the user asked for: one function with the
forward sweep, the reverse sweep and the gradients returned.  A user
helper called on differentiated values gets a *split* build: `f_fwd`
returns the result and what the reverse sweep needs of it; `f_bwd` takes
the result's adjoint and that record and returns the arguments' adjoints.
"""

from __future__ import annotations

import ast
import inspect
import weakref
from dataclasses import dataclass
from typing import Callable

import gast

from .analyze import Analyzer, dependencies, has_effect
from .analyze.rewrites import DictKeys, Rewrite, rewritten, written_out
from .emit import FunctionSpec, compile_function
from .errors import TransformError
from .kinds import UNKNOWN, Opaque, Scalar, Seq, Tree, kind_of, leaves
from .names import Namer, function_word
from .normalize import normalize
from .optimize import (assign_storage, drop_redundant_comments, eliminate_dead_code,
                       fold_temporaries, free_names, names_written, settle_names)
from .parse import bind_arguments, parse_function, user_text
from .refs import Ref
from .checkpoint import checkpoint_loops
from .record import decide_once, record, separate_counters
from .simplify import (factor_sums_out_of_loops, hoist_invariants, merge_item_updates, values_kept,
                       propagate_constants, simplify)
from .reverse import Adjoint, Reverse, gradient_of, leaf_gradient
from .sweep import Context, access, tree_literal
from . import runtime
from .trees import Comment, at, assign, call, const, copy_node, name

_CORES = weakref.WeakKeyDictionary()      # function -> (its code, its core form)


def core_of(func):
    """Parsed and normalised form of a function (cached per function object and
    its code: `f.__code__ = ...` reads the source again)."""
    code = getattr(func, "__code__", None)
    try:
        entry = _CORES.get(func)
    except TypeError:                     # not weakly referable (np.sum): parsing says why
        return normalize(parse_function(func))
    if entry is None or entry[0] is not code:
        entry = _CORES[func] = (code, normalize(parse_function(func)))
    return entry[1]


@dataclass
class Built:
    function: object
    source: str                   # the source of the function and its helpers
    names: dict = None            # guards of the user's names it relied on (guards.py)
    notes: list = None            # remarks on the build, printed with verbose=True
    guards: object = None         # a function checking they hold, run at every call
    fast: object = None           # compiled builds: the call of the fast path, or None (compiled/)


class Later:
    """A generated function called before it exists (a helper that recurses)."""

    def __init__(self, name):
        self.__name__ = name
        self.function = None

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)


@dataclass
class HelperPair:
    forward: object
    backward: object
    returns: list                 # (param, path) of each adjoint the backward returns
    sources: list


class _ForwardBuilds:
    """Forward mode: `f_jvp(tangents..., args...)` returns `(f(args), its tangent)`."""

    def jvp_helper(self, func, arg_kinds, active, origin, caller):
        core = core_of(func)
        arg_kinds = self.param_kinds(func, core, arg_kinds)
        key = ("jvp", func, tuple(sorted(arg_kinds.items(), key=lambda kv: kv[0])), active)
        if key in self.helpers:
            return self.helpers[key]
        base = function_word(func)
        pending = self.helpers[key] = Later(self.function_names.fresh(f"{base}_jvp"))
        try:
            fn, text = self.forward_function(func, arg_kinds, active, pending.__name__, helper=True)
        except BaseException:
            del self.helpers[key]
            raise
        pending.function = fn
        self.helpers[key] = fn
        self.jvp_sources.append(text)
        self.bind_stand_ins()
        return fn

    def forward_function(self, func, arg_kinds, active, fn_name, helper=False, tangent_only=False):
        from .forward import Forward
        core, facts = self.analysis(func, arg_kinds, active, helper=helper)
        ctx = Context(core, self)
        fwd = Forward(core, facts, ctx)
        tangent_params, prologue = [], []
        for param in active:
            own = ctx.namer.fresh(f"d{param}")
            tangent_params.append(own)
            for path, leaf in leaves(facts.kind(param, 0)):
                if not leaf.differentiable:
                    continue
                ref = Ref(param, 0, path)
                if path == ():
                    fwd.table[ref] = name(own)
                    continue
                part = at(name(own), path)
                var = fwd.tangent_name(ref)
                prologue.append(assign(name(var, store=True), part))
                fwd.table[ref] = name(var)
        fwd.run()
        out = copy_node(core.body[-1].value)
        if facts.output is not None:
            out.s2sad_ref = facts.output

        def tangent_of(kind, path):
            if isinstance(kind, Tree):
                parts = [tangent_of(c, path + (k,)) for k, c in zip(kind.keys, kind.children)]
                return tree_literal(ctx, kind, parts)
            if not kind.differentiable:
                return const(None)
            if facts.output is None:          # a constant, global or closure value: zero
                if isinstance(kind, Scalar) or getattr(kind, "ndim", None) == 0:
                    return const(0.0)
                part = at(copy_node(out), path)
                if isinstance(kind, Seq):
                    return call(name(ctx.spell(runtime.zeros_list, "zeros_list")), part)
                return call(gast.Attribute(value=ctx.numpy(), attr="zeros_like",
                                           ctx=gast.Load()), part)
            ref = facts.output.leaf(path)
            t = fwd.table.get(ref)
            return copy_node(t) if t is not None else fwd.zeros(ref)

        dout = tangent_of(facts.output_kind, ())
        ret = gast.Return(value=dout if tangent_only else gast.Tuple(elts=[out, dout], ctx=gast.Load()))
        live = _names([ret])
        items = eliminate_dead_code(prologue + fwd.items, live)
        items = drop_redundant_comments(fold_temporaries(items, live, core.temporaries))
        src = core.source
        body = settle_names(items + [ret], ctx.namer, list(tangent_params) + list(core.params),
                            src.func.__globals__)
        spec = FunctionSpec(
            name=fn_name, params=", ".join(tangent_params + [_params_text(core)]) if tangent_params
            else _params_text(core), body=body, globals=src.func.__globals__,
            cells=ctx.cells, user_cells=src.namespace.cells, defaults=src.func.__defaults__,
            kwdefaults=src.func.__kwdefaults__, origin=src.name, source=src)
        return self.emit(spec)

    def emit(self, spec):
        """Print and compile a generated function (in Numba-friendly forms for
        a compiled build)."""
        if self.for_numba:
            from .compiled.lower import lower_for_numba
            spec = lower_for_numba(spec)
        return compile_function(spec)

    def jvp(self, func, arg_kinds, wrt, fn_name, tangent_only=False):
        fn, text = self.forward_function(func, arg_kinds, tuple(wrt), fn_name,
                                         tangent_only=tangent_only)
        return Built(fn, "\n\n".join([text] + self.jvp_sources), notes=self.notes)


class Builder(_ForwardBuilds):
    """Builds generated functions; caches helper builds for one top-level build."""

    def __init__(self):
        self.jvp_sources = []
        self.helpers = {}
        self.dependencies = {}             # (helper, kinds) -> what its result depends on
        self.in_progress = set()
        self.function_names = Namer()      # helper halves are named once per build
        self.notes = []                    # remarks for verbose=True (a rule not inlined)
        self.reverse = False               # a gradient (not a jvp) is being built
        self.for_numba = False             # emit for compile="numba" (compiled/lower.py)

    # ---- kinds of the user's helpers -----------------------------------------------

    def param_kinds(self, func, core, arg_kinds):
        kinds = dict(arg_kinds)
        defaults = _defaults(func)
        for p in core.params:
            if p not in kinds:
                kinds[p] = kind_of(defaults[p]) if p in defaults else UNKNOWN
        return kinds

    def helper_kind(self, func, args, keywords):
        try:
            core_of(func)                 # (a function s2sad cannot read: no kind known)
            bound = bind_arguments(func, args, keywords).arguments
        except (TypeError, TransformError):
            return UNKNOWN
        if func in self.in_progress:
            if self.reverse and getattr(func, "__s2sad_source__", None) is not None:
                # (the saved values of a recursive helper's halves have no kind the
                # second reverse sweep can follow: their adjoints would be lost)
                core = core_of(func)
                raise core.source.error(core.node, f"{core.source.name} is the half of a recursive "
                                        f"function's gradient, which s2sad does not differentiate again "
                                        f"in reverse mode yet", "take this second derivative forward over "
                                        "reverse (s2sad.hvp, or s2sad.jacobian of the gradient in mode 'fwd')")
            return UNKNOWN
        self.in_progress.add(func)
        try:
            _, facts = self.analysis(func, bound, (), helper=True)
        finally:
            self.in_progress.discard(func)
        return facts.output_kind

    def helper_dependencies(self, func, args, keywords):
        """Which parameter leaves each leaf of a helper's result depends on, for
        these argument kinds (`analyze.dependencies`); None where not known (a
        helper still being analysed: a recursive call depends on everything)."""
        try:
            core = core_of(func)
            bound = inspect.signature(func).bind(*args, **keywords).arguments
        except (TypeError, ValueError, TransformError):
            return None
        if func in self.in_progress:
            return None
        kinds = self.param_kinds(func, core, bound)
        key = (func, tuple(sorted(kinds.items(), key=lambda kv: kv[0])))
        if key in self.dependencies:
            return self.dependencies[key]
        self.in_progress.add(func)
        try:
            analyzer, facts = self.analysis(func, bound, (), helper=True, analyzer=True)
            deps = dependencies(analyzer, facts)
        finally:
            self.in_progress.discard(func)
        self.dependencies[key] = deps
        return deps

    # ---- builds ----------------------------------------------------------------------

    def analysis(self, func, arg_kinds, wrt, output_paths=((),), helper=False, analyzer=False):
        """(core, facts) of `func` for these argument kinds: its core form, with
        each method call of the user's classes written against its class
        (`analyze.methods`: the analysis finds them one at a time), and what
        the analysis found of it (or, with `analyzer`, (analyzer, facts))."""
        core = core_of(func)
        kinds = self.param_kinds(func, core, arg_kinds)
        while True:
            run = Analyzer(core, kinds, wrt, self.helper_kind, output_paths, helper,
                           self.helper_dependencies)
            try:
                facts = run.run()
            except Rewrite as call:
                done = core.__dict__.setdefault("against_class", {})
                if call.key not in done:
                    done[call.key] = rewritten(core, call)
                core = done[call.key]
                continue
            except DictKeys as comp:      # the user's source written out, and normalised again
                done = core.__dict__.setdefault("written_out", {})
                key = (id(comp.comprehension), comp.keys)
                if key not in done:
                    done[key] = normalize(written_out(core.source, comp))
                core = done[key]
                continue
            return (run if analyzer else core), facts

    def helper(self, func, arg_kinds, active, out_paths, origin, caller):
        core = core_of(func)
        arg_kinds = self.param_kinds(func, core, arg_kinds)
        key = (func, tuple(sorted(arg_kinds.items(), key=lambda kv: kv[0])), active, out_paths)
        if key in self.helpers:
            return self.helpers[key]
        # a recursive call meets this pair before it exists: it calls it through
        # a stand-in that forwards to the generated function once it is built
        names = (self.function_names.fresh(f"{function_word(func)}_fwd"),
                 self.function_names.fresh(f"{function_word(func)}_bwd"))
        returns = [(param, path) for param in active
                   for path, leaf in leaves(arg_kinds[param]) if leaf.differentiable]
        pending = self.helpers[key] = HelperPair(Later(names[0]), Later(names[1]), returns, [])
        self.in_progress.add(func)
        try:
            pair = self.split(func, arg_kinds, active, out_paths, names)
        except BaseException:
            del self.helpers[key]
            raise
        finally:
            self.in_progress.discard(func)
        pending.forward.function, pending.backward.function = pair.forward, pair.backward
        self.helpers[key] = pair
        self.bind_stand_ins()
        return pair

    def bind_stand_ins(self):
        """A recursive helper's halves call themselves through a stand-in
        (`Later`) until they are built; once they are, every generated
        function's cell holding the stand-in holds the function itself, so
        the code reads as it runs and can be transformed again (`hvp`: forward
        mode over `f_fwd` reads its recursive call as a call of `f_fwd`)."""
        for built in list(self.helpers.values()):
            for fn in (built.forward, built.backward) if isinstance(built, HelperPair) else (built,):
                for cell in getattr(fn, "__closure__", None) or ():
                    try:
                        value = cell.cell_contents
                    except ValueError:            # an empty cell
                        continue
                    if isinstance(value, Later) and value.function is not None:
                        cell.cell_contents = value.function

    def split(self, func, arg_kinds, active, out_paths, names):
        core, facts = self.analysis(func, arg_kinds, active, out_paths, helper=True)
        ctx = Context(core, self)
        rev = Reverse(core, facts, ctx)
        seeds = []
        for path in out_paths:
            if facts.output is None:          # a constant, global or closure value: no adjoint
                seeds.append(ctx.namer.fresh("dresult"))
                continue
            if path not in {p for p, _ in leaves(facts.output_kind)}:
                # (the caller took the result for a leaf where it is a tuple or
                # dict: a seed there would reach nothing, a zero gradient)
                raise core.source.error(core.body[-1], f"the caller of {core.source.name} could not "
                                        f"tell the structure of what it returns here",
                                        "return the same structure (a tuple of as many items) "
                                        "from every return statement")
            seed = rev.adjoint_name(facts.output.leaf(path))
            seeds.append(seed)
            rev.table[facts.output.leaf(path)] = Adjoint(name(seed), False, False)
        rev.temporary_adjoints -= set(seeds)      # parameters: never renamed after a user name
        rev.run()
        returns, grads = [], []
        for param in active:
            kind = facts.kind(param, 0)
            for path, leaf in leaves(kind):
                if leaf.differentiable:
                    returns.append((param, path))
                    grads.append(leaf_gradient(rev, param, path, leaf, final=False))
        reverse = _tidy_reverse(rev, _names(grads), facts, core)
        forward = _forward_items(rev, core)
        # the returned atom, read after the forward sweep: where storage gives its
        # version a name of its own (`x_1 = x * x` when the reverse reads the
        # parameter `x`), the return reads that name
        out_atom = copy_node(core.body[-1].value)
        if facts.output is not None:
            out_atom.s2sad_ref = facts.output
        record(forward, reverse, ctx.namer, facts)
        decide_once(forward, reverse, facts)
        assign_storage(forward, reverse + [assign(name("_", store=True), g) for g in grads]
                       + [gast.Expr(value=out_atom)], facts.final_versions, ctx.namer, facts.kinds)
        separate_counters(reverse, ctx.namer)
        defined = set(core.params).union(*(names_written(s) for s in forward
                                           if not isinstance(s, Comment)))
        saved = sorted((free_names(reverse) | _names(grads)) & defined)
        out_names = _names([out_atom])
        forward = eliminate_dead_code(forward, set(saved) | out_names)
        forward = drop_redundant_comments(fold_temporaries(forward, set(saved) | out_names,
                                                           core.temporaries))
        # what only some branches make is None on the others (their reverse skips it)
        always = set(core.params).union(*(names_written(s) for s in forward
                                          if not isinstance(s, (Comment, gast.If, gast.For, gast.While))))
        forward = [assign(name(s, store=True), const(None)) for s in saved if s not in always] + forward
        forward_return = gast.Return(value=gast.Tuple(elts=[out_atom, gast.Tuple(
            elts=[name(s) for s in saved], ctx=gast.Load())], ctx=gast.Load()))
        saved_name = ctx.namer.fresh("saved")
        unpack = assign(gast.Tuple(elts=[name(s, store=True) for s in saved], ctx=gast.Store()),
                        name(saved_name)) if saved else None
        bwd_body = ([unpack] if unpack else []) + reverse + [gast.Return(
            value=grads[0] if len(grads) == 1 else gast.Tuple(elts=grads, ctx=gast.Load()))]
        src = core.source
        fwd_spec = FunctionSpec(
            name=names[0], params=_params_text(core),
            body=settle_names(forward + [forward_return], ctx.namer, core.params,
                              src.func.__globals__),
            globals=src.func.__globals__, cells=ctx.cells,
            user_cells=src.namespace.cells, defaults=src.func.__defaults__,
            kwdefaults=src.func.__kwdefaults__, origin=src.name, source=src)
        bwd_spec = FunctionSpec(
            name=names[1], params=", ".join(seeds + [saved_name]),
            body=settle_names(bwd_body, ctx.namer, seeds + [saved_name], src.func.__globals__),
            globals=src.func.__globals__, cells=ctx.cells,
            user_cells=src.namespace.cells, origin=src.name, source=src)
        fwd, fwd_text = self.emit(fwd_spec)
        bwd, bwd_text = self.emit(bwd_spec)
        return HelperPair(fwd, bwd, returns, [fwd_text, bwd_text])

    def joint(self, func, arg_kinds, wrt, with_value, has_aux, name_, checkpoint=None):
        output_paths = ((0,),) if has_aux else ((),)
        core, facts = self.analysis(func, arg_kinds, wrt, output_paths)
        src = core.source
        loss_kind = _check_output(src, facts, has_aux)
        ctx = Context(core, self)
        rev = Reverse(core, facts, ctx)
        checks = []
        if facts.output is not None:
            seed_ref = facts.output.leaf((0,) if has_aux else ())
            if isinstance(loss_kind, Scalar):
                rev.table[seed_ref] = Adjoint(const(1.0), False, True)
            else:                 # (a 0-d array too: a rule may call its adjoint's methods, `g.reshape`)
                loss = access(seed_ref)
                if getattr(loss_kind, "ndim", None) != 0:
                    checks.append(gast.Expr(value=call(name(ctx.spell(runtime.scalar_output, "scalar_output")),
                                                       copy_node(loss), const(src.name))))
                    checks[-1].s2sad_effect = True
                seed = rev.adjoint_name(seed_ref)
                rev.comment(core.body[-1].s2sad_origin)
                rev.items.append(assign(name(seed, store=True), call(gast.Attribute(
                    value=ctx.numpy(), attr="ones_like", ctx=gast.Load()), loss)))
                rev.table[seed_ref] = Adjoint(name(seed), True, False)
        rev.run()
        grads = [gradient_of(rev, p) for p in wrt]
        grad_value = grads[0] if len(grads) == 1 and not self.tuple_wrt else \
            gast.Tuple(elts=grads, ctx=gast.Load())
        out_atom = copy_node(core.body[-1].value)   # the Return's atom
        if facts.output is not None:
            out_atom.s2sad_ref = facts.output
        if with_value:
            result = gast.Tuple(elts=[out_atom, grad_value], ctx=gast.Load())
        elif has_aux:
            aux = gast.Subscript(value=out_atom, slice=const(1), ctx=gast.Load())
            result = gast.Tuple(elts=[grad_value, aux], ctx=gast.Load())
        else:
            result = grad_value
        ret = gast.Return(value=result)
        reverse = _tidy_reverse(rev, _names([result]), facts, core)
        forward = _forward_items(rev, core)
        # the scalar check goes right after the statement computing the loss
        forward = forward + checks
        record(forward, reverse, ctx.namer, facts, share_stacks=not checkpoint)
        decide_once(forward, reverse, facts)
        assign_storage(forward, reverse + [ret], facts.final_versions, ctx.namer, facts.kinds)
        separate_counters(reverse + [ret], ctx.namer)
        if checkpoint:
            checkpoint_loops(forward, reverse, ctx.namer, ctx.spell,
                             None if checkpoint is True else checkpoint)
        _keep_returned(forward, reverse, ret, ctx.namer)
        factor_sums_out_of_loops(reverse)
        reverse = merge_item_updates(hoist_invariants(reverse, facts))
        live = free_names(reverse) | _names([result])
        forward = eliminate_dead_code(forward, live)
        forward = drop_redundant_comments(fold_temporaries(forward, live, core.temporaries))
        body = forward + ([Comment("---- reverse sweep ----")] if reverse else []) + reverse + [ret]
        body = settle_names(body, ctx.namer, core.params, src.func.__globals__)
        spec = FunctionSpec(
            name=name_ or ctx.namer.fresh(f"d{core.node.name}"), params=_params_text(core), body=body,
            globals=src.func.__globals__, cells=ctx.cells, user_cells=src.namespace.cells,
            defaults=src.func.__defaults__, kwdefaults=src.func.__kwdefaults__, origin=src.name, source=src)
        fn, text = self.emit(spec)
        helper_texts = [t for pair in self.helpers.values() for t in pair.sources]
        return Built(fn, "\n\n".join([text] + helper_texts), notes=self.notes)


def build_jvp(func: Callable, arg_kinds: tuple, wrt: tuple, name: str | None = None,
              tangent_only: bool = False, for_numba: bool = False) -> Built:
    builder = Builder()
    builder.for_numba = for_numba
    return builder.jvp(func, arg_kinds, wrt, name or f"jvp_{func.__name__}", tangent_only)


def build_gradient(func: Callable, arg_kinds: tuple, wrt: tuple, *, with_value: bool = False,
                   has_aux: bool = False, tuple_wrt: bool = False, name: str | None = None,
                   checkpoint: bool | int | None = None, for_numba: bool = False) -> Built:
    builder = Builder()
    builder.for_numba = for_numba
    builder.tuple_wrt = tuple_wrt
    builder.reverse = True
    return builder.joint(func, arg_kinds, tuple(wrt), with_value, has_aux, name, checkpoint)


def _keep_returned(forward, reverse, ret, namer):
    """The loss (or aux) returned after the reverse sweep, where the reverse
    sweep sets its name again (`y = y_stack.pop()`, a counter): a name of
    its own at the end of the forward sweep."""
    stored = {n.id for item in reverse if not isinstance(item, Comment) for n in gast.walk(item)
              if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    kept = {}
    for node in gast.walk(ret):
        ref = getattr(node, "s2sad_ref", None)
        if not (isinstance(node, gast.Name) and node.id in stored and ref is not None):
            continue
        if node.id not in kept:
            kept[node.id] = namer.fresh(f"{node.id}_{ref.version}")
            copy = assign(name(kept[node.id], store=True), name(node.id))
            copy.s2sad_effect = True
            forward.append(copy)
        node.id = kept[node.id]


def _check_output(src, facts, has_aux):
    kind = facts.output_kind
    if has_aux:
        if not (isinstance(kind, Tree) and kind.type in (tuple, list) and len(kind.children) == 2):
            raise ValueError(f"{src.name} was differentiated with has_aux=True, so it must "
                             f"return a pair (loss, aux)")
        kind = kind.children[0]
    if isinstance(kind, (Tree, Opaque)) or (isinstance(kind, Scalar) and kind.dtype == "complex"):
        what = "None" if kind == Opaque(type(None)) else getattr(kind, "type", kind).__name__ \
            if hasattr(getattr(kind, "type", None), "__name__") else str(kind)
        raise ValueError(f"{src.name} must return a scalar (a float, a 0-d array or a size-1 "
                         f"array) to be differentiated, but it returns {what}; reduce the result "
                         f"(e.g. with np.sum) or use has_aux=True to return extra values")
    return kind


def _tidy_reverse(rev, live, facts, core):
    """The reverse sweep without dead statements, simplified, and each
    single-use temporary folded into its use where the folded statement,
    simplified again (`np.ones_like(a) * c * b` -> `c * b` once `b` has come
    in), fits a line."""
    items = propagate_constants(eliminate_dead_code(rev.items, live), live)
    kept = values_kept(rev.forward, items)
    items = simplify(items, facts, core.params, kept)
    return fold_temporaries(items, live, rev.temporaries(),
                            tidy=lambda stmt: simplify([stmt], facts, core.params, kept)[0])


def _names(exprs):
    out = set()
    for e in exprs:
        for n in gast.walk(e):
            if isinstance(n, gast.Name):
                out.add(n.id)
    return out


def _forward_items(rev, core):
    """The forward sweep with a comment per user line that lowered to several
    statements; loops whose trips the reverse sweep counts count them."""
    return _forward_block(rev, core, rev.forward)


def _forward_block(rev, core, stmts):
    groups = []
    for stmt in stmts:
        if isinstance(stmt, gast.Return) or getattr(stmt, "s2sad_hook", None) is not None:
            continue                      # a grad_of block runs in the reverse sweep only
        stmt = rev.replacements.get(id(stmt), stmt)
        extra = []
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            stmt.body = _forward_block(rev, core, stmt.body)
            stmt.orelse = _forward_block(rev, core, stmt.orelse)
            if isinstance(stmt, (gast.For, gast.While)):
                # a value first made inside the loop but read at the top of a trip
                for name_, (phi, before, _) in sorted(stmt.s2sad_facts.carried.items()):
                    if before is None and rev.facts.active(Ref(name_, phi)):
                        start = assign(name(name_, store=True), const(None))
                        start.s2sad_origin = stmt.s2sad_origin
                        extra.append(start)
            trips = getattr(stmt, "s2sad_trips", None)
            if trips is not None:
                start = assign(name(trips, store=True), const(0))
                step = assign(name(trips, store=True), gast.BinOp(
                    left=name(trips), op=gast.Add(), right=const(1)))
                for s in (start, step):
                    s.s2sad_origin = stmt.s2sad_origin
                stmt.body.insert(0, step)
                extra.append(start)
        elif getattr(stmt, "s2sad_copy_on_write", False) and not stmt.s2sad_facts.copy_needed:
            continue                      # nothing else reads the old array: update it in place
        elif getattr(stmt, "s2sad_update", False):
            stmt.s2sad_effect = True
        elif not getattr(stmt, "s2sad_effect", False) and has_effect(core, stmt):
            stmt.s2sad_effect = True
        for s in extra + [stmt]:
            if groups and groups[-1][0] is s.s2sad_origin:
                groups[-1][1].append(s)
            else:
                groups.append((s.s2sad_origin, [s]))
    items = []
    for origin, group in groups:
        items.append(Comment(user_text(origin)))
        items.extend(group)
    return items


def _params_text(core):
    args = gast.gast_to_ast(copy_node(core.source.node.args))
    return ast.unparse(args)


def _defaults(func):
    return {p.name: p.default for p in inspect.signature(func).parameters.values()
            if p.default is not p.empty}
