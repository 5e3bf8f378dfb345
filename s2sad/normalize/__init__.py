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
comments and error messages."""

import builtins

import gast

from ..names import Namer
from ..parse import Source
from ..trees import name, store
from .assignments import Assignments
from .core_form import CoreFunction, append_to_fallthrough, drop_jumps, is_atom, may_jump
from .expressions import Expressions
from .inner import InnerFunctions, inner_function_names, outer_names
from .loops import Loops
from .statements import Statements


_CONTROL_FLOW_HINT = ("this version of s2sad differentiates straight-line code; "
                      "compute both sides and select with np.where, or move the "
                      "control flow outside the differentiated function")


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


class _Normalizer(Statements, Loops, Assignments, Expressions, InnerFunctions):
    """Rewrites one parsed function into core form."""

    def __init__(self, source):
        self.src = source
        fn = source.node
        self.fn = fn
        self.inner_names = inner_function_names(fn)      # lifted: functions, not locals
        self.outer = outer_names(fn)
        self.locals = _local_names(fn) - self.inner_names
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
            body = append_to_fallthrough(body, [self.made(gast.Assign(
                targets=[store(self.result)], value=gast.Constant(value=None, kind=None),
                type_comment=None))])
            final = self.made(gast.Return(value=name(self.result)))
        if self.returned is not None:
            self.origin = fn
            body = [self.made(gast.Assign(targets=[store(self.returned)],
                                          value=gast.Constant(value=False, kind=None),
                                          type_comment=None))] + body
        self.out = drop_jumps(body) + [final]
        posonly = getattr(fn.args, "posonlyargs", []) or []
        params = [a.id for a in posonly + fn.args.args + fn.args.kwonlyargs]
        node = gast.FunctionDef(name=fn.name, args=fn.args, body=self.out, decorator_list=[],
                                returns=None, type_comment=None, type_params=[])
        gast.copy_location(node, fn)
        return CoreFunction(self.src, node, params, self.locals, self.namer, self.user_names)

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
                      if isinstance(self.out[k], gast.If) and may_jump(self.out[k])), None)
            if k is not None:
                rest = self.block(stmts[i + 1:])
                for made in reversed(self.out[k:]):
                    jumps = isinstance(made, gast.If) and may_jump(made)
                    rest = append_to_fallthrough([made], rest) if jumps else [made] + rest
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
        what = type(s).__name__
        if isinstance(s, gast.AsyncFor):
            self.fail(s, "`async for` loops are not supported", "differentiate a plain function")
        if isinstance(s, (gast.Global, gast.Nonlocal)):
            word = "global" if isinstance(s, gast.Global) else "nonlocal"
            self.fail(s, f"`{word}` statements rebind state outside the function, which a "
                         "gradient cannot follow",
                      "pass the value in as an argument and return the new value")
        if isinstance(s, (gast.AsyncFunctionDef, gast.ClassDef)):
            what = "classes" if isinstance(s, gast.ClassDef) else "`async def`s"
            self.fail(s, f"{what} defined inside the differentiated function are not supported",
                      "define it at module level")
        if isinstance(s, (gast.Try, gast.Raise)):
            self.fail(s, f"`{what.lower()}` statements are not supported",
                      "move error handling outside the differentiated function")
        if type(s).__name__ == "Match":
            self.fail(s, "`match` statements are not supported",
                      "write it as `if`/`elif` on the subject (`if mode == \"sum\": ...`)")
        if isinstance(s, (gast.With, gast.AsyncWith)):
            self.fail(s, "`with` blocks are not supported (only `with s2sad.grad_of(h) as dh:`)",
                      "open the context outside the differentiated function and call it inside")
        self.fail(s, f"`{what}` statements are not supported", _CONTROL_FLOW_HINT)


__all__ = ["CoreFunction", "normalize", "is_atom"]
