"""Source-to-source rewrites of generated programs, on Python's `ast`.

Metamorphic rewrites keep a program's meaning exactly, so s2sad must give
the same gradient for the rewritten program:

* `rename`: every local name of every function gets another name;
* `temporaries`: subexpressions of simple statements move into
  temporaries of their own, just before the statement;
* `unroll`: a `for` loop over a literal `range` with no jumps inside
  becomes its trips, one after the other;
* `outline`: a run of plain assignments in `f` moves into a new helper
  that takes what the run reads and returns what it assigns;
* `inner`: the same, the helper defined inside `f` and reading what the
  run reads but does not assign as a closure;
* `lambdas`: some plain assignments `t = e` become `t = (lambda: e)()`;
* `local_import`: `f` imports NumPy itself and reads it under another name;
* `dict_copy`: a dict parameter is first copied by a comprehension over
  its items;
* `star`: calls of the program's helpers pass their arguments as
  `*(a, b)` / `*[a, b]`, the last sometimes as `**{"b": b}`;
* `method`: `f` becomes a method whose object holds the globals it reads
  (`self.SCALE`), differentiated as the bound method; some helpers become
  static methods, called as `self.h(...)` and `Model.h(...)`.

Each returns the new source, or None where the program offers nothing to
rewrite.  `instrument` gives a version of a program whose comparisons and
kinks (`abs`, `maximum`, `clip`, `max`, `sort`, ...) report to a probe how
far their operands are from the boundary, so the oracles can draw inputs
away from every place where the gradient jumps.
"""

import ast
import copy
import math
import random

import numpy as np

_FUNCTION_NAMES = {"np", "sp", "s2sad", "P", "SCALE", "BIAS", "W", "namedtuple", "len", "range", "sum",
                   "max", "min", "abs", "float", "reversed", "enumerate", "zip", "list", "True",
                   "False", "None"}


def _functions(tree):
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def _stores(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
            and isinstance(n.ctx, (ast.Store, ast.Del))}


def _module_names(tree):
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)} | {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
        if isinstance(t, ast.Name)}


# ---- metamorphic rewrites -------------------------------------------------------

def rename(source, rng=None):
    """Every local name of every function gets a new one (f's parameters
    keep theirs: `wrt` may name them)."""
    tree = ast.parse(source)
    keep = _module_names(tree) | _FUNCTION_NAMES
    f = next(fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name == "f")
    keep |= {a.arg for a in f.args.args}
    local = set()
    for fn in _functions(tree):
        local |= _stores(fn) | {a.arg for a in fn.args.args}
    mapping = {name: f"{name}_renamed" for name in local - keep}
    if not mapping:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in mapping:
            node.id = mapping[node.id]
        elif isinstance(node, ast.arg) and node.arg in mapping:
            node.arg = mapping[node.arg]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in _module_names(tree):      # `helper(v, c=...)`
            for k in node.keywords:
                if k.arg in mapping:
                    k.arg = mapping[k.arg]
    return ast.unparse(tree) + "\n"


class _Hoister(ast.NodeTransformer):
    """Moves subexpressions of a statement into temporaries before it."""

    def __init__(self, rng, limit):
        self.rng = rng
        self.limit = limit
        self.count = 0

    def generic_visit(self, node):
        for field, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, self.block(value))
        return node

    def block(self, stmts):
        out = []
        for stmt in stmts:
            stmt = self.visit(stmt)
            if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.Return, ast.Expr)) \
                    and stmt.value is not None and self.count < self.limit \
                    and self.rng.random() < 0.6:
                candidates = [n for n in _hoistable(stmt.value) if n is not stmt.value]
                if candidates:
                    target = self.rng.choice(candidates)
                    name = f"tmp_{self.count}"
                    self.count += 1
                    out.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())],
                                          value=copy.deepcopy(target), lineno=0))
                    _replace(stmt, target, ast.Name(id=name, ctx=ast.Load()))
            out.append(stmt)
        return out


