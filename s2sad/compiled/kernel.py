"""The generated functions of a build compiled with `numba.njit`.

A build's generated functions (the gradient and its helpers' halves) are
compiled as they were printed, with two changes Numba needs:

* Numba freezes the globals a function reads when it compiles it, and the
  contract reads module data (and closure cells) at call time.  So every
  number or array a generated function reads from outside is a parameter
  of its kernel (`def dg(x, n, K):`): the caller passes it on, and the
  outermost caller, a Python wrapper, reads it from its module or cell at
  each call, as the plain function would;
* a kernel calls the kernels of the generated functions it calls.

Everything else a generated function reads (NumPy, math, builtins, a
user's own Numba function, the runtime helpers Numba compiles) is left to
Numba.  What it cannot compile is a `TransformError` naming the user's
line and the construct (`CompileRefused`, which `compile="auto"` turns
into a warning and the plain build).
"""

from __future__ import annotations

import ast
import builtins
import itertools
import linecache
import re
import types

import gast
import numpy as np

from ..errors import TransformError
from ..names import Namer
from ..parse import parse_function, user_text
from . import helpers
from .boundary import flatten

_counter = itertools.count(1)
_DATA = (bool, int, float, complex, np.ndarray, np.generic)


class CompileRefused(TransformError):
    """Numba cannot compile a build's generated code (or s2sad will not)."""


