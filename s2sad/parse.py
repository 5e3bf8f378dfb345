"""Stage 1: read a function's source into a gast tree and resolve its names.

The tree keeps the user's file name and absolute line numbers, so every
later error can point at the user's line.  Free names are resolved to the
objects they name *now* (closure cells, then module globals, then builtins):
the transform dispatches on objects, never on spelling, so
`from numpy import exp as e` and `import numpy as xp` both work.  Resolution
picks rules; it freezes no data: generated code reads the user's globals and
closure cells when it runs.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import textwrap
import types
from typing import Callable

import gast
import numpy as np

from .errors import TransformError
from .guards import MISSING, RECORDING, note


class Namespace:
    """The free names a function can see: closure cells, globals, builtins."""

    def __init__(self, func):
        self.globals = func.__globals__
        code = func.__code__
        self.cells = dict(zip(code.co_freevars, func.__closure__ or ()))
        b = self.globals.get("__builtins__", builtins)
        self.builtins = b if isinstance(b, dict) else vars(b)
        # s2sad's own modules (the rules' templates) do not change under a build
        self.recorded = not str(self.globals.get("__name__", "")).startswith("s2sad.")

    def lookup(self, name):
        if name in self.cells:
            cell = self.cells[name]
            value = _cell_value(cell)
            if RECORDING.stack and self.recorded:
                note(cell, name, value)
            return value
        if name in self.globals:
            value = self.globals[name]
            if RECORDING.stack and self.recorded:
                note(self.globals, name, value)
            return value
        return self.builtins.get(name, MISSING)

    def resolve(self, node, local_names=()):
        """The object a (dotted) name expression refers to, or MISSING.

        Attributes are only followed through modules and classes, so
        resolving never runs a property of the user's data.
        """
        if isinstance(node, gast.Name):
            if node.id in local_names:
                return MISSING
            return self.lookup(node.id)
        if isinstance(node, gast.Attribute):
            base = self.resolve(node.value, local_names)
            # (a property's `fget`, a class method's `__func__`: what a method call
            # written against its class names, analyze/methods.py)
            if base is MISSING or not isinstance(base, (types.ModuleType, type, np.ufunc, property,
                                                         types.MethodType)):
                return MISSING
            value = getattr(base, node.attr, MISSING)
            if RECORDING.stack and self.recorded and _users(base):   # `helpers.act`, `Model.forward`
                note(vars(base) if isinstance(base, types.ModuleType) else base, node.attr, value)
            return value
        return MISSING

    def names_bound_to(self, obj):
        """Names under which this namespace already sees `obj`."""
        found = [n for n, c in self.cells.items() if _cell_value(c) is obj]
        found += [n for n, v in self.globals.items() if v is obj]
        name = getattr(obj, "__name__", None)
        if isinstance(name, str) and getattr(builtins, name, None) is obj \
                and name not in self.cells and name not in self.globals:
            found.append(name)                       # `zip`, `len`, `float`: not shadowed
        return found


def _users(obj):
    """A module or class of the user's (not NumPy's, SciPy's, ...): its
    attributes may be redefined under a build."""
    from .rules import LIBRARY_PREFIXES
    name = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)
    return isinstance(obj, (types.ModuleType, type)) and isinstance(name, str) \
        and name.split(".")[0] not in LIBRARY_PREFIXES


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return MISSING


class Source:
    """A user function's parsed source: tree, file, lines and namespace."""

    def __init__(self, func, node, filename):
        self.func = func
        self.node = node                  # gast.FunctionDef, absolute line numbers
        self.filename = filename
        self.name = func.__name__ if func.__name__ != "<lambda>" else "lambda"
        self.namespace = Namespace(func)

    def line(self, lineno):
        return linecache.getline(self.filename, lineno).rstrip("\n") if lineno else ""

    def statement_text(self, stmt):
        """The user's statement as one line of text, for comments."""
        return user_text(stmt)

    def error(self, node, message, hint=None):
        lineno = getattr(node, "lineno", None) if not isinstance(node, int) else node
        return TransformError(message, function=self.name, filename=self.filename,
                              lineno=lineno, line=self.line(lineno), hint=hint)


def user_text(stmt):
    """One line of text for a user statement (the header of a compound one)."""
    text = ast.unparse(gast.gast_to_ast(stmt))
    return text.splitlines()[0] if text else ""


