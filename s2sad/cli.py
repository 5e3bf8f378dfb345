"""The `s2sad` command line (also `python -m s2sad`).

    s2sad show model.py:loss --args "np.ones((4, 3)), np.ones(4)" [--wrt W,b] [--mode fwd]
    s2sad export model.py:loss --args "..." [--wrt ...] -o dloss.py

`show` prints the generated source; `export` writes it as a module of its own
that runs without the transformer (see `export_source`).  A gradient is
generated for the *kinds* of its arguments (scalar or array, ndim, dtype), so
both take example arguments: `--args` is evaluated as a call's argument list
(keywords too) with `np` and the target module's globals in scope; without
it the examples come from the function's defaults and its `float`/`int`/`bool`
annotations.  Errors are one line (plus the user's source line), exit code 2.
"""

import argparse
import builtins
import importlib
import importlib.util
import inspect
import io
import os
import re
import symtable
import sys
import textwrap
import tokenize
import traceback
import types

import numpy as np

from .api import grad, jvp, source
from .build import Later
from .errors import TransformError


class CliError(Exception):
    """An error reported as one line (and the user's source line, if any)."""

    def __init__(self, message, line=None):
        super().__init__(message)
        self.line = line


def main(argv=None):
    """Run the command line; returns the exit code (0, or 2 for an error)."""
    args = _parser().parse_args(argv)
    try:
        module, func = load_target(args.target)
        call_args, call_kwargs = example_arguments(func, args.args, module)
        wrt = _wrt(args.wrt)
        df = (grad if args.mode == "rev" else jvp)(func, wrt=wrt)
        text = source(df, *call_args, **call_kwargs)
        if args.command == "export":
            command = "s2sad " + " ".join(map(_quote, sys.argv[1:] if argv is None else argv))
            _write(args.output, export_source(df.__s2sad__.latest.function, module, args.output,
                                              func.__name__, _describe(func, call_args,
                                                                       call_kwargs), command))
            return 0
        print(_highlight(text) if args.color == "always" or args.color == "auto"
              and sys.stdout.isatty() else text, end="")
        return 0
    except TransformError as exc:          # it names the function, file and line already
        print(exc, file=sys.stderr)
    except (CliError, TypeError, ValueError) as exc:
        print(f"s2sad: error: {exc}", file=sys.stderr)
        if getattr(exc, "line", None):
            print(f"    {exc.line}", file=sys.stderr)
    return 2


def _write(path, text):
    try:
        with open(path, "w") as fh:
            fh.write(text)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def _parser():
    parser = argparse.ArgumentParser(prog="s2sad", description="Generated gradients of NumPy code.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("show", "print the generated source"),
                       ("export", "write the gradient as a module that needs no transformer")):
        cmd = commands.add_parser(name, help=text, description=text)
        cmd.add_argument("target", help="FILE.py:FUNCTION (or module.name:FUNCTION)")
        cmd.add_argument("--wrt", default="0",
                         help="argument names or indices, comma-separated (default 0)")
        cmd.add_argument("--mode", choices=("rev", "fwd"), default="rev",
                         help="rev: s2sad.grad (default); fwd: s2sad.jvp")
        cmd.add_argument("--args", help='example arguments, e.g. "np.ones(3), 2.0" (numpy as np)')
        if name == "show":
            cmd.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                             help="highlight with pygments (auto: on a terminal)")
        else:
            cmd.add_argument("-o", "--output", required=True, help="the module file to write")
    return parser


# ---- the target and its example arguments ----------------------------------------------