def _hoistable(node):
    """Subexpressions evaluated exactly once whenever `node` is: not under a
    ternary, `and`/`or`, a comprehension or a lambda, reading no name a
    comprehension binds, calling nothing that changes a list."""
    found = []

    def walk(n):
        if isinstance(n, (ast.IfExp, ast.BoolOp, ast.ListComp, ast.GeneratorExp, ast.Lambda,
                          ast.SetComp, ast.DictComp)):
            return
        if isinstance(n, (ast.Call, ast.BinOp, ast.UnaryOp, ast.Subscript, ast.Compare)) \
                and not any(isinstance(m, ast.Call) and isinstance(m.func, ast.Attribute)
                            and m.func.attr in ("pop", "append") for m in ast.walk(n)) \
                and not any(isinstance(m, (ast.ListComp, ast.GeneratorExp, ast.Lambda))
                            for m in ast.walk(n)):
            found.append(n)
        for child in ast.iter_child_nodes(n):
            if not isinstance(child, (ast.expr_context, ast.operator, ast.cmpop, ast.unaryop)):
                walk(child)

    walk(node)
    return found


def _replace(tree, old, new):
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return


def temporaries(source, rng=None):
    rng = rng or random.Random(0)
    tree = ast.parse(source)
    hoister = _Hoister(rng, limit=4)
    for fn in _functions(tree):
        fn.body = hoister.block(fn.body)
    if not hoister.count:
        return None
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _literal_range(loop):
    """The trips of `for name in range(<literals>)`, or None."""
    it = loop.iter
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
            and not it.keywords and 1 <= len(it.args) <= 3
            and all(isinstance(a, ast.Constant) and type(a.value) is int for a in it.args)):
        return None
    return list(range(*[a.value for a in it.args]))


def _has_jump(loop):
    """A `return` anywhere inside, or a `break`/`continue` of this loop."""
    def walk(nodes, own):
        for n in nodes:
            if isinstance(n, ast.Return) or own and isinstance(n, (ast.Break, ast.Continue)):
                return True
            if isinstance(n, (ast.For, ast.While)):
                if walk(n.body, False) or walk(n.orelse, own):
                    return True
            elif isinstance(n, ast.If):
                if walk(n.body, own) or walk(n.orelse, own):
                    return True
        return False
    return walk(loop.body, True)


class _Unroller(ast.NodeTransformer):
    def __init__(self, rng):
        self.rng = rng
        self.count = 0

    def visit_For(self, node):
        self.generic_visit(node)
        trips = _literal_range(node)
        if trips is None or len(trips) > 4 or node.orelse or _has_jump(node) \
                or not isinstance(node.target, ast.Name):
            return node
        self.count += 1
        out = []
        for value in trips:
            out.append(ast.Assign(targets=[ast.Name(id=node.target.id, ctx=ast.Store())],
                                  value=ast.Constant(value=value), lineno=0))
            out += copy.deepcopy(node.body)
        return out or [ast.Pass()]


def unroll(source, rng=None):
    tree = ast.parse(source)
    unroller = _Unroller(rng or random.Random(0))
    tree = unroller.visit(tree)
    if not unroller.count:
        return None
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _plain(stmt):
    """An assignment to names that changes nothing else (no item targets,
    no `+=`, no list methods)."""
    if not isinstance(stmt, ast.Assign):
        return False
    for t in stmt.targets:
        names = [t] if isinstance(t, ast.Name) else list(t.elts) if isinstance(t, ast.Tuple) else []
        if not names or not all(isinstance(n, ast.Name) for n in names):
            return False
    return not any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                   and n.func.attr in ("pop", "append") for n in ast.walk(stmt.value))


