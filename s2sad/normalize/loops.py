"""Normalising loops: `for` over a range, a sequence, `enumerate` or `zip`
becomes an index loop over a range; `while` computes its test before the
loop and again at the end of each trip; `break`, `continue` and `return`
inside become flags and structure."""

from __future__ import annotations

import gast

from ..parse import MISSING
from ..trees import copy_node, name, store
from .core_form import append_to_fallthrough, drop_jumps, is_atom, mark_breaks, returns_inside


def _is_call_of(lowering, node, fn):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and not node.keywords \
        and lowering.src.namespace.resolve(node.func, lowering.locals) is fn


def _names_bound(nodes):
    """Names the user's statements bind (assignments, loop targets, `+=`)."""
    return {n.id for node in nodes for n in gast.walk(node)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


class Loops:
    """`for` and `while`, mixed into the normaliser."""

    def after_loop(self, s, flag, orelse, had_return):
        """A loop's `else:` runs unless it broke; a `return` inside it leaves
        the enclosing loop, or the function, once this loop is done."""
        if flag is not None:
            origin = self.origin
            self.origin = s
            els = self.nested(orelse)
            self.origin = origin
            self.emit(gast.If(test=name(flag), body=[], orelse=els))
        if had_return:
            jump = gast.Break() if self.loops else gast.Return(value=name(self.result))
            self.emit(gast.If(test=name(self.returned), body=[self.made(jump)], orelse=[]))

    def loop_flags(self, s):
        """Before a loop: the flag its `break` sets when it has an `else:`."""
        flag = None
        if s.orelse:
            flag = self.namer.fresh("broke")
            self.locals.add(flag)
            self.emit(gast.Assign(targets=[store(flag)], value=gast.Constant(value=False, kind=None),
                                  type_comment=None))
        return flag

    def call_of(self, node):
        """The object a call `f(...)` by a plain name calls, else MISSING."""
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
            return self.src.namespace.resolve(node.func, self.locals)
        return MISSING

    def unreversed(self, node):
        """`reversed(range(a, b))` as `range(b - 1, a - 1, -1)` (a counter like
        any other), `reversed(xs)` as `xs[::-1]` (a list or an array, which
        has a length); anything else as it is."""
        if self.call_of(node) is not reversed or len(node.args) != 1 or node.keywords:
            return node
        inner = node.args[0]
        if _is_call_of(self, inner, range) and 1 <= len(inner.args) <= 2:
            start = inner.args[0] if len(inner.args) == 2 else gast.Constant(value=0, kind=None)
            minus = lambda e: gast.BinOp(left=e, op=gast.Sub(), right=gast.Constant(value=1, kind=None))
            return gast.Call(func=inner.func, args=[minus(inner.args[-1]), minus(start), gast.UnaryOp(
                op=gast.USub(), operand=gast.Constant(value=1, kind=None))], keywords=[])
        return gast.Subscript(value=inner, slice=gast.Slice(
            lower=None, upper=None, step=gast.Constant(value=-1, kind=None)), ctx=gast.Load())

    def enumerate_start(self, call):
        """`enumerate(xs, start)` / `enumerate(xs, start=k)`: k as an atom, or None."""
        if len(call.args) == 2:
            return self.atom(call.args[1])
        return next((self.atom(k.value) for k in call.keywords if k.arg == "start"), None)

    def nested(self, stmts):
        self.depth += 1
        try:
            return self.block(stmts)
        finally:
            self.depth -= 1

    def stmt_For(self, s):
        flag = self.loop_flags(s)
        origin = self.origin
        rebound = _names_bound([s.target] + s.body)

        def fixed(atom):
            """What the loop iterates is fixed when it starts: a name the loop
            rebinds is read once, into a name of its own."""
            if isinstance(atom, gast.Name) and atom.id in rebound:
                return self.bind_temp(atom, f"{atom.id}_start")
            return atom

        counter, bounds, prelude = self.trips(s, self.without_reversed(s.iter), fixed)
        self.loops += 1
        self.depth += 1
        try:
            saved, self.out = self.out, []
            for t, value in prelude:
                self.origin = origin
                if isinstance(t, gast.Name):
                    self.emit(gast.Assign(targets=[store(t.id)], value=value, type_comment=None))
                else:
                    self.bind(t, self.atom(value) if not is_atom(value) else value)
            head = self.out
            self.out = saved
            body = head + self.block(s.body)
        finally:
            self.loops -= 1
            self.depth -= 1
        self.origin = origin
        iter_ = gast.Call(func=name("range"), args=bounds, keywords=[])
        body = mark_breaks(drop_jumps(body, loop=True), flag)
        self.emit(gast.For(target=store(counter), iter=iter_, body=body, orelse=[], type_comment=None))
        self.after_loop(s, flag, s.orelse, returns_inside(body, self.returned))

    def without_reversed(self, iterable):
        """`reversed(xs)` as `xs[::-1]`, also inside `enumerate` and `zip`."""
        iterable = self.unreversed(iterable)
        if isinstance(iterable, gast.Call) and self.call_of(iterable) in (enumerate, zip):
            iterable = gast.Call(func=iterable.func, keywords=iterable.keywords,
                                 args=[self.unreversed(a) for a in iterable.args])
            if iterable.args and _is_call_of(self, iterable.args[0], zip):
                inner = iterable.args[0]            # `enumerate(zip(reversed(xs), ys))`
                iterable.args[0] = gast.Call(func=inner.func, keywords=inner.keywords,
                                             args=[self.unreversed(a) for a in inner.args])
        return iterable

    def trips(self, s, iterable, fixed):
        """`for target in iterable` as a loop over `range(*bounds)`: (counter,
        bounds, prelude), the prelude binding the user's targets each trip as
        (target, value) pairs."""
        target, func = s.target, self.call_of(iterable)
        prelude = []
        if func is range and isinstance(target, gast.Name) and not iterable.keywords:
            return target.id, [fixed(self.atom(a)) for a in iterable.args], prelude
        if func is enumerate and isinstance(target, gast.Tuple) and len(target.elts) == 2 \
                and 1 <= len(iterable.args) <= 2 and _is_call_of(
                    self, iterable.args[0], zip) and isinstance(target.elts[1], gast.Tuple) \
                and len(target.elts[1].elts) == len(iterable.args[0].args):
            # `for i, (a, b) in enumerate(zip(xs, ys), start)`: zip's loop, i its counter
            seqs = [fixed(self.atom(a)) for a in iterable.args[0].args]
            start = self.enumerate_start(iterable)
            counter, bounds = self.zip_loop(seqs)
            prelude.append((target.elts[0], gast.BinOp(left=name(counter), op=gast.Add(), right=start)
                            if start is not None else name(counter)))
            for t, q in zip(target.elts[1].elts, seqs):
                prelude.append((t, gast.Subscript(value=q, slice=name(counter), ctx=gast.Load())))
        elif func is enumerate and isinstance(target, gast.Tuple) and len(target.elts) == 2 \
                and 1 <= len(iterable.args) <= 2:
            seq = fixed(self.atom(iterable.args[0]))
            start = self.enumerate_start(iterable)
            counter, bounds = self.index_loop(seq)
            index = gast.BinOp(left=name(counter), op=gast.Add(), right=start) \
                if start is not None else name(counter)
            prelude.append((target.elts[0], index))
            prelude.append((target.elts[1], gast.Subscript(value=seq, slice=name(counter),
                                                             ctx=gast.Load())))
        elif func is zip and isinstance(target, gast.Tuple) \
                and len(target.elts) == len(iterable.args) and not iterable.keywords:
            seqs = [fixed(self.atom(a)) for a in iterable.args]
            counter, bounds = self.zip_loop(seqs)
            for t, q in zip(target.elts, seqs):
                prelude.append((t, gast.Subscript(value=q, slice=name(counter), ctx=gast.Load())))
        elif isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Attribute) \
                and iterable.func.attr in ("items", "keys", "values") and not iterable.args \
                and not getattr(iterable.func, "s2sad_global", False) \
                and isinstance(iterable.func.value, gast.Name) and iterable.func.value.id in self.locals:
            return self.dict_trips(s, iterable)
        else:
            seq = fixed(self.atom(iterable))
            counter, bounds = self.index_loop(seq)
            item = gast.Subscript(value=seq, slice=name(counter), ctx=gast.Load())
            item.s2sad_iteration = True
            prelude.append((target, item))
        return counter, bounds, prelude

    def dict_trips(self, s, iterable):
        """`for k, v in d.items()` (or `.keys()`, `.values()`): over the keys, in order."""
        target, what = s.target, iterable.func.attr
        mapping = name(iterable.func.value.id)
        keys = self.bind_temp(gast.Call(func=name("list"), args=[mapping], keywords=[]), "keys")
        counter, bounds = self.index_loop(keys)
        key = gast.Subscript(value=keys, slice=name(counter), ctx=gast.Load())
        if what == "items":
            if not (isinstance(target, gast.Tuple) and len(target.elts) == 2):
                self.fail(s, "unpack a dict's items into two names", "`for k, v in d.items():`")
            key_target, value_target = target.elts
        else:
            key_target, value_target = (target, None) if what == "keys" else (None, target)
        if key_target is None or not isinstance(key_target, gast.Name):
            key_target = store(self.fresh_counter())
        prelude = [(key_target, key)]
        if value_target is not None:
            prelude.append((value_target, gast.Subscript(
                value=copy_node(mapping), slice=name(key_target.id), ctx=gast.Load())))
        return counter, bounds, prelude

    def zip_loop(self, seqs):
        """A counter over the shortest of the sequences."""
        lengths = [self.bind_temp(gast.Call(func=name("len"), args=[q], keywords=[]), "n")
                   for q in seqs]
        n = lengths[0] if len(lengths) == 1 else self.bind_temp(
            gast.Call(func=name("min"), args=lengths, keywords=[]), "n")
        return self.fresh_counter(), [n]

    def index_loop(self, seq):
        n = self.bind_temp(gast.Call(func=name("len"), args=[seq], keywords=[]), "n")
        return self.fresh_counter(), [n]

    def fresh_counter(self):
        counter = self.namer.fresh("k")
        self.locals.add(counter)
        return counter

    def stmt_While(self, s):
        flag = self.loop_flags(s)
        origin = self.origin
        test = self.condition(s.test)
        self.loops += 1
        self.depth += 1
        try:
            body = self.block(s.body)
            tail = []
            if isinstance(test, gast.Name) and not is_atom(s.test):
                self.origin = origin      # the test again, at the end of every trip
                saved, self.out = self.out, []
                self.emit(gast.Assign(targets=[store(test.id)], value=self.expression(s.test),
                                      type_comment=None))
                tail, self.out = self.out, saved
        finally:
            self.loops -= 1
            self.depth -= 1
        self.origin = origin
        body = append_to_fallthrough(body, tail, continues=True)
        body = mark_breaks(drop_jumps(body, loop=True), flag)
        self.emit(gast.While(test=test, body=body, orelse=[]))
        self.after_loop(s, flag, s.orelse, returns_inside(body, self.returned))

    def condition(self, node):
        """The test of an `if` or `while` as an atom (`and`/`or` short-circuit)."""
        value = self.expression(node)
        if is_atom(value):
            return value
        return self.bind_temp(value, "cond")
