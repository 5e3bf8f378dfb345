"""An array type that behaves like CuPy where it matters to rules.

`StrictArray` holds a NumPy array but, like a CuPy array:

* refuses implicit conversion to NumPy (`np.asarray(a)`, `float(a)`,
  `bool(a)`, `a.item()`, `a.tolist()` all raise), so a rule that moves data
  to the host fails;
* dispatches ufuncs (`__array_ufunc__`) and array functions
  (`__array_function__`) to itself, so `np.exp(a)`, `np.zeros_like(a)` and
  `np.add.at(a, ...)` return or update StrictArrays;
* refuses NumPy arrays as operands of a ufunc, and floating-point NumPy
  arrays as arguments of an array function, so a rule that makes a host
  array (`np.ones(a.shape)`) and mixes it in fails.  Integer and boolean
  NumPy arrays are accepted as indices and sizes, as CuPy accepts them.

An `np.ndarray` subclass would not catch any of this: NumPy would happily
convert it.  `wrap`/`unwrap` move test data in and out.
"""

import numpy as np

_FORBIDDEN = {"item", "tolist", "tobytes", "__float__", "__int__", "__bool__", "__index__"}


class HostTransferError(TypeError):
    """A rule tried to move device data to the host or mix in a host array."""


def _unwrap(value, where):
    if isinstance(value, StrictArray):
        return value.data
    if isinstance(value, np.ndarray):
        if where == "ufunc" or value.dtype.kind in "fc":
            raise HostTransferError(f"a NumPy array (dtype {value.dtype}, shape {value.shape}) "
                                    f"was mixed into a device computation ({where})")
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, where) for v in value)
    if isinstance(value, dict):                        # keyword arguments (`weights=w`)
        return {k: _unwrap(v, where) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(_unwrap(value.start, where), _unwrap(value.stop, where),
                     _unwrap(value.step, where))
    return value


def _wrap(value):
    if isinstance(value, np.ndarray):
        return StrictArray(value)
    if isinstance(value, np.generic):
        return StrictArray(np.asarray(value))          # reductions stay on the device, 0-d
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, tuple):                       # a named tuple (slogdet)
        return type(value)(*[_wrap(v) for v in value])
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class StrictArray(np.lib.mixins.NDArrayOperatorsMixin):
    __slots__ = ("data",)

    def __init__(self, data):
        object.__setattr__(self, "data", np.asarray(data))

    # what a device array shows without a transfer
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    T = property(lambda self: StrictArray(self.data.T))
    mT = property(lambda self: StrictArray(np.swapaxes(self.data, -1, -2)))
    real = property(lambda self: StrictArray(self.data.real))
    imag = property(lambda self: StrictArray(self.data.imag))

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return f"StrictArray({self.data!r})"

    def __array__(self, dtype=None, copy=None):
        raise HostTransferError("implicit conversion of a device array to NumPy")

    def __float__(self):
        raise HostTransferError("float() of a device array (a device-to-host transfer)")

    __int__ = __index__ = __float__

    def __bool__(self):
        raise HostTransferError("truth value of a device array (a device-to-host transfer)")

    def __iter__(self):
        return (StrictArray(row) for row in self.data)

    def __getitem__(self, index):
        return _wrap(self.data[_unwrap(index, "index")])

    def __setitem__(self, index, value):
        self.data[_unwrap(index, "index")] = _unwrap(value, "setitem")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raw = [_unwrap(x, "index" if method == "at" and i == 1 else "ufunc")
               for i, x in enumerate(inputs)]            # `np.add.at(a, indices, b)`
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(o, "ufunc") for o in kwargs["out"])
        result = getattr(ufunc, method)(*raw, **kwargs)
        return None if method == "at" else _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        result = func(*_unwrap(args, func.__name__), **_unwrap(kwargs, func.__name__))
        return _wrap(result)

    def __getattr__(self, name):
        if name.startswith("__"):          # no `__array_interface__` back door to the data
            raise AttributeError(name)
        if name in _FORBIDDEN:
            raise HostTransferError(f"`.{name}()` of a device array (a device-to-host transfer)")
        attr = getattr(self.data, name)
        if not callable(attr):
            return attr

        def method(*args, **kwargs):
            return _wrap(attr(*_unwrap(args, name), **_unwrap(kwargs, name)))
        return method


def wrap(value):
    """Test data onto the strict 'device': arrays inside pytrees too; floats stay floats."""
    if isinstance(value, np.ndarray):
        return StrictArray(value.copy())
    if isinstance(value, dict):
        return {k: wrap(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(wrap(v) for v in value)
    return value


def unwrap(value):
    """Results back to NumPy for comparison."""
    if isinstance(value, StrictArray):
        return value.data
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(v) for v in value)
    return value
