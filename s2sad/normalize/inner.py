"""Functions defined inside the differentiated function: `def`s and lambdas.

An inner function is *lifted*: it becomes a function of its own, whose extra
keyword-only parameters are the names of the enclosing function it reads
(`def inner(v): return v * c` becomes `def inner(v, *, c)`), and every call
passes them (`inner(x, c=c)`).  Python reads a closure's names when the inner
function runs, and so does the call: the meaning is the same.  The lifted
function is then one of the user's helpers, transformed from its source
like any other (`parse.parse_function` reads the lifted tree, with the
user's own lines).  `functools.reduce(f, xs)` and `map(f, xs)` with such a
function (or any other) become a loop and a comprehension.
"""

from __future__ import annotations

import ast
import functools
import types

import gast

from ..trees import name

_REDUCE_MAP = {functools.reduce: "reduce", map: "map"}


def inner_function_names(fn):
    """Names bound once, to a `def` or a lambda, in `fn`'s own body (not in a
    nested function): they are lifted and read as functions, not locals."""
    bound, other = {}, set()
    for node in _own_nodes(fn):
        if isinstance(node, gast.FunctionDef):
            bound.setdefault(node.name, []).append(node)
        elif isinstance(node, gast.Assign) and isinstance(node.value, gast.Lambda) \
                and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
            bound.setdefault(node.targets[0].id, []).append(node)
        elif isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            other.add(node.id)
    stores = {n.targets[0].id for nodes in bound.values() for n in nodes if isinstance(n, gast.Assign)}
    return {k for k, v in bound.items() if len(v) == 1 and (k not in other or k in stores
                                                              and _stored_once(fn, k))}


def _stored_once(fn, name_):
    return sum(1 for n in _own_nodes(fn) if isinstance(n, gast.Name) and n.id == name_
               and isinstance(n.ctx, gast.Store)) == 1


def _own_nodes(fn):
    """The nodes of `fn`'s body, not descending into nested functions."""
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (gast.FunctionDef, gast.Lambda)):
            continue
        stack.extend(gast.iter_child_nodes(node))


def outer_names(fn):
    """The enclosing function's own local names (its parameters and what its
    body assigns, not what nested functions do)."""
    names = {a.id for a in fn.args.args + fn.args.kwonlyargs + (fn.args.posonlyargs or [])}
    names |= {n.id for n in _own_nodes(fn) if isinstance(n, gast.Name)
              and isinstance(n.ctx, (gast.Store, gast.Del))}
    return names


