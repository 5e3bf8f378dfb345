"""Random differentiable programs from a typed grammar.

Every value a program makes has a *type* standing for its shape, in two
symbolic sizes `n` and `m` that the oracles draw (n >= 3, m >= 2, n != m):

    S  a scalar (a Python float, a NumPy scalar or a 0-d array)
    V  (n,)        U  (m,)        M  (m, n)        K  (m, 1)        R  (1, n)
    I  a Python int (a loop counter), usable where a scalar is
    L  a list of V

The grammar covers what docs/subset.md lists as working: the rule catalogue
(elementwise functions, reductions with `axis`/`keepdims`, products,
broadcasting pairs, indexing in every form), rebinding, tuple assignment and
swaps, chained and augmented assignment, item updates (`v[i] = s`,
`B[:, j] += u`, `np.add.at`, list and repeated indices), views, lists
(`append`, `pop`, indexing, comprehensions), dict/list/tuple/namedtuple
arguments, globals, `stop_gradient`; `if`/`elif`/`else` on data, ternaries,
`and`/`or`, `for` over ranges, rows, lists, `enumerate`, `zip`, `reversed`,
loop variables reused before and after loops, `while` on data, `break`,
`continue`, `for`/`while ... else`, `return` inside loops and branches,
nested loops; helpers (with loops and several returns, called in loops),
recursion with a depth argument, closures.

Generation is weighted towards interactions: a few names of each type are
rebound again and again, so versions, aliases, loops and branches meet.
"""

import ast
import collections
import dataclasses
import importlib.util
import random

DIMS = {"S": (), "V": ("n",), "U": ("m",), "M": ("m", "n"), "K": ("m", 1), "R": (1, "n")}
_TYPE_OF_SHAPE = {shape: t for t, shape in DIMS.items()}
ARRAY_TYPES = ("V", "U", "M", "K", "R")

POOL = {"S": ["acc", "s1", "t", "q"], "V": ["v", "h", "a", "b"], "U": ["u", "w"],
        "M": ["B", "C"], "K": ["col"], "R": ["row"], "L": ["hs", "gs"]}

HAVE_SCIPY = importlib.util.find_spec("scipy") is not None    # (scipy.special joins the grammar)


def grouped(text):
    """`text` as an operand: parenthesised unless it is a name, a call, an
    item, an attribute or a non-negative number (the final source goes
    through `ast.unparse`, which keeps only the parentheses needed)."""
    node = ast.parse(text, mode="eval").body
    if isinstance(node, (ast.Name, ast.Call, ast.Subscript, ast.Attribute, ast.List)) \
            or isinstance(node, ast.Constant) and not str(node.value).startswith("-"):
        return text
    return f"({text})"


def broadcast(t1, t2):
    """The type of `t1 op t2` under NumPy broadcasting, or None."""
    if t1 == "I":
        t1 = "S"
    if t2 == "I":
        t2 = "S"
    a, b = DIMS[t1], DIMS[t2]
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return _TYPE_OF_SHAPE.get(tuple(reversed(out)))


@dataclasses.dataclass
class Var:
    name: str
    type: str
    bound: object = None     # an I's exclusive upper bound: "n", "m" or an int
    length: int = 0          # an L's known minimum length
    owned: bool = False      # an array only this name holds (safe to update in place)


@dataclasses.dataclass
class Param:
    name: str
    spec: str                # V U M S Z (0-d array) I (int) dict list tuple nt


@dataclasses.dataclass
class Program:
    """A generated program: a module's source, its entry `f`, how to call it."""
    source: str
    params: list             # [Param]
    wrt: object              # as passed to s2sad.grad: index, name or a tuple of them
    dtype: str               # "float64" or "float32"
    features: collections.Counter
    seed: int = 0
    globals: tuple = ("SCALE", "BIAS", "W")

    @property
    def wrt_names(self):
        wrt = self.wrt if isinstance(self.wrt, tuple) else (self.wrt,)
        names = [p.name for p in self.params]
        return tuple(names[w] if isinstance(w, int) else w for w in wrt)


class Scope:
    """The variables in scope at a point of the program, by name."""

    def __init__(self, vars=None, containers=None):
        self.vars = dict(vars or {})
        self.containers = dict(containers or {})    # param name -> spec (dict, list, ...)

    def copy(self):
        return Scope({k: dataclasses.replace(v) for k, v in self.vars.items()}, self.containers)

    def of(self, t):
        return [v for v in self.vars.values() if v.type == t]

    def add(self, var):
        self.vars[var.name] = var


class Unavailable(Exception):
    """This production cannot make a value of the asked type here."""