class _Unit:
    """One function on its way to a kernel: a generated one, or (`own`) a
    function of the user's that generated code calls as it is."""

    def __init__(self, fn, own=False):
        self.fn = fn
        self.origin = None                   # (file, line) of an own function's `def`
        if own:
            self.text, self.origin = _own_source(fn)
        else:
            self.text = fn.__s2sad_source__
        self.tree = ast.parse(self.text).body[0]
        # the lines before the body: the header a kernel's `def` line replaces
        self.header = self.tree.body[0].lineno - 1 if own else 1
        args = self.tree.args
        if args.vararg or args.kwarg:
            raise _refusal(self, self.tree, "its generated function takes *args or **kwargs",
                           "pass the arguments one by one")
        self.params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
        self.locals = set(self.params) | {n.id for n in ast.walk(self.tree)
                                          if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        self.reads = {}                      # free name -> its first Name node, in reading order
        for node in sorted((n for n in ast.walk(self.tree) if isinstance(n, ast.Name)),
                           key=lambda n: (n.lineno, n.col_offset)):
            if isinstance(node.ctx, ast.Load) and node.id not in self.locals:
                self.reads.setdefault(node.id, node)
        self.globals = {}                    # name -> what the kernel's globals hold
        self.callees = {}                    # name -> _Unit
        self.own_extras = {}                 # name -> (key, reader) of a value passed in
        self.extras = []                     # keys of every value passed in, callees' too
        self.kernel = None
        self.flat = None                     # how its pytree arguments are flattened (boundary.py)


class KindChanged(Exception):
    """Raised by a kernel called with arrays whose size-one dimensions are not
    those of its build's kinds (the fast path of a call then looks up the build)."""


def compile_kernels(fn, overrides, ones=None, only_if_faster=False, trees=None):
    """The kernel of generated function `fn` (and its callees'), the readers
    of the values it takes after its own parameters, its text, and how its
    pytree arguments and results are flattened (`boundary.Flat`, or None).
    `ones`: {parameter: which dimensions have size one}, checked by the
    kernel; `trees`: {parameter: its Tree kind}; `only_if_faster`
    (compile="auto"): refuse code that multiplies matrices."""
    import numba

    units, order = {}, []

    def unit_of(f, trees=None, own=False):
        u = units.get(id(f))
        if u is not None:
            if u not in order:
                raise _refusal(u, u.tree, "its generated code calls itself (a recursive helper), "
                               "which compile='numba' does not compile",
                               "use compile='auto', or write the recursion as a loop")
            return u
        u = units[id(f)] = _Unit(f, own)
        if trees:
            _flatten(u, trees)
        product = _matrix_product(u.tree) if only_if_faster else None
        if product is not None:
            raise _refusal(u, product, f"its gradient multiplies matrices (`{ast.unparse(product)}`), "
                           f"which NumPy already hands to BLAS at full speed: compiled, it runs no "
                           f"faster", "compile='numba' compiles it all the same")
        for word, node in u.reads.items():
            _resolve(u, word, node, unit_of, overrides, numba)
        order.append(u)
        return u

    top = unit_of(fn, trees)
    readers = {}
    for u in order:                          # callees come before their callers
        keys = list(dict.fromkeys([k for k, _ in u.own_extras.values()]
                                  + [k for c in u.callees.values() for k in c.extras]))
        u.extras = keys
        for key, reader in u.own_extras.values():
            readers[key] = reader
    names = _extra_names(order, top)
    for u in order:
        _compile_unit(u, names, numba, _size_one_check(ones) if u is top else [])
    text = "\n\n".join(u.kernel_text for u in [top] + [u for u in order if u is not top])
    return top.kernel, [readers[k] for k in top.extras], text, top.flat


def _own_source(fn):
    """The source of a user's function from its `def` on (dedented, as
    `parse.parse_function` finds it), and where that is."""
    import textwrap
    try:
        node = parse_function(fn).node
    except TransformError as exc:
        raise CompileRefused(f"it calls `{fn.__name__}`, a Python function that is not differentiated "
                             f"here and whose `def` source is not available",
                             function=fn.__name__, hint=f"decorate {fn.__name__} with numba.njit, "
                             f"or use compile='auto'") from exc
    filename = fn.__code__.co_filename
    lines = linecache.getlines(filename)[node.lineno - 1:node.end_lineno]
    return textwrap.dedent("".join(lines)), (filename, node.lineno)


def _lookup(u, word):
    """(value, key, reader) of a free name of a generated function: a closure
    cell's or a global's; None for a builtin or a name not defined."""
    code = u.fn.__code__
    if word in code.co_freevars:
        cell = u.fn.__closure__[code.co_freevars.index(word)]
        return cell.cell_contents, ("cell", id(cell)), (lambda c: lambda: c.cell_contents)(cell)
    if word in u.fn.__globals__:
        scope = u.fn.__globals__
        return scope[word], ("global", id(scope), word), (lambda g, w: lambda: g[w])(scope, word)
    return None


def _flatten(u, trees):
    """The top function with its pytree arguments as leaves (boundary.py)."""
    taken = set(u.locals) | set(u.reads)
    flat, problem = flatten(u.tree, trees, taken,
                            lambda w: (_lookup(u, w) or (getattr(builtins, w, None),))[0])
    if problem is not None:
        raise _refusal(u, problem[0], problem[1], "pass the pytree's arrays and numbers as arguments "
                       "of their own, or use compile='auto'")
    u.flat = flat
    u.params = [leaf for p in u.params for leaf in
                ([word for _, word in flat.inputs[p]] if p in flat.inputs else [p])]
    returned = {id(n) for n in ast.walk(flat.returned)} if flat.returned is not None else set()
    still_read = {n.id for n in ast.walk(u.tree) if isinstance(n, ast.Name)
                  and isinstance(n.ctx, ast.Load) and id(n) not in returned}
    for word in flat.classes - still_read:
        u.reads.pop(word, None)


def _resolve(u, word, node, unit_of, overrides, numba):
    """Say where a free name of a generated function goes: a global of its
    kernel, a callee, or a value passed in."""
    found = _lookup(u, word)
    if found is None and hasattr(builtins, word):
        return
    if found is None:
        raise _refusal(u, node, f"`{word}` is not defined where its generated code runs", None)
    value, key, reader = found
    value = getattr(value, "function", None) or value if type(value).__name__ == "Later" else value
    if callable(value) and getattr(value, "__s2sad_source__", None) is not None:
        u.callees[word] = unit_of(value)
    elif isinstance(value, _DATA) or _numbers(value):
        u.own_extras[word] = (key, reader)
    elif isinstance(value, types.ModuleType) or value is None \
            or isinstance(value, numba.core.dispatcher.Dispatcher) or _numpy_callable(value):
        u.globals[word] = value
    elif id(value) in overrides:
        u.globals[word] = overrides[id(value)]
    elif isinstance(value, types.FunctionType) and value.__module__.startswith("s2sad."):
        u.globals[word] = numba.njit(value)
    elif isinstance(value, types.FunctionType) and value.__name__ != "<lambda>":
        u.callees[word] = unit_of(value, own=True)   # a function of the user's, called as it is
    elif isinstance(value, types.FunctionType):
        raise _refusal(u, node, f"it calls `{word}`, a lambda that is not differentiated here, which "
                       f"compiled code cannot call", f"write {word} as a `def`, or use compile='auto'")
    else:
        raise _refusal(u, node, f"its generated code reads `{word}`, a {type(value).__name__}, "
                       f"which compiled code cannot hold",
                       "pass it as an argument (a number or an array), or use compile='auto'")


_PRODUCTS = {"dot", "matmul", "einsum", "tensordot", "inner", "vdot", "kron", "multi_dot"}


def _matrix_product(tree):
    """The first matrix product in a generated function (`a @ b`, `np.dot`, ...), or None."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult) \
                or isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _PRODUCTS:
            return node
    return None


def _numbers(value):
    return isinstance(value, tuple) and all(isinstance(v, _DATA) for v in value)


def _numpy_callable(value):
    return isinstance(value, np.ufunc) or (callable(value) and not isinstance(value, type)
                                           and (getattr(value, "__module__", None) or "")
                                           .split(".")[0] in ("numpy", "math", "cmath"))


def _extra_names(order, top):
    """A parameter name for each value passed in: its own name, unless two
    values share it or a function has a local of that name."""
    taken = set().union(*(u.locals | set(u.globals) | set(u.callees) for u in order))
    names = {}
    for u in order:
        for word, (key, _) in u.own_extras.items():
            if key in names:
                continue
            spelled, k = word, 1
            while spelled in taken or spelled in names.values() and names.get(key) != spelled:
                spelled, k = f"{word}_{k}", k + 1
            names[key] = spelled
            taken.add(spelled)
    return names


def _size_one_check(ones):
    """The lines raising KindChanged for arrays of other size-one dimensions."""
    tests = [f"{p}.shape[{d}] {'!=' if one else '=='} 1" for p, dims in (ones or {}).items()
             for d, one in enumerate(dims) if one is not None]
    if not tests:
        return []
    return ["    # (compiled for these size-one dimensions: other arrays are another build's)",
            f"    if {' or '.join(tests)}:", "        raise KindChanged"]


def _compile_unit(u, names, numba, preamble):
    """Edit the generated text (extra parameters, extra arguments to calls,
    renamed reads), compile it, and hand it to numba.njit."""
    lines = u.text.splitlines(True)
    offsets = [0] + list(itertools.accumulate(len(x) for x in lines))

    def pos(lineno, col):
        return offsets[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())

    edits = []                               # (position, end, text)
    for node, new in (u.flat.edits if u.flat is not None else ()):
        edits.append((pos(node.lineno, node.col_offset), pos(node.end_lineno, node.end_col_offset), new))
    rename = {word: names[key] for word, (key, _) in u.own_extras.items() if names[key] != word}
    add_at = None
    for node in ast.walk(u.tree):
        if _np_add_at(node, u.globals):         # `np.add.at(...)`: Numba has no ufunc `.at`
            if add_at is None:
                add_at = Namer(u.locals | set(u.globals) | set(u.callees)).fresh("add_at")
                u.globals[add_at] = helpers.add_at
            edits.append((pos(node.lineno, node.col_offset), pos(node.end_lineno, node.end_col_offset),
                          add_at))
        elif isinstance(node, ast.Name) and node.id in rename and isinstance(node.ctx, ast.Load):
            edits.append((pos(node.lineno, node.col_offset), pos(node.end_lineno, node.end_col_offset),
                          rename[node.id]))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in u.callees and u.callees[node.func.id].extras:
            passed = ", ".join(f"{names[k]}={names[k]}" for k in u.callees[node.func.id].extras)
            end = pos(node.end_lineno, node.end_col_offset) - 1          # the closing parenthesis
            edits.append((end, end, (", " if node.args or node.keywords else "") + passed))
        elif isinstance(node, ast.Name) and node.id in u.callees and isinstance(node.ctx, ast.Load):
            if not _called(u.tree, node):
                raise _refusal(u, node, f"its generated code passes the function `{node.id}` as a "
                               f"value, which compiled code cannot do", "use compile='auto'")
    text = "".join(lines)
    outer = [(s, e) for s, e, _ in edits if e > s]
    for start, end, new in sorted(edits, reverse=True):
        if any(s <= start and end <= e and (s, e) != (start, end) for s, e in outer):
            continue                         # inside another edit (a returned pytree, written anew)
        text = text[:start] + new + text[end:]
    params = _signature(u)
    # (after parameters with defaults, the values passed in get one too: callers always pass them)
    params += [names[k] + ("=None" if "=" in "".join(params) else "") for k in u.extras]
    head = offsets[u.header]                 # (the header's lines kept as blank lines: line numbers hold)
    text = f"def {u.tree.name}({', '.join(params)}):\n" + "\n" * (u.header - 1) \
        + "".join(line + "\n" for line in preamble) + text[head:]
    filename = f"<s2sad numba {u.tree.name} #{next(_counter)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    scope = {**u.globals, **{w: c.kernel for w, c in u.callees.items()}, "KindChanged": KindChanged}
    exec(compile(text, filename, "exec"), scope)
    u.kernel_text = text
    u.filename = filename
    u.python = scope[u.tree.name]
    u.kernel = numba.njit(u.python, error_model="numpy")
    u.kernel.__s2sad_unit__ = u


def _signature(u):
    """The kernel's parameters: a generated function's names; a user's
    function's as written, defaults and all (`*` ones refused)."""
    if u.origin is None:
        return list(u.params)
    args = u.tree.args
    if args.kwonlyargs or args.posonlyargs:
        raise _refusal(u, u.tree, "its generated function takes *args or **kwargs",
                       "pass the arguments one by one")
    plain = [a.arg for a in args.args]
    defaults = [None] * (len(plain) - len(args.defaults)) + list(args.defaults)
    if not all(d is None or isinstance(d, ast.Constant) for d in defaults):
        raise _refusal(u, u.tree, f"`{u.tree.name}` has a default value that is not a constant, which "
                       f"its kernel cannot take", "pass the value at the call, or use compile='auto'")
    return [p if d is None else f"{p}={ast.unparse(d)}" for p, d in zip(plain, defaults)]


def _np_add_at(node, scope):
    """Is `node` the `np.add.at` of a call, NumPy read from a global?"""
    return isinstance(node, ast.Attribute) and node.attr == "at" \
        and isinstance(node.value, ast.Attribute) and node.value.attr == "add" \
        and isinstance(node.value.value, ast.Name) and scope.get(node.value.value.id) is np


def _called(tree, target):
    return any(isinstance(n, ast.Call) and n.func is target for n in ast.walk(tree))


def refusal_of_numba_error(exc, units_by_file, fallback_unit):
    """A `CompileRefused` for a Numba compile error: the user's line (the
    comment above the generated line Numba names) and Numba's reason."""
    text = str(exc)
    found = None
    for match in re.finditer(r'File "(<s2sad numba [^>]*>)", line (\d+)|(<s2sad numba [^>]*>) \((\d+)\)',
                             text):
        file, line = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
        if file in units_by_file:
            found = (units_by_file[file], int(line))
    reason = _reason(text)
    if "non-precise type pyobject" in text:        # an argument Numba has no type for
        u = found[0] if found else fallback_unit
        return _refusal(u, u.tree, "an argument of its gradient is a Python object Numba cannot "
                        "type (an instance of a plain class, a list of mixed items)",
                        "pass numbers, arrays, or pytrees of them (a dataclass instead of a plain "
                        "class), or use compile='auto'")
    if found is None:
        u = fallback_unit
        return _refusal(u, u.tree, f"Numba cannot compile its gradient: {reason}", _HINT)
    u, lineno = found
    line = u.kernel_text.splitlines()[lineno - 1].strip()
    return _refusal(u, lineno, f"Numba cannot compile `{line}` in its gradient "
                    f"({u.tree.name}): {reason}", _HINT, generated=True)


_HINT = ("use compile='auto' to run the plain generated code where Numba cannot compile it, "
         "or write this line with the numbers, arrays and NumPy functions Numba supports")


def _reason(text):
    """The first line of Numba's message that says what went wrong."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("File", "During:", "Failed in nopython", "[1m", "\x1b")):
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
            if line and not line.startswith("- "):
                return line.rstrip(":")
    return text.splitlines()[0] if text else "(no reason given)"


def _refusal(u, node, message, hint, generated=False):
    """A CompileRefused naming the user's line the generated line at `node`
    (a node of the generated tree, or a line number in the kernel text) came from."""
    lineno = node if isinstance(node, int) else getattr(node, "lineno", 1)
    if u.origin is not None:                 # a user's function: its own lines
        at = u.origin[1] + lineno - 1
        return CompileRefused(message, function=u.tree.name, filename=u.origin[0], lineno=at,
                              line=linecache.getline(u.origin[0], at).rstrip("\n"), hint=hint)
    source = getattr(u.fn, "__s2sad_user__", None)
    text = u.kernel_text if generated else u.text
    user_line = _user_line(source, text.splitlines(), lineno)
    if source is None:
        return CompileRefused(message, function=u.tree.name, hint=hint)
    if user_line is None:
        user_line = getattr(source.node, "lineno", None)
    return CompileRefused(message, function=source.name,
                          filename=source.filename, lineno=user_line,
                          line=source.line(user_line), hint=hint)


def _user_line(source, lines, lineno):
    """The user's line number for a generated line: the comment above it
    names the user's statement."""
    if source is None:
        return None
    statements = {}
    for node in gast.walk(source.node):
        if isinstance(node, gast.stmt):
            statements.setdefault(user_text(node), node.lineno)
    if 0 < lineno <= len(lines) and lines[lineno - 1].strip() in statements:
        return statements[lines[lineno - 1].strip()]     # a user statement the forward sweep kept
    for i in range(min(lineno, len(lines)) - 1, -1, -1):
        line = lines[i].strip()
        if line.startswith("# ") and not line.startswith("# ----"):
            return statements.get(line[2:])
    return None

