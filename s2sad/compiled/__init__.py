"""Compiled gradients: `grad(f, compile="numba" | "auto")`.

The generated gradient is ordinary Python, so a compiler for ordinary
Python takes it.  A compiled build is a build like any other, emitted in
Numba-friendly forms (`lower.py`), whose generated functions are handed
to `numba.njit` (`kernel.py`); its `function` is a wrapper that reads
the globals the code reads, at each call, and calls the kernel.

Numba compiles at the first call (it needs the arguments' types): a
compile error then is a `TransformError` naming the user's line, or, with
`compile="auto"`, one warning and the plain build from then on.
"""

from __future__ import annotations

import inspect
import os
import sys
import warnings

from .boundary import rebuild, split
from .kernel import CompileRefused, compile_kernels, refusal_of_numba_error

MODES = (None, False, "numba", "auto")


class CompileWarning(UserWarning):
    """compile="auto" runs the plain generated code: Numba cannot compile it."""


def numba_available():
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def check_mode(mode):
    if mode not in MODES:
        raise TypeError(f"compile must be 'numba', 'auto' or None, not {mode!r}")
    if mode == "numba" and not numba_available():
        raise ImportError("compile='numba' needs Numba: pip install 's2sad[numba]' (or numba)")


def compile_build(built, mode, plain, kinds):
    """The build with its function compiled; for "auto", `plain()` (the
    plain build) where Numba cannot compile it, with a warning.  `kinds`:
    the arguments' kinds it was built for."""
    from ..build import Built
    if mode == "auto" and not numba_available():
        return _fall_back(plain, "Numba is not installed (pip install 's2sad[numba]')")
    try:
        kernel, readers, text, flat = compile_kernels(built.function, _overrides(), _size_ones(kinds),
                                                      only_if_faster=mode == "auto", trees=_trees(kinds))
    except CompileRefused as exc:
        if mode == "auto":
            return _fall_back(plain, exc)
        raise
    caller = _Caller(kernel, readers, built.function, mode, plain, flat)
    compiled = Built(caller.call, text, names=built.names, notes=built.notes, guards=built.guards,
                     fast=caller.fast)
    caller.built = compiled
    return compiled


def _trees(kinds):
    """{parameter: Tree kind} of the pytree arguments."""
    from ..kinds import Tree
    return {p: k for p, k in kinds.items() if isinstance(k, Tree)}


def _size_ones(kinds):
    """{parameter: which dimensions have size one} of the array arguments."""
    from ..kinds import Array
    return {p: k.ones for p, k in kinds.items()
            if isinstance(k, Array) and k.ndim is not None and k.ones is not None}


def _fall_back(plain, why):
    """The plain build, with a warning (from the user's call) saying `why`:
    a text, or the CompileRefused that compile="numba" would raise."""
    if isinstance(why, str):
        message = f"compile='auto' runs the plain generated code: {why}"
    else:
        where = f" ({why.filename}, line {why.lineno})" if why.filename and why.lineno else ""
        message = f"compile='auto' runs the plain gradient of {why.function}{where}: {why.message}"
        if why.line:
            message += f"\n    {why.line.strip()}"
        if why.hint:
            message += f"\nWhat to do: {why.hint}"
    warnings.warn(message, CompileWarning, stacklevel=_outside_s2sad())
    return plain()