def outline(source, rng=None, inside=False):
    """(`inside`: the helper is defined inside `f`, just before the call, and
    reads what the run reads but does not assign as a closure.)"""
    rng = rng or random.Random(0)
    tree = ast.parse(source)
    f = next(fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name == "f")
    runs, current = [], []
    for i, stmt in enumerate(f.body):
        if _plain(stmt):
            current.append(i)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    if not runs:
        return None
    run = rng.choice(runs)
    start = rng.choice(run)
    stop = rng.choice([i for i in run if i >= start]) + 1
    block = f.body[start:stop]
    local = (_stores(f) | {a.arg for a in f.args.args}) - _module_names(tree)
    reads, writes = set(), set()
    for stmt in block:                # what the run reads before assigning it
        bound_here = {n.id for c in ast.walk(stmt.value) if isinstance(c, ast.comprehension)
                      for n in ast.walk(c.target) if isinstance(n, ast.Name)}
        reads |= {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)
                  and isinstance(n.ctx, ast.Load) and n.id in local} - bound_here - writes
        writes |= {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if inside:                        # the others: read from f, as a closure
        reads &= writes
    reads, writes = sorted(reads), sorted(writes)
    result = writes[0] if len(writes) == 1 else ", ".join(writes)
    helper = ast.parse(f"def outlined({', '.join(reads)}):\n    pass\n    return {result}\n").body[0]
    helper.body[0:1] = copy.deepcopy(block)
    call = ast.parse(f"{result} = outlined({', '.join(reads)})").body[0]
    f.body[start:stop] = [helper, call] if inside else [call]
    if not inside:
        tree.body.insert(tree.body.index(f), helper)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def inner(source, rng=None):
    return outline(source, rng, inside=True)


def lambdas(source, rng=None):
    """Some plain assignments `t = e` in `f` become `t = (lambda: e)()`: a
    lambda reading `f`'s names, called at once."""
    rng = rng or random.Random(0)
    tree = ast.parse(source)
    f = next(fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name == "f")
    count = 0
    for node in ast.walk(f):
        if _plain(node) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and not any(isinstance(n, (ast.Lambda, ast.NamedExpr)) for n in ast.walk(node.value)) \
                and rng.random() < 0.5:
            node.value = ast.Call(func=ast.Lambda(args=ast.arguments(
                posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                defaults=[]), body=node.value), args=[], keywords=[])
            count += 1
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n" if count else None


def star(source, rng=None):
    """Calls of the program's helpers pass their positional arguments as
    `*(a, b)` or `*[a, b]`, the last sometimes as `**{"name": b}`."""
    rng = rng or random.Random(0)
    tree = ast.parse(source)
    helpers = {fn.name: fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name != "f"}
    count = 0
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers
                and node.args and not any(isinstance(a, ast.Starred) for a in node.args)):
            continue
        params = [a.arg for a in helpers[node.func.id].args.args]
        args = list(node.args)
        keywords = []
        if len(args) >= 2 and len(args) <= len(params) and rng.random() < 0.5 \
                and params[len(args) - 1] not in {k.arg for k in node.keywords}:
            last = args.pop()
            keywords = [ast.keyword(arg=None, value=ast.Dict(keys=[ast.Constant(params[len(args)])],
                                                              values=[last]))]
        display = ast.Tuple if rng.random() < 0.5 else ast.List
        node.args = [ast.Starred(value=display(elts=args, ctx=ast.Load()), ctx=ast.Load())]
        node.keywords = list(node.keywords) + keywords
        count += 1
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n" if count else None


def method(source, rng=None):
    """`f` becomes a method of a class whose instance holds the globals it
    reads (`self.SCALE`); `bound_f()` gives the bound method `Model().f` with
    the attributes set from the module's globals of the moment.  Some
    helpers become static methods of the class too, which `f` calls as
    `self.h(...)` and the others as `Model.h(...)`."""
    rng = rng or random.Random(0)
    tree = ast.parse(source)
    f = next(fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name == "f")
    called = {id(n.func) for fn in _functions(tree) for n in ast.walk(fn) if isinstance(n, ast.Call)}
    other_uses = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}
    moved = [fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name != "f"
             and fn.name not in other_uses and rng.random() < 0.5]
    for fn in _functions(tree):
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in {m.name for m in moved}:
                node.func = ast.Attribute(value=ast.Name("self" if fn is f else "Model", ast.Load()),
                                          attr=node.func.id, ctx=ast.Load())
    names = sorted({"SCALE", "BIAS", "W"} - _stores(f))
    for node in ast.walk(f):
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.Name) and value.id in names and isinstance(value.ctx, ast.Load):
                setattr(node, field, ast.Attribute(value=ast.Name("self", ast.Load()), attr=value.id,
                                                   ctx=ast.Load()))
            elif isinstance(value, list):
                value[:] = [ast.Attribute(value=ast.Name("self", ast.Load()), attr=v.id, ctx=ast.Load())
                            if isinstance(v, ast.Name) and v.id in names and isinstance(v.ctx, ast.Load)
                            else v for v in value]
    f.args.args.insert(0, ast.arg("self"))
    tree.body.remove(f)
    model = ast.parse("class Model:\n    pass\n").body[0]
    model.body = [f]
    for fn in moved:
        tree.body.remove(fn)
        fn.decorator_list = [ast.Name("staticmethod", ast.Load())]
        model.body.insert(0, fn)
    tree.body.append(model)
    attributes = "".join(f"    model.{n} = {n}\n" for n in names)
    tree.body.append(ast.parse(f"def bound_f():\n    model = Model()\n{attributes}    return model.f\n").body[0])
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def dict_copy(source, rng=None):
    """A dict parameter of `f` (one read as `p["w"]`) is first copied by a
    comprehension over its items, `p = {k: v for k, v in p.items()}`."""
    tree = ast.parse(source)
    f = next(fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name == "f")
    params = {a.arg for a in f.args.args}
    dicts = sorted({n.value.id for n in ast.walk(f) if isinstance(n, ast.Subscript)
                    and isinstance(n.value, ast.Name) and n.value.id in params
                    and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)})
    if not dicts:
        return None
    f.body[0:0] = [ast.parse(f"{d} = {{key: value for key, value in {d}.items()}}").body[0] for d in dicts]
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def local_import(source, rng=None):
    """`f` imports NumPy itself (`import numpy as npl`) and reads it under
    that name."""
    tree = ast.parse(source)
    f = next(fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name == "f")
    if any(isinstance(n, ast.Name) and n.id == "npl" for n in ast.walk(tree)):
        return None
    count = 0
    for node in ast.walk(f):
        if isinstance(node, ast.Name) and node.id == "np" and isinstance(node.ctx, ast.Load):
            node.id = "npl"
            count += 1
    if not count:
        return None
    f.body.insert(0, ast.parse("import numpy as npl").body[0])
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