def parse_function(func: Callable) -> Source:
    """Parse `func` into a `Source` whose tree is a plain FunctionDef."""
    if isinstance(func, types.MethodType):
        func = func.__func__
    lifted = getattr(func, "__s2sad_lifted__", None)
    if lifted is not None:                # a function defined inside another (normalize/inner.py)
        from .trees import copy_node
        node, filename, namespace = lifted
        source = Source(func, copy_node(node), filename)
        source.namespace = namespace
        return source
    if not isinstance(func, types.FunctionType):
        raise TransformError(
            f"{func!r} is not a Python function, so it has no source to transform",
            hint="pass a function defined with `def` or `lambda`, or register an "
                 "adjoint for it with @s2sad.adjoint")
    code = func.__code__
    filename = code.co_filename
    name = func.__name__
    try:
        lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError):
        raise TransformError(
            "its source code is not available (functions typed at the plain "
            "interactive prompt have none)",
            function=name, filename=filename, lineno=code.co_firstlineno,
            hint="define the function in a file, a module or a notebook cell") from None
    if name == "<lambda>":
        node = _find_lambda(func, filename, lines, first)
    else:
        node = _parse_block("".join(lines), first, filename, name)
    node.decorator_list = []
    return Source(func, node, filename)


def _parse_block(text, first, filename, name):
    try:
        tree = gast.parse(textwrap.dedent(text))
    except SyntaxError as exc:
        raise TransformError(f"its source could not be parsed ({exc.msg})", function=name,
                             filename=filename, lineno=first) from None
    _shift_lines(tree, first - 1)
    node = tree.body[0]
    if isinstance(node, gast.AsyncFunctionDef):
        lineno = node.lineno
        raise TransformError(f"`{name}` is an `async def`: calling it makes a coroutine, not a "
                             f"number, so it has no gradient", function=name, filename=filename,
                             lineno=lineno, line=linecache.getline(filename, lineno).rstrip("\n"),
                             hint="differentiate a plain `def` that computes the value, and await "
                                  "around it")
    if not isinstance(node, gast.FunctionDef):
        raise TransformError("its source is not a `def` statement", function=name,
                             filename=filename, lineno=first)
    return node


def _find_lambda(func, filename, lines, first):
    """A lambda's source: parse its whole file and pick the lambda on its line."""
    code = func.__code__
    file_lines = linecache.getlines(filename)
    candidates = []
    for text, offset in (("".join(file_lines), 0), (textwrap.dedent("".join(lines)), first - 1)):
        try:
            tree = gast.parse(text)
        except SyntaxError:
            continue
        _shift_lines(tree, offset)
        params = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
        for node in gast.walk(tree):
            if isinstance(node, gast.Lambda) and node.lineno == code.co_firstlineno:
                names = [a.id for a in node.args.args + node.args.kwonlyargs]
                if names == params:
                    candidates.append(node)
        if candidates:
            break
    if not candidates:
        raise TransformError("the lambda's source could not be found", function="lambda",
                             filename=filename, lineno=code.co_firstlineno,
                             hint="define the function with `def`")
    if len(candidates) > 1:               # several on the line: the one whose body the code spans
        columns = [c for line, _, c, end in code.co_positions()
                   if line == code.co_firstlineno and c is not None and (c, end) != (0, 0)]
        start = min(columns) if columns else None
        candidates = [c for c in candidates if start is not None
                      and c.body.col_offset <= start < getattr(c.body, "end_col_offset", start + 1)]
        if len(candidates) != 1:
            raise TransformError("several lambdas with the same parameters stand on this line, and "
                                 "s2sad cannot tell which one this is", function="lambda",
                                 filename=filename, lineno=code.co_firstlineno,
                                 line=linecache.getline(filename, code.co_firstlineno).rstrip("\n"),
                                 hint="put each lambda on a line of its own, or define it with `def`")
    lam = candidates[0]
    ret = gast.Return(value=lam.body)
    gast.copy_location(ret, lam.body)
    node = gast.FunctionDef(name="lambda", args=lam.args, body=[ret], decorator_list=[],
                            returns=None, type_comment=None, type_params=[])
    gast.copy_location(node, lam)
    node.end_lineno = getattr(lam, "end_lineno", lam.lineno)
    return node


def _shift_lines(tree, offset):
    for node in gast.walk(tree):
        if hasattr(node, "lineno") and node.lineno is not None:
            node.lineno += offset
        if getattr(node, "end_lineno", None) is not None:
            node.end_lineno += offset


def bind_arguments(func, args, keywords):
    """`inspect.signature(func).bind(...)` of a call to a function s2sad reads
    from source, whose `**kwargs` parameter (allowed only where the body never
    reads it: a rule's `**_`) takes nothing: an extra keyword is a TypeError."""
    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    return sig.replace(parameters=params).bind(*args, **keywords)
