"""The checks one program goes through, and what they found (`Outcome`).

(a) the gradient against central differences in float64 (a float32 program:
    against the float64 gradient at a float32 tolerance), at inputs drawn
    away from every comparison and kink (`rewrite.instrument`);
(b) the gradient's structure, shape and dtype are its argument's;
(c) `jvp` along a random direction equals the gradient's dot product;
(d) `value_and_grad`'s value is `f(*args)` and its gradient `grad`'s;
    on a sample, `grad(f, checkpoint=2)` gives `grad(f)`'s gradient;
(e) no call changes its arguments;
(f) metamorphic: two rewrites of `rewrite.REWRITES`, drawn per program
    (`metamorphic="all"`: each), give the same gradient (to 1e-12 relative);
    so does, on a sample, `functools.partial` binding the arguments not
    differentiated by keyword, and the differentiated arguments as the fields
    of a dataclass or named tuple (read by a function or by a method
    differentiated with respect to `self`);
(g) the same gradient function called again with other sizes and other
    globals (a global float sometimes made a 0-d array) is still right;
(h) on a sample, `hvp` against differences of the gradient;
(i) on a sample, where Numba is installed, `grad(f, compile="numba")` gives
    `grad(f)`'s gradient (to 1e-12 relative) or refuses with a TransformError;
(j) on a sample, where Dask is installed, the gradient with the arrays as
    Dask arrays (chunked in two) computes to the NumPy gradient (1e-9
    relative), or the program itself does not run on Dask.

A `TransformError` at `grad(f)` or its first call is a refusal; any other
exception, a refusal by `jvp`/`hvp`/a rewrite where the gradient worked, or
a check that fails is a failure.  A program whose own run fails or cannot
be drawn away from its kinks is invalid and says nothing.
"""

import copy
import dataclasses
import functools
import importlib.util
import itertools
import math
import os
import re
import sys
import tempfile
import warnings

import numpy as np

import s2sad

from .rewrite import REWRITES, Frozen, Probe, freeze, instrument

FD_EPS = 1e-6
FD_RTOL = 1e-5            # |g - fd| <= FD_RTOL * max(1, |fd|, |g|), worst element
F32_RTOL = 2e-3           # a float32 gradient against the float64 one
META_RTOL = 1e-12         # a rewritten program's gradient against the original's
# programs also checked compiled with Numba (a compile takes ~0.5 s); S2SAD_FUZZ_COMPILED_RATE sets it
COMPILED_RATE = float(os.environ.get("S2SAD_FUZZ_COMPILED_RATE", "0.05"))
NUMBA = importlib.util.find_spec("numba") is not None
# programs also run on Dask arrays (oracle j); S2SAD_FUZZ_DASK_RATE sets it
DASK_RATE = float(os.environ.get("S2SAD_FUZZ_DASK_RATE", "0.1"))
DASK = importlib.util.find_spec("dask") is not None
# what Dask itself cannot do in a gradient (listed in docs/dask.md): x[i] = v at an index
# computed from Dask data (`x[np.argmax(x)]`), or through a boolean mask (`x[x > 0]`: chunks
# of unknown sizes)
DASK_LIMITS = ("dask does not yet implement assignment to a scalar", "cannot broadcast shape (nan")
PARTIAL_RATE = 0.3        # programs also differentiated through a functools.partial
PYTREE_RATE = 0.3         # ... with the differentiated arguments as fields of a dataclass or named tuple
JVP_RTOL = 1e-9
MARGIN = 1e-3             # inputs this far from every kink, or drawn again
DRAWS = 12


@dataclasses.dataclass
class Outcome:
    status: str               # ok, refused, wrong, crash, invalid
    oracle: str = ""          # the check that failed, or why a program is invalid
    detail: str = ""
    construct: str = ""       # a refusal's message, names left out
    args: object = None       # where a failure showed
    globals: object = None
    rewrites_refused: tuple = ()   # rewrites of an ok program that s2sad refused

    @property
    def failed(self):
        return self.status in ("wrong", "crash")

    def signature(self):
        """What a shrunk program must still show to count as the same failure."""
        return (self.status, self.oracle)


class Failure(Exception):
    def __init__(self, status, oracle, detail=""):
        super().__init__(detail)
        self.outcome = Outcome(status, oracle, detail)


# ---- loading programs ------------------------------------------------------------

_DIR = None
_COUNTER = itertools.count()


