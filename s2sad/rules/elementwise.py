"""Built-in reverse rules: arithmetic and elementwise functions.

Every rule keeps to the inliner's rules of the game: straight-line bodies,
branches only on what the argument kinds decide (`x is None`,
`isinstance(x, float)`), and nothing but ufuncs, `np.where`, `*_like` and
arithmetic, so a rule runs on CuPy arrays as it does on NumPy's and a
float32 input gets a float32 gradient (constants are Python floats, never
NumPy float64 scalars, which would promote float32 arrays).

Kinks follow JAX (docs/rules.md): `abs` has gradient 0 at 0; `maximum`, `minimum`,
`fmax` and `fmin` share the gradient equally between tied arguments; `where`
routes it to the branch it chose and exact zeros to the other; `clip` passes
it where `a_min <= a <= a_max` and gives a bound what lies beyond it.
"""

import math
import operator

import numpy as np

from ..runtime import log_of_base, power_slope, unbroadcast
from . import adjoint, method_key


# ---- arithmetic -----------------------------------------------------------------


@adjoint(operator.add, elementwise=True)
@adjoint(np.add, elementwise=True)
def _(g, result, x, y):
    return unbroadcast(g, x), unbroadcast(g, y)


@adjoint(operator.sub, elementwise=True)
@adjoint(np.subtract, elementwise=True)
def _(g, result, x, y):
    return unbroadcast(g, x), unbroadcast(-g, y)


@adjoint(operator.mul, elementwise=True)
@adjoint(np.multiply, elementwise=True)
def _(g, result, x, y):
    return unbroadcast(g * y, x), unbroadcast(g * x, y)


@adjoint(operator.truediv, elementwise=True)
@adjoint(np.divide, elementwise=True)
def _(g, result, x, y):
    return unbroadcast(g / y, x), unbroadcast(-g * result / y, y)


@adjoint(operator.pow, elementwise=True)
@adjoint(np.power, elementwise=True)
def _(g, result, x, y):
    # d/dy reads log(x) as 0 at x == 0, as JAX does: 0 ** y is 0 for every
    # y > 0, so the exponent's gradient there is 0, not 0 * -inf = nan.
    # d/dx is power_slope: y * x ** (y - 1), exactly 0 where y == 0 (x ** 0 is 1
    # everywhere); a constant y folds it (`2 * x`, `g` for y == 1) when inlined.
    return (unbroadcast(g * power_slope(x, y), x),
            unbroadcast(g * result * log_of_base(x), y))


@adjoint(operator.neg, elementwise=True)
@adjoint(np.negative, elementwise=True)
def _(g, result, x):
    return -g


@adjoint(operator.pos, elementwise=True)
@adjoint(np.positive, elementwise=True)
def _(g, result, x):
    return g


# ---- elementwise functions ----------------------------------------------------------


@adjoint(np.exp, elementwise=True)
def _(g, result, x):
    return g * result


@adjoint(np.log, elementwise=True)
def _(g, result, x):
    return g / x


@adjoint(np.sqrt, elementwise=True)
def _(g, result, x):
    return g / (2.0 * result)


@adjoint(np.sin, elementwise=True)
def _(g, result, x):
    return g * np.cos(x)


@adjoint(np.cos, elementwise=True)
def _(g, result, x):
    return -g * np.sin(x)


@adjoint(np.tanh, elementwise=True)
def _(g, result, x):
    return g * (1.0 - result * result)


# ---- one argument ----------------------------------------------------------------------


@adjoint(abs, elementwise=True)
@adjoint(np.abs, elementwise=True)                 # np.absolute is the same ufunc
def _(g, result, x, **_):
    return g * np.sign(x)        # 0 at exactly 0


@adjoint(np.square, elementwise=True)
def _(g, result, x, **_):
    return g * (2.0 * x)


@adjoint(np.reciprocal, elementwise=True)
def _(g, result, x, **_):
    return -g * (result * result)


@adjoint(np.log1p, elementwise=True)
def _(g, result, x, **_):
    return g / (1.0 + x)


@adjoint(np.expm1, elementwise=True)
def _(g, result, x, **_):
    return g * (result + 1.0)


@adjoint(np.log2, elementwise=True)
def _(g, result, x, **_):
    return g / (x * math.log(2.0))


@adjoint(np.log10, elementwise=True)
def _(g, result, x, **_):
    return g / (x * math.log(10.0))


@adjoint(np.tan, elementwise=True)
def _(g, result, x, **_):
    return g * (1.0 + result * result)