def load_target(target):
    """(module, function) for `path/to/file.py:name` or `package.module:name`."""
    where, _, qualname = target.rpartition(":")
    if not where or not qualname:
        raise CliError(f"expected FILE.py:FUNCTION, not {target!r}")
    if where.endswith(".py") or os.sep in where or "/" in where:
        module = _import_file(where)
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            raise CliError(f"importing {where} failed: {type(exc).__name__}: {exc}",
                           f"{frames[-1].filename}:{frames[-1].lineno}: {frames[-1].line}"
                           if frames and not isinstance(exc, ModuleNotFoundError) else None) \
                from None
    obj = module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            functions = sorted(n for n, v in vars(module).items() if inspect.isfunction(v)
                               and v.__module__ == module.__name__)
            raise CliError(f"{where} has no function {qualname!r}"
                           + (f" (it has: {', '.join(functions)})" if functions else ""))
        obj = getattr(obj, part)
    if not (inspect.isfunction(obj) or inspect.ismethod(obj)):
        raise CliError(f"{where}:{qualname} is a {type(obj).__name__}, not a Python function "
                       f"(s2sad differentiates functions from their source)")
    return module, obj


def _import_file(path):
    """Import a file as `python file.py` would see it (its folder first on
    sys.path), under its file name so that `export` can import it again."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise CliError(f"no such file: {path}")
    name = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    known = sys.modules.get(name)
    if known is not None:
        if os.path.abspath(getattr(known, "__file__", "") or "") == path:
            return known
        raise CliError(f"{path}: a module named {name!r} is already imported; rename the file")
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise CliError(f"importing {path} failed: {type(exc).__name__}: {exc}",
                       _user_line(exc, path)) from None
    return module


def _user_line(exc, path):
    """`file:line: text` of the last traceback line in the user's file."""
    if isinstance(exc, SyntaxError) and exc.filename == path:
        return f"{path}:{exc.lineno}: {(exc.text or '').strip()}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return f"{path}:{frames[-1].lineno}: {frames[-1].line}" if frames else None


def example_arguments(func, text, module):
    """(args, kwargs): `--args` evaluated as a call's arguments, else defaults
    and scalar annotations (an array's annotation does not give its ndim)."""
    if text is not None:
        namespace = dict(vars(module))
        namespace.setdefault("np", np)
        namespace.setdefault("numpy", np)
        namespace["__s2sad_call"] = lambda *a, **k: (a, k)
        try:
            return eval(f"__s2sad_call({text}\n)", namespace)
        except Exception as exc:
            raise CliError(f"cannot evaluate --args {text!r}: "
                           f"{type(exc).__name__}: {exc}") from None
    try:
        signature = inspect.signature(func, eval_str=True)
    except Exception:
        signature = inspect.signature(func)
    made = {float: 1.0, int: 1, bool: False}
    args, kwargs = [], {}
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or (p.kind is p.KEYWORD_ONLY
                                                           and p.default is not p.empty):
            continue
        if p.default is not p.empty:
            value = p.default
        elif p.annotation in made:
            value = made[p.annotation]
        else:
            why = ("no default and no annotation" if p.annotation is p.empty else
                   f"its annotation {inspect.formatannotation(p.annotation)} does not say "
                   f"its kind (scalar, or array of which ndim and dtype)")
            raise CliError(f"cannot make an example for {func.__name__}'s argument {p.name!r} "
                           f"({why}): pass example arguments, e.g. --args \"np.ones(3), 2.0\"")
        if p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            args.append(value)
    return tuple(args), kwargs


def _wrt(text):
    items = [int(w) if re.fullmatch(r"-?\d+", w) else w for w in
             (w.strip() for w in text.split(",")) if w]
    if not items:
        raise CliError("--wrt needs at least one argument name or index")
    return items[0] if len(items) == 1 else tuple(items)


def _describe(func, args, kwargs):
    """`x: 1-D float64 array, n: int`: the kinds the export is specialised for."""
    def kind(v):
        if hasattr(v, "ndim") and hasattr(v, "dtype"):
            return f"{v.ndim}-D {v.dtype} array"
        if isinstance(v, (dict, list, tuple)):
            return f"{type(v).__name__} of " + ", ".join(
                kind(x) for x in (v.values() if isinstance(v, dict) else v))
        return type(v).__name__
    bound = inspect.signature(func).bind(*args, **kwargs)
    return ", ".join(f"{n}: {kind(v)}" for n, v in bound.arguments.items())