class Generator:
    """One program per `program()` call, drawn from `rng` (a random.Random)."""

    def __init__(self, rng, size=1.0):
        self.rng = rng
        self.size = size
        self.features = collections.Counter()
        self.helpers = []           # (name, param types, return type)
        self.helper_sources = []
        self.in_helper = False
        self.converting = 0
        self.called = set()
        self.keyword_params = {}
        self.frozen = set()

    # ---- small random choices --------------------------------------------

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, options):
        return self.rng.choice(options)

    def weighted(self, options):
        """options: [(weight, value)], zero weights dropped."""
        options = [(w, v) for w, v in options if w > 0]
        total = sum(w for w, _ in options)
        r = self.rng.random() * total
        for w, v in options:
            r -= w
            if r <= 0:
                return v
        return options[-1][1]

    def use(self, feature):
        self.features[feature] += 1

    def const(self, low=-1.5, high=1.5):
        return grouped(repr(round(self.rng.uniform(low, high), 2)))

    # ---- types the program can make -----------------------------------------

    def available(self, t, scope):
        if t in ("S", "V", "R"):
            return True
        if t in ("U", "M", "K"):
            return any(v.type in ("U", "M", "K") for v in scope.vars.values())
        return False

    def named(self, t, scope):
        """A variable of type t to loop over or take sizes from, or None."""
        names = [v.name for v in scope.of(t)]
        return self.pick(names) if names else None

    def any_type(self, scope, arrays_only=False):
        types = [t for t in (ARRAY_TYPES if arrays_only else ("S",) + ARRAY_TYPES)
                 if self.available(t, scope)]
        weights = {"S": 4, "V": 6, "U": 1.5, "M": 2, "K": 0.7, "R": 0.7}
        return self.weighted([(weights[t], t) for t in types])

    # ---- expressions ------------------------------------------------------

    def expr(self, t, scope, depth, prefer=None):
        """An expression of type t, ready to be an operand; `prefer` names a
        variable to read if it can."""
        return grouped(self.expression(t, scope, depth, prefer))

    def expression(self, t, scope, depth, prefer=None):
        if prefer is not None and prefer in scope.vars and scope.vars[prefer].type == t \
                and self.chance(0.5):
            inner = self.expr(t, scope, depth - 1, None) if depth > 0 else None
            if inner is not None and self.chance(0.8):
                return self.combine(t, prefer, inner, scope, depth)
            return prefer
        for _ in range(30):
            try:
                kind = self.weighted(self.productions(t, scope, depth))
                return kind(t, scope, depth)
            except Unavailable:
                continue
        return self.leaf(t, scope, depth)

    def combine(self, t, name, inner, scope, depth):
        form = self.pick(["arith", "arith", "unary", "gate"])
        if form == "arith":
            op = self.pick(["+", "-", "*"])
            self.use(f"binop {op}")
            return f"({self.unary_form(t, name)} {op} {inner})"
        if form == "unary":
            return self.unary_form(t, f"({name} + {inner})")
        self.use("rebind gate")
        return f"({name} * {self.unary_form(t, inner)})"

    def productions(self, t, scope, depth):
        leaf_w = 3 if depth > 0 else 100
        more = 1 if depth > 0 else 0
        table = [(leaf_w, self.leaf), (3 * more, self.unary), (4 * more, self.binary),
                 (0.6 * more, self.ternary), (0.4 * more, self.stop_gradient)]
        if self.helpers:
            table.append((2.0 * more, self.call_helper))
        table += {"S": [(2.5 * more, self.to_scalar), (0.8 * more, self.kink_scalar)],
                  "V": [(2 * more, self.to_vector), (0.8 * more, self.kink_array)],
                  "U": [(2 * more, self.to_u), (0.4 * more, self.kink_array)],
                  "M": [(1.5 * more, self.to_matrix), (0.5 * more, self.kink_array)],
                  "K": [(2 * more, self.to_column)],
                  "R": [(2 * more, self.to_row)]}[t]
        return table

    def leaf(self, t, scope, depth):
        options = []
        for v in scope.of(t):
            options.append((4, ("var", v.name)))
        if t == "S":
            for v in scope.of("I"):
                options.append((1, ("int", v.name)))
            options.append((1, ("const", None)))
            options.append((0.4, ("global", "SCALE")))
        if t == "V":
            options.append((0.3, ("global", "BIAS")))
            for v in scope.of("L"):
                if v.length >= 1:
                    options.append((1, ("list", v.name)))
        for name, spec in scope.containers.items():
            if t == "V" and spec in ("dict", "list", "tuple", "nt"):
                options.append((1.5, ("container", name)))
            if t == "S" and spec in ("dict", "tuple", "nt"):
                options.append((1, ("container", name)))
        if not options:
            return self.convert(t, scope)
        kind, name = self.weighted(options)
        if kind in ("var", "int"):
            self.use("read int counter" if kind == "int" else f"read {t}")
            return name
        if kind == "const":
            self.use("constant")
            return self.const()
        if kind == "global":
            self.use(f"global {name}")
            return name
        if kind == "list":
            form = self.pick(["{0}[0]", "{0}[-1]", "{0}[len({0}) - 1]"])
            self.use("list index")
            return form.format(name)
        spec = scope.containers[name]
        self.use(f"{spec} argument")
        if spec == "dict":
            return f'{name}["w"]' if t == "V" else f'{name}["b"]'
        if spec == "list":
            return f"{name}[{self.pick(['0', '1', '2', '-1'])}]"
        if spec == "tuple":
            return f"{name}[0]" if t == "V" else f"{name}[1]"
        return f"{name}.w" if t == "V" else f"{name}.b"

    def convert(self, t, scope):
        """A leaf of type t made from a leaf of another type."""
        if t in ("U", "M", "K") and not self.available(t, scope) or self.converting > 4:
            raise Unavailable(t)
        makers = {"S": self.to_scalar, "V": self.to_vector, "U": self.to_u, "M": self.to_matrix,
                  "K": self.to_column, "R": self.to_row}
        self.converting += 1
        try:
            return makers[t](t, scope, 0)
        finally:
            self.converting -= 1

    def sub(self, t, scope, depth):
        if not self.available(t, scope):
            raise Unavailable(t)
        return self.expr(t, scope, depth - 1)

    UNARY = [("np.sin({0})", 3), ("np.cos({0})", 2), ("np.tanh({0})", 4), ("np.arctan({0})", 1),
             ("-{0}", 1.5), ("np.exp(np.sin({0}))", 1), ("np.log(1.0 + {0} * {0})", 1),
             ("np.sqrt(1.0 + {0} ** 2)", 1), ("np.square({0})", 0.7), ("{0} ** 2", 1),
             ("{0} ** 3", 0.5), ("{0} ** 1", 0.3), ("{0} ** 0", 0.2), ("np.abs({0})", 0.8),
             ("np.log1p(np.abs({0}))", 0.3), ("np.sinh(np.tanh({0}))", 0.3),
             ("1.0 / (1.0 + np.exp(-{0}))", 0.6), ("np.hypot({0}, 0.5)", 0.3),
             ("np.arcsinh({0})", 0.3), ("np.expm1(np.sin({0}))", 0.3),
             ("np.cbrt(1.5 + np.sin({0}))", 0.2), ("np.sinc({0})", 0.3)] + ([
             ("sp.expit({0})", 0.3), ("sp.erf({0})", 0.2), ("sp.log_ndtr({0})", 0.15),
             ("sp.gammaln(1.5 + np.sin({0}))", 0.15), ("sp.xlogy(1.0 + {0} * {0}, 2.0 + np.cos({0}))", 0.1),
             ("sp.log_softmax({0})", 0.1)] if HAVE_SCIPY else [])

    def unary_form(self, t, inner):
        form = self.weighted([(w, f) for f, w in self.UNARY])
        self.use("unary " + form.split("(")[0].replace("{0}", "x").strip())
        return form.format(inner)

    def unary(self, t, scope, depth):
        return self.unary_form(t, self.sub(t, scope, depth))

    def binary(self, t, scope, depth):
        # operand types that broadcast to t
        pairs = [(a, b) for a in ("S",) + ARRAY_TYPES for b in ("S",) + ARRAY_TYPES
                 if broadcast(a, b) == t and self.available(a, scope) and self.available(b, scope)]
        same = [(a, b) for a, b in pairs if a == b == t]
        a, b = self.pick(same) if same and self.chance(0.5) else self.pick(pairs)
        if a != b:
            self.use(f"broadcast {a}{b}")
        left, right = self.sub(a, scope, depth), self.sub(b, scope, depth)
        op = self.weighted([(3, "+"), (2, "-"), (3, "*"), (1, "/"), (0.4, "max"), (0.4, "min"),
                            (0.3, "logaddexp"), (0.3, "arctan2")])
        self.use(f"binop {op}")
        if op == "/":
            return f"({left} / (1.5 + {right} * {right}))"
        if op in ("max", "min"):
            self.use("kink")
            return f"np.{op}imum({left}, {right})"
        if op == "logaddexp":
            return f"np.logaddexp({left}, {right})"
        if op == "arctan2":
            return f"np.arctan2({left}, 1.5 + {right} * {right})"
        return f"({left} {op} {right})"

    def ternary(self, t, scope, depth):
        self.use("ternary")
        return f"({self.sub(t, scope, depth)} if {self.condition(scope, depth - 1)} " \
               f"else {self.sub(t, scope, depth)})"

    def stop_gradient(self, t, scope, depth):
        self.use("stop_gradient")
        return f"s2sad.stop_gradient({self.sub(t, scope, depth)})"

    def call_helper(self, t, scope, depth):
        matching = [h for h in self.helpers if h[2] == t]
        if not matching:
            raise Unavailable(t)
        name, params, _ = self.pick(matching)
        for p in params:
            if p != "D" and not self.available(p, scope):
                raise Unavailable(p)
        args = [self.sub(p, scope, depth) if p != "D" else str(self.rng.randint(0, 3))
                for p in params]
        keyword = self.keyword_params.get(name)
        if keyword is not None:
            choice = self.pick(["positional", "keyword", "default"])
            self.use(f"call with {choice}")
            if choice == "keyword":
                args[-1] = f"{keyword}={args[-1]}"
            elif choice == "default":
                args = args[:-1]
        self.called.add(name)
        self.use("call helper" if not name.startswith("rec") else "call recursive helper")
        if name.startswith("closed"):
            self.use("call closure")
        return f"{name}({', '.join(args)})"

    def to_scalar(self, t, scope, depth):
        d = max(depth, 1)
        kind = self.weighted([(5, "reduce"), (1.5, "dot"), (2, "index"), (0.6, "mask"),
                              (0.6, "fancy"), (0.5, "shift"), (0.3, "float"), (0.4, "genexp"),
                              (0.3, "cum"), (0.3, "len"), (0.3, "argmax"), (0.3, "einsum"),
                              (0.3, "item")])
        if kind == "argmax":
            self.use("argmax as an index")
            self.use("kink")
            v = self.sub("V", scope, d)
            return f"{v}[np.argmax({v})]"
        if kind == "einsum":
            self.use("einsum")
            return f'np.einsum("i,i->", {self.sub("V", scope, d)}, {self.sub("V", scope, d)})'
        if kind == "item":
            self.use("x.item()")
            return self.pick(["np.sum({0}).item()", "{0}[1:2].item()"]).format(self.sub("V", scope, d))
        if kind == "reduce":
            src_t = self.any_type(scope, arrays_only=True)
            inner = self.sub(src_t, scope, d)
            form = self.weighted([(5, "np.sum({0})"), (2, "np.mean({0})"), (1.5, "{0}.sum()"),
                                  (0.7, "{0}.mean()"), (0.6, "np.max({0})"), (0.4, "np.min({0})"),
                                  (0.5, "np.var({0})"), (0.3, "np.std({0})"),
                                  (0.4, "np.linalg.norm({0})"), (0.3, "np.prod(np.tanh({0}))"),
                                  (0.2, "np.median({0})"), (0.3, "{0}.max()"),
                                  (0.3, "np.var({0}, ddof=1)"), (0.2, "{0}.prod()"),
                                  (0.3, "sum(np.ravel({0}))"), (0.3, "np.amax({0})")])
            if src_t in ("M", "K", "R") and self.chance(0.3):
                self.use("reduce over a tuple of axes")
                return f"np.mean({inner}, axis=(0, 1))"
            if "max" in form or "min" in form or "median" in form:
                self.use("kink")
            self.use("reduce " + form.split("(")[0].replace("{0}", "x"))
            return form.format(inner)
        if kind == "dot":
            form = self.pick(["({0} @ {1})", "np.dot({0}, {1})", "np.vdot({0}, {1})",
                              "np.inner({0}, {1})"])
            self.use("dot")
            return form.format(self.sub("V", scope, d), self.sub("V", scope, d))
        if kind == "index":
            if self.available("M", scope) and self.chance(0.3):
                self.use("index M[i, j]")
                i, j = self.pick(["0", "1", "-1"]), self.pick(["0", "1", "2", "-1"])
                return f"{self.sub('M', scope, d)}[{i}, {j}]"
            counters = [v for v in scope.of("I") if v.bound == "n" or isinstance(v.bound, int)
                        and v.bound <= 3]
            if counters and self.chance(0.5):
                self.use("index v[counter]")
                return f"{self.sub('V', scope, d)}[{self.pick(counters).name}]"
            self.use("index v[i]")
            return f"{self.sub('V', scope, d)}[{self.pick(['0', '1', '2', '-1', '-2'])}]"
        if kind == "mask":
            self.use("boolean mask")
            v = self.sub("V", scope, d)
            return f"np.sum({v}[{self.sub('V', scope, d)} > {self.const(-0.5, 0.5)}])"
        if kind == "fancy":
            index = self.pick(["[0, 2, 2]", "[1, 0]", "[2, 2]", "[-1, 0, 1]"])
            self.use("integer-array index" + (" repeated" if index in ("[0, 2, 2]", "[2, 2]") else ""))
            form = self.pick(["np.sum(np.sin({0}[{1}]))", "np.sum({0}[{1}] * {0}[{1}])",
                              "np.sum(np.take({0}, {1}))"])
            return form.format(self.sub("V", scope, d), index)
        if kind == "shift":
            self.use("slices")
            v = self.sub("V", scope, d)
            return f"np.sum({v}[1:] * {v}[:-1])"
        if kind == "float":
            self.use("float()")
            return f"float({self.sub('S', scope, d)})"
        if kind == "genexp":
            lists = [v for v in scope.of("L") if v.length >= 1]
            arg_lists = [n for n, s in scope.containers.items() if s == "list"]
            vectors = [v.name for v in scope.of("V")]
            if lists and self.chance(0.6) or arg_lists:
                source, over_list = self.pick([v.name for v in lists] + arg_lists), True
            elif vectors:
                source, over_list = self.pick(vectors), False
            else:
                raise Unavailable(t)
            self.use("generator expression" if over_list else "generator over an array")
            body = self.unary_form("V", "hh")
            if self.chance(0.5):
                return f"sum(np.sum({body}) for hh in {source})"
            if over_list and self.chance(0.3):
                self.use("tuple(generator)")
                return f"np.sum(np.stack(tuple({body} for hh in {source})))"
            self.use("list comprehension")
            return f"np.sum(np.stack([{body} for hh in {source}]))" if over_list else \
                f"sum([{body} for hh in {source}])"
        if kind == "cum":
            self.use("cumsum/cumprod")
            form = self.pick(["np.sum(np.cumsum({0}) * {1})", "np.sum(np.cumprod(np.tanh({0})))"])
            return form.format(self.sub("V", scope, d), self.sub("V", scope, d))
        self.use("len")
        return f"(0.1 * len({self.sub('V', scope, d)}))"

    def kink_scalar(self, t, scope, depth):
        self.use("kink")
        form = self.pick(["max({0}, {1})", "min({0}, {1})", "abs({0} - {1})",
                          "np.clip({0}, -0.5, 0.7)", "np.maximum({0}, {1})"])
        return form.format(self.sub("S", scope, depth), self.sub("S", scope, depth))

    def kink_array(self, t, scope, depth):
        self.use("kink")
        form = self.pick(["np.clip({0}, -0.6, 0.8)", "np.where({0} > {1}, {0}, 0.1 * {1})",
                          "np.maximum({0}, 0.0)", "np.where({0} > 0.2, {0} * {1}, {1})"])
        self.use("where" if "where" in form else "clip/maximum")
        return form.format(self.sub(t, scope, depth), self.sub(t, scope, depth))

    def to_vector(self, t, scope, depth):
        options = [(2, "flip"), (1, "cum"), (0.5, "sort"), (1.5, "W"), (1, "row"),
                   (0.5, "list"), (0.4, "concat"), (0.4, "copy"), (0.6, "makers"),
                   (0.4, "methods"), (0.3, "stack")]
        if self.available("M", scope):
            options += [(3, "reduce"), (2, "vecmat"), (1.5, "Mrow"), (0.8, "fancy")]
        kind = self.weighted(options)
        if kind == "reduce":
            self.use("reduce axis=0")
            form = self.pick(["np.sum({0}, axis=0)", "{0}.mean(axis=0)", "np.mean({0}, 0)",
                              "np.max({0}, axis=0)", "{0}.sum(axis=-2)"])
            if "max" in form:
                self.use("kink")
            return form.format(self.sub("M", scope, depth))
        if kind == "vecmat":
            self.use("matmul")
            form = self.pick(["({0} @ {1})", "np.dot({0}, {1})", "np.matmul({0}, {1})"])
            if self.chance(0.5):
                return f"({self.sub('M', scope, depth)}.T @ {self.sub('U', scope, depth)})"
            return form.format(self.sub("U", scope, depth), self.sub("M", scope, depth))
        if kind == "Mrow":
            self.use("index M[i]")
            return f"{self.sub('M', scope, depth)}[{self.pick(['0', '1', '-1'])}]"
        if kind == "fancy":
            self.use("integer-array index repeated")
            return f"np.sum({self.sub('M', scope, depth)}[[0, 1, 0]], axis=0)"
        if kind == "flip":
            form = self.pick(["{0}[::-1]", "np.flip({0})", "np.roll({0}, 1)", "{0}[::-1][::-1]"])
            self.use("view " + form.split("(")[0].replace("{0}", "x"))
            return form.format(self.sub("V", scope, depth))
        if kind == "cum":
            self.use("cumsum/cumprod")
            return f"np.cumsum({self.sub('V', scope, depth)}) * 0.3"
        if kind == "sort":
            self.use("sort")
            self.use("kink")
            return f"np.sort({self.sub('V', scope, depth)})"
        if kind == "W":
            self.use("global W")
            self.use("matmul")
            if self.chance(0.5):
                return f"(W @ {self.sub('V', scope, depth)})"
            return f"({self.sub('V', scope, depth)} @ W.T)"
        if kind == "row":
            self.use("reshape/ravel")
            form = self.pick(["{0}[0]", "{0}.ravel()", "{0}.reshape(-1)", "np.squeeze({0}, 0)",
                              "{0}.flatten()"])
            return form.format(self.sub("R", scope, depth))
        if kind == "list":
            lists = [v for v in scope.of("L") if v.length >= 1]
            arg_lists = [n for n, s in scope.containers.items() if s == "list"]
            if not lists and not arg_lists:
                raise Unavailable(t)
            name = self.pick([v.name for v in lists] + arg_lists)
            self.use("list reduce")
            form = self.pick(["sum({0})", "np.mean(np.stack({0}), axis=0)",
                              "np.stack({0}).sum(axis=0)"])
            return form.format(name)
        if kind == "concat":
            self.use("concatenate")
            v = self.sub("V", scope, depth)
            return f"np.concatenate([{v}[:1], {self.sub('S', scope, depth)} * {v}[1:]])"
        if kind == "makers":
            v = self.sub("V", scope, depth)
            form = self.pick(["np.arange(len({0})) * 0.1 * {0}", "np.linspace(0.0, 1.0, len({0})) + {0}",
                              "np.eye(len({0})) @ {0}", "np.zeros(len({0})) + {0}",
                              "np.full_like({0}, 0.5) * {0}", "np.ones({0}.shape) * {0}"])
            self.use("constant maker " + form.split("(")[0])
            return form.format(v)
        if kind == "methods":
            v = self.sub("V", scope, depth)
            form = self.pick(["{0}.clip(-0.7, 0.9)", "{0}.cumsum() * 0.5", "np.sign({0}) * {0}",
                              "{0}.astype(np.float64)", "{0}.reshape(-1, 1)[:, 0]", "{0}.take(np.arange(len({0})))"])
            if "clip" in form or "sign" in form:
                self.use("kink")
            self.use("method " + form.split("(")[0].replace("{0}", "x"))
            return form.format(v)
        if kind == "stack":
            a, b = self.sub("V", scope, depth), self.sub("V", scope, depth)
            form = self.pick(["np.sum(np.vstack([{0}, {1}]), axis=0)", "np.stack([{0}, {1}], axis=1).mean(axis=1)",
                              "np.hstack([{0}, {1}])[:len({0})]", "np.concatenate([{0}, {1}])[len({1}):]"])
            self.use("stack " + form.split("(")[0])
            return form.format(a, b)
        self.use("copy")
        return f"{self.sub('V', scope, depth)}.copy()"

    def to_u(self, t, scope, depth):
        kind = self.weighted([(3, "reduce"), (3, "matvec"), (1.5, "col"), (1, "K"), (0.5, "flip"),
                              (0.5, "einsum"), (0.4, "ellipsis")])
        if kind == "einsum":
            self.use("einsum")
            return f'np.einsum("ij,j->i", {self.sub("M", scope, depth)}, {self.sub("V", scope, depth)})'
        if kind == "ellipsis":
            self.use("index with ...")
            return f"{self.sub('M', scope, depth)}[..., {self.pick(['0', '-1'])}]"
        if kind == "reduce":
            self.use("reduce axis=1")
            form = self.pick(["np.sum({0}, axis=1)", "{0}.mean(axis=1)", "np.max({0}, axis=-1)",
                              "np.sum({0}, 1)"])
            if "max" in form:
                self.use("kink")
            return form.format(self.sub("M", scope, depth))
        if kind == "matvec":
            self.use("matmul")
            form = self.pick(["({0} @ {1})", "np.dot({0}, {1})"])
            return form.format(self.sub("M", scope, depth), self.sub("V", scope, depth))
        if kind == "col":
            self.use("index M[:, j]")
            return f"{self.sub('M', scope, depth)}[:, {self.pick(['0', '1', '-1'])}]"
        if kind == "K":
            self.use("reshape/ravel")
            return self.pick(["{0}[:, 0]", "{0}.ravel()", "np.squeeze({0}, axis=1)"]).format(
                self.sub("K", scope, depth))
        self.use("view x[::-1]")
        return f"{self.sub('U', scope, depth)}[::-1]"

    def to_matrix(self, t, scope, depth):
        kind = self.weighted([(2, "outer"), (1, "flip"), (1.5, "W"), (1, "where")])
        if kind == "outer":
            self.use("outer")
            return f"np.outer({self.sub('U', scope, depth)}, {self.sub('V', scope, depth)})"
        if kind == "flip":
            form = self.pick(["{0}[::-1]", "{0}[:, ::-1]", "np.flip({0}, axis=0)", "{0}.T.T"])
            self.use("view " + form.split("(")[0].replace("{0}", "x"))
            return form.format(self.sub("M", scope, depth))
        if kind == "W":
            self.use("global W")
            self.use("matmul")
            return f"np.tanh({self.sub('M', scope, depth)} @ W)"
        self.use("where")
        m = self.sub("M", scope, depth)
        return f"np.where({m} > 0.0, {m}, 0.3 * {m})"

    def to_column(self, t, scope, depth):
        kind = self.weighted([(2, "keep"), (2, "newaxis")])
        if kind == "keep":
            self.use("keepdims")
            form = self.pick(["np.sum({0}, axis=1, keepdims=True)",
                              "np.mean({0}, axis=-1, keepdims=True)",
                              "np.max({0}, axis=1, keepdims=True)"])
            if "max" in form:
                self.use("kink")
            return form.format(self.sub("M", scope, depth))
        self.use("newaxis/reshape")
        return self.pick(["{0}[:, None]", "{0}.reshape(-1, 1)", "np.expand_dims({0}, 1)",
                          "{0}[:, np.newaxis]"]).format(self.sub("U", scope, depth))

    def to_row(self, t, scope, depth):
        if self.available("M", scope) and self.chance(0.3):
            self.use("keepdims")
            return f"np.mean({self.sub('M', scope, depth)}, axis=0, keepdims=True)"
        self.use("newaxis/reshape")
        return self.pick(["{0}[None, :]", "{0}.reshape(1, -1)", "np.expand_dims({0}, 0)",
                          "{0}[np.newaxis]", "np.atleast_2d({0})", "{0}[None]"]).format(
            self.sub("V", scope, depth))

    def condition(self, scope, depth):
        """A test on data (or on a counter), with the comparison kinds a user writes."""
        kind = self.weighted([(6, "compare"), (1, "and"), (1, "or"), (0.5, "not"),
                              (0.6, "allany"), (1, "counter")])
        if kind == "counter":
            counters = scope.of("I")
            if counters:
                c = self.pick(counters).name
                self.use("condition on counter")
                return self.pick([f"{c} == 1", f"{c} % 2 == 0", f"{c} >= 2", f"{c} < 1"])
            kind = "compare"
        if kind == "compare":
            self.use("condition on data")
            op = self.pick([">", "<", ">=", "<="])
            for _ in range(6):            # a test that reads the program's values
                left = self.expr("S", scope, max(depth, 1))
                if any(isinstance(n, ast.Name) and n.id in scope.vars
                       for n in ast.walk(ast.parse(left, mode="eval"))):
                    break
            right = self.const(-1.0, 1.0) if self.chance(0.7) else self.expr("S", scope, 0)
            return f"{left} {op} {right}"
        if kind in ("and", "or"):
            self.use(kind)
            return f"({self.condition(scope, depth - 1)}) {kind} ({self.condition(scope, depth - 1)})"
        if kind == "not":
            self.use("not")
            return f"not ({self.condition(scope, depth - 1)})"
        self.use("np.all/np.any")
        fn = self.pick(["np.all", "np.any"])
        return f"{fn}({self.expr('V', scope, max(depth, 1))} > {self.const(-1.0, 1.0)})"

    # ---- statements -------------------------------------------------------

    def block(self, scope, depth, ctx, budget):
        """Statements of a block; returns (lines, scope after, whether it always jumps)."""
        lines = []
        count = self.rng.randint(1, max(1, budget))
        for _ in range(count):
            try:
                made = self.statement(scope, depth, ctx)
            except Unavailable:
                continue
            if made is None:
                continue
            stmt_lines, jumps = made
            lines += stmt_lines
            if jumps:
                return lines, scope, True
        return lines or ["pass"], scope, False

    def statement(self, scope, depth, ctx):
        loops_ok = depth < (2 if not self.in_helper else 1)
        options = [(6, self.s_assign), (4, self.s_rebind), (2, self.s_aug),
                   (1.2, self.s_tuple), (0.7, self.s_swap), (0.3, self.s_chained),
                   (0.6, self.s_alias), (1.5, self.s_update),
                   (1.0 + 3 * bool(scope.of("L")), self.s_list),
                   (2.5 if depth < 2 else 0, self.s_if), (2.5 if loops_ok else 0, self.s_for),
                   (1 if loops_ok else 0, self.s_while)]
        if ctx.get("loop"):
            options += [(1.2, self.s_break), (0.8, self.s_continue)]
        options += [(0.5, self.s_unpack), (0.2 if scope.containers else 0, self.s_container_loop),
                    (0.15, self.s_assert), (0.1 if depth == 0 else 0, self.s_hook)]
        options.append((0.6 if depth > 0 else 0.1, self.s_return))
        return self.weighted(options)(scope, depth, ctx)

    def target_for(self, t, scope, new_ok=True):
        existing = [v.name for v in scope.of(t)]
        fresh = [n for n in POOL[t] if n not in scope.vars]
        if existing and (not fresh or not new_ok or self.chance(0.6)):
            return self.pick(existing), False
        if not fresh:
            return None, False
        return self.pick(fresh), True

    def bind(self, scope, name, t, owned=False):
        scope.add(Var(name, t, owned=owned))

    def s_assign(self, scope, depth, ctx):
        t = self.any_type(scope)
        name, new = self.target_for(t, scope)
        if name is None:
            return None
        if new and t != "S" and self.chance(0.2):
            # a buffer of our own, for item updates later
            src = self.sub(t, scope, 2)
            form = self.pick(["np.zeros_like({0})", "{0} * 1.0", "{0}.copy()", "np.ones_like({0})"])
            self.use("buffer " + form.split("(")[0].replace("{0}", "x"))
            self.bind(scope, name, t, owned=True)
            return [f"{name} = {form.format(src)}"], False
        value = self.expr(t, scope, self.rng.randint(1, 3))
        if value == name:
            return None
        self.use("assign")
        self.bind(scope, name, t)
        return [f"{name} = {value}"], False

    def rebindable(self, scope):
        return [v for v in scope.vars.values() if v.type in ("S",) + ARRAY_TYPES]

    def s_rebind(self, scope, depth, ctx):
        options = self.rebindable(scope)
        if not options:
            return None
        var = self.pick(options)
        value = self.expr(var.type, scope, self.rng.randint(1, 3), prefer=var.name)
        if value == var.name:
            return None
        self.use("rebind")
        var.owned = False
        return [f"{var.name} = {value}"], False

    def s_aug(self, scope, depth, ctx):
        options = self.rebindable(scope)
        if not options:
            return None
        var = self.pick(options)
        if self.in_helper and var.name in self.frozen and var.type != "S" and self.chance(0.9):
            return None       # (changes the caller's array: refused, as docs/subset.md says)
        rhs_types = [r for r in ("S",) + ARRAY_TYPES
                     if broadcast(var.type, r) == var.type and self.available(r, scope)]
        r = self.pick(rhs_types)
        op = self.weighted([(3, "+="), (2, "-="), (3, "*="), (1, "/=")])
        self.use(f"augmented {op}")
        value = self.expr(r, scope, self.rng.randint(0, 2))
        if op == "/=":
            value = f"(1.5 + {value} * {value})"
        return [f"{var.name} {op} {value}"], False

    def s_tuple(self, scope, depth, ctx):
        t1, t2 = self.any_type(scope), self.any_type(scope)
        a, new_a = self.target_for(t1, scope)
        b, new_b = self.target_for(t2, scope)
        if a is None or b is None or a == b:
            return None
        e1, e2 = self.expr(t1, scope, 2), self.expr(t2, scope, 2)
        self.use("tuple assignment")
        self.bind(scope, a, t1)
        self.bind(scope, b, t2)
        return [f"{a}, {b} = {e1}, {e2}"], False

    def s_swap(self, scope, depth, ctx):
        by_type = collections.defaultdict(list)
        for v in self.rebindable(scope):
            by_type[v.type].append(v.name)
        pairs = [names for names in by_type.values() if len(names) >= 2]
        if not pairs:
            return None
        a, b = self.rng.sample(self.pick(pairs), 2)
        t = scope.vars[a].type
        scope.vars[a].owned = scope.vars[b].owned = False
        if self.chance(0.5):
            self.use("swap")
            return [f"{a}, {b} = {b}, {a}"], False
        self.use("swap with transform")
        return [f"{a}, {b} = {b}, {self.unary_form(t, a)}"], False

    def s_chained(self, scope, depth, ctx):
        t = self.any_type(scope)
        a, _ = self.target_for(t, scope)
        b, _ = self.target_for(t, scope)
        if a is None or b is None or a == b:
            return None
        self.use("chained assignment")
        value = self.expr(t, scope, 2)
        self.bind(scope, a, t)
        self.bind(scope, b, t)
        return [f"{a} = {b} = {value}"], False

    def s_unpack(self, scope, depth, ctx):
        """Unpacking: a shape, a tuple argument, a nested tuple."""
        kind = self.weighted([(1, "shape"), (1, "container"), (1, "nested")])
        matrix = self.named("M", scope)
        if kind == "shape" and matrix is not None:
            self.use("unpack a shape")
            names = [n for n in ("rows", "cols") if n not in scope.vars]
            if len(names) < 2:
                return None
            scope.add(Var("rows", "I", bound="m"))
            scope.add(Var("cols", "I", bound="n"))
            return [f"rows, cols = {matrix}.shape"], False
        tuples = [n for n, spec in scope.containers.items() if spec in ("tuple", "nt")]
        if kind == "container" and tuples:
            self.use("unpack a tuple argument")
            a, _ = self.target_for("V", scope)
            b, _ = self.target_for("S", scope)
            if a is None or b is None:
                return None
            self.bind(scope, a, "V")
            self.bind(scope, b, "S")
            return [f"{a}, {b} = {self.pick(tuples)}"], False
        t1, t2, t3 = self.any_type(scope), self.any_type(scope), self.any_type(scope)
        names = [self.target_for(t, scope)[0] for t in (t1, t2, t3)]
        if None in names or len(set(names)) < 3:
            return None
        values = [self.expr(t, scope, 1) for t in (t1, t2, t3)]
        self.use("nested unpacking")
        for n, t in zip(names, (t1, t2, t3)):
            self.bind(scope, n, t)
        return [f"{names[0]}, ({names[1]}, {names[2]}) = {values[0]}, ({values[1]}, {values[2]})"], False

    def s_container_loop(self, scope, depth, ctx):
        """`for k, v in p.items():` over a dict argument (values of two kinds)."""
        dicts = [n for n, spec in scope.containers.items() if spec == "dict"]
        target = self.target_for("S", scope)[0]
        if not dicts or target is None or target not in scope.vars:
            return None
        d = self.pick(dicts)
        form = self.pick([f"for key, val in {d}.items():", f"for val in {d}.values():",
                          f"for key in {d}.keys():"])
        self.use("for over " + form.split(".")[1].split("(")[0] + "()")
        read = f"{d}[key]" if "keys" in form else "val"
        return [form, f"    {target} = {target} + np.sum(np.tanh({read}) * {self.const(0.2, 0.9)})"], False

    def s_assert(self, scope, depth, ctx):
        self.use("assert")
        return [f"assert np.all(np.isfinite({self.expr(self.any_type(scope), scope, 1)})), 'finite'"], False

    def s_hook(self, scope, depth, ctx):
        """A hook that leaves the adjoint as it is."""
        arrays = [v.name for v in scope.vars.values() if v.type in ("V", "M", "S")]
        if not arrays:
            return None
        watched = self.pick(arrays)
        self.use("grad_of hook")
        return [f"with s2sad.grad_of({watched}) as d_{watched}:",
                f"    d_{watched} = d_{watched} * 1.0"], False

    def s_alias(self, scope, depth, ctx):
        """A second name for an array (an alias, a copy or a view)."""
        arrays = [v for v in scope.vars.values() if v.type in ("V", "M")]
        if not arrays:
            return None
        src = self.pick(arrays)
        name, _ = self.target_for(src.type, scope)
        if name is None or name == src.name:
            return None
        form = self.weighted([(2, "{0}"), (2, "{0}.copy()"), (1.5, "{0}[::-1]"),
                              (1, "np.flip({0})" if src.type == "V" else "{0}[:, ::-1]"),
                              (0.5, "{0}[:]")])
        self.use("alias " + form.replace("{0}", "x"))
        src.owned = False
        self.bind(scope, name, src.type, owned=form == "{0}.copy()")
        return [f"{name} = {form.format(src.name)}"], False

    def s_update(self, scope, depth, ctx):
        """An item update of an array: mostly of a buffer of our own."""
        arrays = [v for v in scope.vars.values() if v.type in ("V", "M", "U")
                  and v.name not in self.frozen]
        owned = [v for v in arrays if v.owned]
        if not arrays or self.in_helper and not owned:
            return None
        var = self.pick(owned) if owned and (self.in_helper or self.chance(0.85)) \
            else self.pick(arrays)
        if not var.owned:
            self.use("update of a shared or argument array")
        name = var.name
        limit = {"V": ("n", 3), "U": ("m", 2), "M": ("m", 2)}[var.type]
        counters = [v.name for v in scope.of("I")
                    if v.bound == limit[0] or isinstance(v.bound, int) and v.bound <= limit[1]]
        if var.type in ("V", "U"):
            index = self.weighted([(3, self.pick(["0", "1", "-1"])), (2 if counters else 0, "counter"),
                                   (1, "1:3" if var.type == "V" else "0:2"),
                                   (0.7, "::2"), (0.8, "[0, 1]"), (0.8, "[0, 0, 1]"),
                                   (0.6, "mask"), (0.8, "add.at")])
            if index == "counter":
                index = self.pick(counters)
            value_t = "S"
        else:
            index = self.weighted([(2, "row"), (2, "col"), (1.5, "item"), (0.6, "add.at"),
                                   (0.4, "[0, 0]")])
            if index == "row":
                index, value_t = self.pick(["0", "1", "-1"] + counters), "V"
            elif index == "col":
                index, value_t = f":, {self.pick(['0', '1', '-1'])}", "U"
            elif index == "item":
                index, value_t = f"{self.pick(['0', '1'])}, {self.pick(['0', '2'])}", "S"
            elif index == "[0, 0]":
                value_t = "S"
        if index == "add.at":
            self.use("np.add.at")
            if var.type == "M":
                where, value_t = "[0, 0]", "V"
            else:
                where, value_t = self.pick(["[0, 0, 1]", "[1, 0]", "0"]), "S"
            return [f"np.add.at({name}, {where}, {self.expr(value_t, scope, 2)})"], False
        if index == "mask":
            self.use("masked update")
            return [f"{name}[{name} > {self.const(-0.5, 0.5)}] = {self.expr('S', scope, 1)}"], False
        if index in ("[0, 1]", "[0, 0, 1]", "[0, 0]"):
            self.use("update at list index" + (" repeated" if index != "[0, 1]" else ""))
        else:
            self.use(f"update {var.type}[index]")
        op = self.weighted([(3, "="), (2, "+="), (1, "*="), (0.5, "-=")])
        if op != "=":
            self.use(f"item {op}")
        if not self.available(value_t, scope):
            return None
        value = self.expr(value_t, scope, 2)
        return [f"{name}[{index}] {op} {value}"], False

    def s_list(self, scope, depth, ctx):
        lists = [v for v in scope.of("L") if v.name not in self.frozen]
        kind = self.weighted([(2 if len(lists) < 2 else 0, "new"), (3 if lists else 0, "append"),
                              (2.5 if any(v.length >= 2 for v in lists) else 0, "pop"),
                              (0.8 if any(v.length >= 1 for v in lists) else 0, "setitem"),
                              (0.6 if lists else 0, "concat")])
        if kind == "new":
            fresh = [n for n in POOL["L"] if n not in scope.vars]
            if not fresh:
                return None
            name = self.pick(fresh)
            if self.chance(0.5):
                self.use("empty list")
                scope.add(Var(name, "L", length=0))
                if self.chance(0.3) or depth >= 2:
                    return [f"{name} = []"], False
                return [f"{name} = []"] + self.filling_loop(scope, depth, ctx, name), False
            items = [self.expr("V", scope, 1) for _ in range(self.rng.randint(1, 3))]
            self.use("list literal")
            scope.add(Var(name, "L", length=len(items)))
            return [f"{name} = [{', '.join(items)}]"], False
        var = self.pick(lists)
        if kind == "append":
            self.use("append")
            value = self.expr("V", scope, 2)
            if value in scope.vars:
                scope.vars[value].owned = False
            if not ctx.get("loop") and not ctx.get("branch"):
                var.length += 1
            return [f"{var.name}.append({value})"], False
        if kind == "concat":
            self.use("list + list")
            if not ctx.get("loop") and not ctx.get("branch"):
                var.length += 1
            return [f"{var.name} = {var.name} + [{self.expr('V', scope, 1)}]"], False
        if kind == "setitem":
            self.use("list item assignment")
            return [f"{var.name}[0] = {self.expr('V', scope, 1)}"], False
        if ctx.get("loop") or ctx.get("branch") or var.length < 2:
            return None
        var.length -= 1
        form = self.pick(["pop()", "pop(0)", "pop(-1)", "pop(1)"])
        self.use("pop")
        if self.chance(0.4):
            return [f"{var.name}.{form}"], False
        target, _ = self.target_for("V", scope)
        if target is None:
            return [f"{var.name}.{form}"], False
        self.bind(scope, target, "V")
        return [f"{target} = {var.name}.{form}"], False

    def filling_loop(self, scope, depth, ctx, name):
        """`for ...: ...; hs.append(v)`: a list filled trip by trip."""
        counter, reused = self.counter_name(scope, reuse_ok=False)
        if counter is None:
            return []
        trips = self.pick([1, 2, 3])
        self.use("append in a loop")
        self.use("append")

        def append(body_scope):
            value = self.expr("V", body_scope, 2)
            if value in body_scope.vars:
                body_scope.vars[value].owned = False
            return [f"{name}.append({value})"]

        lines = self.loop_body(scope, depth, ctx, f"for {counter} in range({trips}):",
                               [Var(counter, "I", bound=trips)], orelse_ok=False, tail=append)
        scope.vars[name].length = trips
        return lines

    def s_if(self, scope, depth, ctx):
        test = self.condition(scope, 1)
        inner = dict(ctx, branch=True)
        body_scope = scope.copy()
        body, body_scope, body_jumps = self.block(body_scope, depth + 1, inner, 2 if depth else 3)
        lines = [f"if {test}:"] + ["    " + line for line in body]
        flowing = [] if body_jumps else [body_scope]
        kind = self.weighted([(2, "none"), (3, "else"), (1, "elif")])
        if kind == "none":
            flowing.append(scope)
            self.use("if")
            else_jumps = False
        else:
            branches = 1 if kind == "else" else 2
            else_jumps = True
            for b in range(branches):
                s = scope.copy()
                if b == branches - 1:
                    lines.append("else:")
                else:
                    lines.append(f"elif {self.condition(scope, 1)}:")
                part, s, jumps = self.block(s, depth + 1, inner, 2 if depth else 3)
                lines += ["    " + line for line in part]
                else_jumps = else_jumps and jumps
                if not jumps:
                    flowing.append(s)
            self.use("if/else" if kind == "else" else "if/elif/else")
        self.merge(scope, flowing)
        return lines, body_jumps and else_jumps

    def merge(self, scope, flowing):
        """After a branch: the names every flowing path defines, with one type."""
        if not flowing:
            return
        # (in the first path's order: a set's order would follow PYTHONHASHSEED)
        names = [n for n in flowing[0].vars if all(n in s.vars for s in flowing[1:])]
        merged = {}
        for n in names:
            types = {s.vars[n].type for s in flowing}
            if len(types) == 1:
                first = flowing[0].vars[n]
                merged[n] = dataclasses.replace(
                    first, owned=all(s.vars[n].owned for s in flowing),
                    length=min(s.vars[n].length for s in flowing),
                    bound=first.bound if all(s.vars[n].bound == first.bound for s in flowing)
                    else None)
        scope.vars = merged

    def loop_body(self, scope, depth, ctx, header, prelude=(), orelse_ok=True, tail=None):
        """A loop: `header`, then a block (and `tail(body scope)`'s lines)."""
        inner = dict(ctx, loop=True, branch=True)
        body_scope = scope.copy()
        for var in prelude:
            body_scope.add(var)
        body, body_scope, jumps = self.block(body_scope, depth + 1, inner, 3)
        if tail is not None and not jumps:
            body = [b for b in body if b != "pass"] + tail(body_scope)
        lines = [header] + ["    " + line for line in body]
        if orelse_ok and self.chance(0.15):
            self.use("loop else")
            s = scope.copy()
            part, _, _ = self.block(s, depth + 1, dict(ctx, branch=True), 2)
            lines += ["else:"] + ["    " + line for line in part]
        # names the body made are not defined after a loop that may not run
        for name in list(scope.vars):
            if name not in body_scope.vars or body_scope.vars[name].type != scope.vars[name].type:
                del scope.vars[name]
            else:
                scope.vars[name].owned = scope.vars[name].owned and body_scope.vars[name].owned
                scope.vars[name].length = min(scope.vars[name].length,
                                              body_scope.vars[name].length)
        return lines

    def counter_name(self, scope, reuse_ok=True):
        scalars = [v.name for v in scope.of("S")]
        if reuse_ok and scalars and self.chance(0.15):
            self.use("loop variable reuses a name")
            return self.pick(scalars), True
        for name in ("i", "j2", "i3"):
            if name not in scope.vars:
                return name, False
        return None, False

    def s_for(self, scope, depth, ctx):
        kind = self.weighted([(4, "range"), (1.2, "rows"), (1, "elements"), (1, "enumerate"),
                              (0.8, "zip"), (1, "list"), (0.7, "reversed")])
        vector, matrix = self.named("V", scope), self.named("M", scope)
        if kind in ("range", "reversed"):
            counter, reused = self.counter_name(scope)
            if counter is None:
                return None
            bound_kind = self.weighted([(3, "const"), (2 if vector else 0, "n"),
                                        (1 if matrix else 0, "m"),
                                        (1 if "k" in scope.vars else 0, "k")])
            if bound_kind == "const":
                trips = self.weighted([(1, 0), (2, 1), (3, 2), (3, 3)])
                start = self.pick([0, 0, 0, 1]) if trips >= 1 else 0
                rng_text = f"range({trips})" if start == 0 else f"range({start}, {start + trips})"
                bound, min_trips = start + trips, trips
                if trips == 0:
                    self.use("loop of zero trips")
            elif bound_kind == "n":
                rng_text = self.pick(["range(len({0}))", "range({0}.shape[0])",
                                      "range({0}.size)"]).format(vector)
                bound, min_trips = "n", 3
            elif bound_kind == "m":
                rng_text = f"range({matrix}.shape[0])"
                bound, min_trips = "m", 2
            else:
                rng_text = "range(k)"
                bound, min_trips = 3, 2
            if kind == "reversed":
                self.use("for reversed(range)")
                rng_text = f"reversed({rng_text})"
            else:
                self.use("for range")
            prelude = [Var(counter, "I", bound=bound)]
            lines = self.loop_body(scope, depth, ctx, f"for {counter} in {rng_text}:", prelude)
            if reused:                    # the old value, or the last count: a number either way
                scope.add(Var(counter, "S"))
            elif min_trips >= 1 and self.chance(0.7):
                scope.add(Var(counter, "I", bound=None))      # read after the loop
                self.use("loop variable read after the loop")
            return lines, False
        if kind == "rows":
            if matrix is None:
                return None
            target = self.loop_target("V", scope)
            src = self.pick(["{0}", "{0}[::-1]", "reversed({0})"]).format(matrix)
            self.use("for over rows" + (" reversed" if src != matrix else ""))
            return self.loop_body(scope, depth, ctx, f"for {target} in {src}:",
                                  [Var(target, "V")]), False
        if vector is None:
            return None
        if kind == "elements":
            target = self.loop_target("S", scope)
            src = self.pick(["{0}", "{0}[::-1]", "np.tanh({0})"]).format(vector)
            self.use("for over elements")
            return self.loop_body(scope, depth, ctx, f"for {target} in {src}:",
                                  [Var(target, "S")]), False
        if kind == "enumerate":
            counter, _ = self.counter_name(scope, reuse_ok=False)
            target = self.loop_target("S", scope)
            if counter is None:
                return None
            start = self.pick(["", "", ", 1"])
            self.use("enumerate")
            bound = "n" if not start else None
            return self.loop_body(
                scope, depth, ctx, f"for {counter}, {target} in enumerate({vector}{start}):",
                [Var(counter, "I", bound=bound), Var(target, "S")]), False
        if kind == "zip":
            a = self.loop_target("S", scope)
            b = "e2" if a != "e2" else "e3"
            others = [v.name for v in scope.of("V") if v.name != vector]
            other = self.pick([f"{vector}[::-1]", f"np.sin({vector})"] + others)
            self.use("zip")
            if self.chance(0.3):
                counter, _ = self.counter_name(scope, reuse_ok=False)
                if counter is not None:
                    self.use("enumerate(zip)")
                    return self.loop_body(
                        scope, depth, ctx,
                        f"for {counter}, ({a}, {b}) in enumerate(zip({vector}, {other})):",
                        [Var(counter, "I", bound="n"), Var(a, "S"), Var(b, "S")]), False
            return self.loop_body(scope, depth, ctx, f"for {a}, {b} in zip({vector}, {other}):",
                                  [Var(a, "S"), Var(b, "S")]), False
        # over a list
        lists = [v.name for v in scope.of("L")] + [n for n, s in scope.containers.items()
                                                    if s == "list"]
        if not lists:
            return None
        name = self.pick(lists)
        target = self.loop_target("V", scope)
        form = self.pick(["{0}", "{0}", "reversed({0})", "{0}[::-1]"])
        self.use("for over a list" + (" reversed" if form != "{0}" else ""))
        # the body must not change the list it walks
        saved = self.frozen
        self.frozen = saved | {name}
        try:
            return self.loop_body(scope, depth, ctx, f"for {target} in {form.format(name)}:",
                                  [Var(target, "V")]), False
        finally:
            self.frozen = saved

    def loop_target(self, t, scope):
        existing = [v.name for v in scope.of(t)]
        if existing and self.chance(0.2):
            self.use("loop target reuses a name")
            return self.pick(existing)
        for name in {"V": ("r_", "r2"), "S": ("e", "e2", "e3")}[t]:
            if name not in scope.vars:
                return name
        return {"V": "r3", "S": "e4"}[t]

    def s_while(self, scope, depth, ctx):
        counter = next((n for n in ("j", "jj", "j3") if n not in scope.vars), None)
        if counter is None:
            return None
        lists = [v for v in scope.of("L") if v.name not in self.frozen]
        kind = self.weighted([(2, "counted"), (3, "data"), (1.2, "true"),
                              (1 if lists else 0, "drain")])
        inner = dict(ctx, loop=True, branch=True)
        body_scope = scope.copy()
        body_scope.add(Var(counter, "I", bound=None))
        if kind == "drain":           # `while hs:` popping the list empty
            var = self.pick(lists)
            target = self.loop_target("V", body_scope)
            body_scope.add(Var(target, "V"))
            test = self.pick([var.name, f"len({var.name}) > 1"])
            self.use("while popping a list")
            self.use("pop")
            self.frozen = self.frozen | {var.name}
            try:
                body, body_scope, _ = self.block(body_scope, depth + 1, inner, 2)
            finally:
                self.frozen = self.frozen - {var.name}
            lines = [f"{counter} = 0", f"while {test}:", f"    {target} = {var.name}.pop()",
                     f"    {counter} += 1"] + ["    " + b for b in body]
            for name in list(scope.vars):
                if name not in body_scope.vars or body_scope.vars[name].type != scope.vars[name].type:
                    del scope.vars[name]
            scope.vars[var.name].length = 0
            scope.add(Var(counter, "I"))
            return lines, False
        if kind == "counted":
            trips = self.pick([0, 1, 2, 3])
            header = f"while {counter} < {trips}:"
            self.use("while counted" + (" zero trips" if trips == 0 else ""))
        elif kind == "data":
            header = f"while ({self.condition(body_scope, 1)}) and {counter} < {self.pick([2, 3, 4])}:"
            self.use("while on data")
        else:
            header = "while True:"
            self.use("while True")
        lines = [f"{counter} = 0", header, f"    {counter} += 1"]
        if kind == "true":             # leave before any `continue` can skip the test
            lines.append(f"    if ({self.condition(body_scope, 1)}) or {counter} >= 3:")
            lines.append("        break")
        body, body_scope, _ = self.block(body_scope, depth + 1, inner, 3)
        lines += ["    " + b for b in body]
        if kind != "true" and self.chance(0.15):
            self.use("loop else")
            part, _, _ = self.block(scope.copy(), depth + 1, dict(ctx, branch=True), 2)
            lines += ["else:"] + ["    " + line for line in part]
        for name in list(scope.vars):
            if name not in body_scope.vars or body_scope.vars[name].type != scope.vars[name].type:
                del scope.vars[name]
        scope.add(Var(counter, "I"))
        return lines, False

    def s_break(self, scope, depth, ctx):
        self.use("break")
        return [f"if {self.condition(scope, 1)}:", "    break"], False

    def s_continue(self, scope, depth, ctx):
        self.use("continue")
        return [f"if {self.condition(scope, 1)}:", "    continue"], False

    def s_return(self, scope, depth, ctx):
        t = ctx["returns"]
        if not self.available(t, scope):
            return None
        self.use("return inside" + (" a loop" if ctx.get("loop") else " a branch"))
        return [f"if {self.condition(scope, 1)}:", f"    return {self.expr(t, scope, 2)}"], False

    def final_return(self, scope, t):
        if t != "S":
            return self.expr(t, scope, 2)
        live = [v for v in scope.vars.values() if v.type in ("S",) + ARRAY_TYPES]
        self.rng.shuffle(live)
        anchor = "x" if "x" in scope.vars and scope.vars["x"].type == "V" else None
        terms = []
        for v in live[:self.rng.randint(1, 3)]:
            if v.type == "S":
                terms.append(v.name)
            elif v.type == "V":
                terms.append(self.pick([f"np.sum({v.name} * {anchor})" if anchor else
                                        f"np.sum({v.name} ** 2)", f"np.sum({v.name})",
                                        f"np.sum(np.sin({v.name}))"]))
            else:
                terms.append(self.pick([f"np.sum({v.name})", f"np.mean({v.name} ** 2)"]))
        for v in scope.of("L"):
            if v.length >= 1 and self.chance(0.5):
                terms.append(f"np.sum({v.name}[-1])")
        if not terms:
            terms.append(self.expr("S", scope, 2))
        return " + ".join(terms)

    # ---- helpers and the program --------------------------------------------

    def helper(self, index):
        """A module-level helper: a loop, early returns, or a recursion or closure."""
        kind = self.weighted([(4, "plain"), (1, "recursive"), (1, "closure"), (0.6, "lambda")])
        params = []
        ret = self.pick(["S", "V", "V"])
        scope = Scope()
        if kind == "recursive":
            name = f"rec{index}"
            scope.add(Var("v", "V"))
            scope.add(Var("c", "S"))
            step = self.expr("V", scope, 2, prefer="v")
            lines = [f"def {name}(v, c, depth):", "    if depth <= 0:",
                     f"        return {'np.sum(v * v) * c' if ret == 'S' else 'v'}",
                     f"    return {name}({step}, c, depth - 1)"]
            self.use("recursive helper")
            self.helpers.append((name, ["V", "S", "D"], ret))
            return "\n".join(lines)
        if kind == "lambda":
            name = f"lam{index}"
            scope.add(Var("v", "V"))
            body = self.expr(ret, scope, 2, prefer="v")
            self.use("lambda helper")
            self.helpers.append((name, ["V"], ret))
            return f"{name} = lambda v: {body}"
        if kind == "closure":
            name = f"closed{index}"
            scope.add(Var("v", "V"))
            scope.add(Var("c", "S"))
            body = self.expr(ret, scope, 2, prefer="v")
            self.use("closure helper")
            self.helpers.append((name, ["V"], ret))
            return "\n".join([f"def make{index}(c):", "    def inner(v):", f"        return {body}",
                              "    return inner", "", "",
                              f"{name} = make{index}({self.const(0.3, 1.2)})"])
        name = f"helper{index}"
        types = [self.pick(["V", "V", "S", "M"] if self.has_matrix else ["V", "S"])
                 for _ in range(self.rng.randint(1, 3))]
        for i, t in enumerate(types):
            pname = {"V": ["v", "g", "h"], "S": ["c", "q", "t"], "M": ["Q", "B", "C"]}[t][i]
            params.append(pname)
            scope.add(Var(pname, t))
        self.use("helper")
        self.in_helper = True
        self.frozen = set(params)          # a helper may not change its arguments
        try:
            body, scope, jumps = self.block(scope, 0, {"returns": ret}, 4)
            if not jumps:
                body.append(f"return {self.final_return(scope, ret)}")
        finally:
            self.in_helper = False
            self.frozen = set()
        self.helpers.append((name, types, ret))
        signature = ", ".join(params)
        if types[-1] == "S" and self.chance(0.3):       # a default, passed by keyword or not
            signature = ", ".join(params[:-1] + [f"{params[-1]}=0.5"])
            self.keyword_params[name] = params[-1]
            self.use("helper with a default")
        return "\n".join([f"def {name}({signature}):"] + ["    " + b for b in body])

    def program(self, seed=0):
        rng = self.rng
        self.frozen = set()
        params = [Param("x", "V")]
        optional = [("y", "V", 0.45), ("A", "M", 0.55), ("s", "S", 0.45), ("z0", "Z", 0.12),
                    ("k", "I", 0.25), ("p", "dict", 0.18), ("xs", "list", 0.18),
                    ("tp", "tuple", 0.08), ("nt", "nt", 0.08)]
        for name, spec, prob in optional:
            if self.chance(prob):
                params.append(Param(name, spec))
        rng.shuffle(params)
        self.has_matrix = any(p.spec == "M" for p in params)   # helpers may then take one
        self.helpers = []
        helper_texts = [self.helper(i + 1) for i in range(self.weighted([(5, 0), (3, 1), (1, 2)]))]
        scope = Scope()
        for p in params:
            if p.spec in ("V", "M", "S", "U"):
                scope.add(Var(p.name, p.spec))
            elif p.spec == "Z":
                scope.add(Var(p.name, "S"))
            elif p.spec == "I":
                scope.add(Var(p.name, "I", bound=3))
            else:
                scope.containers[p.name] = p.spec
                self.use(f"{p.spec} argument")
        budget = max(2, int(round(rng.randint(2, 7) * self.size)))
        body, scope, jumps = self.block(scope, 0, {"returns": "S"}, budget)
        if not jumps:
            value = self.final_return(scope, "S")
            for name, params_, ret in self.helpers:     # every helper is called at least once
                if name not in self.called:
                    helpers, self.helpers = self.helpers, [(name, params_, ret)]
                    try:
                        call = self.call_helper(ret, scope, 2)
                        value += f" + np.sum({call})"
                    except Unavailable:
                        pass
                    finally:
                        self.helpers = helpers
            body.append(f"return {value}")
        header = f"def f({', '.join(p.name for p in params)}):"
        diff = [p for p in params if p.spec != "I"]
        chosen = rng.sample(diff, rng.randint(1, min(3, len(diff))))
        names = [p.name for p in params]
        by_index = self.chance(0.5)
        wrt = tuple(names.index(p.name) if by_index else p.name for p in chosen)
        if len(wrt) == 1 and self.chance(0.6):
            wrt = wrt[0]
        dtype = "float32" if self.chance(0.2) else "float64"
        if dtype == "float32":
            self.use("float32")
        source = "\n".join([
            "import numpy as np",
            "import s2sad",
            "from collections import namedtuple",
            *(["import scipy.special as sp"] if HAVE_SCIPY else []),
            "",
            'P = namedtuple("P", "w b")',
            "SCALE = 0.7",
            "BIAS = np.zeros(3)",
            "W = np.eye(3)",
            "", ""] + [h + "\n\n" for h in helper_texts] + [header] + ["    " + b for b in body]) + "\n"
        source = ast.unparse(ast.parse(source)) + "\n"
        return Program(source=source, params=params, wrt=wrt, dtype=dtype,
                       features=self.features, seed=seed)


def generate(seed, size=1.0):
    """The program of this seed (the same seed always gives the same program)."""
    for attempt in range(20):
        try:
            return Generator(random.Random(seed * 7919 + attempt), size).program(seed)
        except (Unavailable, RecursionError):
            continue
    raise RuntimeError(f"no program for seed {seed}")
