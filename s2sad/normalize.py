"""Stage 2: rewrite a function into the small core language the transforms use.

The core language is A-normal form: one operation per statement, every
operand an *atom* (a local name, a constant, or a dotted path to a global
such as `np.pi`).  Core statements are

    name = value                     value: atom, a op b, -a, f(a, k=b), a.attr,
                                     a[index], (a, b), [a, b], {k: a}, a < b
    n, m = atom                      tuple unpacking
    f(a)                             a call for its effect
    assert atom
    return atom                      the last statement, and only there
    if atom: block else: block
    for name in range(atoms): block  every loop counts over a range
    while atom: block                the test's statements end the block too
    break                            only as the last statement of a branch

Early exits become structure: the statements after an `if` whose branch
ends in `break`, `continue` or `return` move into the branches that fall
through, so a jump is always the last statement of its block; `return`
inside a branch assigns the result, which the one final `return` returns.
`for x in xs`, `enumerate` and `zip` become index loops over a range.

`a += b` on a name becomes `a = a + b` (flagged `s2sad_augmented`, so the
analysis can refuse it where the old array has another name); multiple
targets and nested unpacking become several statements.  Every core
statement carries `s2sad_origin`, the user statement it came from, for
comments and error messages.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

import gast
import numpy as np

from .hooks import grad_of
from .names import Namer, hint_for
from .parse import MISSING, Source
from .trees import copy_node

_CONTROL_FLOW_HINT = ("this version of s2sad differentiates straight-line code; "
                      "compute both sides and select with np.where, or move the "
                      "control flow outside the differentiated function")


@dataclass
class CoreFunction:
    """A function in core form, with what later stages need to know of it."""
    source: Source
    node: gast.FunctionDef       # body in core form
    params: list                 # positional-or-keyword, then keyword-only names
    local_names: set             # the user's local names and the temporaries
    namer: Namer
    user_names: frozenset = frozenset()   # the user's own local names

    @property
    def temporaries(self):
        return self.local_names - self.user_names

    @property
    def body(self):
        return self.node.body


def normalize(source: Source) -> CoreFunction:
    """Stage 2: the core form of a parsed function."""
    return _Normalizer(source).run()


def _local_names(fn):
    names = {a.id for a in fn.args.args + fn.args.kwonlyargs + getattr(fn.args, "posonlyargs", [])}
    for extra in (fn.args.vararg, fn.args.kwarg):
        if extra is not None:
            names.add(extra.id)
    for node in gast.walk(fn):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            names.add(node.id)
    return names


def _name(id_, ctx=None):
    return gast.Name(id=id_, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def _store(id_):
    return _name(id_, gast.Store())


def _literal_pair(target, value):
    """A tuple/list target matched by a tuple/list display of the same length."""
    return (isinstance(target, (gast.Tuple, gast.List)) and isinstance(value, (gast.Tuple, gast.List))
            and len(target.elts) == len(value.elts)
            and not any(isinstance(e, gast.Starred) for e in target.elts + value.elts))


_JUMPS = (gast.Break, gast.Continue, gast.Return)

_MUTATING_METHODS = {
    "fill": "make a new array: `np.full_like(x, value)`",
    "sort": "use `np.sort(x)`, which returns a sorted copy",
    "resize": "use `np.resize(x, shape)`",
    "put": "assign items instead (`x[i] = v`)",
    "itemset": "assign items instead (`x[i] = v`)",
    "partition": "use `np.partition(x, k)`",
}
_MUTATING_FUNCTIONS = (np.copyto, np.put, np.place, np.putmask, np.fill_diagonal)


def _same_object(a, b):
    try:
        return a is b or a == b
    except Exception:
        return False


def _may_jump(stmt):
    """Does a branch of this `if` end in a jump (after restructuring, jumps
    only ever end a block)?"""
    return isinstance(stmt, gast.If) and any(
        branch and (isinstance(branch[-1], _JUMPS) or _may_jump(branch[-1]))
        for branch in (stmt.body, stmt.orelse))


def _append_to_fallthrough(block, rest, continues=False):
    """`block` followed by `rest`, where `rest` runs only on the paths
    through `block` that do not jump (and, with `continues`, on those that
    `continue`: a `while` loop's test runs after a `continue`)."""
    if block and continues and isinstance(block[-1], gast.Continue):
        return block[:-1] + rest
    if block and isinstance(block[-1], _JUMPS):
        return block
    if block and _may_jump(block[-1]):
        last = copy_node(block[-1])
        last.body = _append_to_fallthrough(last.body, [copy_node(r) for r in rest], continues)
        last.orelse = _append_to_fallthrough(last.orelse, [copy_node(r) for r in rest], continues)
        return block[:-1] + [last]
    return block + rest


def _drop_jumps(block, loop=False):
    """Jumps that only say "this path is done": `continue` at the end of a loop
    body's branch, `return` at the end of a function's branch (`break` stays)."""
    done = gast.Continue if loop else gast.Return
    if block and isinstance(block[-1], done):
        block = block[:-1]
    if block and isinstance(block[-1], gast.If):
        last = block[-1]
        last.body = _drop_jumps(last.body, loop)
        last.orelse = _drop_jumps(last.orelse, loop)
    return block


def _is_call_of(lowering, node, fn):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and not node.keywords \
        and lowering.src.namespace.resolve(node.func, lowering.locals) is fn


def _names_bound(nodes):
    """Names the user's statements bind (assignments, loop targets, `+=`)."""
    return {n.id for node in nodes for n in gast.walk(node)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _mark_breaks(block, flag):
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
            stmt.body = _mark_breaks(stmt.body, flag)
            stmt.orelse = _mark_breaks(stmt.orelse, flag)
        out.append(stmt)
    return out


def _returns_inside(block, flag):
    """Does this loop body set the returned-flag (a `return` inside it)?"""
    return flag is not None and any(
        isinstance(n, gast.Name) and n.id == flag and isinstance(n.ctx, gast.Store)
        for stmt in block for n in gast.walk(stmt))


def is_atom(node):
    return isinstance(node, (gast.Name, gast.Constant)) or getattr(node, "s2sad_global", False)


class _Normalizer:
    def __init__(self, source):
        self.src = source
        fn = source.node
        self.fn = fn
        self.locals = _local_names(fn)
        self.user_names = frozenset(self.locals)
        taken = {n.id for n in gast.walk(fn) if isinstance(n, gast.Name)}
        self.namer = Namer(taken | set(dir(builtins)))
        self.out = []
        self.origin = fn
        self.depth = 0                    # how deep in branches and loops

    def run(self):
        fn = self.fn
        ignored = fn.args.kwarg is not None and not any(   # `**_`: keywords the body ignores
            isinstance(n, gast.Name) and n.id == fn.args.kwarg.id for s in fn.body
            for n in gast.walk(s))
        if fn.args.vararg is not None or fn.args.kwarg is not None and not ignored:
            raise self.src.error(fn, "functions with *args or **kwargs parameters are not supported",
                                 hint="name each parameter (pass a list or dict to group them)")
        self.result = None                # the name early returns assign
        self.returned = None              # the flag a `return` inside a loop sets
        self.loops = 0
        body = self.block(fn.body)
        if self.result is None:
            if body and isinstance(body[-1], gast.Return):
                final = body.pop()
            else:
                self.origin = fn.body[-1] if fn.body else fn
                final = self.made(gast.Return(value=gast.Constant(value=None, kind=None)))
        else:                             # every path assigns the result (None if it falls off)
            if body and isinstance(body[-1], gast.Return):
                body.pop()
            self.origin = fn.body[-1] if fn.body else fn
            body = _append_to_fallthrough(body, [self.made(gast.Assign(
                targets=[_store(self.result)], value=gast.Constant(value=None, kind=None),
                type_comment=None))])
            final = self.made(gast.Return(value=_name(self.result)))
        if self.returned is not None:
            self.origin = fn
            body = [self.made(gast.Assign(targets=[_store(self.returned)],
                                          value=gast.Constant(value=False, kind=None),
                                          type_comment=None))] + body
        self.out = _drop_jumps(body) + [final]
        posonly = getattr(fn.args, "posonlyargs", []) or []
        params = [a.id for a in posonly + fn.args.args + fn.args.kwonlyargs]
        node = gast.FunctionDef(name=fn.name, args=fn.args, body=self.out, decorator_list=[],
                                returns=None, type_comment=None, type_params=[])
        gast.copy_location(node, fn)
        return CoreFunction(self.src, node, params, self.locals, self.namer, self.user_names)

    # ---- statements -------------------------------------------------------

    def made(self, stmt):
        stmt.s2sad_origin = self.origin
        gast.copy_location(stmt, self.origin)
        return stmt

    def emit(self, stmt):
        self.out.append(self.made(stmt))

    def block(self, stmts):
        """Core statements of a block, with early exits made structure."""
        saved, self.out = self.out, []
        for i, stmt in enumerate(stmts):
            if not getattr(stmt, "s2sad_synthetic", False):
                self.origin = stmt
            start = len(self.out)
            self.statement(stmt)
            if isinstance(stmt, (gast.Return, gast.Break, gast.Continue)):
                break                     # later statements never run
            # the first `if` this statement became that may jump (a loop's `else:`
            # that returns, then the test of a `return` inside the loop): what
            # follows it runs only where it does not
            k = next((k for k in range(start, len(self.out))
                      if isinstance(self.out[k], gast.If) and _may_jump(self.out[k])), None)
            if k is not None:
                rest = self.block(stmts[i + 1:])
                for made in reversed(self.out[k:]):
                    may_jump = isinstance(made, gast.If) and _may_jump(made)
                    rest = _append_to_fallthrough([made], rest) if may_jump else [made] + rest
                self.out[k:] = rest
                break
        out, self.out = self.out, saved
        return out

    def fail(self, node, message, hint=None):
        raise self.src.error(node, message, hint)

    def statement(self, s):
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            self.unsupported_statement(s)
        else:
            method(s)

    def unsupported_statement(self, s):
        name = type(s).__name__
        if isinstance(s, gast.AsyncFor):
            self.fail(s, "`async for` loops are not supported", "differentiate a plain function")
        if isinstance(s, (gast.Global, gast.Nonlocal)):
            word = "global" if isinstance(s, gast.Global) else "nonlocal"
            self.fail(s, f"`{word}` statements rebind state outside the function, which a "
                         "gradient cannot follow",
                      "pass the value in as an argument and return the new value")
        if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            self.fail(s, "definitions inside the differentiated function are not supported",
                      "define the helper outside this function and call it; s2sad "
                      "differentiates calls to your own functions")
        if isinstance(s, (gast.Import, gast.ImportFrom)):
            self.fail(s, "imports inside the differentiated function are not supported",
                      "move the import to module level")
        if isinstance(s, (gast.Try, gast.Raise)):
            self.fail(s, f"`{name.lower()}` statements are not supported",
                      "move error handling outside the differentiated function")
        if isinstance(s, (gast.With, gast.AsyncWith)):
            self.fail(s, "`with` blocks are not supported (only `with s2sad.grad_of(h) as dh:`)",
                      "open the context outside the differentiated function and call it inside")
        self.fail(s, f"`{name}` statements are not supported", _CONTROL_FLOW_HINT)

    def stmt_With(self, s):
        """`with s2sad.grad_of(h) as dh: ...`: a marker the reverse sweep expands
        into the block (run on h's adjoint); every other `with` is refused."""
        item = s.items[0] if len(s.items) == 1 else None
        call = item.context_expr if item is not None else None
        if not (isinstance(call, gast.Call) and (isinstance(call.func, gast.Name)
                                                 or self.is_global_path(call.func))
                and self.src.namespace.resolve(call.func, self.locals) is grad_of):
            self.unsupported_statement(s)
        if len(call.args) != 1 or call.keywords or not isinstance(call.args[0], gast.Name) \
                or call.args[0].id not in self.locals or not isinstance(item.optional_vars, gast.Name):
            self.fail(s, "s2sad.grad_of takes one local name and binds its adjoint to a name",
                      "write `with s2sad.grad_of(h) as dh:` with h a variable of this function")
        for n in gast.walk(gast.Module(body=s.body, type_ignores=[])):
            if isinstance(n, (gast.Return, gast.Break, gast.Continue, gast.Yield, gast.YieldFrom,
                              gast.FunctionDef, gast.Lambda, gast.Global, gast.Nonlocal)):
                self.fail(n, "a grad_of block cannot leave early, define functions or rebind "
                             "outer names", "keep the block to statements on the adjoint")
        target, watched = item.optional_vars.id, call.args[0].id
        assigned = {n.id for n in gast.walk(gast.Module(body=s.body, type_ignores=[]))
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)} - {target}
        if watched in assigned:
            self.fail(s, f"the grad_of block assigns {watched!r}, the value it watches",
                      "change only the adjoint in the block")
        reads = sorted({n.id for n in gast.walk(gast.Module(body=s.body, type_ignores=[]))
                        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
                        and n.id in self.locals} - {target, watched} - assigned)
        func = copy_node(call.func)
        if isinstance(func, gast.Attribute):
            func.s2sad_global = True
        marker = gast.Expr(value=gast.Call(func=func, args=[
            _name(watched)] + [_name(r) for r in reads], keywords=[]))
        inside = {id(n) for n in gast.walk(s)}
        alone = not any(isinstance(n, gast.Name) and n.id in {target} | assigned
                        and id(n) not in inside for n in gast.walk(self.fn))
        marker.s2sad_hook = (target, copy_node(s.body), reads, sorted(assigned), alone)
        self.emit(marker)

    def stmt_Pass(self, s):
        pass

    def stmt_Delete(self, s):
        pass                              # freeing a name changes no value

    def stmt_Expr(self, s):
        value = s.value
        if isinstance(value, (gast.Yield, gast.YieldFrom, gast.Await)):
            self.expression(value)        # raises
        if isinstance(value, gast.Call) and self.is_local_pop(value):
            value.s2sad_as_statement = True       # `xs.pop()` for its effect: no item is kept
        if isinstance(value, gast.Call):
            call = self.expression(value)
            func = call.func
            target = self.src.namespace.resolve(func, self.locals) \
                if getattr(func, "s2sad_global", False) else MISSING
            if target is not MISSING and _same_object(target, np.fill_diagonal) \
                    and getattr(self.src.func, "__s2sad_source__", None) is not None \
                    and len(call.args) == 2 and isinstance(call.args[0], gast.Name) \
                    and call.args[0].id in self.locals:
                # generated code transformed again (a trace's rule fills the diagonal of
                # an array of its own): an update, as np.add.at is
                self.update_call(call, call.args[0].id)
                return
            self.check_mutation(call)
            if target is not MISSING and _same_object(target, np.add.at) and call.args \
                    and isinstance(call.args[0], gast.Name) and call.args[0].id in self.locals:
                self.update_call(call, call.args[0].id)
                return
            if self.is_local_pop(call):
                self.update_call(call, func.value.id)     # `xs.pop()`, `xs.pop(i)` for its effect
                return
            if isinstance(func, gast.Attribute) and func.attr == "append" and len(call.args) == 1 \
                    and not call.keywords and not getattr(func, "s2sad_global", False) \
                    and isinstance(func.value, gast.Name) and func.value.id in self.locals:
                self.update_call(call, func.value.id)     # `xs.append(v)` on a list of ours
                return
            self.emit(gast.Expr(value=call))
        elif not isinstance(value, (gast.Constant, gast.Name)):
            self.atom(value)              # evaluated for errors; kept only if used

    def stmt_Assert(self, s):
        test = self.atom(s.test)
        msg = self.atom(s.msg) if s.msg is not None else None
        self.emit(gast.Assert(test=test, msg=msg))

    def stmt_Return(self, s):
        value = gast.Constant(value=None, kind=None) if s.value is None else self.atom(s.value, "out")
        if not self.depth and self.result is None:
            self.emit(gast.Return(value=value))
            return
        if self.result is None:
            self.result = self.namer.fresh("result")
            self.locals.add(self.result)
        self.emit(gast.Assign(targets=[_store(self.result)], value=value, type_comment=None))
        if self.loops:                    # leave the loop; after it, leave the function
            self.emit(gast.Assign(targets=[_store(self.returned_flag())],
                                  value=gast.Constant(value=True, kind=None), type_comment=None))
            self.emit(gast.Break())
            return
        self.emit(gast.Return(value=_name(self.result)))

    def returned_flag(self):
        if self.returned is None:
            self.returned = self.namer.fresh("returned")
            self.locals.add(self.returned)
        return self.returned

    def after_loop(self, s, flag, orelse, had_return):
        """A loop's `else:` runs unless it broke; a `return` inside it leaves
        the enclosing loop, or the function, once this loop is done."""
        if flag is not None:
            origin = self.origin
            self.origin = s
            els = self.nested(orelse)
            self.origin = origin
            self.emit(gast.If(test=_name(flag), body=[], orelse=els))
        if had_return:
            jump = gast.Break() if self.loops else gast.Return(value=_name(self.result))
            self.emit(gast.If(test=_name(self.returned), body=[self.made(jump)], orelse=[]))

    def loop_flags(self, s):
        """Before a loop: the flag its `break` sets when it has an `else:`."""
        flag = None
        if s.orelse:
            flag = self.namer.fresh("broke")
            self.locals.add(flag)
            self.emit(gast.Assign(targets=[_store(flag)], value=gast.Constant(value=False, kind=None),
                                  type_comment=None))
        return flag

    def stmt_Break(self, s):
        if not self.loops:
            self.fail(s, "`break` outside a loop")
        self.emit(gast.Break())

    def stmt_Continue(self, s):
        if not self.loops:
            self.fail(s, "`continue` outside a loop")
        self.emit(gast.Continue())

    def stmt_If(self, s):
        test = self.condition(s.test)
        origin = self.origin
        body = self.nested(s.body)
        self.origin = origin
        orelse = self.nested(s.orelse)
        self.origin = origin
        self.emit(gast.If(test=test, body=body, orelse=orelse))

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
        target, iterable = s.target, s.iter
        prelude = []                      # per trip: bind the user's targets
        iterable = self.unreversed(iterable)
        if isinstance(iterable, gast.Call) and self.call_of(iterable) in (enumerate, zip):
            iterable = gast.Call(func=iterable.func, keywords=iterable.keywords,
                                 args=[self.unreversed(a) for a in iterable.args])
            if iterable.args and _is_call_of(self, iterable.args[0], zip):
                inner = iterable.args[0]            # `enumerate(zip(reversed(xs), ys))`
                iterable.args[0] = gast.Call(func=inner.func, keywords=inner.keywords,
                                             args=[self.unreversed(a) for a in inner.args])
        func = self.call_of(iterable)
        rebound = _names_bound([s.target] + s.body)

        def fixed(atom):
            """What the loop iterates is fixed when it starts: a name the loop
            rebinds is read once, into a name of its own."""
            if isinstance(atom, gast.Name) and atom.id in rebound:
                return self.bind_temp(atom, f"{atom.id}_start")
            return atom

        if func is range and isinstance(target, gast.Name) and not iterable.keywords:
            counter = target.id
            bounds = [fixed(self.atom(a)) for a in iterable.args]
        elif func is enumerate and isinstance(target, gast.Tuple) and len(target.elts) == 2 \
                and 1 <= len(iterable.args) <= 2 and _is_call_of(
                    self, iterable.args[0], zip) and isinstance(target.elts[1], gast.Tuple) \
                and len(target.elts[1].elts) == len(iterable.args[0].args):
            # `for i, (a, b) in enumerate(zip(xs, ys), start)`: zip's loop, i its counter
            seqs = [fixed(self.atom(a)) for a in iterable.args[0].args]
            start = self.enumerate_start(iterable)
            counter, bounds = self.zip_loop(seqs)
            prelude.append((target.elts[0], gast.BinOp(left=_name(counter), op=gast.Add(), right=start)
                            if start is not None else _name(counter)))
            for t, q in zip(target.elts[1].elts, seqs):
                prelude.append((t, gast.Subscript(value=q, slice=_name(counter), ctx=gast.Load())))
        elif func is enumerate and isinstance(target, gast.Tuple) and len(target.elts) == 2 \
                and 1 <= len(iterable.args) <= 2:
            seq = fixed(self.atom(iterable.args[0]))
            start = self.enumerate_start(iterable)
            counter, bounds = self.index_loop(seq)
            index = gast.BinOp(left=_name(counter), op=gast.Add(), right=start) \
                if start is not None else _name(counter)
            prelude.append((target.elts[0], index))
            prelude.append((target.elts[1], gast.Subscript(value=seq, slice=_name(counter),
                                                             ctx=gast.Load())))
        elif func is zip and isinstance(target, gast.Tuple) \
                and len(target.elts) == len(iterable.args) and not iterable.keywords:
            seqs = [fixed(self.atom(a)) for a in iterable.args]
            counter, bounds = self.zip_loop(seqs)
            for t, q in zip(target.elts, seqs):
                prelude.append((t, gast.Subscript(value=q, slice=_name(counter), ctx=gast.Load())))
        elif isinstance(iterable, gast.Call) and isinstance(iterable.func, gast.Attribute) \
                and iterable.func.attr in ("items", "keys", "values") and not iterable.args \
                and not getattr(iterable.func, "s2sad_global", False) \
                and isinstance(iterable.func.value, gast.Name) and iterable.func.value.id in self.locals:
            # `for k, v in d.items()`: over the keys, in order
            mapping = _name(iterable.func.value.id)
            keys = self.bind_temp(gast.Call(func=_name("list"), args=[mapping], keywords=[]), "keys")
            counter, bounds = self.index_loop(keys)
            key = gast.Subscript(value=keys, slice=_name(counter), ctx=gast.Load())
            what = iterable.func.attr
            if what == "items":
                if not (isinstance(target, gast.Tuple) and len(target.elts) == 2):
                    self.fail(s, "unpack a dict's items into two names", "`for k, v in d.items():`")
                key_target, value_target = target.elts
            else:
                key_target, value_target = (target, None) if what == "keys" else (None, target)
            if key_target is None or not isinstance(key_target, gast.Name):
                key_target = _store(self.fresh_counter())
            prelude.append((key_target, key))
            if value_target is not None:
                prelude.append((value_target, gast.Subscript(
                    value=copy_node(mapping), slice=_name(key_target.id), ctx=gast.Load())))
        else:
            seq = fixed(self.atom(iterable))
            counter, bounds = self.index_loop(seq)
            item = gast.Subscript(value=seq, slice=_name(counter), ctx=gast.Load())
            item.s2sad_iteration = True
            prelude.append((target, item))
        self.loops += 1
        self.depth += 1
        try:
            saved, self.out = self.out, []
            for t, value in prelude:
                self.origin = origin
                if isinstance(t, gast.Name):
                    self.emit(gast.Assign(targets=[_store(t.id)], value=value, type_comment=None))
                else:
                    self.bind(t, self.atom(value) if not is_atom(value) else value)
            head = self.out
            self.out = saved
            body = head + self.block(s.body)
        finally:
            self.loops -= 1
            self.depth -= 1
        self.origin = origin
        iter_ = gast.Call(func=_name("range"), args=bounds, keywords=[])
        body = _mark_breaks(_drop_jumps(body, loop=True), flag)
        self.emit(gast.For(target=_store(counter), iter=iter_, body=body, orelse=[], type_comment=None))
        self.after_loop(s, flag, s.orelse, _returns_inside(body, self.returned))

    def zip_loop(self, seqs):
        """A counter over the shortest of the sequences."""
        lengths = [self.bind_temp(gast.Call(func=_name("len"), args=[q], keywords=[]), "n")
                   for q in seqs]
        n = lengths[0] if len(lengths) == 1 else self.bind_temp(
            gast.Call(func=_name("min"), args=lengths, keywords=[]), "n")
        return self.fresh_counter(), [n]

    def index_loop(self, seq):
        n = self.bind_temp(gast.Call(func=_name("len"), args=[seq], keywords=[]), "n")
        return self.fresh_counter(), [n]

    def fresh_counter(self):
        name = self.namer.fresh("k")
        self.locals.add(name)
        return name

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
                self.emit(gast.Assign(targets=[_store(test.id)], value=self.expression(s.test),
                                      type_comment=None))
                tail, self.out = self.out, saved
        finally:
            self.loops -= 1
            self.depth -= 1
        self.origin = origin
        body = _append_to_fallthrough(body, tail, continues=True)
        body = _mark_breaks(_drop_jumps(body, loop=True), flag)
        self.emit(gast.While(test=test, body=body, orelse=[]))
        self.after_loop(s, flag, s.orelse, _returns_inside(body, self.returned))

    def condition(self, node):
        """The test of an `if` or `while` as an atom (`and`/`or` short-circuit)."""
        value = self.expression(node)
        if is_atom(value):
            return value
        return self.bind_temp(value, "cond")

    def stmt_AnnAssign(self, s):
        if s.value is not None:
            self.assign([s.target], s.value)

    def stmt_Assign(self, s):
        self.assign(s.targets, s.value)

    def stmt_AugAssign(self, s):
        target = s.target
        if isinstance(target, gast.Subscript):
            # `x[i] += v` is `x[i] = x[i] + v` (repeated indices: the last write wins)
            base, index = self.update_target(target)
            item = self.bind_temp(gast.Subscript(value=_name(base), slice=index, ctx=gast.Load()),
                                  f"{base}_item")
            self.out[-1].s2sad_item_read = True          # read before the update, used once
            total = self.bind_temp(gast.BinOp(left=item, op=s.op, right=self.atom(s.value)),
                                   f"{base}_item_new")
            self.update(base, copy_node(index), total)
            return
        if not isinstance(target, gast.Name):
            self.fail(s, "in-place updates of attributes are not supported",
                      "keep the value in a variable of its own")
        value = gast.BinOp(left=_name(target.id), op=s.op, right=self.atom(s.value))
        stmt = gast.Assign(targets=[_store(target.id)], value=value, type_comment=None)
        stmt.s2sad_augmented = True
        self.emit(stmt)

    def is_local_pop(self, call):
        """`xs.pop()` or `xs.pop(i)` on a list of the function's own."""
        func = call.func
        return isinstance(func, gast.Attribute) and func.attr == "pop" and len(call.args) <= 1 \
            and not call.keywords and isinstance(func.value, gast.Name) \
            and func.value.id in self.locals and not getattr(func, "s2sad_global", False)

    def assign(self, targets, value):
        first = targets[0]
        if isinstance(first, gast.Subscript) and len(targets) == 1:
            self.in_place(first, self.atom(value))
            return
        if isinstance(first, gast.Name) and len(targets) == 1 and isinstance(value, gast.Call) \
                and self.is_local_pop(value):
            # `v = xs.pop(i)`: the item (the last without `i`), then the list without it
            seq = value.func.value.id
            index = self.atom(value.args[0]) if value.args else gast.Constant(value=-1, kind=None)
            self.emit(gast.Assign(targets=[_store(first.id)], value=gast.Subscript(
                value=_name(seq), slice=index, ctx=gast.Load()), type_comment=None))
            pop = gast.Call(func=gast.Attribute(value=_name(seq), attr="pop", ctx=gast.Load()),
                            args=[copy_node(index)] if value.args else [], keywords=[])
            self.stmt_Expr(gast.Expr(value=pop))
            return
        if isinstance(first, gast.Name) and isinstance(value, (gast.IfExp, gast.BoolOp)):
            self.choice(value, first.id)          # `z = a if c else b`: z in each branch
            source = _name(first.id)
        elif isinstance(first, gast.Name):
            self.emit(gast.Assign(targets=[_store(first.id)], value=self.expression(value),
                                  type_comment=None))
            source = _name(first.id)
        else:
            simple = self.unpack_literal(first, value) if len(targets) == 1 else False
            if simple:
                return
            source = self.atom(value)
            self.bind(first, source)
        for target in targets[1:]:
            self.bind(target, source)

    def unpack_literal(self, target, value):
        """`a, (b, c) = x, (y, z)` element by element, without tuples in between.

        Python evaluates the whole right side before assigning: a name that an
        earlier target overwrites (`a, b = b, a`) is copied first."""
        if not _literal_pair(target, value):
            return False
        steps = []

        def flatten(t, v):
            if _literal_pair(t, v):
                for te, ve in zip(t.elts, v.elts):
                    flatten(te, ve)
            else:
                steps.append((t, self.atom(v)))
        flatten(target, value)
        assigned = set()
        for i, (t, a) in enumerate(steps):
            if isinstance(a, gast.Name) and a.id in assigned:
                steps[i] = (t, self.bind_temp(a, f"{a.id}_prev"))
            assigned |= {n.id for n in gast.walk(t) if isinstance(n, gast.Name)}
        for t, a in steps:
            self.bind(t, a)
        return True

    def bind(self, target, atom):
        """Assign an atom to a target: a name, or (nested) tuple of names."""
        if isinstance(target, gast.Name):
            self.emit(gast.Assign(targets=[_store(target.id)], value=atom, type_comment=None))
            return
        if isinstance(target, (gast.Tuple, gast.List)):
            names, nested = [], []
            for elt in target.elts:
                if isinstance(elt, gast.Name):
                    names.append(_store(elt.id))
                elif isinstance(elt, (gast.Tuple, gast.List)):
                    temp = self.namer.fresh("part")
                    self.locals.add(temp)
                    names.append(_store(temp))
                    nested.append((elt, _name(temp)))
                elif isinstance(elt, gast.Starred):
                    self.fail(self.origin, "starred assignment targets are not supported",
                              "unpack by index, e.g. `a, rest = t[0], t[1:]`")
                else:
                    self.in_place(elt)
            self.emit(gast.Assign(targets=[gast.Tuple(elts=names, ctx=gast.Store())], value=atom,
                                  type_comment=None))
            for elt, temp in nested:
                self.bind(elt, temp)
            return
        self.in_place(target, atom)

    def in_place(self, target, atom=None):
        if not isinstance(target, gast.Subscript) or atom is None:
            what = "items" if isinstance(target, gast.Subscript) else "attributes"
            self.fail(self.origin, f"assigning to {what} inside an unpacking is not supported",
                      "assign to a name first, then store it with its own statement")
        base, index = self.update_target(target)
        self.update(base, index, atom)

    def update_target(self, target):
        """`x[i, j]` as a target: the name updated, and the index in atoms."""
        if not isinstance(target.value, gast.Name):
            self.fail(self.origin, "only items of a named array can be assigned "
                                   "(`x[i][j] = v` updates a temporary)",
                      "index once: `x[i, j] = v`")
        if target.value.id not in self.locals:
            self.fail(self.origin, f"`{target.value.id}` is not a local variable: updating it "
                                   "would change state outside the function",
                      "copy it into a local array first (`a = np.array(...)`)")
        return target.value.id, self.index(target.slice)

    def check_mutation(self, call):
        """Calls that change an array in place would go unseen by the gradient."""
        func = call.func
        args = call.args
        named = [a for a in args[:1] if isinstance(a, gast.Name) and a.id in self.locals]
        if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False) \
                and func.attr in _MUTATING_METHODS and isinstance(func.value, gast.Name):
            self.fail(self.origin, f"`.{func.attr}()` changes `{func.value.id}` in place, which "
                                   "s2sad does not differentiate",
                      _MUTATING_METHODS[func.attr])
        target = self.src.namespace.resolve(func, self.locals) \
            if getattr(func, "s2sad_global", False) or isinstance(func, gast.Name) else MISSING
        name = getattr(target, "__name__", "")
        if named and (any(_same_object(target, f) for f in _MUTATING_FUNCTIONS)
                      or name == "at" and not _same_object(target, np.add.at)):
            self.fail(self.origin, f"this call changes `{named[0].id}` in place, which s2sad "
                                   "does not differentiate",
                      "assign items instead (`x[i] = v`), or use np.add.at to sum into an array")
        for k in call.keywords:
            if k.arg == "out":
                self.fail(self.origin, "`out=` writes into an existing array, which s2sad does "
                                       "not differentiate", "assign the result to a name")

    def update_call(self, call, base):
        """`np.add.at(x, i, v)`, `xs.append(v)`: x changes in place (copied first,
        as for `x[i] = v`)."""
        copy = gast.Assign(targets=[_store(base)], value=gast.Call(
            func=gast.Attribute(value=_name(base), attr="copy", ctx=gast.Load()), args=[],
            keywords=[]), type_comment=None)
        copy.s2sad_copy_on_write = True
        self.emit(copy)
        stmt = gast.Expr(value=call)
        stmt.s2sad_update = True
        self.emit(stmt)

    def update(self, base, index, atom):
        """`x[i] = v`: the array is copied first (`x = x.copy()`), so every value
        the gradient needs stays as it was and the caller's array is never
        changed; the analysis drops the copy where nothing else reads the old
        array."""
        copy = gast.Assign(targets=[_store(base)], value=gast.Call(
            func=gast.Attribute(value=_name(base), attr="copy", ctx=gast.Load()), args=[],
            keywords=[]), type_comment=None)
        copy.s2sad_copy_on_write = True
        self.emit(copy)
        stmt = gast.Assign(targets=[gast.Subscript(value=_name(base), slice=index, ctx=gast.Store())],
                           value=atom, type_comment=None)
        stmt.s2sad_update = True
        self.emit(stmt)

    # ---- expressions ------------------------------------------------------

    def bind_temp(self, value, hint=None):
        word = hint or hint_for(value)
        name = self.namer.fresh(word)
        self.locals.add(name)
        self.emit(gast.Assign(targets=[_store(name)], value=value, type_comment=None))
        atom = _name(name)
        atom.s2sad_word = word       # `x.shape[0]` of a second `x_shape1`: `x_shape_0`
        return atom

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
        name = type(node).__name__
        if isinstance(node, (gast.Yield, gast.YieldFrom)):
            self.fail(self.origin, "generators (`yield`) have no gradient",
                      "return the value instead (collect items in a list if needed)")
        if isinstance(node, gast.Await):
            self.fail(self.origin, "`await` is not supported", "differentiate a plain function")
        if isinstance(node, (gast.SetComp, gast.DictComp)):
            self.fail(self.origin, "set and dict comprehensions are not supported",
                      "build a list comprehension, or the dict with a loop")
        if isinstance(node, gast.Lambda):
            self.fail(self.origin, "lambdas inside the differentiated function are not supported",
                      "define the function outside and call it")
        if isinstance(node, gast.NamedExpr):
            self.fail(self.origin, "assignment expressions (`:=`) are not supported",
                      "assign in a statement of its own")
        self.fail(self.origin, f"`{name}` expressions are not supported")

    def expr_IfExp(self, node):
        name = self.namer.fresh("chosen")
        self.locals.add(name)
        return self.choice(node, name)

    def expr_BoolOp(self, node):
        name = self.namer.fresh("both" if isinstance(node.op, gast.And) else "either")
        self.locals.add(name)
        return self.choice(node, name)

    def choice(self, node, result):
        """`a if c else b` and `a and b` evaluate only what Python evaluates:
        an `if` assigning `result` (`a and b` is `a` if `a` is false, else `b`)."""
        def assigning(value):
            saved, self.out = self.out, []
            self.emit(gast.Assign(targets=[_store(result)], value=self.expression(value),
                                  type_comment=None))
            made, self.out = self.out, saved
            return made

        if isinstance(node, gast.IfExp):
            test = self.condition(node.test)
            self.emit(gast.If(test=test, body=assigning(node.body), orelse=assigning(node.orelse)))
            return _name(result)
        self.out.extend(assigning(node.values[0]))
        for value in node.values[1:]:
            more = assigning(value)
            and_ = isinstance(node.op, gast.And)
            self.emit(gast.If(test=_name(result), body=more if and_ else [],
                              orelse=[] if and_ else more))
        return _name(result)

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
        self.emit(gast.Assign(targets=[_store(items)], value=gast.List(elts=[], ctx=gast.Load()),
                              type_comment=None))
        body = [gast.Expr(value=gast.Call(
            func=gast.Attribute(value=_name(items), attr="append", ctx=gast.Load()),
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
        return _name(items)

    expr_GeneratorExp = expr_ListComp     # `sum(f(x) for x in xs)`: the list, made at once

    def expr_Name(self, node):
        return _name(node.id)

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
        elts = [self.item(e) for e in node.elts]
        if all(isinstance(e, gast.Constant) for e in elts):     # `(1, 0)` stays a literal
            return gast.Constant(value=tuple(e.value for e in elts), kind=None)
        return gast.Tuple(elts=elts, ctx=gast.Load())

    def expr_List(self, node):
        return gast.List(elts=[self.item(e) for e in node.elts], ctx=gast.Load())

    def item(self, node):
        if isinstance(node, gast.Starred):
            self.fail(self.origin, "`*` unpacking inside a tuple or list is not supported",
                      "build the sequence with + or list methods outside the gradient")
        return self.atom(node)

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
            self.assign([_store(popped)], node)
            return _name(popped)
        if isinstance(func, gast.Name) or (isinstance(func, gast.Attribute) and self.is_global_path(func)):
            if isinstance(func, gast.Attribute):
                func.s2sad_global = True
            target = self.src.namespace.resolve(func, self.locals)
            if target in (builtins.exec, builtins.eval, builtins.globals, builtins.locals,
                          builtins.vars) and target is not MISSING:
                self.fail(self.origin, f"`{target.__name__}` runs code or reads scopes that "
                                       "cannot be transformed",
                          "write the computation out as ordinary statements")
            func = _name(func.id) if isinstance(func, gast.Name) else func
            if target is list and len(node.args) == 1 and not node.keywords \
                    and isinstance(node.args[0], (gast.GeneratorExp, gast.ListComp)):
                return self.expression(node.args[0])   # `list(f(x) for x in xs)`: the new list
        elif isinstance(func, gast.Attribute):
            func = gast.Attribute(value=self.atom(func.value), attr=func.attr, ctx=gast.Load())
        else:
            func = self.atom(func)
        args = []
        for a in node.args:
            if isinstance(a, gast.Starred):
                self.fail(self.origin, "calls with `*args` are not supported",
                          "pass the arguments one by one")
            args.append(self.atom(a))
        keywords = []
        for k in node.keywords:
            if k.arg is None:
                self.fail(self.origin, "calls with `**kwargs` are not supported",
                          "pass the keyword arguments by name")
            keywords.append(gast.keyword(arg=k.arg, value=self.atom(k.value)))
        return gast.Call(func=func, args=args, keywords=keywords)