REWRITES = {"rename": rename, "temporaries": temporaries, "unroll": unroll, "outline": outline,
            "method": method, "inner": inner, "lambdas": lambdas, "star": star, "dict_copy": dict_copy,
            "local_import": local_import}


# ---- instrumentation: how far from every kink -------------------------------------

class Probe:
    """Collects the smallest distance to a boundary that a run came to, and
    the largest value it computed on the way."""

    LOOP_LIMIT = 10_000

    def __init__(self):
        self.margin = math.inf
        self.trips = 0
        self.largest = 0.0

    def size(self, value):
        """Notes how large a call's or an operator's result is: finite
        differences lose every digit beside a huge intermediate."""
        if isinstance(value, (np.ndarray, np.number, float)) and np.size(value):
            try:
                magnitude = float(np.max(np.abs(value)))
            except (TypeError, ValueError):
                return value
            if math.isfinite(magnitude):
                self.largest = max(self.largest, magnitude)
        return value

    def tick(self):
        """A `while` loop's trip (a shrunk program may have lost its way out)."""
        self.trips += 1
        if self.trips > self.LOOP_LIMIT:
            raise RuntimeError("a while loop runs too long")
        return True

    def note(self, distance):
        distance = np.asarray(distance, dtype=np.float64)
        if distance.size:
            nearest = float(np.min(np.abs(distance)))
            self.margin = 0.0 if math.isnan(nearest) else min(self.margin, nearest)

    def compare(self, a, op, b):
        if not (isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer))):
            a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            self.note(a64 - b64)
        return {"<": lambda: a < b, ">": lambda: a > b, "<=": lambda: a <= b,
                ">=": lambda: a >= b, "==": lambda: a == b, "!=": lambda: a != b}[op]()

    def gap(self, x, axis=None):
        """The distance between the two largest (and two smallest) values."""
        x = np.asarray(x, dtype=np.float64)
        if x.size >= 2:
            s = np.sort(x, axis=axis) if axis is not None else np.sort(x, axis=None)
            self.note(np.diff(s, axis=-1 if axis is None else axis))

    def call(self, name, fn, *args, **kwargs):
        if name in ("abs", "sign", "fabs", "norm", "std", "sqrt_of"):
            self.note(np.linalg.norm(args[0]) if name in ("norm",) else
                      np.std(args[0]) if name == "std" else args[0])
        elif name in ("maximum", "minimum", "fmax", "fmin", "max2", "min2"):
            self.note(np.asarray(args[0], dtype=np.float64) - np.asarray(args[1], dtype=np.float64))
        elif name == "clip":
            lo, hi = args[1], args[2]
            x = np.asarray(args[0], dtype=np.float64)
            if lo is not None:
                self.note(x - lo)
            if hi is not None:
                self.note(x - hi)
        elif name in ("max", "min", "amax", "amin"):
            axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
            self.gap(args[0], axis)
        elif name in ("sort", "median", "argsort"):
            self.gap(args[0], kwargs.get("axis", -1) if np.ndim(args[0]) > 1 else None)
        return fn(*args, **kwargs)


_NP_KINKS = {"abs", "absolute", "sign", "fabs", "maximum", "minimum", "fmax", "fmin", "clip",
             "max", "min", "amax", "amin", "sort", "median", "argsort", "std"}