def _quote(arg):
    return arg if re.fullmatch(r"[\w./:,=+-]+", arg) else repr(arg)


def _highlight(text):
    try:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return text
    return highlight(text, PythonLexer(), TerminalFormatter())


# ---- export --------------------------------------------------------------------------------

_HEADER = '''\
"""{name}: {what} of {origin} ({file}), generated by s2sad:

    {command}

It is specialised for arguments of these kinds (export again for others):

    {kinds}

{about}
"""
'''

_ABOUT = ("This module imports numpy and {module} (for its constants, helpers and "
          "rules){and_runtime}, never the transformer (s2sad.api, s2sad.build, ...). {module} is the module of that "
          "name if it is already imported, else the file {relative!r} relative to this module "
          "(its folder is then appended to sys.path, for its own imports), else `import "
          "{module}` from sys.path. Names taken from it are bound when this module is "
          "imported, as any `from ... import` binds them.")

_RUNTIME_NOTE = ("`import s2sad.runtime` would run s2sad/__init__.py, which imports the "
                 "transformer; so the runtime package is loaded from its own files, under the "
                 "name `_s2sad_runtime` (or `s2sad.runtime` itself if s2sad is imported).")


# The two loaders below are copied, by their source, into exported modules.

def _load_module(name, relative_path):
    """`name` if imported, else the file `relative_path` from here, else sys.path's."""
    import importlib
    import importlib.util
    import os
    import sys
    if name in sys.modules:
        return sys.modules[name]
    path = relative_path and os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                          relative_path)
    if not path or not os.path.isfile(path):
        return importlib.import_module(name)
    if os.path.dirname(path) not in sys.path:
        sys.path.append(os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load_runtime():
    """s2sad.runtime without running s2sad/__init__.py (which imports the transformer)."""
    import importlib.util
    import os
    import sys
    for name in ("s2sad.runtime", "_s2sad_runtime"):
        if name in sys.modules:
            return sys.modules[name]
    folder = os.path.join(importlib.util.find_spec("s2sad").submodule_search_locations[0],
                          "runtime")
    spec = importlib.util.spec_from_file_location(
        "_s2sad_runtime", os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


_RESERVED = {"_load_module", "_load_runtime", "_runtime", "_user_module", "__all__", "__doc__",
             "__name__", "__file__", "__builtins__"}


def export_source(function, module, out_path, origin="", kinds="", command=""):
    """The text of a module defining the generated `function` and all it needs.

    The generated code reads runtime helpers, other generated functions
    (helper pairs `f_fwd`/`f_bwd`), rules and the user's closure cells from
    its closure, and everything else from its module's globals.  Each such
    name becomes a line of the module: a definition (generated functions,
    and rules that only exist as functions: their source is copied), an
    import, or a name of `_runtime`.  Names that two objects want are
    renamed in the copied text; an object that none of these spells (data
    in a closure cell, a lambda) is a `CliError`.
    """
    path = getattr(module, "__file__", None)
    if path and os.path.abspath(path) == os.path.abspath(out_path):
        raise CliError(f"-o {out_path} would overwrite the module the function comes from")
    relative = None
    if path and "." not in module.__name__:   # a package's module is imported by its name
        try:
            relative = os.path.relpath(path, os.path.dirname(os.path.abspath(out_path)))
        except ValueError:                      # another drive: keep it absolute
            relative = os.path.abspath(path)
    exporter = _Exporter()
    exporter.define(function, function.__name__)
    runtime = any(kind == "runtime" for kind, *_ in exporter.imports.values())
    forward = function.__name__.startswith("jvp_")
    about = [_ABOUT.format(module=module.__name__, relative=relative, and_runtime=(
        " and s2sad's run-time helpers" if runtime else ""))] + [_RUNTIME_NOTE] * runtime
    header = _HEADER.format(
        name=function.__name__, origin=origin or module.__name__,
        what="the forward-mode derivative" if forward else "the gradient",
        file=os.path.basename(path or module.__name__), kinds=kinds or "(none)", command=command,
        about="\n\n".join(textwrap.fill(p, 76) for p in about))
    loaders = [inspect.getsource(f).strip() for f in (_load_module, _load_runtime)[:1 + runtime]]
    setup = f"_user_module = _load_module({module.__name__!r}, {relative!r})" + (
        "\n_runtime = _load_runtime()" if runtime else "")
    imports = exporter.import_lines()
    return (header + "\n\n" + "\n\n\n".join(loaders) + "\n\n\n" + setup + "\n\n"
            + (imports + "\n\n" if imports else "") + f"__all__ = [{function.__name__!r}]\n\n\n"
            + "\n\n\n".join(text.strip() for text in exporter.definitions) + "\n")


class _Exporter:
    """Gives every object the generated code needs a name in the exported module."""

    def __init__(self):
        self.taken = set(_RESERVED) | set(dir(builtins))
        self.names = {}              # key -> the name it has in the module
        self.keep = []               # objects keyed by id stay alive
        self.imports = {}            # name -> ("import", module) | ("from", module, name)
        self.definitions = []        #         | ("runtime", ".attribute")

    def fresh(self, want):
        name, k = want, 1
        while name in self.taken:
            k += 1
            name = f"{want}_{k}"
        self.taken.add(name)
        return name

    def define(self, fn, want):
        """Write `fn`'s source (generated, or copied) under a fresh name."""
        name = self.names[id(fn)] = self.fresh(want)
        self.keep.append(fn)
        slot = len(self.definitions)            # callers before callees, as in s2sad.source
        self.definitions.append(None)
        text = getattr(fn, "__s2sad_source__", None) or _function_source(fn)
        renames = {}
        for free in _free_names(text):
            spelled = self.resolve(fn, free)
            if spelled != free:
                renames[free] = spelled
        self.definitions[slot] = _rename(text, renames, fn.__code__.co_name, name)
        return name

    def resolve(self, fn, free):
        """The module's name for what `free` means inside `fn`."""
        code = fn.__code__
        if free in code.co_freevars:
            try:
                value = fn.__closure__[code.co_freevars.index(free)].cell_contents
            except ValueError:
                raise CliError(f"cannot export: {free!r} (used by {fn.__name__}) is not "
                               f"defined yet") from None
            return self.bind(value, free, fn)
        where = fn.__globals__.get("__name__", "?")
        if free not in fn.__globals__:
            if hasattr(builtins, free):
                return free
            raise CliError(f"cannot export: {fn.__name__} uses {free!r}, which module {where} "
                           f"does not define")
        value = fn.__globals__[free]
        if where.startswith("s2sad") or isinstance(value, types.ModuleType):
            return self.bind(value, free, fn)
        if where == "__main__":
            raise CliError(f"cannot export: {free!r} comes from __main__, which another "
                           f"program cannot import; put it in a module")
        key = ("global", where, free)
        if key not in self.names:
            self.names[key] = name = self.fresh(free)
            self.imports[name] = ("from", where, free)
        return self.names[key]

    def bind(self, value, want, user):
        """A name for an object (a closure cell's, or a global of s2sad's own code)."""
        if isinstance(value, Later):
            value = value.function
        if id(value) in self.names:
            return self.names[id(value)]
        if getattr(builtins, want, None) is value:
            return want
        if hasattr(value, "__s2sad_source__"):
            return self.define(value, want)
        spelling = _spelling(value)
        if spelling is None:
            if inspect.isfunction(value) and value.__name__ != "<lambda>":
                return self.define(value, want)     # a rule that exists only as a function
            where = getattr(value, "__name__" if isinstance(value, types.ModuleType)
                            else "__module__", None) or ""
            if where == "s2sad" or where.startswith("s2sad."):
                raise CliError(f"cannot export {user.__name__}: it uses {want!r} ({where}), part "
                               f"of the transformer, which an exported module does not import")
            raise CliError(f"cannot export {user.__name__}: it uses {want!r}, a "
                           f"{type(value).__name__} held in a closure, which cannot be imported "
                           f"by name; make it a module-level name of your module")
        self.keep.append(value)
        name = self.names[id(value)] = self.fresh(want)
        self.imports[name] = spelling
        return name

    def import_lines(self):
        """`import m as n` lines, then `from m import a, b as c` per module, then
        `n = _runtime.attr`."""
        lines, froms, runtime = [], {}, []
        for name, (kind, *what) in sorted(self.imports.items(), key=lambda kv: kv[1]):
            if kind == "import":
                lines.append(f"import {what[0]}" + (f" as {name}" if name != what[0] else ""))
            elif kind == "from":
                froms.setdefault(what[0], []).append(
                    what[1] + (f" as {name}" if name != what[1] else ""))
            else:
                runtime.append(f"{name} = _runtime{what[0]}")
        lines += [f"from {m} import {', '.join(names)}" for m, names in froms.items()]
        return "\n".join(lines + runtime)


def _spelling(value):
    """How the exported module imports `value` (see `_Exporter.imports`), or None."""
    if isinstance(value, types.ModuleType):
        if value.__name__ == "s2sad.runtime" or value.__name__.startswith("s2sad.runtime."):
            return ("runtime", value.__name__[len("s2sad.runtime"):])
        if value.__name__ == "s2sad" or value.__name__.startswith("s2sad."):
            return None
        return ("import", value.__name__)
    where = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if not isinstance(where, str) or not isinstance(qualname, str) or not qualname.isidentifier():
        return None
    owner = sys.modules.get(where)
    if owner is None or getattr(owner, qualname, None) is not value or where == "__main__":
        return None
    if where == "s2sad.runtime" or where.startswith("s2sad.runtime."):
        runtime = sys.modules["s2sad.runtime"]
        return ("runtime", "." + qualname if getattr(runtime, qualname, None) is value
                else where[len("s2sad.runtime"):] + "." + qualname)
    if where == "s2sad" or where.startswith("s2sad."):
        return None
    return ("from", where, qualname)


def _function_source(fn):
    """The `def` of a plain function, without its decorators (`@adjoint(...)`)."""
    try:
        text = textwrap.dedent(inspect.getsource(fn.__code__))
    except (OSError, TypeError):
        raise CliError(f"cannot export: the source of {fn.__qualname__} cannot be read") from None
    node = next(n for n in __import__("ast").parse(text).body)
    lines = text.splitlines(True)
    return "".join(lines[node.lineno - 1:node.end_lineno])


def _free_names(text):
    """Names a module-level `def` reads from its module (body, defaults, annotations)."""
    table = symtable.symtable(text, "<s2sad export>", "exec")
    names = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    stack = list(table.get_children())
    while stack:
        child = stack.pop()
        names.update(s.get_name() for s in child.get_symbols() if s.is_global())
        stack.extend(child.get_children())
    return sorted(names)


def _rename(text, renames, old_def, new_def):
    """Rename the free names in `renames` (not attributes, not keywords) and the def."""
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    edits, depth, defined = [], 0, False
    for k, tok in enumerate(tokens):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        if tok.type != tokenize.NAME:
            continue
        before = tokens[k - 1].string if k else ""
        after = tokens[k + 1].string if k + 1 < len(tokens) else ""
        if not defined and before == "def":
            defined = True
            if old_def != new_def:
                edits.append((tok.start, tok.end, new_def))
        elif tok.string in renames and before != "." and not (depth and after == "="):
            edits.append((tok.start, tok.end, renames[tok.string]))
    lines = text.splitlines(True)
    for (row, col), (_, end), new in reversed(edits):
        lines[row - 1] = lines[row - 1][:col] + new + lines[row - 1][end:]
    return "".join(lines)
