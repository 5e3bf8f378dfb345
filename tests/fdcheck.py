"""Central finite differences for the tests (float64), and the one gradient
check the rule suites use: against finite differences, on NumPy and on the
CuPy-like `StrictArray` (the backend-neutrality contract)."""

import functools
import os

import numpy as np

import s2sad
from strict_array import StrictArray, unwrap, wrap


@functools.lru_cache(maxsize=None)
def cupy_or_none():
    """CuPy, where it is installed and a GPU is present; else None."""
    try:
        import cupy
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:
        return None


def to_cupy(value, cp):
    if isinstance(value, np.ndarray):
        return cp.asarray(value)
    if isinstance(value, dict):
        return {k: to_cupy(v, cp) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cupy(v, cp) for v in value)
    return value


def _to64(a):
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return a.astype(np.float64)
    return a


def numerical_grad(f, args, i, eps=1e-6):
    """d f(*args) / d args[i] by central differences in float64; args[i] a float or an array."""
    args = [_to64(a) for a in args]
    x = args[i]

    def at(v):
        return float(np.sum(f(*args[:i], v, *args[i + 1:])))

    if isinstance(x, float):
        return (at(x + eps) - at(x - eps)) / (2 * eps)
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        out[idx] = (at(plus) - at(minus)) / (2 * eps)
    return out


def assert_close(actual, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=rtol, atol=atol)


def check_gradient(f, args, wrt=0, rtol=None, atol=None, strict=True):
    """Check `s2sad.grad(f, wrt=wrt)(*args)` and return it.

    * against central differences (float64; float32 inputs compared loosely),
    * its type, shape and dtype: a Python float for a float, float32 stays float32,
    * with `strict`, on StrictArray copies of the arguments: the same values,
      as StrictArrays (no rule moved data to the host or mixed in a host array).
      Pass strict=False only where the function itself needs the host."""
    tuple_wrt = isinstance(wrt, tuple)
    wrts = wrt if tuple_wrt else (wrt,)
    grads = s2sad.grad(f, wrt=wrt)(*args)
    grads = grads if tuple_wrt else (grads,)
    assert isinstance(grads, tuple) and len(grads) == len(wrts)
    for i, g in zip(wrts, grads):
        x = args[i]
        assert g is not None, f"gradient of argument {i} is None"
        expected = numerical_grad(f, args, i)
        if isinstance(x, float):
            assert isinstance(g, float), f"gradient of a Python float is {type(g).__name__}"
            low = False
        else:
            assert np.shape(g) == np.shape(x), f"gradient shape {np.shape(g)} != {np.shape(x)}"
            assert np.asarray(g).dtype == x.dtype, f"gradient dtype {np.asarray(g).dtype} != {x.dtype}"
            low = x.dtype == np.float32
        np.testing.assert_allclose(
            np.asarray(g, dtype=np.float64), expected,
            rtol=rtol or (1e-3 if low else 1e-5), atol=atol or (1e-3 if low else 1e-6))
    check_jvp(f, args, wrts, grads)
    if COMPILED_TOO:
        check_compiled(f, args, wrt, grads if tuple_wrt else grads[0])
    arrays = tuple(i for i in wrts if isinstance(args[i], np.ndarray))
    if strict and arrays:          # a Python float's gradient is a Python float: a transfer
        on_device = s2sad.grad(f, wrt=arrays)(*wrap(args))
        for i, d in zip(arrays, on_device):
            assert isinstance(d, StrictArray), \
                f"gradient of argument {i} left the device: {type(d).__name__}"
            np.testing.assert_allclose(unwrap(d), grads[wrts.index(i)], rtol=1e-6, atol=1e-12)
        cp = cupy_or_none()
        if cp is not None:             # and on a real GPU, where there is one
            on_gpu = s2sad.grad(f, wrt=arrays)(*to_cupy(args, cp))
            for i, d in zip(arrays, on_gpu):
                assert isinstance(d, cp.ndarray), f"gradient of argument {i} left the GPU"
                np.testing.assert_allclose(cp.asnumpy(d), grads[wrts.index(i)],
                                           rtol=1e-5 if args[i].dtype == np.float64 else 1e-3,
                                           atol=1e-9 if args[i].dtype == np.float64 else 1e-4)
    return grads if tuple_wrt else grads[0]