@adjoint(np.arcsin, elementwise=True)
def _(g, result, x, **_):
    return g / np.sqrt(1.0 - x * x)


@adjoint(np.arccos, elementwise=True)
def _(g, result, x, **_):
    return -g / np.sqrt(1.0 - x * x)


@adjoint(np.arctan, elementwise=True)
def _(g, result, x, **_):
    return g / (1.0 + x * x)


@adjoint(np.sinh, elementwise=True)
def _(g, result, x, **_):
    return g * np.cosh(x)


@adjoint(np.cosh, elementwise=True)
def _(g, result, x, **_):
    return g * np.sinh(x)


@adjoint(np.arcsinh, elementwise=True)
def _(g, result, x, **_):
    return g / np.hypot(x, 1.0)          # sqrt(x*x + 1) without overflow for large x


@adjoint(np.arctanh, elementwise=True)
def _(g, result, x, **_):
    return g / (1.0 - x * x)


@adjoint(np.fabs, elementwise=True)
def _(g, result, x, **_):
    return g * np.sign(x)        # 0 at exactly 0, as abs


@adjoint(np.cbrt, elementwise=True)
def _(g, result, x, **_):
    return g / (3.0 * result * result)     # infinite at 0, as the derivative is


@adjoint(np.sinc, elementwise=True)
def _(g, result, x):
    # d/dx sin(pi x) / (pi x) = (cos(pi x) - sinc(x)) / x, and 0 at 0
    at_zero = x == 0.0
    return g * np.where(at_zero, 0.0, (np.cos(np.pi * x) - result) / np.where(at_zero, 1.0, x))


@adjoint(np.exp2, elementwise=True)
def _(g, result, x, **_):
    return g * result * math.log(2.0)


@adjoint(np.deg2rad, elementwise=True)
@adjoint(np.radians, elementwise=True)
def _(g, result, x, **_):
    return g * (math.pi / 180.0)


@adjoint(np.rad2deg, elementwise=True)
@adjoint(np.degrees, elementwise=True)
def _(g, result, x, **_):
    return g * (180.0 / math.pi)


@adjoint(float, linear=(0,))
def _(g, result, x):
    if isinstance(x, float) or isinstance(x, int):
        return g
    return np.full_like(x, g)            # a 0-d or size-1 array: its shape and dtype


@adjoint(np.float64, linear=(0,))
@adjoint(np.float32, linear=(0,))
def _(g, result, x):
    # (of an array, a cast: the adjoint cast back to the array's dtype)
    if isinstance(x, float) or isinstance(x, int):
        return g
    return (g * np.ones_like(x)).astype(x.dtype, copy=False)


# ---- two arguments ---------------------------------------------------------------------


@adjoint(np.arctan2, elementwise=True)
def _(g, result, y, x, **_):
    sq_norm = x * x + y * y
    return unbroadcast(g * x / sq_norm, y), unbroadcast(-g * y / sq_norm, x)


@adjoint(np.hypot, elementwise=True)
def _(g, result, x, y, **_):
    denom = np.where(result == 0.0, 1.0, result)      # at the origin: gradient 0, not 0/0
    return unbroadcast(g * x / denom, x), unbroadcast(g * y / denom, y)


@adjoint(np.logaddexp, elementwise=True)
def _(g, result, x, y, **_):
    # exp(x - result) is x's share of the sum; fmin only turns the NaN of
    # inf - inf (both arguments -inf, or one +inf) into a share of 1
    return (unbroadcast(g * np.exp(np.fmin(x - result, 0.0)), x),
            unbroadcast(g * np.exp(np.fmin(y - result, 0.0)), y))


@adjoint(np.logaddexp2, elementwise=True)
def _(g, result, x, y, **_):
    # log2(2**x + 2**y): x's share of the sum is 2**(x - result)
    return (unbroadcast(g * np.exp2(np.fmin(x - result, 0.0)), x),
            unbroadcast(g * np.exp2(np.fmin(y - result, 0.0)), y))


@adjoint(np.remainder, elementwise=True)                # np.mod is the same ufunc
def _(g, result, x, y, **_):
    # x - floor(x / y) * y: the floor is piecewise constant
    return unbroadcast(g, x), unbroadcast(-g * np.floor_divide(x, y), y)


@adjoint(np.fmod, elementwise=True)
def _(g, result, x, y, **_):
    # x - trunc(x / y) * y
    return unbroadcast(g, x), unbroadcast(-g * np.trunc(x / y), y)


