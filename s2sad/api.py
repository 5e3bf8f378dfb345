"""The public API: grad, value_and_grad, source, stop_gradient.

`grad(f)` returns a real function that, at its first call for a given
tuple of argument *kinds* (scalar or array, ndim, dtype, pytree
structure), builds the gradient with `build.build_gradient`, caches it,
and calls it.  A build that fails leaves nothing behind.
"""

import inspect


from . import rules
from .build import build_gradient, core_of
from .kinds import Array, Opaque, Scalar, Tree, kind_of

_SCALAR_TYPES = (float, int, bool, complex)


def grad(f=None, wrt=0, *, has_aux=False, verbose=False):
    """The gradient of scalar-valued `f` w.r.t. argument(s) `wrt` (index or name)."""
    if f is None:
        return lambda func: grad(func, wrt, has_aux=has_aux, verbose=verbose)
    return _differentiate(f, wrt, False, has_aux, verbose)


def value_and_grad(f=None, wrt=0, *, has_aux=False, verbose=False):
    """Like `grad`, but returns `(f(*args), gradient)`."""
    if f is None:
        return lambda func: value_and_grad(func, wrt, has_aux=has_aux, verbose=verbose)
    return _differentiate(f, wrt, True, has_aux, verbose)


def stop_gradient(x):
    """Identity in the forward pass; no gradient flows through it."""
    return x


rules.nondifferentiable(stop_gradient)


def source(df, *args, **kwargs):
    """The generated source of `df`: its latest build, or its build for these arguments."""
    state = getattr(df, "__s2sad__", None)
    if state is None:
        raise TypeError(f"{df!r} is not a function made by s2sad.grad or s2sad.value_and_grad")
    if args or kwargs:
        return state.lookup(args, kwargs).source
    if state.latest is None:
        raise ValueError("this gradient has not been built yet: call it once, or pass example "
                         "arguments: s2sad.source(df, *args)")
    return state.latest.source


def _kind_key(value):
    """A cheap hashable key standing for a value's kind."""
    t = type(value)
    if t in _SCALAR_TYPES:
        return t
    if t is tuple or t is list:
        return (t,) + tuple(_kind_key(v) for v in value)
    if t is dict:
        return (t,) + tuple((k, _kind_key(v)) for k, v in value.items())
    shape = getattr(value, "shape", None)
    if shape is not None:          # size-one dimensions decide broadcasting, so they count
        return (t, tuple(n == 1 for n in shape), getattr(value, "dtype", None))
    return t


class _Gradient:
    """What a gradient function keeps: options, the build cache, the latest build."""

    def __init__(self, f, wrt, with_value, has_aux, verbose):
        self.f = f
        core = core_of(f)                      # parse now: errors surface at grad(f)
        self.signature = inspect.signature(f)
        self.params = core.params
        self.tuple_wrt = isinstance(wrt, (tuple, list))
        self.wrt = tuple(self._param(w) for w in (wrt if self.tuple_wrt else (wrt,)))
        self.with_value = with_value
        self.has_aux = has_aux
        self.verbose = verbose
        self.cache = {}
        self.latest = None
        self.name = ("value_and_grad_" if with_value else "d") + core.source.name

    def _param(self, w):
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            raise TypeError(f"wrt must be an argument index or name, or a tuple of them, not {w!r}")
        if isinstance(w, int):
            if not -len(self.params) <= w < len(self.params):
                raise ValueError(f"wrt={w} is out of range: {self.f.__name__} has "
                                 f"{len(self.params)} parameters {tuple(self.params)}")
            return self.params[w]
        if w not in self.params:
            raise ValueError(f"wrt={w!r}: {self.f.__name__} has no parameter named {w!r} "
                             f"(its parameters are {tuple(self.params)})")
        return w

    def lookup(self, args, kwargs):
        key = tuple(_kind_key(a) for a in args)
        if kwargs:
            key += tuple((k, _kind_key(v)) for k, v in sorted(kwargs.items()))
        entry = self.cache.get(key)
        if entry is None or entry[0] != rules.generation:
            entry = (rules.generation, self.build(args, kwargs))
            self.cache[key] = entry
        self.latest = entry[1]
        return entry[1]

    def build(self, args, kwargs):
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.f.__name__}(): {exc}") from None
        kinds = {p: kind_of(v) for p, v in bound.arguments.items()}
        for p in self.wrt:
            if p not in kinds:
                continue                    # a default value: its kind comes from the default
            kinds[p] = _wrt_kind(self.f.__name__, p, kinds[p])
        built = build_gradient(self.f, kinds, self.wrt, with_value=self.with_value,
                               has_aux=self.has_aux, tuple_wrt=self.tuple_wrt, name=self.name)
        if self.verbose:
            print(built.source)
        return built


def _wrt_kind(fname, param, kind):
    """Check that an argument can carry a gradient; a Python int counts as a float."""
    if isinstance(kind, Scalar):
        if kind.dtype == "int":
            return Scalar("float")
        if kind.dtype == "float":
            return kind
    elif isinstance(kind, Array) and kind.differentiable:
        return kind
    elif isinstance(kind, Tree):
        return kind
    what = {Scalar: lambda k: f"a Python {k.dtype}", Array: lambda k: f"an array of dtype {k.dtype}",
            Opaque: lambda k: f"a {k.type.__name__}"}[type(kind)](kind)
    raise TypeError(f"cannot differentiate {fname} with respect to {param!r}: it is {what}, which "
                    f"cannot carry a gradient (pass a float or a floating-point array)")


def _differentiate(f, wrt, with_value, has_aux, verbose):
    if not callable(f):
        raise TypeError(f"s2sad.grad expects a function, not {type(f).__name__}")
    state = _Gradient(f, wrt, with_value, has_aux, verbose)

    def gradient(*args, **kwargs):
        built = state.lookup(args, kwargs)
        gradient.__wrapped__ = built.function
        return built.function(*args, **kwargs)

    gradient.__name__ = state.name
    gradient.__qualname__ = state.name
    gradient.__doc__ = f"Gradient of {f.__name__} (generated by s2sad)."
    gradient.__s2sad__ = state
    return gradient