# `S2SAD_CHECK_COMPILED=1 python -m pytest tests/...`: every gradient checked is also
# built with compile="numba" and compared with the plain one (`check_compiled`);
# what Numba does not compile is listed in the file $S2SAD_CHECK_COMPILED_LOG, if set.
COMPILED_TOO = os.environ.get("S2SAD_CHECK_COMPILED") == "1"


def check_compiled(f, args, wrt, expected, rtol=1e-12):
    """`compile="numba"` gives the plain gradient (1e-12 relative), or a
    TransformError saying what Numba cannot compile; returns whether it compiled."""
    try:
        got = s2sad.grad(f, wrt=wrt, compile="numba")(*args)
    except s2sad.TransformError as exc:
        log = os.environ.get("S2SAD_CHECK_COMPILED_LOG")
        if log:
            with open(log, "a") as out:
                out.write(f"{getattr(f, '__qualname__', f)}: {str(exc).splitlines()[0]}\n")
        assert type(exc).__name__ == "CompileRefused", str(exc)     # (not a build error)
        return False
    assert_same(got, expected, rtol)
    log = os.environ.get("S2SAD_CHECK_COMPILED_LOG")
    if log:
        with open(log, "a") as out:
            out.write(f"{getattr(f, '__qualname__', f)}: compiled, equal\n")
    return True


def assert_same(got, expected, rtol=1e-12):
    """Equal values in the same structure (tuples, lists, dicts, arrays, numbers);
    float32 arrays: the same dtype, to float32 precision."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(expected), (got, expected)
        for g, e in zip(got, expected):
            assert_same(g, e, rtol)
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), (got, expected)
        for k in expected:
            assert_same(got[k], expected[k], rtol)
    else:
        assert np.shape(got) == np.shape(expected), (np.shape(got), np.shape(expected))
        low = np.asarray(expected).dtype in (np.float32, np.float16)
        if low:              # float32: NumPy's and Numba's libm differ by an ulp or so
            assert np.asarray(got).dtype == np.asarray(expected).dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5 if low else rtol, atol=1e-300)


def check_jvp(f, args, wrts, grads, seed=7):
    """Forward mode agrees with reverse mode: the tangent along v is grad . v."""
    rng = np.random.default_rng(seed)
    for i, g in zip(wrts, grads):
        x = args[i]
        if not (isinstance(x, float) or isinstance(x, np.ndarray) and x.dtype.kind == "f"):
            continue
        v = float(rng.normal()) if isinstance(x, float) else rng.normal(size=np.shape(x)).astype(x.dtype)
        value, t = s2sad.jvp(f, wrt=i)(*args, v)
        expected = float(np.sum(np.asarray(g, dtype=np.float64) * np.asarray(v, dtype=np.float64)))
        # (float32 anywhere: a Python float's tangent is computed with float32 arrays too)
        low = any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in args)
        np.testing.assert_allclose(float(np.sum(t)), expected, rtol=1e-3 if low else 1e-6,
                                   atol=1e-3 if low else 1e-8,
                                   err_msg=f"jvp along a direction of argument {i} != grad . v")


# ---- shared by the rule suites ---------------------------------------------------------

FLOAT = "float"          # stands for "a Python float" in shape lists


def cotangent(out, dtype=np.float64, seed=12345, python_float_for_scalar=False):
    """The fixed random weights `c` for an output `out` (same shape, nonzero, not all ones);
    a Python float for a scalar output if asked."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(0.5, 2.0, size=np.shape(out)) * rng.choice([-1.0, 1.0], size=np.shape(out))
    if python_float_for_scalar and np.ndim(out) == 0 and not isinstance(out, np.ndarray):
        return float(c)
    return np.asarray(c, dtype=dtype)


def shape_id(shape):
    """A test id for a shape: '3x4', '0d', or 'float'."""
    return "float" if shape == FLOAT else "x".join(map(str, shape)) or "0d"


def shapes_id(shapes):
    return "-".join(shape_id(s) for s in shapes)
