"""Normalising expressions: each operation bound to a temporary named after
what it holds (`xW`, `logits_minus_y`), its operands atoms; `a if c else b`
and `and`/`or` as branches; list comprehensions as loops."""

from __future__ import annotations

import builtins

import gast

from ..parse import MISSING
from ..trees import copy_node, name, store
from .core_form import is_atom


def _dict_iterated(gen):
    """The dict `p` of `for k, v in p.items()`, `for k in p.keys()` or `for k in p`, else None."""
    it, target = gen.iter, gen.target
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and not it.args \
            and isinstance(it.func.value, gast.Name):
        if it.func.attr == "items" and isinstance(target, gast.Tuple) and len(target.elts) == 2 \
                and all(isinstance(e, gast.Name) for e in target.elts):
            return it.func.value
        if it.func.attr == "keys" and isinstance(target, gast.Name):
            return it.func.value
        return None
    return it if isinstance(it, gast.Name) and isinstance(target, gast.Name) else None


class Expressions:
    """Expressions, mixed into the normaliser."""

    def atom(self, node, hint=None):
        value = self.expression(node)
        if is_atom(value):
            return value
        if hint == "out" and not isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
            hint = None
        return self.bind_temp(value, hint)

    def expression(self, node):
        """Lower an expression to a core value whose operands are atoms."""
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            self.unsupported_expression(node)
        return method(node)

    def unsupported_expression(self, node):
        what = type(node).__name__
        if isinstance(node, (gast.Yield, gast.YieldFrom)):
            self.fail(self.origin, "generators (`yield`) have no gradient",
                      "return the value instead (collect items in a list if needed)")
        if isinstance(node, gast.Await):
            self.fail(self.origin, "`await` is not supported", "differentiate a plain function")
        if isinstance(node, (gast.SetComp, gast.DictComp)):
            self.fail(self.origin, "set comprehensions, and dict comprehensions other than over a "
                      "literal tuple or list of constant keys, are not supported",
                      "write the dict out (`{\"W\": ..., \"b\": ...}`), or iterate over a literal "
                      "tuple of its keys")
        if isinstance(node, gast.NamedExpr):
            self.fail(self.origin, "assignment expressions (`:=`) are not supported",
                      "assign in a statement of its own")
        self.fail(self.origin, f"`{what}` expressions are not supported")

    def expr_IfExp(self, node):
        chosen = self.namer.fresh("chosen")
        self.locals.add(chosen)
        return self.choice(node, chosen)

    def expr_BoolOp(self, node):
        chosen = self.namer.fresh("both" if isinstance(node.op, gast.And) else "either")
        self.locals.add(chosen)
        return self.choice(node, chosen)

    def choice(self, node, result):
        """`a if c else b` and `a and b` evaluate only what Python evaluates:
        an `if` assigning `result` (`a and b` is `a` if `a` is false, else `b`)."""
        def assigning(value):
            saved, self.out = self.out, []
            self.emit(gast.Assign(targets=[store(result)], value=self.expression(value),
                                  type_comment=None))
            made, self.out = self.out, saved
            return made

        if isinstance(node, gast.IfExp):
            test = self.condition(node.test)
            self.emit(gast.If(test=test, body=assigning(node.body), orelse=assigning(node.orelse)))
            return name(result)
        self.out.extend(assigning(node.values[0]))
        for value in node.values[1:]:
            more = assigning(value)
            and_ = isinstance(node.op, gast.And)
            self.emit(gast.If(test=name(result), body=more if and_ else [],
                              orelse=[] if and_ else more))
        return name(result)

    def expr_ListComp(self, node):
        """`[f(x) for x in xs if c(x)]` is a loop appending to a new list; its
        names are the comprehension's own, so they get fresh ones."""
        renames = {}
        for gen in node.generators:
            if gen.is_async:
                self.fail(self.origin, "async comprehensions are not supported")
            for n in gast.walk(gen.target):
                if isinstance(n, gast.Name):
                    renames[n.id] = self.namer.fresh(n.id)
                    self.locals.add(renames[n.id])

        def renamed(tree):
            tree = copy_node(tree)
            for n in gast.walk(tree):
                if isinstance(n, gast.Name) and n.id in renames:
                    n.id = renames[n.id]
            return tree

        items = self.namer.fresh("items")
        self.locals.add(items)
        self.emit(gast.Assign(targets=[store(items)], value=gast.List(elts=[], ctx=gast.Load()),
                              type_comment=None))
        body = [gast.Expr(value=gast.Call(
            func=gast.Attribute(value=name(items), attr="append", ctx=gast.Load()),
            args=[renamed(node.elt)], keywords=[]))]
        for gen in reversed(node.generators):
            for cond in reversed(gen.ifs):
                body = [gast.If(test=renamed(cond), body=body, orelse=[])]
            # the first iterable is evaluated outside: its names are the function's
            iterable = gen.iter if gen is node.generators[0] else renamed(gen.iter)
            body = [gast.For(target=renamed(gen.target), iter=iterable, body=body, orelse=[],
                             type_comment=None)]
        for stmt in body:
            for n in gast.walk(stmt):
                if isinstance(n, gast.stmt):
                    n.s2sad_synthetic = True
                    gast.copy_location(n, self.origin)
        origin = self.origin
        self.statement(body[0])
        self.origin = origin
        return name(items)

    expr_GeneratorExp = expr_ListComp

    def expr_Name(self, node):
        return name(node.id)

    def expr_Constant(self, node):
        return gast.Constant(value=node.value, kind=None)

    def expr_JoinedStr(self, node):
        return node                        # an f-string: never differentiated

    def expr_Attribute(self, node):
        if self.is_global_path(node):
            node.s2sad_global = True
            return node
        return gast.Attribute(value=self.atom(node.value), attr=node.attr, ctx=gast.Load())

    def is_global_path(self, node):
        while isinstance(node, gast.Attribute):
            node = node.value
        return isinstance(node, gast.Name) and node.id not in self.locals

    def expr_BinOp(self, node):
        return gast.BinOp(left=self.atom(node.left), op=node.op, right=self.atom(node.right))

    def expr_UnaryOp(self, node):
        operand = self.atom(node.operand)
        if isinstance(operand, gast.Constant) and isinstance(node.op, (gast.USub, gast.UAdd)) \
                and isinstance(operand.value, (int, float)):
            value = -operand.value if isinstance(node.op, gast.USub) else operand.value
            return gast.Constant(value=value, kind=None)
        return gast.UnaryOp(op=node.op, operand=operand)

    def expr_Compare(self, node):
        return gast.Compare(left=self.atom(node.left), ops=node.ops,
                            comparators=[self.atom(c) for c in node.comparators])

    def expr_Tuple(self, node):
        if any(isinstance(e, gast.Starred) for e in node.elts):
            return self.starred_display(node, gast.Tuple, "tuple")
        elts = [self.atom(e) for e in node.elts]
        if all(isinstance(e, gast.Constant) for e in elts):     # `(1, 0)` stays a literal
            return gast.Constant(value=tuple(e.value for e in elts), kind=None)
        return gast.Tuple(elts=elts, ctx=gast.Load())

    def expr_List(self, node):
        if any(isinstance(e, gast.Starred) for e in node.elts):
            return self.starred_display(node, gast.List, "list")
        return gast.List(elts=[self.atom(e) for e in node.elts], ctx=gast.Load())

    def starred_display(self, node, display, copy):
        """`[*xs, y, *zs]` as `list(xs) + [y] + list(zs)` (a tuple's with
        `tuple(...)`): copies and concatenations, which the sweeps follow
        element by element."""
        pieces, run = [], []
        for e in node.elts:
            if isinstance(e, gast.Starred):
                if run:
                    pieces.append(self.atom(display(elts=run, ctx=gast.Load())))
                    run = []
                pieces.append(self.atom(gast.Call(func=name(copy), args=[e.value], keywords=[])))
            else:
                run.append(e)
        if run:
            pieces.append(self.atom(display(elts=run, ctx=gast.Load())))
        out = pieces[0]
        for piece in pieces[1:-1]:
            out = self.atom(gast.BinOp(left=out, op=gast.Add(), right=piece))
        return gast.BinOp(left=out, op=gast.Add(), right=pieces[-1]) if len(pieces) > 1 \
            else out

    def expr_DictComp(self, node):
        """`{k: f(p[k]) for k in ("W", "b")}`: the dict literal it makes, one
        entry per constant key.  Over a dict's items (`for k, v in p.items()`,
        `for k in p`), whose keys only its kind tells: a marker the analysis
        meets, where the comprehension is written out (`rewrites.DictKeys`)."""
        gen = node.generators[0] if len(node.generators) == 1 else None
        over = _dict_iterated(gen) if gen is not None and not gen.ifs and not gen.is_async else None
        if over is not None and over.id in self.locals:
            marker = gast.Call(func=name("dict"), args=[name(over.id)], keywords=[])
            marker.s2sad_dictcomp = node
            return marker
        if gen is None or gen.ifs or gen.is_async or not isinstance(gen.target, gast.Name) \
                or not isinstance(gen.iter, (gast.Tuple, gast.List)) \
                or not all(isinstance(e, gast.Constant) for e in gen.iter.elts):
            self.unsupported_expression(node)
        keys, values = [], []
        for key in gen.iter.elts:
            def put(tree, value=key.value):
                for n in gast.walk(tree):
                    for field, child in gast.iter_fields(n):
                        if isinstance(child, gast.Name) and child.id == gen.target.id:
                            setattr(n, field, gast.Constant(value=value, kind=None))
                        elif isinstance(child, list):
                            child[:] = [gast.Constant(value=value, kind=None)
                                        if isinstance(c, gast.Name) and c.id == gen.target.id else c
                                        for c in child]
                return tree
            wrapped = put(gast.Expr(value=copy_node(node.key)))
            keys.append(wrapped.value)
            values.append(put(gast.Expr(value=copy_node(node.value))).value)
        return self.expr_Dict(gast.Dict(keys=keys, values=values))

    def expr_Dict(self, node):
        if any(k is None for k in node.keys):
            self.fail(self.origin, "`**` unpacking inside a dict is not supported",
                      "build the dict key by key")
        return gast.Dict(keys=[self.atom(k) for k in node.keys],
                         values=[self.atom(v) for v in node.values])

    def expr_Subscript(self, node):
        return gast.Subscript(value=self.atom(node.value), slice=self.index(node.slice),
                              ctx=gast.Load())

    def index(self, node):
        if isinstance(node, gast.Slice):
            part = lambda p: None if p is None else self.atom(p)
            return gast.Slice(lower=part(node.lower), upper=part(node.upper), step=part(node.step))
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(e) for e in node.elts], ctx=gast.Load())
        return self.atom(node)

    def expr_Call(self, node):
        func = node.func
        if self.is_local_pop(node) and not getattr(node, "s2sad_as_statement", False):
            # `2.0 * xs.pop()`: the item into a name of its own, then the list without it
            popped = self.namer.fresh(f"{func.value.id}_item")
            self.locals.add(popped)
            self.assign([store(popped)], node)
            return name(popped)
        if isinstance(func, gast.Name) or (isinstance(func, gast.Attribute) and self.is_global_path(func)):
            if isinstance(func, gast.Attribute):
                func.s2sad_global = True
            target = self.src.namespace.resolve(func, self.locals)
            if target in (builtins.exec, builtins.eval, builtins.globals, builtins.locals,
                          builtins.vars) and target is not MISSING:
                self.fail(self.origin, f"`{target.__name__}` runs code or reads scopes that "
                                       "cannot be transformed",
                          "write the computation out as ordinary statements")
            func = name(func.id) if isinstance(func, gast.Name) else func
            if target is list and len(node.args) == 1 and not node.keywords \
                    and isinstance(node.args[0], (gast.GeneratorExp, gast.ListComp)):
                return self.expression(node.args[0])   # `list(f(x) for x in xs)`: the new list
            if target is tuple and len(node.args) == 1 and not node.keywords \
                    and isinstance(node.args[0], gast.GeneratorExp):     # `tuple(f(x) for x in xs)`
                return gast.Call(func=func, args=[self.atom(node.args[0])], keywords=[])
            if target is list and len(node.args) == 1 and not node.keywords \
                    and isinstance(node.args[0], gast.Call) \
                    and self.src.namespace.resolve(node.args[0].func, self.locals) is map:
                return self.expression(node.args[0])   # `list(map(f, xs))`: the comprehension
            written = self.reduce_or_map(target, node)
            if written is not None:
                return written
        elif isinstance(func, gast.Attribute):
            func = gast.Attribute(value=self.atom(func.value), attr=func.attr, ctx=gast.Load())
        else:
            func = self.atom(func)
        args = []                         # (`*parts`, `**options` are expanded by the analysis)
        for a in node.args:
            args.append(gast.Starred(value=self.atom(a.value), ctx=gast.Load())
                        if isinstance(a, gast.Starred) else self.atom(a))
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in node.keywords]
        return self.lifted_call(func, args, keywords) or gast.Call(func=func, args=args, keywords=keywords)