def load(source):
    """The program as a module read from a file of its own (s2sad reads the
    source with inspect, as it would a user's)."""
    global _DIR
    if _DIR is None:
        _DIR = tempfile.mkdtemp(prefix="s2sad_fuzz_")
    name = f"fuzz_program_{os.getpid()}_{next(_COUNTER)}"
    path = os.path.join(_DIR, name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


# ---- values ------------------------------------------------------------------------

def _shape(spec, n, m):
    return {"V": (n,), "U": (m,), "M": (m, n)}[spec]


def draw_value(spec, rng, n, m, dtype, module):
    def array(shape):
        return rng.uniform(-1.2, 1.2, size=shape).astype(dtype)

    def number():
        return float(np.round(rng.uniform(-1.2, 1.2), 6))

    if spec in ("V", "U", "M"):
        return array(_shape(spec, n, m))
    if spec == "S":
        return number()
    if spec == "Z":
        return np.asarray(number(), dtype=dtype)
    if spec == "I":
        return int(rng.integers(2, 4))
    if spec == "dict":
        return {"w": array((n,)), "b": number()}
    if spec == "list":
        return [array((n,)) for _ in range(3)]
    if spec == "tuple":
        return (array((n,)), number())
    if spec == "nt":
        return module.P(array((n,)), number())
    raise ValueError(spec)


def draw_globals(rng, n, kind_change=False):
    scale = float(np.round(rng.uniform(0.3, 1.2), 6))
    return {"SCALE": np.asarray(scale) if kind_change else scale,
            "BIAS": rng.uniform(-0.5, 0.5, size=n),
            "W": rng.uniform(-0.6, 0.6, size=(n, n))}


def set_globals(module, values):
    for name, value in values.items():
        setattr(module, name, value)


def map_float_arrays(fn, value):
    """`value` with `fn` applied to each float array in it (in dicts, lists,
    tuples and named tuples too)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return fn(value)
    if isinstance(value, dict):
        return {k: map_float_arrays(fn, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [map_float_arrays(fn, v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value


def to64(value):
    return map_float_arrays(lambda a: a.astype(np.float64), value)


def leaves(value, path=()):
    """(path, leaf) of a pytree, in order."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, path + (k,))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from leaves(v, path + (i,))
    else:
        yield path, value


def differentiable(leaf):
    return type(leaf) is float or isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f"


def replaced(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        out[head] = replaced(value[head], rest, new)
        return out
    items = list(value)
    items[head] = replaced(value[head], rest, new)
    if hasattr(value, "_fields"):
        return type(value)(*items)
    return type(value)(items)


def same_values(a, b):
    """Two argument lists hold the same values (arguments unchanged)."""
    for (_, x), (_, y) in zip(leaves(list(a)), leaves(list(b))):
        if isinstance(x, np.ndarray):
            if not (isinstance(y, np.ndarray) and x.shape == y.shape and np.array_equal(x, y)):
                return False
        elif x != y:
            return False
    return True


def scalar_value(out):
    """f's result as a Python float; None if it is not a finite scalar."""
    try:
        if np.size(out) != 1:
            return None
        v = float(np.asarray(out, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---- running the program itself --------------------------------------------------------

class Program:
    """A program loaded for checking: its module, an instrumented twin, its calls."""

    def __init__(self, generated):
        self.generated = generated
        self.module = load(generated.source)
        self.probed = load(instrument(generated.source))
        frozen = freeze(generated.source)
        self.frozen = load(frozen) if frozen is not None else None   # for finite differences
        if self.frozen is not None:
            self.frozen._frozen = Frozen()
        self.names = [p.name for p in generated.params]
        wrt = generated.wrt
        self.wrt_tuple = isinstance(wrt, tuple)
        self.wrt_index = [self.names.index(w) if isinstance(w, str) else w
                          for w in (wrt if self.wrt_tuple else (wrt,))]

    def call(self, module, args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return module.f(*copy.deepcopy(args))

    def probe(self, args):
        """The instrumented run at `args`: its `Probe`, and its value (None
        where it is not a finite scalar or the run warns)."""
        probe = Probe()
        self.probed._probe = probe
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = self.probed.f(*copy.deepcopy(args))
        return probe, None if caught else scalar_value(out)

    def margin(self, args):
        """How near the run at `args` comes to a kink, and its value."""
        probe, value = self.probe(args)
        return probe.margin, value

    def draw(self, rng, n, m, dtype, globals_):
        """Arguments the program runs on, away from its kinks."""
        reason = "no draw"
        for _ in range(DRAWS):
            args = [draw_value(p.spec, rng, n, m, dtype, self.module) for p in self.generated.params]
            for module in (self.module, self.probed, self.frozen):
                if module is not None:
                    set_globals(module, globals_)
            try:
                margin, value = self.margin(args)
                if dtype != np.float64:
                    margin64, value64 = self.margin(to64(args))
                    margin = min(margin, margin64)
                    value = value if value64 is not None else None
            except Exception as exc:           # the program itself fails here
                reason = f"program raises {type(exc).__name__}: {exc}"
                continue
            if value is None:
                reason = "value not a finite scalar, or the program warns"
                continue
            if abs(value) > 1e30:        # its gradient may overflow where it does not
                reason = "value too large"
                continue
            if margin < MARGIN:
                reason = "inputs at a kink"
                continue
            return args
        raise Failure("invalid", reason)


# ---- comparing gradients ----------------------------------------------------------------

def numerical(program, args, index, eps=FD_EPS):
    """Central differences of f in float64 w.r.t. argument `index`, as a
    list of (path, array) over its differentiable leaves (what
    `s2sad.stop_gradient` stops held at its value at `args`)."""
    args = to64(args)
    module = getattr(program, "frozen", None)
    if module is not None:
        module._frozen.start(recording=True)
        program.call(module, args)
        module._frozen.start(recording=False)
    else:
        module = program.module
    out = []
    for path, leaf in leaves(args[index]):
        if not differentiable(leaf):
            continue
        base = np.array(leaf, dtype=np.float64)
        grad = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            values = []
            for sign in (1, -1):
                moved = base.copy()
                moved[i] += sign * eps
                new = float(moved) if type(leaf) is float else moved
                trial = list(args)
                trial[index] = replaced(args[index], path, new)
                try:
                    values.append(scalar_value(program.call(module, trial)))
                except RuntimeError as exc:
                    raise Failure("invalid", str(exc)) from None
                if module is not program.module:
                    module._frozen.start(recording=False)
            if None in values:
                raise Failure("invalid", "value not finite near the inputs")
            grad[i] = (values[0] - values[1]) / (2 * eps)
        out.append((path, grad))
    return out


def gradient_leaves(g, arg, where):
    """The gradient's leaves beside the argument's, checking structure,
    shapes and dtypes (oracle b)."""
    out = []

    def walk(g, a, path):
        if isinstance(a, dict):
            if not isinstance(g, dict) or g.keys() != a.keys():
                raise Failure("wrong", "structure", f"{where}{path}: {type(g).__name__} for a dict")
            for k in a:
                walk(g[k], a[k], path + (k,))
        elif isinstance(a, (list, tuple)):
            if type(g) is not type(a) or len(g) != len(a):
                raise Failure("wrong", "structure",
                              f"{where}{path}: {type(g).__name__} for a {type(a).__name__}")
            for i, (gi, ai) in enumerate(zip(g, a)):
                walk(gi, ai, path + (i,))
        elif type(a) is float:
            if type(g) is not float:
                raise Failure("wrong", "structure", f"{where}{path}: {type(g).__name__} for a float")
            out.append((path, np.asarray(g)))
        elif isinstance(a, np.ndarray) and a.dtype.kind == "f":
            if not isinstance(g, np.ndarray) or g.shape != a.shape or g.dtype != a.dtype:
                got = f"{type(g).__name__} {getattr(g, 'shape', '')} {getattr(g, 'dtype', '')}"
                raise Failure("wrong", "structure", f"{where}{path}: {got} for an array "
                                                    f"{a.shape} {a.dtype}")
            out.append((path, g))
        elif g is not None:
            raise Failure("wrong", "structure", f"{where}{path}: {type(g).__name__} for a "
                                                f"{type(a).__name__} (None expected)")

    walk(g, arg, ())
    return out


def worst(a, b):
    """The largest difference between two leaf lists, relative to their scale."""
    scale = max([1.0] + [float(np.max(np.abs(x))) if np.size(x) else 0.0 for _, x in a + b])
    diff = 0.0
    for (_, x), (_, y) in zip(a, b):
        x64, y64 = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if not (np.all(np.isfinite(x64)) and np.all(np.isfinite(y64))):
            return math.inf
        if x64.size:
            diff = max(diff, float(np.max(np.abs(x64 - y64))))
    return diff / scale


def per_argument(program, grads):
    return list(grads) if program.wrt_tuple else [grads]


def gradient(program, df, args, where):
    """df(*args) checked for structure, as one leaf list over the wrt arguments."""
    before = copy.deepcopy(args)
    grads = df(*args)
    if not same_values(args, before):
        raise Failure("wrong", "arguments changed", where)
    out = []
    for i, g in zip(program.wrt_index, per_argument(program, grads)):
        out += gradient_leaves(g, args[i], f"{where} argument {program.names[i]}")
    return out


def against_differences(program, df, args, where):
    """Oracle (a) in float64, with (b) and (e)."""
    got = gradient(program, df, args, where)
    expected = [x for i in program.wrt_index for x in numerical(program, args, i)]
    err = worst(got, expected)
    if err > FD_RTOL:
        # differences below the rounding of a large value are noise (sum(A) of
        # 1e20 plus sum(x): x's differences are 0), and so are those beside a
        # huge intermediate (x cumsummed 25 times reaches 1e27, then x -= its
        # stopped sum: the differences read 0)
        probe, value = program.probe(to64(args))
        scale = max([1.0] + [float(np.max(np.abs(g))) for _, g in got if np.size(g)])
        if value is not None and abs(value) * 2.3e-16 / FD_EPS > 0.1 * FD_RTOL * scale:
            raise Failure("invalid", "finite differences below the rounding of the value")
        if probe.largest * 2.3e-16 / FD_EPS > FD_RTOL * scale:
            raise Failure("invalid", "finite differences below the rounding of an intermediate")
        if scale * FD_EPS > 1.0:
            # a step moves some value by more than 1: sin of it is not linear there
            # (x ** 27 then sin: the differences see the mean of sin, 0)
            raise Failure("invalid", "finite differences: a gradient over 1e6")
        # a real difference survives other steps; noise does not
        for eps in (1e-5, 1e-7):
            other = [x for i in program.wrt_index for x in numerical(program, args, i, eps)]
            if worst(other, expected) > FD_RTOL:
                raise Failure("invalid", "finite differences unstable")
        raise Failure("wrong", "finite differences",
                      f"{where}: relative error {err:.2e}\n  s2sad: {_show(got)}\n"
                      f"  differences: {_show(expected)}")
    return got


def _show(leaf_list):
    return "; ".join(f"{path}: {np.array2string(np.asarray(x, dtype=np.float64), precision=6)}"
                     for path, x in leaf_list)


# ---- the checks --------------------------------------------------------------------------

def construct_of(exc):
    """A refusal's message with names and numbers left out, for counting."""
    text = getattr(exc, "message", str(exc)).splitlines()[0]
    text = re.sub(r"`[^`]*`", "`…`", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    return re.sub(r"\d+", "N", text)


def _call_s2sad(what, fn, *args):
    """Run an s2sad call; exceptions become failures naming `what`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            return fn(*args)
    except Failure:
        raise
    except s2sad.TransformError as exc:
        raise Failure("crash", f"{what} refused", construct_of(exc)) from None
    except RuntimeWarning as exc:
        raise Failure("crash", f"{what} warns", str(exc)) from None
    except Exception as exc:
        raise Failure("crash", f"{what} raises {type(exc).__name__}", str(exc)[:500]) from None


STAGES = ("grad", "value_and_grad", "jvp", "checkpoint", "compiled", "dask", "rewrite", "hvp",
          "second call")


def stage_of(oracle):
    """The stage of `_check` an oracle's failure comes from."""
    for stage in reversed(STAGES):
        if stage in oracle:
            return stage
    return "grad"


def check(generated, seed=0, metamorphic=True, hvp_rate=0.2, until=None, checkpoint_rate=0.3,
          compiled_rate=None):
    """Every oracle on one generated program (up to stage `until`); the first
    failure is reported, with the arguments and globals it showed at."""
    # one stream per stage: what one stage draws (or whether it runs) moves no other's draws
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    state = {"until": until,
             "compiled_rate": COMPILED_RATE if compiled_rate is None else compiled_rate}
    try:
        return _check(generated, streams, metamorphic, hvp_rate, state, checkpoint_rate)
    except Failure as failure:
        failure.outcome.args = state.get("args")
        failure.outcome.globals = state.get("globals")
        return failure.outcome


def _sizes(rng):
    n = int(rng.integers(3, 6))
    m = int(rng.choice([k for k in (2, 3, 4) if k != n]))
    return n, m


class _Stage:
    """Tags the failures raised inside with the stage's name, and says
    whether the checks stop after it."""

    def __init__(self, name, state):
        self.name, self.state = name, state

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, Failure) and exc.outcome.status != "invalid" \
                and stage_of(exc.outcome.oracle) != self.name:
            exc.outcome.oracle += f" ({self.name})"
        return False

    @property
    def last(self):
        return self.state["until"] == self.name


def _check(generated, streams, metamorphic, hvp_rate, state, checkpoint_rate=0.3):
    rng, jvp_rng, checkpoint_rng, rewrite_rng, hvp_rng, second_rng, compiled_rng, dask_rng = streams
    program = Program(generated)
    dtype = np.dtype(generated.dtype)
    n, m = _sizes(rng)
    globals_ = draw_globals(rng, n)
    args = program.draw(rng, n, m, dtype, globals_)
    state.update(args=args, globals=globals_)
    args64 = to64(args)

    # grad(f) and its first call: a TransformError there is a refusal
    try:
        df = s2sad.grad(program.module.f, wrt=generated.wrt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df(*copy.deepcopy(args))
    except s2sad.TransformError as exc:
        return Outcome("refused", construct=construct_of(exc))
    except Exception as exc:
        raise Failure("crash", f"grad raises {type(exc).__name__}", str(exc)[:500]) from None

    with _Stage("grad", state) as stage:       # (a), (b), (e); float32 against float64
        g64 = _call_s2sad("grad", against_differences, program, df, args64, "grad")
        if dtype != np.float64:
            _check_float32(program, df, args, g64)
    if stage.last:
        return Outcome("ok")

    with _Stage("value_and_grad", state) as stage:                   # (d)
        value64 = scalar_value(program.call(program.module, args64))
        _check_value_and_grad(program, args64, g64, value64)
    if stage.last:
        return Outcome("ok")

    with _Stage("jvp", state) as stage:                              # (c)
        _check_jvp(program, args64, g64, jvp_rng, value64)
    if stage.last:
        return Outcome("ok")

    with _Stage("checkpoint", state) as stage:    # checkpointed loops: the same gradient
        if checkpoint_rng.random() < checkpoint_rate:
            _check_checkpoint(program, args64, g64)
    if stage.last:
        return Outcome("ok")

    with _Stage("compiled", state) as stage:      # (i) compiled with Numba: the same gradient
        if compiled_rng.random() < state["compiled_rate"] and NUMBA:
            _check_compiled(program, args64, g64)
    if stage.last:
        return Outcome("ok")

    with _Stage("dask", state) as stage:          # (j) on Dask arrays: the same gradient
        if dask_rng.random() < DASK_RATE and DASK:
            _check_dask(program, args64, g64)
    if stage.last:
        return Outcome("ok")

    with _Stage("rewrite", state) as stage:                          # (f)
        names = list(rewrite_rng.choice(sorted(REWRITES), size=2, replace=False))
        if metamorphic == "all":
            names = sorted(REWRITES)
        for name in names if metamorphic else ():
            _check_rewrite(program, name, REWRITES[name], args64, g64,
                           int(rewrite_rng.integers(1 << 30)))
        if metamorphic and rewrite_rng.random() < PARTIAL_RATE:
            _check_partial(program, args64, g64)
        if metamorphic and rewrite_rng.random() < PYTREE_RATE:
            _check_parameter_object(program, args64, g64, int(rewrite_rng.integers(1 << 30)))
    if stage.last:
        return Outcome("ok")

    with _Stage("hvp", state) as stage:                              # (h), on a sample
        if hvp_rng.random() < hvp_rate:
            _check_hvp(program, args64, hvp_rng)
        if hvp_rng.random() < hvp_rate:
            _check_nested(program, args64, hvp_rng)
    if stage.last:
        return Outcome("ok")

    with _Stage("second call", state):     # (g) the same df: other sizes, other globals
        n2, m2 = _sizes(second_rng)
        while (n2, m2) == (n, m):
            n2, m2 = _sizes(second_rng)
        kind_change = second_rng.random() < 0.3
        globals2 = draw_globals(second_rng, n2, kind_change=kind_change)
        args2 = program.draw(second_rng, n2, m2, dtype, globals2)
        state.update(args=args2, globals=globals2)
        try:
            g2 = _call_s2sad("grad", against_differences, program, df, to64(args2),
                             "grad (other sizes and globals)")
        except Failure as failure:
            if not (kind_change and failure.outcome.oracle == "grad refused"):
                raise
            # a global that became an array can make the program change it in place
            # (`c *= q` on it in a helper): a new build, and a refusal it may rightly make
            program.__dict__.setdefault("rewrite_refusals", []).append(
                f"second call, a global made an array: {failure.outcome.detail}")
            return Outcome("ok", rewrites_refused=tuple(program.rewrite_refusals))
        if dtype != np.float64:
            _check_float32(program, df, args2, g2)
    return Outcome("ok", rewrites_refused=tuple(getattr(program, "rewrite_refusals", ())))


def _check_checkpoint(program, args, g):
    wrt = program.generated.wrt
    dc = _call_s2sad("checkpoint", lambda: s2sad.grad(program.module.f, wrt=wrt, checkpoint=2))
    got = _call_s2sad("checkpoint", gradient, program, dc, args, "grad checkpoint=2")
    err = worst(got, g)
    if err > META_RTOL:
        raise Failure("wrong", "checkpoint", f"relative difference {err:.2e}: {_show(got)} != "
                                             f"{_show(g)}")


def _check_compiled(program, args, g):
    wrt = program.generated.wrt
    dc = _call_s2sad("compiled", lambda: s2sad.grad(program.module.f, wrt=wrt, compile="numba"))
    log = os.environ.get("S2SAD_FUZZ_COMPILED_LOG")      # (a tally of what compiled, if set)
    try:
        got = gradient(program, dc, args, "grad compile='numba'")
    except s2sad.TransformError as exc:
        if log:
            with open(log, "a") as out:
                out.write(f"refused: {exc.message[:120]}\n")
        return                           # what Numba does not compile is refused: allowed
    except Exception as exc:
        raise Failure("crash", f"compiled raises {type(exc).__name__}", str(exc)[:500]) from None
    if log:
        with open(log, "a") as out:
            out.write("compiled\n")
    again = _call_s2sad("compiled", gradient, program, dc, args, "grad compile='numba' (fast path)")
    for leaves_ in (got, again):           # (the second call takes the fast path)
        err = worst(leaves_, g)
        if err > META_RTOL:
            raise Failure("wrong", "compiled", f"relative difference {err:.2e}: {_show(leaves_)} != "
                          f"{_show(g)}")


def _to_dask(value):
    """Float arrays of one or more dimensions as Dask arrays, in two chunks
    along the first axis (in lists, tuples and dicts too)."""
    import dask.array as da
    return map_float_arrays(lambda a: da.from_array(a, chunks=(max(1, (a.shape[0] + 1) // 2),)
                                                    + a.shape[1:]) if a.ndim else a, value)


def _as_numpy(g, arg):
    """A computed gradient in its argument's NumPy form (Dask computes a 0-d
    array to a NumPy scalar)."""
    if isinstance(arg, np.ndarray):
        return np.asarray(g, dtype=arg.dtype) if isinstance(g, np.generic) else g
    if isinstance(arg, dict) and isinstance(g, dict):
        return {k: _as_numpy(g[k], arg[k]) for k in g}
    if isinstance(arg, (list, tuple)) and isinstance(g, (list, tuple)):
        items = [_as_numpy(gi, ai) for gi, ai in zip(g, arg)]
        return type(g)(*items) if hasattr(g, "_fields") else type(g)(items)
    return g


def _dask_log(what):
    log = os.environ.get("S2SAD_FUZZ_DASK_LOG")      # (a tally of what ran on Dask, if set)
    if log:
        with open(log, "a") as out:
            out.write(what + "\n")


def _check_dask(program, args, g):
    import dask
    lazy = _to_dask(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # (Dask's FutureWarnings on functions it lacks)
        try:
            dask.compute(program.call(program.module, copy.deepcopy(lazy)))
        except Exception as exc:               # noqa: BLE001
            _dask_log(f"the program fails on Dask: {type(exc).__name__}")
            return                             # Dask does not run the program itself
        df = _call_s2sad("dask", lambda: s2sad.grad(program.module.f, wrt=program.generated.wrt))
        try:
            grads = _call_s2sad("dask", lambda: dask.compute(df(*copy.deepcopy(lazy)))[0])
        except Failure as failure:
            if any(limit in failure.outcome.detail for limit in DASK_LIMITS):
                _dask_log("a write Dask does not do")
                return                         # a write Dask does not do (docs/dask.md)
            raise
    grads = [_as_numpy(gi, args[i]) for i, gi in zip(program.wrt_index, per_argument(program, grads))]
    got = [x for i, gi in zip(program.wrt_index, grads)
           for x in gradient_leaves(gi, args[i], "grad on Dask arrays")]
    err = worst(got, g)
    _dask_log("ran on Dask")
    if err > 1e-9:
        raise Failure("wrong", "dask", f"relative difference {err:.2e}: {_show(got)} != {_show(g)}")


def _check_float32(program, df, args, g64):
    g32 = _call_s2sad("grad", gradient, program, df, args, "grad float32")
    if max([0.0] + [float(np.max(np.abs(g))) for _, g in g64 if np.size(g)]) > 1e6:
        return             # float32's rounding, magnified a millionfold: no claim to check
    err = worst(g32, g64)
    if err > F32_RTOL:
        raise Failure("wrong", "float32", f"relative error {err:.2e} against float64\n"
                                          f"  float32: {_show(g32)}\n  float64: {_show(g64)}")


def _check_value_and_grad(program, args, g, value):
    wrt = program.generated.wrt
    vg = _call_s2sad("value_and_grad", s2sad.value_and_grad, program.module.f, wrt)
    got_value, got = _call_s2sad("value_and_grad", vg, *copy.deepcopy(args))
    if scalar_value(got_value) is None or abs(scalar_value(got_value) - value) > \
            1e-10 * max(1.0, abs(value)):
        raise Failure("wrong", "value_and_grad value", f"{got_value!r} != f(*args) = {value!r}")
    leaves_ = [x for i, gi in zip(program.wrt_index, per_argument(program, got))
               for x in gradient_leaves(gi, args[i], "value_and_grad")]
    if worst(leaves_, g) > META_RTOL:
        raise Failure("wrong", "value_and_grad gradient", f"{_show(leaves_)} != {_show(g)}")


def _direction(value, rng):
    """A random tangent with the structure of `value`."""
    if isinstance(value, dict):
        return {k: _direction(v, rng) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_direction(v, rng) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if type(value) is float:
        return float(rng.normal())
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return rng.normal(size=value.shape).astype(value.dtype)
    return value


def _check_jvp(program, args, g, rng, value):
    tangents = [_direction(args[i], rng) for i in program.wrt_index]
    jf = _call_s2sad("jvp", s2sad.jvp, program.module.f, program.generated.wrt)
    tangent = tuple(tangents) if program.wrt_tuple else tangents[0]
    before = copy.deepcopy((args, tangent))
    got_value, got = _call_s2sad("jvp", jf, *args, tangent)
    if not same_values([args, tangent], list(before)):
        raise Failure("wrong", "arguments changed", "jvp (or its tangent)")
    directions = [x for t in tangents for _, x in leaves(t) if differentiable(x)]
    expected = sum(float(np.sum(np.asarray(gl, dtype=np.float64) * d))
                   for (_, gl), d in zip(g, directions))
    scale = max(1.0, sum(float(np.sum(np.abs(np.asarray(gl) * d))) for (_, gl), d in zip(g, directions)))
    if got is None and isinstance(got_value, (bool, int, np.integer)):
        got = 0.0                    # an int result has no tangent (None), as in a pytree
    got_scalar = scalar_value(got)
    if got_scalar is None or abs(got_scalar - expected) > JVP_RTOL * scale:
        raise Failure("wrong", "jvp", f"tangent {got!r} != gradient . direction = {expected!r}")
    if scalar_value(got_value) is None or abs(scalar_value(got_value) - value) > \
            1e-10 * max(1.0, abs(value)):
        raise Failure("wrong", "jvp value", f"{got_value!r} != f(*args) = {value!r}")


def _check_rewrite(program, name, rewrite, args, g, seed):
    import random
    source = rewrite(program.generated.source, random.Random(seed))
    if source is None:
        return
    module = load(source)
    set_globals(module, {k: getattr(program.module, k) for k in ("SCALE", "BIAS", "W")})

    def gradient_leaves_of_rewrite():
        f = module.bound_f() if hasattr(module, "bound_f") else module.f    # (`method`)
        dg = s2sad.grad(f, wrt=program.generated.wrt)
        return [x for i, gi in zip(program.wrt_index, per_argument(program, dg(*copy.deepcopy(args))))
                for x in gradient_leaves(gi, args[i], f"rewrite {name}")]

    _same_gradient(program, f"rewrite {name}", name, gradient_leaves_of_rewrite, g, source)


def _same_gradient(program, label, refusal_label, compute, g, context=""):
    """Another route to the gradient, `compute()` giving its leaves: refusing
    what it cannot prove right is allowed (counted apart, no gradient to
    compare); a crash or a different gradient is a failure."""
    try:
        got = compute()
    except s2sad.TransformError as exc:
        program.__dict__.setdefault("rewrite_refusals", []).append(f"{refusal_label}: {construct_of(exc)}")
        return
    except Failure:
        raise
    except Exception as exc:
        raise Failure("crash", f"{label} raises {type(exc).__name__}", f"{exc}\n{context}"[:2000]) from None
    err = worst(got, g)
    if err > META_RTOL:
        raise Failure("wrong", label, f"relative difference {err:.2e}\n{context}")


def _check_partial(program, args, g):
    """(f) `functools.partial` binding every argument not differentiated by
    keyword: its gradient with respect to the others, called by name, is the
    same."""
    wrt = [program.names[i] for i in program.wrt_index]
    bound = {n: copy.deepcopy(a) for n, a in zip(program.names, args) if n not in wrt}

    def gradient_leaves_of_partial():
        dg = s2sad.grad(functools.partial(program.module.f, **bound),
                        wrt=tuple(wrt) if program.wrt_tuple else wrt[0])
        grads = dg(**{n: copy.deepcopy(args[program.names.index(n)]) for n in wrt})
        return [x for i, gi in zip(program.wrt_index, per_argument(program, grads))
                for x in gradient_leaves(gi, args[i], "partial")]

    _same_gradient(program, "partial", "partial", gradient_leaves_of_partial, g)


PARAMETER_OBJECTS = {
    "dataclass": "@dataclasses.dataclass\nclass Params:\n{fields}\n{method}",
    "frozen dataclass": "@dataclasses.dataclass(frozen=True)\nclass Params:\n{fields}\n{method}",
    "named tuple": "class Params(typing.NamedTuple):\n{fields}\n{method}",
}


def _check_parameter_object(program, args, g, seed):
    """(f) The differentiated arguments as the fields of a dataclass (frozen
    or not) or a named tuple, read by a function (`f(p.a, x, p.b)`) or by a
    method differentiated with respect to `self`: its gradient is of the
    same class, each field the argument's gradient."""
    import random
    rng = random.Random(seed)
    wrt = [program.names[i] for i in program.wrt_index]
    others = [n for n in program.names if n not in wrt]
    kind = rng.choice(sorted(PARAMETER_OBJECTS))
    as_method = rng.random() < 0.5
    receiver = "self" if as_method else "params"
    passed = ", ".join(f"{receiver}.{n}" if n in wrt else n for n in program.names)
    body = f"    return f({passed})\n"
    method = f"    def loss(self, {', '.join(others)}):\n    " + body if as_method else ""
    source = ("import dataclasses\nimport typing\n\n"
              + PARAMETER_OBJECTS[kind].format(fields="".join(f"    {n}: object\n" for n in wrt), method=method)
              + ("" if as_method else f"\n\ndef loss(params, {', '.join(others)}):\n{body}"))
    module = load(source)
    module.f = program.module.f
    params = module.Params(**{n: copy.deepcopy(args[program.names.index(n)]) for n in wrt})
    rest = [copy.deepcopy(args[program.names.index(n)]) for n in others]

    def gradient_leaves_of_fields():
        dg = s2sad.grad(module.Params.loss if as_method else module.loss, wrt=0)
        got_params = dg(params, *rest)
        if type(got_params) is not module.Params:
            raise Failure("wrong", "structure", f"{kind}: a {type(got_params).__name__} for a Params")
        return [x for n, i in zip(wrt, program.wrt_index)
                for x in gradient_leaves(getattr(got_params, n), args[i], f"{kind} field {n}")]

    _same_gradient(program, kind, kind, gradient_leaves_of_fields, g, source)


def _check_hvp(program, args, rng):
    i = program.wrt_index[0]
    x = args[i]
    if not (type(x) is float or isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        return
    if program.frozen is not None:
        # differences of the gradient would move what `stop_gradient` stops, which
        # the gradient reads as a value (hvp holds it, as JAX's does); tested apart
        return
    v = _direction(x, rng)
    h = _call_s2sad("hvp", s2sad.hvp, program.module.f, i)
    got = _call_s2sad("hvp", h, *copy.deepcopy(args), v)
    _against_gradient_differences(program, args, i, v, got, "hvp")


def _check_nested(program, args, rng):
    """(h') A loss that calls the generated gradient, `np.sum(df(...) * w)` (a
    gradient penalty's form), differentiated through it (reverse over
    reverse): its gradient is H w, against differences of the gradient.  The
    gradient is a module-level `grad` object, one made inside the loss
    (`s2sad.grad(f, wrt=i)(...)`), or a `value_and_grad` object's second item."""
    i = program.wrt_index[0]
    x = args[i]
    if not (type(x) is float or isinstance(x, np.ndarray) and x.dtype.kind == "f") \
            or program.frozen is not None:
        return
    w = _direction(x, rng)
    params = ", ".join(program.names)
    call = {"module": f"df({params})", "inside": f"s2sad.grad(f, wrt={i})({params})",
            "value_and_grad": f"vg({params})[1]"}[rng.choice(["module", "inside", "value_and_grad"])]
    source = (f"import numpy as np\nimport s2sad\n\n\ndef penalty({params}):\n    g = {call}\n"
              f"    return np.sum(g * w)\n")
    module = load(source)
    module.f, module.w = program.module.f, w
    module.df, module.vg = s2sad.grad(program.module.f, wrt=i), s2sad.value_and_grad(program.module.f, wrt=i)
    try:
        got = s2sad.grad(module.penalty, wrt=i)(*copy.deepcopy(args))
    except s2sad.TransformError as exc:
        program.__dict__.setdefault("rewrite_refusals", []).append(f"nested: {construct_of(exc)}")
        return
    except Exception as exc:
        raise Failure("crash", f"nested grad raises {type(exc).__name__}", f"{exc}\n{source}"[:2000]) from None
    _against_gradient_differences(program, args, i, w, got, "nested")


def _against_gradient_differences(program, args, i, v, got, label):
    """`got`, a Hessian of f times v, against central differences of the
    gradient along v (at several steps: a real difference survives them)."""
    x = args[i]
    dg = s2sad.grad(program.module.f, wrt=i)

    def at(step):
        moved = list(copy.deepcopy(args))
        moved[i] = x + step * v if type(x) is not float else x + step * v
        return np.asarray(dg(*moved), dtype=np.float64)

    def error(expected):
        scale = max(1.0, float(np.max(np.abs(expected))))
        return float(np.max(np.abs(np.asarray(got, dtype=np.float64) - expected))) / scale

    estimates = []
    for eps in (1e-5, 1e-4, 1e-6):       # a real difference survives other steps
        expected = (at(eps) - at(-eps)) / (2 * eps)
        if error(expected) <= 1e-5:
            return
        estimates.append(expected)
    if max(error_between(estimates[0], e) for e in estimates[1:]) > 1e-5:
        raise Failure("invalid", f"{label} differences unstable")
    raise Failure("wrong", label, f"relative error {error(estimates[0]):.2e}: "
                  f"{got!r} != {estimates[0]!r}")


def error_between(a, b):
    scale = max(1.0, float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return float(np.max(np.abs(a - b))) / scale


# ---- a regression test's check ----------------------------------------------------------

class _Case:
    """A function and its arguments, checked as a generated program is."""

    def __init__(self, f, args, wrt):
        import types
        self.module = types.SimpleNamespace(f=f)
        self.names = list(__import__("inspect").signature(f).parameters)
        self.wrt_tuple = isinstance(wrt, tuple)
        self.wrt_index = [self.names.index(w) if isinstance(w, str) else w
                          for w in (wrt if self.wrt_tuple else (wrt,))]
        self.generated = dataclasses.make_dataclass("G", ["wrt"])(wrt)
        self.frozen = None                # (no `stop_gradient` the oracles know of)

    call = Program.call

    def probe(self, args):
        """No instrumented twin: nothing is known of the intermediates."""
        return Probe(), scalar_value(self.call(self.module, args))


def check_case(f, args, wrt, hvp=False):
    """The oracles that need no generator, on one function at given arguments
    (what a shrunk failure's regression test runs): finite differences,
    structure, unchanged arguments, value_and_grad, jvp; float32 arguments
    against the float64 gradient; with `hvp`, the hvp against differences of
    the gradient.  Raises AssertionError naming the check."""
    case = _Case(f, args, wrt)
    try:
        df = s2sad.grad(f, wrt=wrt)
        args64 = to64(args)
        g64 = _call_s2sad("grad", against_differences, case, df, args64, "grad")
        if any(isinstance(a, np.ndarray) and a.dtype == np.float32 for _, a in leaves(list(args))):
            _check_float32(case, df, args, g64)
        value = scalar_value(case.call(case.module, args64))
        _check_value_and_grad(case, args64, g64, value)
        _check_jvp(case, args64, g64, np.random.default_rng(0), value)
        if hvp:
            _check_hvp(case, args64, np.random.default_rng(0))
    except Failure as failure:
        raise AssertionError(f"{failure.outcome.oracle}: {failure.outcome.detail}") from None
