"""Normalising statements other than loops and assignments: `if`, `return`,
`break`, `continue`, `assert`, a call for its effect, `with s2sad.grad_of`."""

from __future__ import annotations

import importlib
import types

import gast
import numpy as np

from ..hooks import grad_of
from .. import runtime
from ..parse import MISSING
from ..trees import copy_node, name, store
from .core_form import same_object


class Statements:
    """Branches, jumps and simple statements, mixed into the normaliser."""

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
            name(watched)] + [name(r) for r in reads], keywords=[]))
        inside = {id(n) for n in gast.walk(s)}
        alone = not any(isinstance(n, gast.Name) and n.id in {target} | assigned
                        and id(n) not in inside for n in gast.walk(self.fn))
        marker.s2sad_hook = (target, copy_node(s.body), reads, sorted(assigned), alone)
        self.emit(marker)

    def stmt_Pass(self, s):
        pass

    def stmt_Delete(self, s):
        pass                              # freeing a name changes no value

    def stmt_Import(self, s):
        """`import scipy.special as sp` inside: the module is imported now and
        its name resolved like a global (modules are imported once, so where
        the statement stands changes nothing)."""
        for alias in s.names:
            module = self.imported(s, alias.name)
            if alias.asname is None:      # `import a.b` binds `a`
                module = self.imported(s, alias.name.split(".")[0])
            self.bind_import(alias.asname or alias.name.split(".")[0], module)

    def stmt_ImportFrom(self, s):
        package = self.src.func.__module__ if s.level else None
        base = "." * (s.level or 0) + (s.module or "")
        module = self.imported(s, base, package)
        for alias in s.names:             # (`import *` is a SyntaxError inside a function)
            value = getattr(module, alias.name, MISSING)
            if value is MISSING:
                value = self.imported(s, f"{base}.{alias.name}", package)
            self.bind_import(alias.asname or alias.name, value)

    def imported(self, s, module_name, package=None):
        try:
            return importlib.import_module(module_name, package)
        except ImportError as exc:
            self.fail(s, f"the import inside the function fails: {exc}", "check the module name")

    def bind_import(self, name_, value):
        if name_ in self.locals:
            self.fail(self.origin, f"`{name_}` is imported inside the function and also assigned there",
                      "give one of them another name")
        self.src.namespace.cells[name_] = types.CellType(value)

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
                if getattr(func, "s2sad_global", False) or isinstance(func, gast.Name) else MISSING
            if target is not MISSING and same_object(target, np.fill_diagonal) \
                    and getattr(self.src.func, "__s2sad_source__", None) is not None \
                    and len(call.args) == 2 and isinstance(call.args[0], gast.Name) \
                    and call.args[0].id in self.locals:
                # generated code transformed again (a trace's rule fills the diagonal of
                # an array of its own): an update, as np.add.at is
                self.update_call(call, call.args[0].id)
                return
            self.check_mutation(call)
            adds_at = target is runtime.add_at or target is not MISSING and same_object(target, np.add.at)
            if adds_at and call.args and isinstance(call.args[0], gast.Name) \
                    and call.args[0].id in self.locals:
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
        self.emit(gast.Assign(targets=[store(self.result)], value=value, type_comment=None))
        if self.loops:                    # leave the loop; after it, leave the function
            self.emit(gast.Assign(targets=[store(self.returned_flag())],
                                  value=gast.Constant(value=True, kind=None), type_comment=None))
            self.emit(gast.Break())
            return
        self.emit(gast.Return(value=name(self.result)))

    def returned_flag(self):
        if self.returned is None:
            self.returned = self.namer.fresh("returned")
            self.locals.add(self.returned)
        return self.returned

    def stmt_If(self, s):
        test = self.condition(s.test)
        origin = self.origin
        body = self.nested(s.body)
        self.origin = origin
        orelse = self.nested(s.orelse)
        self.origin = origin
        self.emit(gast.If(test=test, body=body, orelse=orelse))

    def stmt_Break(self, s):
        if not self.loops:
            self.fail(s, "`break` outside a loop")
        self.emit(gast.Break())

    def stmt_Continue(self, s):
        if not self.loops:
            self.fail(s, "`continue` outside a loop")
        self.emit(gast.Continue())