@adjoint(np.copysign, elementwise=True)
def _(g, result, x, y, **_):
    # |x| with y's sign: the sign is piecewise constant (0 at x == 0, as abs)
    return unbroadcast(g * np.sign(x) * np.copysign(1.0, y), x), None


@adjoint(np.float_power, elementwise=True)
def _(g, result, x, y, **_):
    # as power, in float64 (the result's dtype)
    return (unbroadcast(g * power_slope(x, y, np.float_power), x),
            unbroadcast(g * result * log_of_base(x), y))


@adjoint(np.maximum, elementwise=True)
@adjoint(np.minimum, elementwise=True)
@adjoint(np.fmax, elementwise=True)
@adjoint(np.fmin, elementwise=True)
def _(g, result, x, y, **_):
    # to the argument the result is; ties share it equally.  A NaN result of
    # maximum/minimum came from neither; fmax/fmin's came from the non-NaN one.
    x_won = x == result
    y_won = y == result
    tie = 0.5 * g * (x_won & y_won)
    return unbroadcast(g * x_won - tie, x), unbroadcast(g * y_won - tie, y)


@adjoint(np.where, elementwise=True)
def _(g, result, condition, x=None, y=None):
    # exact zeros to the branch not chosen, even where g is inf or NaN there
    return (None, unbroadcast(np.where(condition, g, 0.0), x),
            unbroadcast(np.where(condition, 0.0, g), y))


# ---- clip ------------------------------------------------------------------------------


@adjoint(np.clip, elementwise=True)
@adjoint(method_key("clip"), elementwise=True)
def _(g, result, a, *bounds, **_):
    # Positional bounds arrive in `bounds`, so the rule returns one cotangent per
    # positional argument; bounds passed by keyword (a_min=, min=, ...) arrive in
    # `_`: they are never differentiated, and `a`'s share needs none of them.
    # `a` gets g where clip left it as it was (a_min <= a <= a_max, inclusive); a
    # bound gets g where `a` lies beyond it and the result is that bound.  With
    # a_min > a_max NumPy's result is a_max everywhere, so a_max then gets all of
    # g; a None bound is never read for another bound's share.
    if len(bounds) == 0:
        return unbroadcast(g * (a == result), a)
    if len(bounds) == 1:
        return (unbroadcast(g * (a == result), a),
                unbroadcast(g * ((a < bounds[0]) & (result == bounds[0])), bounds[0]))
    if bounds[0] is None or bounds[1] is None:
        return (unbroadcast(g * (a == result), a),
                unbroadcast(g * ((a < bounds[0]) & (result == bounds[0])), bounds[0]),
                unbroadcast(g * ((a > bounds[1]) & (result == bounds[1])), bounds[1]))
    return (unbroadcast(g * (a == result), a),
            unbroadcast(g * ((a < bounds[0]) & (result == bounds[0])), bounds[0]),
            unbroadcast(g * (((a > bounds[1]) | (bounds[0] > bounds[1]))
                             & (result == bounds[1])), bounds[1]))


# ---- the math module: Python floats stay Python floats ---------------------------------

@adjoint(math.sin, elementwise=True)
def _(g, result, x):
    return g * math.cos(x)


@adjoint(math.cos, elementwise=True)
def _(g, result, x):
    return -g * math.sin(x)


@adjoint(math.tan, elementwise=True)
def _(g, result, x):
    return g * (1.0 + result * result)


@adjoint(math.exp, elementwise=True)
def _(g, result, x):
    return g * result


@adjoint(math.expm1, elementwise=True)
def _(g, result, x):
    return g * (result + 1.0)


@adjoint(math.log, elementwise=True)
def _(g, result, x, *base):
    if len(base) == 0:
        return g / x
    return g / (x * math.log(base[0])), -g * result / (base[0] * math.log(base[0]))


@adjoint(math.log1p, elementwise=True)
def _(g, result, x):
    return g / (1.0 + x)


@adjoint(math.sqrt, elementwise=True)
def _(g, result, x):
    return g / (2.0 * result)


@adjoint(math.tanh, elementwise=True)
def _(g, result, x):
    return g * (1.0 - result * result)


@adjoint(math.atan, elementwise=True)
def _(g, result, x):
    return g / (1.0 + x * x)


@adjoint(math.pow, elementwise=True)
def _(g, result, x, y):
    return g * power_slope(x, y), g * result * (math.log(x) if x > 0 else 0.0)


@adjoint(math.fabs, elementwise=True)
def _(g, result, x):
    return g * ((x > 0) - (x < 0))
