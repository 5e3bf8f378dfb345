"""Stage 7: print generated functions as Python source and compile them.

The source is registered in `linecache` under a synthetic file name, so
tracebacks, `pdb` and `inspect.getsource` show the generated code.  The
function runs against the user function's own `__globals__` (module data
is read at call time, as the user's function reads it); everything else
it needs (runtime helpers, rules, other generated functions, the user's
closure cells) reaches it as closure cells: the source is wrapped, as a
tree, in a factory whose parameters are those names, and the inner code
object is given the right cells.  Nothing is written into user modules.
"""

from __future__ import annotations

import ast
import itertools
import linecache
import types
from dataclasses import dataclass, field

import gast

from .trees import Comment, header_text, unparse

_counter = itertools.count(1)


@dataclass
class FunctionSpec:
    name: str
    params: str                  # the parameter list as text ("W1, b1, x, y")
    body: list                   # gast statements and Comments
    globals: dict
    cells: dict = field(default_factory=dict)        # name -> object
    user_cells: dict = field(default_factory=dict)   # name -> the user's cell
    defaults: tuple = None
    kwdefaults: dict = None
    origin: str = ""             # what it was generated from, for the file name
    source: object = None        # the user's `parse.Source` it was generated from (errors)


def source_text(spec: FunctionSpec) -> str:
    lines = [f"def {spec.name}({spec.params}):"]
    _block_lines(spec.body, "    ", lines)
    return "\n".join(lines) + "\n"


def _block_lines(items, indent, lines):
    """Print a block; branches and loops are printed here (not by ast.unparse)
    so the comments inside them survive."""
    start = len(lines)
    for item in items:
        if isinstance(item, Comment):
            lines.append(f"{indent}# {item.text}")
        elif isinstance(item, (gast.If, gast.For, gast.While)):
            orelse = getattr(item, "orelse", None)
            if isinstance(item, gast.If) and orelse and not any(
                    not isinstance(x, Comment) for x in item.body):
                # `if c: pass else: ...` reads better as `if not c: ...`
                test = unparse(item.test)
                test = test if isinstance(item.test, (gast.Name, gast.Call, gast.Attribute,
                                                      gast.Subscript)) else f"({test})"
                lines.append(f"{indent}if not {test}:")
                _block_lines(orelse, indent + "    ", lines)
                continue
            lines.append(indent + header_text(item))
            _block_lines(item.body, indent + "    ", lines)
            if orelse:
                lines.append(indent + "else:")
                _block_lines(orelse, indent + "    ", lines)
        else:
            lines.extend(indent + line for line in unparse(item).splitlines())
    if not any(not line.strip().startswith("#") for line in lines[start:]):
        lines.append(indent + "pass")


def compile_function(spec: FunctionSpec) -> tuple[types.FunctionType, str]:
    """Compile a spec into a real function; returns (function, source)."""
    text = source_text(spec)
    filename = f"<s2sad {spec.name} of {spec.origin} #{next(_counter)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    tree = ast.parse(text, filename)
    fn_def = tree.body[0]
    fn_def.args.defaults = []
    fn_def.args.kw_defaults = [None] * len(fn_def.args.kwonlyargs)
    outer = list(spec.cells) + [n for n in spec.user_cells if n not in spec.cells]
    factory = ast.FunctionDef(
        name="__s2sad_factory",
        args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=n) for n in outer], vararg=None,
                           kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=[fn_def, ast.Return(value=ast.Name(id=spec.name, ctx=ast.Load()))],
        decorator_list=[], returns=None, type_params=[])
    module = ast.Module(body=[factory], type_ignores=[])
    ast.fix_missing_locations(module)
    code = compile(module, filename, "exec")
    factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inner = next(c for c in factory_code.co_consts
                 if isinstance(c, types.CodeType) and c.co_name == spec.name)
    closure = tuple(spec.user_cells[n] if n in spec.user_cells and n not in spec.cells
                    else types.CellType(spec.cells[n]) for n in inner.co_freevars)
    fn = types.FunctionType(inner, spec.globals, spec.name, spec.defaults, closure)
    if spec.kwdefaults:
        fn.__kwdefaults__ = dict(spec.kwdefaults)
    fn.__s2sad_source__ = text
    fn.__s2sad_user__ = spec.source
    return fn, text
