"""`s2sad.grad_of`: user code that runs on an adjoint in the reverse sweep.

    h = np.tanh(x @ W)
    with s2sad.grad_of(h) as dh:
        dh = np.clip(dh, -1.0, 1.0)      # clip, log, or breakpoint()

In a generated gradient the block runs where the reverse sweep reaches the
`with` (h's adjoint then holds what everything after it contributed), and
the value `dh` has at its end replaces that adjoint.  Run as plain Python,
the block is skipped: the context manager stops it before its first line.
"""

import sys


class _Skipped(Exception):
    """Raised on the block's first line to leave it at once."""


def _quiet(frame, event, arg):
    return None


def _skip(frame, event, arg):
    raise _Skipped


class grad_of:
    """A hook on the adjoint of `value`, run in the reverse sweep (see the module)."""

    def __init__(self, value):
        self.value = value

    def __enter__(self):
        # line tracing on the caller's frame only, long enough to leave the block
        frame = sys._getframe(1)
        self._frame, self._global, self._local = frame, sys.gettrace(), frame.f_trace
        if self._global is None:
            sys.settrace(_quiet)
        frame.f_trace = _skip
        return None

    def __exit__(self, kind, exc, tb):
        self._frame.f_trace = self._local
        sys.settrace(self._global)
        self._frame = None
        return kind is _Skipped