def _outside_s2sad():
    """The stack level of the first caller outside the s2sad package."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


class _Caller:
    """Calls a kernel with the arguments in order and the values it reads
    from modules and cells after them; turns a Numba compile error (at a
    call with new argument types) into a `TransformError`."""

    def __init__(self, kernel, readers, plain_fn, mode, plain, flat=None):
        self.kernel, self.readers, self.mode, self.plain = kernel, readers, mode, plain
        self.flat = flat if flat is not None and (flat.inputs or flat.output is not None) else None
        self.signature = inspect.signature(plain_fn)
        self.count = len(self.signature.parameters)
        self.fallen_back = None
        self.fast_call = None
        import numba
        self.numba = numba
        self.errors = numba.core.errors.NumbaError
        count, errors = self.count, self.errors
        inputs = output = None
        if self.flat is not None:          # pytree arguments in as leaves, results rebuilt
            inputs = [[path for path, _ in self.flat.inputs[p]] if p in self.flat.inputs else None
                      for p in self.signature.parameters]
            output = self.flat.output

        def call(*args, **kwargs):
            ordered = args if not kwargs and len(args) == count else self.bind(args, kwargs)
            if inputs is not None:
                ordered = [leaf for value, paths in zip(ordered, inputs)
                           for leaf in ((value,) if paths is None else split(value, paths))]
            try:
                out = kernel(*ordered, *[read() for read in readers])
            except Exception as exc:
                if not _compiling(exc, errors):
                    raise
                return self.failed(exc, args, kwargs)
            out = _plain_dicts(out)
            return out if output is None else rebuild(output, out)
        self.call = call

    def fast(self, args):
        """A call for the fast path of `grad`'s function, made after a call
        with `args` compiled the kernel: the arguments' Python types exactly
        those of `args` (Numba would convert a float to an int parameter),
        then Numba's dispatch on their Numba types among the signatures
        compiled so far (no new compile: a TypeError), and the kernel's own
        check of size-one dimensions (KindChanged); on any of these the
        caller looks the build up as usual.  None after a fall-back."""
        if self.fallen_back is not None or not self.kernel.overloads or self.flat is not None \
                or any(_holds_dicts(s.return_type) for s in self.kernel.nopython_signatures):
            return None
        expected = tuple(map(type, args))
        if self.fast_call is None or self.fast_call[0] != expected:
            dispatcher = self.numba.njit(self.kernel.py_func, error_model="numpy")
            for compiled in self.kernel.overloads.values():
                dispatcher.add_overload(compiled)
            dispatcher.disable_compile()
            readers = self.readers

            def fast_call(*args):
                if tuple(map(type, args)) != expected:
                    raise TypeError("other argument types: another build")
                return dispatcher(*args, *[read() for read in readers])
            self.fast_call = (expected, fast_call)
        return self.fast_call[1]

    def bind(self, args, kwargs):
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments.values())

    def failed(self, exc, args, kwargs):
        if self.fallen_back is not None:
            return self.fallen_back(*args, **kwargs)
        units = {}
        for dispatcher in _dispatchers(self.kernel):
            units[dispatcher.__s2sad_unit__.filename] = dispatcher.__s2sad_unit__
        refusal = refusal_of_numba_error(exc, units, self.kernel.__s2sad_unit__)
        if self.mode != "auto":
            raise refusal from None
        plain = _fall_back(self.plain, refusal)
        self.fallen_back = self.built.function = plain.function      # (and what source shows)
        self.built.source = plain.source
        return self.fallen_back(*args, **kwargs)


def _holds_dicts(numba_type):
    """Does a kernel's return type hold a dict (a Numba typed dict)?"""
    from numba.core import types
    if isinstance(numba_type, types.DictType):
        return True
    inner = getattr(numba_type, "types", None) or [getattr(numba_type, "dtype", None)]
    return any(t is not None and _holds_dicts(t) for t in inner if isinstance(t, types.Type))


def _plain_dicts(value):
    """The kernel's result with Numba's typed dicts as plain dicts (as the plain gradient's)."""
    if isinstance(value, tuple):
        return tuple(_plain_dicts(v) for v in value) if any(
            isinstance(v, (tuple, list)) or _typed_dict(v) for v in value) else value
    if isinstance(value, list):
        return [_plain_dicts(v) for v in value]
    if _typed_dict(value):
        return {k: _plain_dicts(v) for k, v in value.items()}
    return value


def _typed_dict(value):
    return type(value).__name__ == "Dict" and type(value).__module__.startswith("numba.")


def _compiling(exc, errors):
    """Did Numba fail compiling (not the compiled code raising)?  Numba's own
    errors, and any other raised from inside Numba's compiler (an internal
    assertion on a form it does not support)."""
    if isinstance(exc, errors):
        return True
    tb = exc.__traceback__
    while tb is not None:
        if "numba" + os.sep + "core" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def _dispatchers(kernel):
    seen, todo = [], [kernel]
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen.append(k)
        todo.extend(c.kernel for c in k.__s2sad_unit__.callees.values())
    return seen


def _overrides():
    """Numba forms of runtime helpers Numba cannot compile as written (by id)."""
    from .helpers import overrides
    return overrides()
