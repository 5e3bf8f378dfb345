"""One row per registered rule (or more: one per form of the call), the
expression that calls it, and the arguments it is called on.
`test_rule_table.py` turns each case of each row into a loss
`np.sum(<expression> * c)` and checks its gradient against central
differences, jvp against the gradient, and the gradient on StrictArrays (no
rule moves data to the host), in float64 and float32; and it checks that
every rule s2sad registers has a row here.

An argument is drawn by its spec: `N(3, 4)` normal, `P(3, 4)` in (0.5, 2),
`U(3)` in (-0.9, 0.9), `INC(5)` increasing, `A(3)` with 0.5 <= |x| <= 1.5 and random signs (away
from a kink or zero at 0), `SPD(3)` symmetric positive definite,
`WC(2, 3, 3)` (a stack of) well-conditioned square matrices, `F` a
Python float, `FP` a positive Python float; `spec.of(shape)` the same draw
in another shape (`FLOAT`: a Python float), `R(low, high)` any range.  A
row's `args` is one case (name -> spec) or a list of cases: `each("x", A,
ALL)` the same draw over several shapes, `over(names, factories, shape
lists)` for several arguments.  A row of an elementwise function (its rule
declares `elementwise=True`) given one case of arrays also runs on
`ELEMENTWISE_SHAPES` (0-d, Python floats, broadcasting), with the same
draws.  A row whose expression is a block (statements ending in
`return value`) tests statements: `np.add.at(...)`, `x[i] = v`, `xs.pop()`.
"""

import dataclasses
import math
import operator

import numpy as np

import s2sad
from s2sad import rules, runtime
from s2sad.rules import method_key

FLOAT = "float"           # a Python float, in shape lists


@dataclasses.dataclass
class Spec:
    shape: object             # a tuple, or FLOAT
    low: float = None
    high: float = None
    kind: str = "array"       # "array", "float", "spd"
    signed: bool = False      # |x| in (low, high), random signs

    def draw(self, rng):
        if self.kind == "increasing":         # sample points, increasing along the last axis
            return np.cumsum(rng.uniform(0.5, 1.5, size=self.shape), axis=-1)
        if self.kind == "wellcond":           # square matrices far from singular, det < 0 too
            n = self.shape[-1]
            a = rng.normal(size=self.shape) + n * np.eye(n)
            a[..., 0, :] *= -1.0
            return a
        if self.kind == "spd":
            a = rng.normal(size=self.shape)
            return a @ a.T + self.shape[0] * np.eye(self.shape[0])
        size = () if self.kind == "float" else self.shape
        if self.low is None:
            value = rng.normal(size=size)
        else:
            value = rng.uniform(self.low, self.high, size=size)
        if self.signed:
            value = value * rng.choice([-1.0, 1.0], size=size)
        return float(value) if self.kind == "float" else value

    def of(self, shape):
        """The same draw in another shape (FLOAT: a Python float)."""
        if shape == FLOAT:
            return dataclasses.replace(self, shape=(), kind="float")
        return dataclasses.replace(self, shape=tuple(shape), kind="array")

    @property
    def id(self):
        if self.kind == "float":
            return "float"
        return "x".join(map(str, self.shape)) or "0d"


def N(*shape):
    return Spec(shape)


def P(*shape):
    return Spec(shape, 0.5, 2.0)


def U(*shape):
    return Spec(shape, -0.9, 0.9)


def A(*shape):
    return Spec(shape, 0.5, 1.5, signed=True)


def R(low, high, signed=False):
    """Draws in (low, high) (`signed`: |x| there, random signs), in any shape."""
    return lambda *shape: Spec(shape, low, high, signed=signed)


def INC(*shape):
    return Spec(shape, kind="increasing")


def WC(*shape):
    return Spec(shape, kind="wellcond")


def SPD(n):
    return Spec((n, n), kind="spd")


F = Spec((), kind="float")
FP = Spec((), 0.5, 2.0, kind="float")

ND0, ND1, ND2, ND3 = (), (5,), (3, 4), (2, 3, 4)
ALL = [ND0, ND1, ND2, ND3]
ANY1 = [ND1, ND2, ND3]            # axis 0 / -1 need a dimension
ANY2 = [ND2, ND3]                 # axis 1 needs two
ONLY3 = [ND3]                     # axis (0, 2)


def each(name, spec, shapes):
    """One case per shape: {name: spec in that shape}."""
    return [{name: spec(*shape) if shape != FLOAT else spec().of(FLOAT)} for shape in shapes]


def over(names, specs, shape_lists):
    """One case per list of shapes (one shape per argument); `specs` are
    factories such as N, P or R(low, high)."""
    return [{n: spec(*shape) if shape != FLOAT else spec().of(FLOAT)
             for n, spec, shape in zip(names, specs, shapes)} for shapes in shape_lists]


# the shapes an elementwise row also runs on, by its number of array arguments
ELEMENTWISE_SHAPES = {
    1: [((),), ((5,),), ((2, 3, 4),), (FLOAT,)],
    2: [((), ()), ((5,), (5,)), ((3, 4), (3, 4)), ((2, 3, 4), (2, 3, 4)), ((4,), (3, 4)), ((3, 1), (1, 4)),
        ((1,), (2, 3)), ((2, 3, 4), (3, 1)), ((3, 4), ()), ((3, 4), FLOAT), (FLOAT, (3, 4)),
        (FLOAT, FLOAT)],
}


@dataclasses.dataclass
class Row:
    fn: object                # the function whose rule the row exercises (None: not in this NumPy)
    expr: str                 # the value, over the argument names; or a block ending in `return`
    args: object              # name -> Spec, or a list of those (one per case)
    strict: bool = True       # also on StrictArrays (False where the call itself needs the host)
    check: object = None      # a check of its own, on the drawn arguments, for a rule no loss reaches
    wrt: object = None        # the names differentiated (None: every float and float array), or a
    #                           list of such tuples: a case for each

    @property
    def name(self):
        text = self.expr.splitlines()[-1] if "\n" in self.expr else self.expr or self.fn.__name__
        return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")[:48]

    @property
    def cases(self):
        """Every argument case: the row's own, and for an elementwise function
        given one case of arrays, the same draws over `ELEMENTWISE_SHAPES`
        (Python floats only where no method of the argument is called)."""
        if isinstance(self.args, list):
            return self.args
        specs = self.args
        facts = rules.facts(self.fn) if self.fn is not None else None
        arrays = all(s.kind == "array" for s in specs.values())
        if facts is None or not facts.elementwise or not arrays or "\n" in self.expr \
                or len(specs) not in ELEMENTWISE_SHAPES:
            return [specs]
        methods = any(f"{n}." in self.expr for n in specs)
        return [specs] + [{n: s.of(shape) for (n, s), shape in zip(specs.items(), shapes)}
                          for shapes in ELEMENTWISE_SHAPES[len(specs)]
                          if not (methods and FLOAT in shapes)]


def _np(name):
    return getattr(np, name, None)


def _trace_scaled(x, a):
    return np.trace(x) * a


def _check_float32_cast(x):
    """A cast to float32: differences through it are float32 noise, so the
    gradient is checked exactly (a float32 gradient of 2 for a float32 x;
    the float64 x's own dtype for a float64 one), in both modes."""
    def f(x):
        return np.sum(np.float32(x) * 2.0)

    g = s2sad.grad(f)(x)
    assert np.all(g == 2.0) and getattr(g, "dtype", None) == getattr(x, "dtype", None)
    _, t = s2sad.jvp(f)(x, np.ones_like(x))
    assert t == 2.0 * np.size(x)


def _check_fill_diagonal(x, a):
    import s2sad
    d_trace = s2sad.grad(_trace_scaled)                 # a * I, made by np.fill_diagonal
    jacobian = s2sad.jacobian(d_trace, wrt=1, mode="rev")(x, a)
    eps = 1e-6
    expected = (d_trace(x, a + eps) - d_trace(x, a - eps)) / (2 * eps)
    np.testing.assert_allclose(jacobian, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jacobian, np.eye(3))