class InnerFunctions:
    """Lifting `def`s and lambdas, mixed into the normaliser."""

    def stmt_FunctionDef(self, s):
        if s.name not in self.inner_names:
            self.fail(s, f"`{s.name}` is defined inside the function and also bound otherwise "
                         f"(assigned, or defined twice)", "give each function a name of its own")
        if s.decorator_list:
            self.fail(s, "decorated functions inside the differentiated function are not supported",
                      "define the decorated function at module level")
        self.lift(s.name, s)

    def lift_lambda_assignment(self, target, value):
        """`sq = lambda v: v * v`: the lambda lifted under its name."""
        self.lift(target.id, value)

    def expr_Lambda(self, node):
        """A lambda used as a value (`functools.reduce(lambda a, b: a * b, xs)`)."""
        lifted = self.namer.fresh("anonymous")
        self.namer.bases.pop(lifted, None)        # (a function's name: never settled back to `anonymous`)
        self.lift(lifted, node)
        return name(lifted)

    def lift(self, fname, node):
        lam = isinstance(node, gast.Lambda)
        args = node.args
        if args.vararg is not None or args.kwarg is not None:
            self.fail(node, "inner functions with *args or **kwargs parameters are not supported",
                      "name each parameter")
        own = {a.id for a in args.args + args.kwonlyargs + (args.posonlyargs or [])}
        body = [gast.copy_location(gast.Return(value=node.body), node.body)] if lam else node.body
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            if any(isinstance(n, gast.Name) and n.id in self.outer for n in gast.walk(default)):
                self.fail(node, "a default of an inner function reads a name of the function",
                          "pass it as an argument instead")
        inner_stores = {n.id for s in body for n in gast.walk(s) if isinstance(n, gast.Name)
                        and isinstance(n.ctx, (gast.Store, gast.Del))}
        reads = {n.id for s in body for n in gast.walk(s) if isinstance(n, gast.Name)
                 and isinstance(n.ctx, gast.Load)}
        free = (reads - own - inner_stores) & (self.outer - self.inner_names)
        lifted_before = getattr(self.src.namespace, "lifted", {})
        for called in reads & set(lifted_before):     # what a sibling it calls reads, it passes on
            free |= set(lifted_before[called])
        free = sorted(free)
        extras = [gast.Name(id=v, ctx=gast.Param(), annotation=None, type_comment=None) for v in free]
        lifted_args = gast.arguments(args=list(args.args), posonlyargs=list(args.posonlyargs or []),
                                     vararg=None, kwonlyargs=list(args.kwonlyargs) + extras,
                                     kw_defaults=list(args.kw_defaults) + [None] * len(extras),
                                     kwarg=None, defaults=list(args.defaults))
        lifted = gast.FunctionDef(name=fname, args=lifted_args, body=body, decorator_list=[],
                                  returns=None, type_comment=None, type_params=[])
        gast.copy_location(lifted, node)
        for n in gast.walk(lifted):
            if hasattr(n, "lineno") and n is not lifted:
                n.end_lineno = getattr(n, "end_lineno", n.lineno)
        fn = self.lifted_function(lifted)
        ns = self.src.namespace
        ns.cells[fname] = types.CellType(fn)
        ns.lifted = {**getattr(ns, "lifted", {}), fname: free}

    def lifted_function(self, lifted):
        """A real function object for the lifted tree (the enclosing function's
        globals, defaults evaluated there), which `parse_function` reads back
        as the tree itself."""
        outer = self.src.func
        tree = gast.gast_to_ast(gast.Module(body=[lifted], type_ignores=[]))
        ast.fix_missing_locations(tree)
        scratch = {}
        exec(compile(tree, self.src.filename, "exec"), outer.__globals__, scratch)
        fn = scratch[lifted.name]
        fn.__qualname__ = f"{outer.__qualname__}.<locals>.{lifted.name}"
        fn.__s2sad_lifted__ = (lifted, self.src.filename, self.src.namespace)
        return fn

    def lifted_call(self, func, args, keywords):
        """`inner(x)` of a lifted function: `inner(x, c=c)`, the names it reads
        passed as they are now; None for any other call."""
        lifted = getattr(self.src.namespace, "lifted", {})
        if not isinstance(func, gast.Name) or func.id not in lifted:
            return None
        extra = [gast.keyword(arg=v, value=name(v)) for v in lifted[func.id]]
        return gast.Call(func=name(func.id), args=args, keywords=keywords + extra)

    def reduce_or_map(self, target, node):
        """`functools.reduce(f, xs[, start])` as a loop, `map(f, xs)` as a
        comprehension (of one sequence)."""
        what = _REDUCE_MAP.get(target)
        if what is None or node.keywords:
            return None
        if what == "map":
            if len(node.args) != 2:
                self.fail(self.origin, "`map` over several sequences is not supported",
                          "use a comprehension over `zip(...)`")
            item = self.namer.fresh("item")
            comp = gast.ListComp(elt=gast.Call(func=node.args[0], args=[name(item)], keywords=[]),
                                 generators=[gast.comprehension(
                                     target=gast.Name(id=item, ctx=gast.Store(), annotation=None,
                                                      type_comment=None),
                                     iter=node.args[1], ifs=[], is_async=0)])
            return self.expression(comp)
        if len(node.args) not in (2, 3):
            return None
        fn = self.atom(node.args[0])
        items = self.atom(node.args[1])
        acc, item = self.namer.fresh("acc"), self.namer.fresh("item")
        self.locals |= {acc, item}
        if len(node.args) == 3:
            start, rest = node.args[2], items
        else:
            start = gast.Subscript(value=items, slice=gast.Constant(value=0, kind=None), ctx=gast.Load())
            rest = gast.Subscript(value=items, slice=gast.Slice(
                lower=gast.Constant(value=1, kind=None), upper=None, step=None), ctx=gast.Load())
        store = lambda v: gast.Name(id=v, ctx=gast.Store(), annotation=None, type_comment=None)
        self.statement(gast.Assign(targets=[store(acc)], value=start, type_comment=None))
        loop = gast.For(target=store(item), iter=rest, body=[gast.Assign(
            targets=[store(acc)], value=gast.Call(func=fn, args=[name(acc), name(item)], keywords=[]),
            type_comment=None)], orelse=[], type_comment=None)
        for n in gast.walk(loop):
            gast.copy_location(n, self.origin)
        self.statement(loop)
        return name(acc)