_OPS = {ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def _sized(node):
    return ast.Call(func=ast.Attribute(value=ast.Name(id="_probe", ctx=ast.Load()),
                                       attr="size", ctx=ast.Load()), args=[node], keywords=[])


class _Instrument(ast.NodeTransformer):
    """Sizes only what functions compute: module-level code runs before
    `_probe` is set."""

    def __init__(self):
        self.depth = 0

    def visit_FunctionDef(self, node):
        node.args = self.visit(node.args)          # defaults run at definition
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        self.depth += 1
        node.body = [self.visit(statement) for statement in node.body]
        self.depth -= 1
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return _sized(node) if self.depth else node

    def visit_While(self, node):
        self.generic_visit(node)
        tick = ast.Call(func=ast.Attribute(value=ast.Name(id="_probe", ctx=ast.Load()),
                                           attr="tick", ctx=ast.Load()), args=[], keywords=[])
        node.test = ast.BoolOp(op=ast.And(), values=[tick, node.test])
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) != 1 or type(node.ops[0]) not in _OPS:
            return node
        return ast.Call(func=ast.Attribute(value=ast.Name(id="_probe", ctx=ast.Load()),
                                           attr="compare", ctx=ast.Load()),
                        args=[node.left, ast.Constant(value=_OPS[type(node.ops[0])]),
                              node.comparators[0]], keywords=[])

    def visit_Call(self, node):
        node = self._kink_call(node)
        return _sized(node) if self.depth else node

    def _kink_call(self, node):
        self.generic_visit(node)
        func = node.func
        name = None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and func.value.id == "np" and func.attr in _NP_KINKS:
            name = "abs" if func.attr == "absolute" else func.attr
        elif isinstance(func, ast.Attribute) and func.attr == "norm" \
                and isinstance(func.value, ast.Attribute) and func.value.attr == "linalg":
            name = "norm"
        elif isinstance(func, ast.Name) and func.id in ("abs", "max", "min"):
            name = func.id if func.id == "abs" or len(node.args) == 1 else func.id + "2"
            if len(node.args) == 1 and func.id in ("max", "min"):
                name = "max"
        elif isinstance(func, ast.Attribute) and func.attr in ("max", "min") \
                and not (isinstance(func.value, ast.Name) and func.value.id == "np"):
            # a method: x.max(axis=...) -> probe.call("max", np.max, x, axis=...)
            return ast.Call(func=ast.Attribute(value=ast.Name(id="_probe", ctx=ast.Load()),
                                               attr="call", ctx=ast.Load()),
                            args=[ast.Constant(value="max"),
                                  ast.parse(f"np.{func.attr}", mode="eval").body,
                                  func.value] + node.args, keywords=node.keywords)
        if name is None:
            return node
        return ast.Call(func=ast.Attribute(value=ast.Name(id="_probe", ctx=ast.Load()),
                                           attr="call", ctx=ast.Load()),
                        args=[ast.Constant(value=name), func] + node.args, keywords=node.keywords)


class Frozen:
    """The values `s2sad.stop_gradient(e)` saw at the inputs themselves,
    given back at the nudged inputs of finite differences: for them, a
    stopped gradient is a constant."""

    def __init__(self):
        self.values = {}
        self.recording = True
        self.seen = {}

    def start(self, recording):
        self.recording = recording
        self.seen = {}
        if recording:
            self.values = {}

    def take(self, site, value):
        n = self.seen[site] = self.seen.get(site, 0) + 1
        if self.recording:
            self.values[(site, n)] = copy.deepcopy(value)
            return value
        if (site, n) not in self.values:
            raise RuntimeError("control flow changed under finite differences")
        return copy.deepcopy(self.values[(site, n)])


class _Freeze(ast.NodeTransformer):
    def __init__(self):
        self.sites = 0

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "stop_gradient" \
                and isinstance(func.value, ast.Name) and func.value.id == "s2sad" and len(node.args) == 1:
            self.sites += 1
            return ast.Call(func=ast.Attribute(value=ast.Name(id="_frozen", ctx=ast.Load()),
                                               attr="take", ctx=ast.Load()),
                            args=[ast.Constant(value=self.sites), node.args[0]], keywords=[])
        return node


def freeze(source):
    """The program with `s2sad.stop_gradient(e)` as `_frozen.take(site, e)`
    (a module global the caller sets to a `Frozen`), or None if it has none."""
    freezer = _Freeze()
    tree = freezer.visit(ast.parse(source))
    if not freezer.sites:
        return None
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def instrument(source):
    """The program with every comparison and kink reporting to `_probe`
    (a module global the caller sets to a `Probe`)."""
    tree = _Instrument().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"