X, Y = N(3, 4), N(4)
AWAY = R(0.2, 2.0, signed=True)         # away from a kink at 0
JUMPY = [((5,), (5,)), ((3, 4), (4,)), ((3, 1), (1, 4)), (FLOAT, (3,))]
MATMUL_SHAPES = [((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)), ((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                 ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,))]
DOT_SHAPES = [((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)), ((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
              ((2, 3, 4), (4, 5)), ((2, 3, 4), (4,)), ((3, 4), (2, 4, 5)), ((), (3, 4)), ((3, 4), ())]
SIZE12 = [(12,), (3, 4), (2, 3, 2), (6, 2)]
SQUARE = [(3, 3), (1, 1), (2, 4, 4)]
CLIP_BOUNDS = [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (4,)), ((3, 4), (3, 1), ()), ((4,), (3, 1), (1, 4)),
               ((2, 3, 4), (), (3, 4)), ((3, 4), FLOAT, FLOAT), ((), (), ())]
V = N(3)

try:
    import scipy.special as sp
except ImportError:                # SciPy is optional: its rows do not run
    sp = None


def _sp(name):
    """The scipy.special function (None where SciPy, or the function, is missing)."""
    return getattr(sp, name, None) if sp is not None else None


UNIT = R(0.05, 0.95)              # inputs of logit, erfinv, ndtri, entr
SPECIAL_ROWS = [
    Row(_sp("expit"), "sp.expit(x)", {"x": A(3, 4)}),
    Row(_sp("logit"), "sp.logit(x)", {"x": UNIT(3, 4)}),
    Row(_sp("erf"), "sp.erf(x)", {"x": A(3, 4)}),
    Row(_sp("erfc"), "sp.erfc(x)", {"x": A(3, 4)}),
    Row(_sp("erfinv"), "sp.erfinv(x)", {"x": R(0.05, 0.9, signed=True)(3, 4)}),
    Row(_sp("erfcx"), "sp.erfcx(x)", {"x": A(3, 4)}),
    Row(_sp("gammaln"), "sp.gammaln(x)", {"x": P(3, 4)}),
    Row(_sp("digamma"), "sp.digamma(x)", {"x": P(3, 4)}, strict=False),   # (SciPy's polygamma: host)
    Row(_sp("polygamma"), "sp.polygamma(1, x)", each("x", P, ALL), strict=False),
    Row(_sp("polygamma"), "sp.polygamma(3, x)", {"x": P(3, 4)}, strict=False),
    # (the ufuncs also run on StrictArrays; SciPy's Python functions move data to the host)
    Row(_sp("ndtr"), "sp.ndtr(x)", {"x": A(3, 4)}),
    Row(_sp("log_ndtr"), "sp.log_ndtr(x)", {"x": A(3, 4)}),
    Row(_sp("log_ndtr"), "sp.log_ndtr(x * 30.0 - 45.0)", {"x": P(3, 4)}),  # far in the tail
    Row(_sp("ndtri"), "sp.ndtri(x)", {"x": UNIT(3, 4)}),
    Row(_sp("entr"), "sp.entr(x)", {"x": UNIT(3, 4)}),
    Row(_sp("softplus"), "sp.softplus(x)", {"x": A(3, 4)}, strict=False),
    Row(_sp("xlogy"), "sp.xlogy(x, y)", {"x": A(3, 4), "y": P(3, 4)}),
    Row(_sp("xlogy"), "sp.xlogy(x * (x > 0.0), y)",
        over("xy", [A, P], [((3, 4), (3, 4)), ((5,), (5,))])),    # zeros in x: y's gradient 0 there
    Row(_sp("xlog1py"), "sp.xlog1py(x, y)", {"x": A(3, 4), "y": P(3, 4)}),
    Row(_sp("rel_entr"), "sp.rel_entr(x, y)", {"x": P(3, 4), "y": P(3, 4)}),
    Row(_sp("kl_div"), "sp.kl_div(x, y)", {"x": P(3, 4), "y": P(3, 4)}),
    Row(_sp("logsumexp"), "sp.logsumexp(x)", each("x", N, ALL), strict=False),
    Row(_sp("logsumexp"), "sp.logsumexp(x, axis=0)", each("x", N, ANY1), strict=False),
    Row(_sp("logsumexp"), "sp.logsumexp(x, axis=1)", each("x", N, ANY2), strict=False),
    Row(_sp("logsumexp"), "sp.logsumexp(x, axis=-1, keepdims=True)", each("x", N, ANY1), strict=False),
    Row(_sp("logsumexp"), "sp.logsumexp(x, axis=(0, 2))", each("x", N, ONLY3), strict=False),
    Row(_sp("logsumexp"), "sp.logsumexp(x, 1, b)", over("xb", [N, P], [((3, 4), (3, 4)), ((3, 4), (4,))]),
        strict=False),
    Row(_sp("logsumexp"), "sp.logsumexp(x, None, b, True)", over("xb", [N, P], [((3, 4), (3, 4))]),
        strict=False),
    Row(_sp("softmax"), "sp.softmax(x)", each("x", N, ANY1), strict=False),
    Row(_sp("softmax"), "sp.softmax(x, axis=0)", each("x", N, ANY1), strict=False),
    Row(_sp("softmax"), "sp.softmax(x, axis=1)", each("x", N, ANY2), strict=False),
    Row(_sp("log_softmax"), "sp.log_softmax(x, axis=0)", each("x", N, ANY1), strict=False),
    Row(_sp("log_softmax"), "sp.log_softmax(x, axis=1)", each("x", N, ANY2), strict=False),
    Row(_sp("log_softmax"), "sp.log_softmax(x, axis=-1)", each("x", N, ANY1), strict=False),
    Row(_sp("log_softmax"), "sp.log_softmax(x)", each("x", N, ALL), strict=False),
]

ROWS = [
    # ---- arithmetic -------------------------------------------------------------------
    Row(operator.add, "x + y", {"x": X, "y": Y}),
    Row(operator.sub, "x - y", {"x": X, "y": Y}),
    Row(operator.mul, "x * y", {"x": X, "y": Y}),
    Row(operator.truediv, "x / y", {"x": X, "y": P(4)}),
    Row(operator.pow, "x ** y", {"x": P(3, 4), "y": N(4)}),
    Row(operator.pow, "x ** -1.5", each("x", P, [(3, 4), FLOAT])),
    Row(operator.pos, "+x", {"x": X}),
    Row(np.add, "np.add(x, y)", {"x": X, "y": Y}),
    Row(np.subtract, "np.subtract(x, y)", {"x": X, "y": Y}),
    Row(np.multiply, "np.multiply(x, y)", {"x": X, "y": Y}),
    Row(np.divide, "np.divide(x, y)", {"x": X, "y": P(4)}),
    Row(np.power, "np.power(x, y)", {"x": P(3, 4), "y": P(4)}),
    Row(np.float_power, "np.float_power(x, y)", {"x": P(3, 4), "y": N(4)}),
    Row(np.negative, "np.negative(x)", {"x": X}),
    Row(np.positive, "np.positive(x)", {"x": X}),
    Row(np.reciprocal, "np.reciprocal(x)", {"x": P(3, 4)}),
    Row(np.square, "np.square(x)", {"x": X}),
    Row(np.remainder, "np.remainder(x, 3.0)", {"x": P(3, 4)}),
    Row(np.fmod, "np.fmod(x, 3.0)", {"x": P(3, 4)}),
    # (|x| < |y|, both away from the jumps of the quotient's floor and trunc)
    Row(np.mod, "np.mod(x, y)", over("xy", [R(0.1, 0.9, True), R(1.1, 2.0, True)], JUMPY)),
    Row(np.fmod, "np.fmod(x, y)", over("xy", [R(0.1, 0.9, True), R(1.1, 2.0, True)], JUMPY)),
    Row(np.copysign, "np.copysign(x, y)", over("xy", [R(0.1, 0.9, True), R(1.1, 2.0, True)], JUMPY)),
    Row(np.float_power, "np.float_power(x, y)", over("xy", [R(0.1, 0.9), R(1.1, 2.0, True)], JUMPY)),
    # ---- elementwise functions --------------------------------------------------------
    Row(np.exp, "np.exp(x)", {"x": X}),
    Row(np.exp2, "np.exp2(x)", {"x": X}),
    Row(np.expm1, "np.expm1(x)", {"x": X}),
    Row(np.log, "np.log(x)", {"x": P(3, 4)}),
    Row(np.log2, "np.log2(x)", {"x": P(3, 4)}),
    Row(np.log10, "np.log10(x)", {"x": P(3, 4)}),
    Row(np.log1p, "np.log1p(x)", {"x": P(3, 4)}),
    Row(np.sqrt, "np.sqrt(x)", {"x": P(3, 4)}),
    Row(np.cbrt, "np.cbrt(x)", {"x": AWAY(3, 4)}),
    Row(np.sinc, "np.sinc(x)", {"x": X}),
    Row(np.sin, "np.sin(x)", {"x": X}),
    Row(np.cos, "np.cos(x)", {"x": X}),
    Row(np.tan, "np.tan(x)", {"x": R(-1.2, 1.2)(3, 4)}),
    Row(np.arcsin, "np.arcsin(x)", {"x": U(3, 4)}),
    Row(np.arccos, "np.arccos(x)", {"x": U(3, 4)}),
    Row(np.arctan, "np.arctan(x)", {"x": X}),
    Row(np.sinh, "np.sinh(x)", {"x": X}),
    Row(np.cosh, "np.cosh(x)", {"x": X}),
    Row(np.tanh, "np.tanh(x)", {"x": X}),
    Row(np.arcsinh, "np.arcsinh(x)", {"x": X}),
    Row(np.arctanh, "np.arctanh(x)", {"x": U(3, 4)}),
    Row(np.abs, "np.abs(x)", {"x": AWAY(3, 4)}),
    Row(np.absolute, "np.absolute(x)", {"x": AWAY(3, 4)}),
    Row(np.fabs, "np.fabs(x)", {"x": AWAY(3, 4)}),
    Row(abs, "abs(x)", {"x": AWAY(3, 4)}),
    Row(np.deg2rad, "np.deg2rad(x)", {"x": X}),
    Row(np.radians, "np.radians(x)", {"x": X}),
    Row(np.rad2deg, "np.rad2deg(x)", {"x": X}),
    Row(np.degrees, "np.degrees(x)", {"x": X}),
    Row(np.arctan2, "np.arctan2(x, y)", {"x": AWAY(3, 4), "y": AWAY(4)}),
    Row(np.hypot, "np.hypot(x, y)", {"x": AWAY(3, 4), "y": AWAY(4)}),
    Row(np.logaddexp, "np.logaddexp(x, y)", {"x": X, "y": Y}),
    Row(np.logaddexp2, "np.logaddexp2(x, y)", {"x": X, "y": Y}),
    Row(np.copysign, "np.copysign(x, y)", {"x": X, "y": P(4)}),
    Row(np.maximum, "np.maximum(x, y)", {"x": X, "y": Y}),
    Row(np.minimum, "np.minimum(x, y)", {"x": X, "y": Y}),
    Row(np.fmax, "np.fmax(x, y)", {"x": X, "y": Y}),
    Row(np.fmin, "np.fmin(x, y)", {"x": X, "y": Y}),
    Row(np.where, "np.where(x > 0.0, x, y)", {"x": X, "y": Y}),
    Row(np.where, "np.where(m > 0, x, y)", over("mxy", [N, N, N], [
        ((3, 4), (3, 4), (3, 4)), ((5,), (5,), ()), ((3, 4), (4,), ()), ((3, 1), (1, 4), FLOAT),
        ((2, 3, 4), (3, 4), (2, 1, 4)), ((), (3,), (3,)), ((), (), ())])),
    Row(np.clip, "np.clip(x, -0.5, 0.5)", {"x": AWAY(3, 4)}),
    Row(np.clip, "np.clip(x, a_min=-0.5, a_max=0.5)", each("x", AWAY, ALL)),
    Row(np.clip, "np.clip(x, lo, hi)", over(["x", "lo", "hi"], [R(-2.0, 2.0), R(-1.0, -0.3), R(0.3, 1.0)],
                                            CLIP_BOUNDS)),
    Row(np.clip, "np.clip(x, None, hi)", over(["x", "hi"], [R(-2.0, 2.0), R(0.0, 1.0)], [((3, 4), (4,))])),
    Row(np.clip, "np.clip(x, lo, None)", over(["x", "lo"], [R(-2.0, 2.0), R(-1.0, 0.0)], [((3, 4), (3, 1))])),
    Row(np.ndarray.clip, "x.clip(-0.5, 0.5)", {"x": AWAY(3, 4)}),
    Row(np.ndarray.clip, "x.clip(max=0.5)", each("x", AWAY, ALL)),
    Row(np.ndarray.clip, "x.clip(min=-0.5)", each("x", AWAY, ALL)),
    Row(np.ndarray.clip, "x.clip(None, 0.5)", each("x", AWAY, ALL)),
    Row(np.ndarray.clip, "x.clip(lo)", over(["x", "lo"], [R(-2.0, 2.0), R(-1.0, 0.0)], [((3, 4), (3, 1))])),
    Row(np.ndarray.clip, "x.clip(lo, hi)", over(["x", "lo", "hi"], [R(-2.0, 2.0), R(-1.0, -0.3), R(0.3, 1.0)],
                                                [b for b in CLIP_BOUNDS if b[0] != ()])),
    Row(float, "float(np.sum(x))", {"x": X}, strict=False),
    Row(np.float64, "np.float64(np.sum(x * x))", {"x": X}, strict=False),
    Row(np.float64, "np.sum(np.float64(x) ** 2)", each("x", A, ALL), strict=False),
    Row(np.float32, "", each("x", A, ALL), check=lambda x: _check_float32_cast(x)),
    Row(max, "max(a, b * 2.0)", {"a": F, "b": FP}),
    Row(min, "min(a, b * 2.0)", {"a": F, "b": FP}),
    Row(sum, "sum([x, y, x])", {"x": X, "y": Y}),
    Row(math.sin, "math.sin(a)", {"a": F}),
    Row(math.cos, "math.cos(a)", {"a": F}),
    Row(math.tan, "math.tan(a)", {"a": Spec((), -0.9, 0.9, "float")}),
    Row(math.tanh, "math.tanh(a)", {"a": F}),
    Row(math.atan, "math.atan(a)", {"a": F}),
    Row(math.exp, "math.exp(a)", {"a": F}),
    Row(math.expm1, "math.expm1(a)", {"a": F}),
    Row(math.log, "math.log(a)", {"a": FP}),
    Row(math.log1p, "math.log1p(a)", {"a": FP}),
    Row(math.sqrt, "math.sqrt(a)", {"a": FP}),
    Row(math.fabs, "math.fabs(a)", {"a": FP}),
    Row(math.pow, "math.pow(a, b)", {"a": FP, "b": F}),
    # ---- reductions -------------------------------------------------------------------
    Row(np.nanmean, "np.nanmean(x, axis=1)", {"x": X}),
    Row(np.average, "np.average(x, 1, w)", {"x": X, "w": P(4)}),
    Row(np.min, "np.min(x, axis=0)", {"x": X}),
    Row(np.amax, "np.amax(x)", {"x": X}),
    Row(np.amin, "np.amin(x)", {"x": X}),
    Row(np.ndarray.min, "x.min()", {"x": X}),
    Row(np.ndarray.var, "x.var()", {"x": X}),
    Row(np.percentile, "np.percentile(x, 30.0)", {"x": X}),
    Row(np.quantile, "np.quantile(x, 0.3, axis=0)", {"x": X}),
    Row(np.sort, "np.sort(x, axis=1)", {"x": X}),
    Row(np.cumprod, "np.cumprod(x, axis=0)", {"x": P(3, 4)}),
    Row(np.ndarray.cumprod, "x.cumprod()", {"x": P(3, 4)}),
    Row(np.diff, "np.diff(x, axis=1)", {"x": X}),
    Row(_np("trapezoid"), "np.trapezoid(x)", {"x": X}),
    Row(np.prod, "np.prod(x)", each("x", A, ALL)),
    Row(np.prod, "np.prod(x, axis=0)", each("x", A, ANY1)),
    Row(np.prod, "np.prod(x, axis=1)", each("x", A, ANY2)),
    Row(np.prod, "np.prod(x, axis=-1)", each("x", A, ANY1)),
    Row(np.prod, "np.prod(x, axis=(0, 2))", each("x", A, ONLY3)),
    Row(np.prod, "np.prod(x, keepdims=True)", each("x", A, ALL)),
    Row(np.prod, "np.prod(x, axis=1, keepdims=True)", each("x", A, ANY2)),
    Row(np.prod, "np.prod(x, -1)", each("x", A, ANY1)),
    Row(np.ndarray.prod, "x.prod()", each("x", A, ALL)),
    Row(np.ndarray.prod, "x.prod(axis=1)", each("x", A, ANY2)),
    Row(np.ndarray.prod, "x.prod(0, keepdims=True)", each("x", A, ANY1)),
    Row(np.max, "np.max(x)", each("x", N, ALL)),
    Row(np.max, "np.max(x, axis=0)", each("x", N, ANY1)),
    Row(np.max, "np.max(x, axis=1)", each("x", N, ANY2)),
    Row(np.amax, "np.amax(x, axis=-1)", each("x", N, ANY1)),
    Row(np.max, "np.max(x, axis=(0, 2))", each("x", N, ONLY3)),
    Row(np.max, "np.max(x, keepdims=True)", each("x", N, ALL)),
    Row(np.max, "np.max(x, axis=1, keepdims=True)", each("x", N, ANY2)),
    Row(np.min, "np.min(x)", each("x", N, ALL)),
    Row(np.min, "np.min(x, axis=-1)", each("x", N, ANY1)),
    Row(np.amin, "np.amin(x, axis=0, keepdims=True)", each("x", N, ANY1)),
    Row(np.min, "np.min(x, 0)", each("x", N, ANY1)),
    Row(np.ndarray.max, "x.max()", each("x", N, ALL)),
    Row(np.ndarray.max, "x.max(axis=0)", each("x", N, ANY1)),
    Row(np.ndarray.min, "x.min(axis=-1, keepdims=True)", each("x", N, ANY1)),
    Row(np.ndarray.min, "x.min(1)", each("x", N, ANY2)),
    Row(np.var, "np.var(x)", each("x", N, ANY1)),
    Row(np.var, "np.var(x, axis=0)", each("x", N, ANY1)),
    Row(np.var, "np.var(x, axis=-1, ddof=1)", each("x", N, ANY1)),
    Row(np.var, "np.var(x, axis=(0, 2), keepdims=True)", each("x", N, ONLY3)),
    Row(np.var, "np.var(x, ddof=1, keepdims=True)", each("x", N, ANY1)),
    Row(np.var, "np.var(x, axis=0, correction=1)", each("x", N, [(3, 4)])),
    Row(np.std, "np.std(x)", each("x", N, ANY1)),
    Row(np.std, "np.std(x, axis=1)", each("x", N, ANY2)),
    Row(np.std, "np.std(x, axis=-1, ddof=1, keepdims=True)", each("x", N, ANY1)),
    Row(np.std, "np.std(x, axis=(0, 2))", each("x", N, ONLY3)),
    Row(np.ndarray.var, "x.var(ddof=1)", each("x", N, ANY1)),
    Row(np.ndarray.var, "x.var(axis=0)", each("x", N, ANY2)),
    Row(np.ndarray.std, "x.std()", each("x", N, ANY1)),
    Row(np.ndarray.std, "x.std(-1, ddof=1)", each("x", N, ANY2)),
    Row(np.cumsum, "np.cumsum(x)", each("x", N, ALL)),
    Row(np.cumsum, "np.cumsum(x, axis=0)", each("x", N, ANY1)),
    Row(np.cumsum, "np.cumsum(x, axis=1)", each("x", N, ANY2)),
    Row(np.cumsum, "np.cumsum(x, axis=-1)", each("x", N, ANY1)),
    Row(np.ndarray.cumsum, "x.cumsum()", each("x", N, ALL)),
    Row(np.ndarray.cumsum, "x.cumsum(axis=1)", each("x", N, ANY2)),
    Row(np.nansum, "np.nansum(x)", each("x", N, ALL)),
    Row(np.nansum, "np.nansum(x, axis=0)", each("x", N, ANY1)),
    Row(np.nanmean, "np.nanmean(x)", each("x", N, ANY1)),
    Row(np.nanmean, "np.nanmean(x, axis=1, keepdims=True)", each("x", N, ANY2)),
    Row(np.median, "np.median(x)", each("x", N, ANY1)),
    Row(np.median, "np.median(x, axis=1)", each("x", N, ANY2)),
    Row(np.median, "np.median(x, axis=0, keepdims=True)", each("x", N, ANY1)),
    Row(np.average, "np.average(x, axis=0)", each("x", N, ANY1)),
    Row(_np("trapezoid"), "np.trapezoid(x, dx=0.25)", each("x", N, ANY1)),
    Row(_np("trapezoid"), "np.trapezoid(x, axis=0)", each("x", N, ANY2)),
    Row(np.quantile, "np.quantile(x, 0.3)", each("x", N, ANY1)),
    Row(np.quantile, "np.quantile(x, 0.75, axis=1)", each("x", N, ANY2)),
    Row(np.percentile, "np.percentile(x, 90, axis=0, keepdims=True)", each("x", N, ANY1)),
    Row(np.cumprod, "np.cumprod(x)", each("x", A, ALL)),
    Row(np.cumprod, "np.cumprod(x, axis=1)", each("x", A, ANY2)),
    Row(np.ndarray.cumprod, "x.cumprod(axis=-1)", each("x", A, ANY1)),
    Row(np.sort, "np.sort(x)", each("x", N, ANY1)),
    Row(np.sort, "np.sort(x, axis=0)", each("x", N, ANY1)),
    Row(np.sort, "np.sort(x, axis=None)", each("x", N, ANY1)),
    Row(np.average, "np.average(x, 1, w)", over("xw", [N, P], [((3, 4), (4,)), ((3, 4), (3, 4))])),
    Row(np.average, "np.average(x, axis=1, weights=w, keepdims=True)", {"x": X, "w": P(4)},
        wrt=("x",)),                                       # (weights by keyword: a constant)
    Row(_np("trapezoid"), "np.trapezoid(y, x)", over("yx", [N, INC], [((5,), (5,)), ((3, 5), (3, 5)),
                                                                      ((3, 5), (5,))])),
    Row(_np("trapezoid"), "np.trapezoid(y, x=x, axis=0)", {"y": N(5, 3), "x": INC(5)}, wrt=("y",)),
    Row(sum, "sum(x)", each("x", N, ANY1)),
    Row(sum, "sum([a, b])", over("ab", [N, N], [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (2, 3))])),
    # ---- products and linear algebra --------------------------------------------------
    Row(np.cross, "np.cross(a, b)", {"a": N(2, 3), "b": N(3)}),
    Row(_np("vecdot"), "np.vecdot(a, b)", {"a": N(3, 4), "b": N(4)}),
    Row(getattr(np.linalg, "vecdot", None), "np.linalg.vecdot(a, b)", {"a": N(3, 4), "b": N(3, 4)}),
    Row(np.diag, "np.diag(v)", {"v": V}),
    Row(np.linalg.inv, "np.linalg.inv(x)", {"x": SPD(3)}),
    Row(np.linalg.det, "np.linalg.det(x)", {"x": SPD(3)}),
    Row(np.linalg.slogdet, "np.linalg.slogdet(x)[1]", {"x": SPD(3)}),
    Row(np.linalg.matrix_power, "np.linalg.matrix_power(x, 3)", {"x": N(3, 3)}),
    Row(np.linalg.pinv, "np.linalg.pinv(x)", {"x": N(4, 3)}),
    Row(np.linalg.lstsq, "np.linalg.lstsq(a, b, rcond=None)[0]", {"a": N(4, 3), "b": N(4)}),
    Row(np.linalg.cholesky, "np.linalg.cholesky((x + x.T) / 2)", {"x": SPD(3)}),   # (reads a symmetric x)
    Row(np.linalg.eigh, "np.linalg.eigh((x + x.T) / 2)[0]", {"x": SPD(3)}),
    Row(np.linalg.svd, "np.linalg.svd(x, full_matrices=False)[1]", {"x": N(4, 3)}),
    Row(np.linalg.qr, "np.linalg.qr(x)[1]", {"x": N(4, 3)}),
    # ---- products, einsum, diagonals, norms, solves on several shapes
    Row(np.vdot, "np.vdot(a, b)", over('ab', [N, N], [((4,), (4,)), ((3, 4), (3, 4)), ((2, 6), (3, 4)), ((), ())])),
    Row(np.outer, "np.outer(a, b)", over('ab', [N, N], [((3,), (4,)), ((2, 3), (4,)), ((3,), (2, 2)), ((), (3,))])),
    Row(np.inner, "np.inner(a, b)",
        over('ab', [N, N], [((4,), (4,)), ((3, 4), (4,)), ((4,), (2, 4)), ((3, 4), (2, 4)),
                            ((2, 3, 4), (5, 4)), ((4,), (2, 3, 4)), ((), (3, 4)), ((3, 4), ())])),
    Row(np.tensordot, "np.tensordot(a, b)",
        over('ab', [N, N], [((2, 3, 4), (3, 4, 5)), ((3, 4), (3, 4)), ((2, 3, 4), (3, 4))])),
    Row(np.tensordot, "np.tensordot(a, b, axes=1)",
        over('ab', [N, N], [((3, 4), (4, 5)), ((2, 3), (3,)), ((4,), (4, 2, 3))])),
    Row(np.tensordot, "np.tensordot(a, b, 0)", over('ab', [N, N], [((3,), (4,)), ((2, 3), (2,))])),
    Row(np.tensordot, "np.tensordot(a, b, axes=([1, 0], [0, 2]))",
        over('ab', [N, N], [((2, 3), (3, 4, 2)), ((2, 3, 5), (3, 4, 2))])),
    Row(np.tensordot, "np.tensordot(a, b, axes=(-1, 0))", over('ab', [N, N], [((2, 3), (3, 4)), ((4, 2, 3), (3,))])),
    Row(np.einsum, "np.einsum('ij->', x)", each("x", N, [(3, 4)])),
    Row(np.einsum, "np.einsum('ij->i', x)", each("x", N, [(3, 4)])),
    Row(np.einsum, "np.einsum('ij->j', x)", each("x", N, [(3, 4)])),
    Row(np.einsum, "np.einsum('ij->ji', x)", each("x", N, [(3, 4)])),
    Row(np.einsum, "np.einsum('ij', x)", each("x", N, [(3, 4)])),
    Row(np.einsum, "np.einsum('ji', x)", each("x", N, [(3, 4)])),
    Row(np.einsum, "np.einsum('ii->i', x)", each("x", N, [(4, 4)])),
    Row(np.einsum, "np.einsum('ii', x)", each("x", N, [(4, 4)])),
    Row(np.einsum, "np.einsum('ii->', x)", each("x", N, [(4, 4)])),
    Row(np.einsum, "np.einsum('iij->ij', x)", each("x", N, [(3, 3, 2)])),
    Row(np.einsum, "np.einsum('iji->j', x)", each("x", N, [(3, 2, 3)])),
    Row(np.einsum, "np.einsum('...ii->...i', x)", each("x", N, [(2, 3, 3)])),
    Row(np.einsum, "np.einsum('i...->...', x)", each("x", N, [(3, 2, 4)])),
    Row(np.einsum, "np.einsum('i->', x)", each("x", N, [(5,)])),
    Row(np.einsum, "np.einsum('->', x)", each("x", N, [()])),
    Row(np.einsum, "np.einsum('ijk->kij', x)", each("x", N, ONLY3)),
    Row(np.einsum, "np.einsum('iii->', x)", each("x", N, [(2, 2, 2)])),
    Row(np.einsum, "np.einsum('i...i', x)", each("x", N, [(3, 2, 3)])),
    Row(np.einsum, "np.einsum('ij,jk->ik', a, b)", over('ab', [N, N], [((3, 4), (4, 2))])),
    Row(np.einsum, "np.einsum('ij,jk', a, b)", over('ab', [N, N], [((3, 4), (4, 2))])),
    Row(np.einsum, "np.einsum('i,i->', a, b)", over('ab', [N, N], [((5,), (5,))])),
    Row(np.einsum, "np.einsum('i,j->ij', a, b)", over('ab', [N, N], [((3,), (4,))])),
    Row(np.einsum, "np.einsum('bij,bjk->bik', a, b)", over('ab', [N, N], [((2, 3, 4), (2, 4, 5))])),
    Row(np.einsum, "np.einsum('...ij,...jk->...ik', a, b)",
        over('ab', [N, N], [((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 2, 4, 5)),
                            ((2, 1, 3, 4), (3, 4, 2))])),
    Row(np.einsum, "np.einsum('...i,...i', a, b)",
        over('ab', [N, N], [((2, 3), (3,)), ((4,), (2, 3, 4)), ((2, 1, 3), (4, 3))])),
    Row(np.einsum, "np.einsum('i j , j k -> k i', a, b)", over('ab', [N, N], [((3, 4), (4, 2))])),
    Row(np.einsum, "np.einsum('ij,ij->ij', a, b)", over('ab', [N, N], [((3, 1), (3, 4)), ((1, 4), (3, 4))])),
    Row(np.einsum, "np.einsum('ij,j->i', a, b)", over('ab', [N, N], [((3, 4), (4,))])),
    Row(np.einsum, "np.einsum('aB,Bc', a, b)", over('ab', [N, N], [((3, 4), (4, 2))])),
    Row(np.einsum, "np.einsum('ii,ij->j', a, b)", over('ab', [N, N], [((3, 3), (3, 2))])),
    Row(np.trace, "np.trace(x)", each("x", N, [(3, 3), (3, 4), (4, 2), (2, 3, 4)])),
    Row(np.trace, "np.trace(x, 1)", each("x", N, [(3, 3), (3, 4), (2, 3, 2)])),
    Row(np.trace, "np.trace(x, offset=-1)", each("x", N, [(3, 3), (4, 2)])),
    Row(np.trace, "np.trace(x, axis1=1, axis2=2)", each("x", N, [(2, 3, 3), (2, 3, 4)])),
    Row(np.trace, "np.trace(x, 1, 2, 0)", each("x", N, [(3, 2, 4)])),
    Row(np.ndarray.trace, "x.trace()", each("x", N, [(3, 3), (2, 3, 4)])),
    Row(np.ndarray.trace, "x.trace(offset=1, axis1=0, axis2=2)", each("x", N, [(3, 2, 4)])),
    Row(np.diag, "np.diag(x)", each("x", N, [(4,), (3, 3), (3, 4), (4, 2)])),
    Row(np.diag, "np.diag(x, 1)", each("x", N, [(4,), (3, 4), (3, 3)])),
    Row(np.diag, "np.diag(x, k=-2)", each("x", N, [(3,), (4, 3)])),
    Row(np.diagonal, "np.diagonal(x)", each("x", N, [(3, 3), (3, 4), (2, 3, 4)])),
    Row(np.diagonal, "np.diagonal(x, offset=-1)", each("x", N, [(3, 3), (4, 3, 2)])),
    Row(np.diagonal, "np.diagonal(x, 0, -1, 0)", each("x", N, [(3, 2, 4)])),
    Row(np.ndarray.diagonal, "x.diagonal()", each("x", N, [(3, 3), (2, 4, 3)])),
    Row(np.ndarray.diagonal, "x.diagonal(1, 1, 2)", each("x", N, ONLY3)),
    Row(np.linalg.norm, "np.linalg.norm(x)", each("x", N, ANY1)),
    Row(np.linalg.norm, "np.linalg.norm(x, axis=1)", each("x", N, ANY2)),
    Row(np.linalg.norm, "np.linalg.norm(x, axis=-1, keepdims=True)", each("x", N, [(5,), (3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, keepdims=True)", each("x", N, [(5,), (3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, 'fro')", each("x", N, [(3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, ord='fro', axis=(0, 2))", each("x", N, ONLY3)),
    Row(np.linalg.norm, "np.linalg.norm(x, axis=(1, 2))", each("x", N, ONLY3)),
    Row(np.linalg.norm, "np.linalg.norm(x, ord=1)", each("x", N, [(5,), (3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, ord=2)", each("x", N, [(5,), (3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, ord=np.inf)", each("x", N, [(5,), (3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, ord=-np.inf)", each("x", N, [(5,), (3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, ord=3)", each("x", N, [(5,)])),
    Row(np.linalg.norm, "np.linalg.norm(x, ord=1, axis=1)", each("x", N, [(3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, ord=np.inf, axis=0, keepdims=True)", each("x", N, [(3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, 2, -1)", each("x", N, [(5,), (2, 3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, 'nuc')", each("x", N, [(3, 4)])),
    Row(np.linalg.norm, "np.linalg.norm(x, ord=1, axis=(1, 2))", each("x", N, ONLY3)),
    Row(np.linalg.norm, "np.linalg.norm(x, ord=np.inf, axis=(0, 1), keepdims=True)", each("x", N, [(3, 4, 2)])),
    Row(np.linalg.inv, "np.linalg.inv(a)", each("a", WC, SQUARE)),
    Row(np.linalg.solve, "np.linalg.solve(a, b)",
        over('ab', [WC, N], [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 4)), ((2, 3, 3), (3,)),
                             ((3, 3), (2, 3, 2)), ((2, 1, 3, 3), (4, 3, 2))])),
    Row(np.linalg.det, "np.linalg.det(a)", each("a", WC, SQUARE)),
    Row(np.linalg.slogdet, 'sign, logdet = np.linalg.slogdet(a)\nreturn logdet', each("a", WC, SQUARE)),
    Row(np.linalg.slogdet, "np.linalg.slogdet(a)[1]", each("a", WC, SQUARE)),
    Row(np.linalg.slogdet, 'sign, logdet = np.linalg.slogdet(a)\nreturn sign * logdet',
        each("a", WC, SQUARE)),
    Row(np.linalg.multi_dot, "np.linalg.multi_dot([a, b, d])",
        over('abd', [N, N, N], [((2, 3), (3, 4), (4, 2)), ((3,), (3, 4), (4,)), ((3,), (3, 4), (4, 2)),
                                ((2, 3), (3, 4), (4,))])),
    Row(np.kron, "np.kron(a, b)",
        over('ab', [N, N], [((2,), (3,)), ((2, 3), (4, 2)), ((3,), (2, 2)), ((2, 2), (3,))])),
    Row(np.linalg.pinv, "np.linalg.pinv(a)", each("a", N, [(4, 3), (3, 5), (3, 3)])),
    # ---- shapes -----------------------------------------------------------------------
    Row(np.reshape, "np.reshape(x, (4, 3))", {"x": X}),
    Row(np.ndarray.reshape, "x.reshape(2, 6)", {"x": X}),
    Row(np.ndarray.mT, "x.mT", {"x": N(2, 3, 4)}),
    Row(np.expand_dims, "np.expand_dims(x, 1)", {"x": V}),
    Row(np.broadcast_to, "np.broadcast_to(x, (2, 3))", {"x": V}),
    Row(np.atleast_3d, "np.atleast_3d(x)", {"x": X}),
    Row(np.ndarray.swapaxes, "x.swapaxes(0, 1)", {"x": X}),
    Row(np.ndarray.copy, "x.copy()", {"x": X}),
    Row(np.copy, "np.copy(x)", {"x": X}),
    Row(np.array, "np.array(x)", {"x": X}, strict=False),
    Row(np.asarray, "np.asarray(x)", {"x": X}, strict=False),
    Row(np.ndarray.astype, "x.astype(np.float64)", {"x": X}),
    Row(np.ndarray.item, "x.item(1)", {"x": V}, strict=False),
    Row(np.concatenate, "np.concatenate([x, y], axis=1)", {"x": X, "y": N(3, 2)}),
    Row(np.split, "np.split(x, 2, axis=1)[1]", {"x": X}),
    Row(np.array_split, "np.array_split(x, 2)[0]", {"x": X}),
    Row(np.hsplit, "np.hsplit(x, 2)[0]", {"x": X}),
    Row(np.vsplit, "np.vsplit(x, 3)[2]", {"x": X}),
    Row(np.dsplit, "np.dsplit(x, 2)[1]", {"x": N(2, 3, 4)}),
    Row(np.flip, "np.flip(x, axis=1)", {"x": X}),
    Row(np.roll, "np.roll(x, 1, axis=1)", {"x": X}),
    Row(np.tile, "np.tile(x, (2, 1))", {"x": X}),
    # ---- arithmetic forms
    Row(operator.pow, "x ** 2", each("x", N, ALL + [FLOAT])),
    Row(operator.pow, "x ** 3", each("x", N, ALL + [FLOAT])),
    Row(operator.pow, "x ** 0.5", each("x", R(0.5, 1.5), ALL + [FLOAT])),
    Row(operator.pow, "2.0 ** x", each("x", N, ALL + [FLOAT])),
    Row(np.power, "np.power(x, 3)", each("x", N, ALL + [FLOAT])),
    Row(operator.neg, "-x", each("x", N, ALL + [FLOAT])),
    Row(operator.neg, "-(x * y)", over('xy', [N, N], [((3, 4), (3, 4)), ((3, 4), (4,)), ((), ())])),
    # ---- sum and mean
    Row(np.sum, "np.sum(x)", each("x", N, ALL)),
    Row(np.sum, "np.sum(x, axis=0)", each("x", N, ANY1)),
    Row(np.sum, "np.sum(x, axis=1)", each("x", N, ANY2)),
    Row(np.sum, "np.sum(x, axis=-1)", each("x", N, ANY1)),
    Row(np.sum, "np.sum(x, axis=(0, 2))", each("x", N, ONLY3)),
    Row(np.sum, "np.sum(x, keepdims=True)", each("x", N, ALL)),
    Row(np.sum, "np.sum(x, axis=1, keepdims=True)", each("x", N, ANY2)),
    Row(np.sum, "np.sum(x, axis=(0, 2), keepdims=True)", each("x", N, ONLY3)),
    Row(np.mean, "np.mean(x)", each("x", N, ALL)),
    Row(np.mean, "np.mean(x, axis=0)", each("x", N, ANY1)),
    Row(np.mean, "np.mean(x, axis=1)", each("x", N, ANY2)),
    Row(np.mean, "np.mean(x, axis=-1)", each("x", N, ANY1)),
    Row(np.mean, "np.mean(x, axis=(0, 2))", each("x", N, ONLY3)),
    Row(np.mean, "np.mean(x, keepdims=True)", each("x", N, ALL)),
    Row(np.mean, "np.mean(x, axis=1, keepdims=True)", each("x", N, ANY2)),
    Row(np.mean, "np.mean(x, axis=(0, 2), keepdims=True)", each("x", N, ONLY3)),
    Row(np.ndarray.sum, "x.sum()", each("x", N, ALL)),
    Row(np.ndarray.sum, "x.sum(axis=1)", each("x", N, ANY2)),
    Row(np.ndarray.sum, "x.sum(axis=-1, keepdims=True)", each("x", N, ANY1)),
    Row(np.ndarray.mean, "x.mean()", each("x", N, ALL)),
    Row(np.ndarray.mean, "x.mean(axis=0)", each("x", N, ANY1)),
    Row(np.ndarray.mean, "x.mean(axis=1)", each("x", N, ANY2)),
    # ---- products
    Row(operator.matmul, "a @ b", over('ab', [N, N], MATMUL_SHAPES)),
    Row(np.matmul, "np.matmul(a, b)", over('ab', [N, N], MATMUL_SHAPES)),
    Row(np.dot, "np.dot(a, b)", over('ab', [N, N], DOT_SHAPES)),
    Row(np.ndarray.dot, "a.dot(b)", over('ab', [N, N], DOT_SHAPES[:-2] + DOT_SHAPES[-1:])),
    Row(operator.matmul, "a.T @ b", over('ab', [N, N], [((4, 3), (4, 5))])),
    # ---- reshape, transpose, indexing
    Row(np.reshape, "np.reshape(x, (2, 6))", each("x", N, SIZE12)),
    Row(np.ndarray.reshape, "x.reshape(3, -1)", each("x", N, SIZE12)),
    Row(np.ndarray.reshape, "x.reshape((4, 3))", each("x", N, SIZE12)),
    Row(np.ndarray.reshape, "x.reshape(-1)", each("x", N, ALL)),
    Row(np.transpose, "np.transpose(x)", each("x", N, ALL)),
    Row(np.transpose, "np.transpose(x, (1, 0, 2))", each("x", N, ONLY3)),
    Row(np.transpose, "np.transpose(x, (2, 0, 1))", each("x", N, ONLY3)),
    Row(np.ndarray.T, "x.T", each("x", N, ALL)),
    Row(np.ndarray.transpose, "x.transpose()", each("x", N, ANY1)),
    Row(np.ndarray.transpose, "x.transpose(1, 0)", each("x", N, [(3, 4)])),
    Row(np.ndarray.transpose, "x.transpose(2, 0, 1)", each("x", N, ONLY3)),
    Row(np.ndarray.transpose, "x.transpose((1, 0))", each("x", N, [(3, 4)])),
    Row(operator.getitem, "x[0]", each("x", N, ANY1)),
    Row(operator.getitem, "x[-1]", each("x", N, ANY1)),
    Row(operator.getitem, "x[1:3]", each("x", N, [(5,), (4, 3), (4, 2, 3)])),
    Row(operator.getitem, "x[:, 0]", each("x", N, ANY2)),
    Row(operator.getitem, "x[::2]", each("x", N, [(5,), (4, 3), (3, 2, 2)])),
    Row(operator.getitem, "x[1:, :2]", each("x", N, [(3, 4), (3, 4, 2)])),
    Row(operator.getitem, "x[1, 2]", each("x", N, [(3, 4), (3, 4, 2)])),
    Row(operator.getitem, "x[..., 0]", each("x", N, ANY1)),
    Row(operator.getitem, "x[np.array([0, 2, 2])]", each("x", N, [(4,), (4, 3), (3, 2, 2)])),
    # ---- shape operations on several shapes
    Row(np.swapaxes, "np.swapaxes(x, 0, 1)", each("x", N, ANY2)),
    Row(np.swapaxes, "np.swapaxes(x, 0, -1)", each("x", N, ANY2)),
    Row(np.ndarray.swapaxes, "x.swapaxes(1, 2)", each("x", N, ONLY3)),
    Row(np.ndarray.swapaxes, "x.swapaxes(1, 0)", each("x", N, ANY2)),
    Row(np.moveaxis, "np.moveaxis(x, 0, -1)", each("x", N, ANY1)),
    Row(np.moveaxis, "np.moveaxis(x, -1, 1)", each("x", N, ANY2)),
    Row(np.moveaxis, "np.moveaxis(x, (0, 1), (2, 0))", each("x", N, ONLY3)),
    Row(np.expand_dims, "np.expand_dims(x, 0)", each("x", N, ALL)),
    Row(np.expand_dims, "np.expand_dims(x, -1)", each("x", N, ALL)),
    Row(np.expand_dims, "np.expand_dims(x, (0, 2))", each("x", N, [(5,), (3, 4)])),
    Row(np.squeeze, "np.squeeze(x)", each("x", N, [(1,), (1, 1), (3, 1), (1, 4, 1), (2, 1, 3), (3, 4)])),
    Row(np.squeeze, "np.squeeze(x, axis=1)", each("x", N, [(3, 1), (2, 1, 3)])),
    Row(np.squeeze, "np.squeeze(x, -1)", each("x", N, [(3, 1), (1, 3, 1)])),
    Row(np.squeeze, "np.squeeze(x, (0, 2))", each("x", N, [(1, 4, 1)])),
    Row(np.ndarray.squeeze, "x.squeeze()", each("x", N, [(3, 1), (1, 4, 1)])),
    Row(np.ndarray.squeeze, "x.squeeze(axis=0)", each("x", N, [(1, 4), (1, 1, 3)])),
    Row(np.ndarray.squeeze, "x.squeeze(1)", each("x", N, [(3, 1), (2, 1, 3)])),
    Row(np.expand_dims, "np.expand_dims(np.squeeze(x), 0)", each("x", N, [(3, 1), (1, 4, 1)])),
    Row(np.squeeze, "np.squeeze(np.expand_dims(x, 1))", each("x", N, [(4,), (3, 1), (2, 3)])),
    Row(operator.pow, "np.squeeze(np.expand_dims(x, -1), 0) ** 2", each("x", N, [(1, 3), (1, 2, 3)])),
    Row(np.ravel, "np.ravel(x)", each("x", N, ALL)),
    Row(np.ravel, "np.ravel(x, order='F')", each("x", N, ANY2)),
    Row(np.ndarray.ravel, "x.ravel()", each("x", N, ALL)),
    Row(np.ndarray.ravel, "x.ravel(order='F')", each("x", N, ANY2)),
    Row(np.ndarray.flatten, "x.flatten()", each("x", N, ALL)),
    Row(np.ndarray.flatten, "x.flatten('F')", each("x", N, ANY2)),
    Row(np.flip, "np.flip(x)", each("x", N, ALL)),
    Row(np.flip, "np.flip(x, 0)", each("x", N, ANY1)),
    Row(np.flip, "np.flip(x, axis=-1)", each("x", N, ANY1)),
    Row(np.flip, "np.flip(x, (0, 2))", each("x", N, ONLY3)),
    Row(np.roll, "np.roll(x, 2)", each("x", N, ALL)),
    Row(np.roll, "np.roll(x, -1, axis=0)", each("x", N, ANY1)),
    Row(np.roll, "np.roll(x, 2, axis=-1)", each("x", N, ANY1)),
    Row(np.roll, "np.roll(x, (1, -2), axis=(0, 1))", each("x", N, ANY2)),
    Row(np.roll, "np.roll(x, 1, axis=(0, -1))", each("x", N, ANY2)),
    Row(np.roll, "np.roll(x, (1, 3))", each("x", N, [(5,), (3, 4)])),
    Row(np.roll, "np.roll(x, (1, 2), axis=(1, 1))", each("x", N, ANY2)),
    Row(np.broadcast_to, "np.broadcast_to(x, (3, 4))", each("x", N, [(), (4,), (3, 1), (1, 4), (1, 1), (3, 4)])),
    Row(np.broadcast_to, "np.broadcast_to(x, (2, 3, 4))", each("x", N, [(3, 4), (3, 1), (2, 1, 4)])),
    Row(np.tile, "np.tile(x, 2)", each("x", N, ALL)),
    Row(np.tile, "np.tile(x, (2, 3))", each("x", N, [(), (4,), (3, 4), (2, 3, 4)])),
    Row(np.tile, "np.tile(x, (2, 1, 2))", each("x", N, [(3,), (3, 4)])),
    Row(np.repeat, "np.repeat(x, 3)", each("x", N, ALL)),
    Row(np.repeat, "np.repeat(x, 2, axis=0)", each("x", N, ANY1)),
    Row(np.repeat, "np.repeat(x, 2, axis=-1)", each("x", N, ANY1)),
    Row(np.repeat, "np.repeat(x, [1, 0, 2], axis=0)", each("x", N, [(3,), (3, 4), (3, 2, 2)])),
    Row(np.repeat, "np.repeat(x, [2, 1, 3, 1], axis=1)", each("x", N, [(3, 4), (2, 4, 3)])),
    Row(np.repeat, "np.repeat(x, [1, 2, 3, 1, 0, 2])", each("x", N, [(6,), (2, 3), (3, 2, 1)])),
    Row(np.repeat, "np.repeat(x, [2], axis=0)", each("x", N, ANY1)),
    Row(np.repeat, "np.repeat(x, [3, 1, 2], axis=-1)", each("x", N, [(3,), (2, 3), (4, 2, 3)])),
    Row(np.ndarray.repeat, "x.repeat(2)", each("x", N, ALL)),
    Row(np.ndarray.repeat, "x.repeat(2, axis=1)", each("x", N, ANY2)),
    Row(np.ndarray.repeat, "x.repeat([1, 2, 3], axis=0)", each("x", N, [(3,), (3, 2)])),
    Row(np.pad, "np.pad(x, 1)", each("x", N, ANY1)),
    Row(np.pad, "np.pad(x, (1, 2))", each("x", N, ANY1)),
    Row(np.pad, "np.pad(x, ((1, 0), (2, 3)))", each("x", N, [(3, 4)])),
    Row(np.pad, "np.pad(x, ((0, 0), (1, 1), (2, 0)))", each("x", N, ONLY3)),
    Row(np.pad, "np.pad(x, 2, constant_values=1.5)", each("x", N, [(3,), (2, 3)])),
    Row(np.pad, "np.pad(x, 2, mode='edge')", each("x", N, [(1,), (4,), (3, 4)])),
    Row(np.pad, "np.pad(x, ((1, 2), (3, 0)), mode='edge')", each("x", N, [(3, 4), (1, 2)])),
    Row(np.pad, "np.pad(x, 1, 'edge')", each("x", N, [(2, 3, 2)])),
    Row(np.pad, "np.pad(x, 2, mode='reflect')", each("x", N, [(5,), (3, 4), (3, 3, 4)])),
    Row(np.pad, "np.pad(x, (5, 7), mode='reflect')", each("x", N, [(1,), (3,), (2, 3)])),
    Row(np.pad, "np.pad(x, ((2, 1), (1, 3)), mode='symmetric')", each("x", N, [(3, 4), (1, 2)])),
    Row(np.pad, "np.pad(x, (2, 4), mode='wrap')", each("x", N, [(3,), (3, 4)])),
    Row(operator.getitem, "np.pad(x, 1, mode='empty')[1:-1]", each("x", N, [(4,), (3, 4)])),
    Row(np.fliplr, "np.fliplr(x)", each("x", N, ANY2)),
    Row(np.flipud, "np.flipud(x)", each("x", N, [(5,), (3, 4)])),
    Row(np.rot90, "np.rot90(x)", each("x", N, ANY2)),
    Row(np.rot90, "np.rot90(x, 3, axes=(1, 0))", each("x", N, [(3, 4)])),
    Row(np.atleast_1d, "np.atleast_1d(x)", each("x", N, [(), (5,), (3, 4)])),
    Row(np.atleast_2d, "np.atleast_2d(x)", each("x", N, [(), (5,), (3, 4)])),
    Row(np.tril, "np.tril(x)", each("x", N, [(4, 4), (3, 5), (2, 3, 3)])),
    Row(np.triu, "np.triu(x, 1)", each("x", N, [(4, 4), (3, 5), (4,)])),
    Row(np.tril, "np.tril(x, -1)", each("x", N, [(4, 4), (5,)])),
    Row(np.diff, "np.diff(x)", each("x", N, ANY1)),
    Row(np.diff, "np.diff(x, n=2, axis=0)", each("x", N, [(4,), (5, 3)])),
    Row(np.diff, "np.diff(x, prepend=0.5, append=2.0)", each("x", N, [(5,), (3, 4)])),
    # ---- joins, differentiated with respect to each part or several
    Row(np.concatenate, "np.concatenate([x, y])",
        over('xy', [N, N], [((3,), (4,)), ((2, 3), (4, 3)), ((1, 2, 2), (3, 2, 2))]),
        wrt=[('x',), ('y',), ('x', 'y')]),
    Row(np.concatenate, "np.concatenate((x, y), axis=1)",
        over('xy', [N, N], [((2, 3), (2, 1)), ((2, 1, 3), (2, 4, 3))]), wrt=[('x', 'y'), ('y',)]),
    Row(np.concatenate, "np.concatenate([x, y], axis=-1)",
        over('xy', [N, N], [((3,), (2,)), ((2, 3, 1), (2, 3, 4))])),
    Row(np.concatenate, "np.concatenate([x, y], axis=None)",
        over('xy', [N, N], [((2, 3), (4,)), ((), (2, 2)), ((2, 1, 3), (1, 2))]), wrt=[('x', 'y'), ('x',)]),
    Row(np.concatenate, "np.concatenate([x, y, z], axis=1)",
        over('xyz', [N, N, N], [((2, 3), (2, 1), (2, 2))]), wrt=[('x', 'z'), ('y',), ('x', 'y', 'z')]),
    Row(np.concatenate, "np.concatenate([x, 2.0 * x, np.sin(y)], axis=0)",
        over('xy', [N, N], [((3,), (2,)), ((2, 3), (1, 3))]), wrt=[('x',), ('x', 'y')]),
    Row(np.stack, "np.stack([x, y])",
        over('xy', [N, N], [((), ()), ((3,), (3,)), ((2, 3), (2, 3))]), wrt=[('x',), ('x', 'y')]),
    Row(np.stack, "np.stack((x, y), axis=1)",
        over('xy', [N, N], [((3,), (3,)), ((2, 3), (2, 3)), ((2, 1, 3), (2, 1, 3))])),
    Row(np.stack, "np.stack([x, y], axis=-1)",
        over('xy', [N, N], [((4,), (4,)), ((2, 3), (2, 3))]), wrt=[('x', 'y'), ('y',)]),
    Row(np.stack, "np.stack([x, y, z], axis=1)",
        over('xyz', [N, N, N], [((3,), (3,), (3,)), ((2, 3), (2, 3), (2, 3))]), wrt=[('x', 'z'), ('y',)]),
    Row(np.stack, "np.stack([x, 2 * x, y])",
        over('xy', [N, N], [((3,), (3,)), ((2, 3), (2, 3))]), wrt=[('x',), ('x', 'y')]),
    Row(operator.pow, "np.stack([x * y, x, y], axis=2) ** 2", over('xy', [N, N], [((2, 3), (2, 3))])),
    Row(np.hstack, "np.hstack([x, y])",
        over('xy', [N, N], [((3,), (2,)), ((), (3,)), ((2, 3), (2, 1)), ((2, 3, 2), (2, 1, 2))]),
        wrt=[('x', 'y'), ('x',)]),
    Row(np.hstack, "np.hstack((x, y, z))",
        over('xyz', [N, N, N], [((3,), (), (2,)), ((2, 2), (2, 1), (2, 3))]), wrt=[('x', 'z'), ('x', 'y', 'z')]),
    Row(np.vstack, "np.vstack([x, y])",
        over('xy', [N, N], [((3,), (3,)), ((), ()), ((2, 3), (4, 3)), ((3,), (2, 3)), ((1, 2, 2), (3, 2, 2))]),
        wrt=[('x', 'y'), ('y',)]),
    Row(np.vstack, "np.vstack((x, y, z))",
        over('xyz', [N, N, N], [((3,), (2, 3), (3,))]), wrt=[('x', 'z'), ('x', 'y', 'z')]),
    # ---- indexing and constants -------------------------------------------------------
    Row(operator.getitem, "x[1:, ::2]", {"x": X}),
    Row(np.take, "np.take(x, [0, 2, 2], axis=1)", {"x": X}),
    Row(np.ndarray.take, "x.take([3, 0])", {"x": X}),
    Row(np.take_along_axis, "np.take_along_axis(x, np.argsort(x, axis=1), axis=1)", {"x": X}),
    Row(np.full, "np.full((2, 3), a)", {"a": F}),
    Row(np.full_like, "np.full_like(x, a)", {"x": X, "a": F}),
    Row(runtime.setitem, "y = x * 1.0\ny[1] = v\nreturn y", {"x": X, "v": Y}),
    Row(np.add.at, "y = x * 1.0\nnp.add.at(y, [0, 0, 2], v)\nreturn y", {"x": X, "v": Y}),
    Row(runtime.add_at, "y = x * 1.0\nruntime.add_at(y, [0, 0, 2], v)\nreturn y", {"x": X, "v": Y}),
    # (user code may not fill a diagonal in place; the gradient of a trace does: the
    # reverse-mode Jacobian of that gradient differentiates np.fill_diagonal)
    Row(np.fill_diagonal, "", {"x": N(3, 3), "a": F}, check=lambda x, a: _check_fill_diagonal(x, a)),
    # ---- what generated code calls (their rules serve higher order) ----------------------
    Row(runtime.unbroadcast, "runtime.unbroadcast(x, y)", {"x": X, "y": Y}),
    Row(runtime.log_of_base, "runtime.log_of_base(x)", {"x": P(3, 4)}),
    Row(runtime.as_list, "runtime.as_list(x)[1]", {"x": X}),
    Row(method_key("pop"), "xs = [x, y]\nz = xs.pop()\nreturn z * xs[0]", {"x": V, "y": V}),
    # (the transposes of the linear helpers: reverse over reverse goes through them)
    Row(runtime.unconcatenate, "parts = runtime.unconcatenate(g, [x, y], 1)\nreturn parts[1] * parts[1]",
        {"g": N(2, 5), "x": N(2, 2), "y": N(2, 3)}),
    Row(runtime.unconcatenate, "runtime.unconcatenate(g, [x, y], None)[0]", {"g": N(10), "x": N(2, 2), "y": N(2, 3)}),
    Row(runtime.fill_zeros, "parts = runtime.fill_zeros([None, g], [x, y])\nreturn parts[1] + np.sum(parts[0])",
        {"g": N(2, 3), "x": N(2, 2), "y": N(2, 3)}),
    Row(runtime.list_item_adjoint, "runtime.list_item_adjoint(g, [x, y], 1)[1]", {"g": N(3), "x": N(2), "y": N(3)}),
    Row(runtime.list_item_adjoint, "parts = runtime.list_item_adjoint([a, b], [x, y, z], slice(1, None))\n"
        "return parts[2] + np.sum(parts[0])", {"a": N(3), "b": N(4), "x": N(2), "y": N(3), "z": N(4)}),
    Row(runtime.sort_adjoint, "runtime.sort_adjoint(g, x, 1)", {"g": N(3, 4), "x": N(3, 4)}),
    Row(runtime.sort_adjoint, "runtime.sort_adjoint(g, x, None)", {"g": N(12), "x": N(3, 4)}),
    Row(runtime.median_adjoint, "runtime.median_adjoint(g, x, 1)", {"g": N(3), "x": N(3, 4)}),
    Row(runtime.median_adjoint, "runtime.median_adjoint(g, x)", {"g": F, "x": N(3, 5)}),
    Row(runtime.undiagonal, "runtime.undiagonal(g, x, 1)", {"g": N(3), "x": N(3, 4)}),
    Row(runtime.untrace, "runtime.untrace(g, x, 0, 1, 2)", {"g": N(2), "x": N(2, 3, 3)}),
    Row(runtime.unpad, "runtime.unpad(g, x, 1, 'edge')", {"g": N(4, 5), "x": N(2, 3)}),
    Row(runtime.unpad, "runtime.unpad(g, x, ((1, 0), (2, 1)), 'constant')", {"g": N(3, 6), "x": N(2, 3)}),
    Row(runtime.unpad, "runtime.unpad(g, x, 2, 'reflect')", {"g": N(7), "x": N(3)}),
    Row(runtime.cotangents, "parts = runtime.cotangents((x, y * 2.0), (True, True, False), 'r')\n"
        "return parts[0] * parts[1]", {"x": N(3), "y": N(3)}),
    Row(runtime.cotangents, "runtime.cotangents(x * 3.0, (True,), 'r')[0]", {"x": N(3)}),
    Row(runtime.cotangents_transpose, "runtime.cotangents_transpose([g, None, None], (x, y))[1]",
        {"g": N(3), "x": N(3), "y": N(2)}),
    Row(runtime.cotangents_transpose, "runtime.cotangents_transpose([g, h], x)", {"g": N(3), "h": N(3), "x": N(3)}),
    Row(runtime.untile, "runtime.untile(g, x, (2, 1))", {"g": N(4, 3), "x": N(2, 3)}),
    Row(runtime.unrepeat, "runtime.unrepeat(g, x, 2, 1)", {"g": N(2, 6), "x": N(2, 3)}),
    Row(runtime.unrepeat, "runtime.unrepeat(g, x, [1, 2, 0])", {"g": N(3), "x": N(3)}),
    Row(runtime.take_adjoint, "runtime.take_adjoint(g, x, [0, 2, 2], 1)", {"g": N(2, 3), "x": N(2, 4)}),
    Row(runtime.take_adjoint, "runtime.take_adjoint(g, x, [3, 0, 3], None)", {"g": N(3), "x": N(2, 3)}),
    Row(runtime.take_along_axis_adjoint, "runtime.take_along_axis_adjoint(g, x, np.array([[1, 0], [2, 2]]), 1)",
        {"g": N(2, 2), "x": N(2, 3)}),
    Row(runtime.diff_adjoint, "runtime.diff_adjoint(g, x, 2, 0)", {"g": N(2, 3), "x": N(4, 3)}),
    Row(runtime.item_adjoint, "runtime.item_adjoint(g, x, (4,))", {"g": F, "x": N(2, 3)}),
    Row(runtime.item_adjoint, "runtime.item_adjoint(g, x, (1, 2))", {"g": F, "x": N(2, 3)}),
    Row(runtime.builtin_sum_adjoint, "runtime.builtin_sum_adjoint(g, [x, y])[1]",
        {"g": N(2, 3), "x": N(2, 3), "y": N(3)}),
    Row(runtime.builtin_sum_adjoint, "runtime.builtin_sum_adjoint(g, x)", {"g": N(3), "x": N(4, 3)}),
    Row(runtime.power_slope, "runtime.power_slope(x, y)", {"x": P(3, 4), "y": N(4)}),
    Row(runtime.einsum_adjoint, "runtime.einsum_adjoint(g, 'ij,jk->ik', a, b, wrt=0)",
        {"g": N(2, 4), "a": N(2, 3), "b": N(3, 4)}),
    Row(runtime.einsum_adjoint, "runtime.einsum_adjoint(g, 'ii->i', x, wrt=0)", {"g": N(3), "x": N(3, 3)}),
    Row(runtime.tensordot_adjoint, "runtime.tensordot_adjoint(g, a, b, 1, 0)",
        {"g": N(2, 4), "a": N(2, 3), "b": N(3, 4)}),
    Row(runtime.tensordot_adjoint, "runtime.tensordot_adjoint(g, a, b, 1, 1)",
        {"g": N(2, 4), "a": N(2, 3), "b": N(3, 4)}),
    # ---- scipy.special (rows of a function SciPy lacks, or without SciPy, are skipped) ------
    *SPECIAL_ROWS,
]
