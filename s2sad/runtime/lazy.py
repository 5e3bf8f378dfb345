"""Forms of the runtime helpers for chunked, lazily computed arrays (Dask).

A Dask array cannot be written through NumPy's in-place machinery
(`np.add.at` raises a TypeError, `np.fill_diagonal` fills a computed copy)
and lacks a few functions (`np.argsort`, `np.split` fall back to NumPy,
computing the graph).  The helpers here keep such arrays lazy; on NumPy and
CuPy arrays they are the plain NumPy calls.
"""

import math

import numpy as np

__all__ = ["add_at", "size_of"]


def is_chunked(a):
    """Is `a` a Dask array (a graph of chunks, computed on demand)?"""
    return type(a).__module__.partition(".")[0] == "dask"


def passes_chunked(args, kwargs):
    """Does a call pass a Dask array (an argument, or a leaf of one)?"""
    from .pytrees import leaves
    return any(is_chunked(leaf) for a in list(args) + list(kwargs.values()) for _, leaf in leaves(a))


def lift_to_chunked(args, kwargs):
    """The arguments of a call that passes Dask arrays, with the NumPy float
    arrays among them (parameters beside chunked data, in pytrees too) made
    one-chunk Dask arrays: their adjoints, zeros written with the data's
    cotangents (`dw[1:] = ...`), then stay lazy."""
    import dask.array as da
    from .pytrees import map_leaves

    def lift(_, leaf):
        if isinstance(leaf, np.ndarray) and leaf.dtype.kind in "fc":
            return da.from_array(leaf, chunks=-1)
        return leaf

    return (tuple(map_leaves(lift, a) for a in args),
            {k: map_leaves(lift, v) for k, v in kwargs.items()})


def size_of(a):
    """`np.size(a)` from the shape alone (NumPy's computes a Dask array)."""
    return math.prod(np.shape(a))


def add_at(a, index, values):
    """`np.add.at(a, index, values)`: `values` added into `a[index]`,
    repeated positions adding up, in place.  On a Dask array the scatter is
    a graph (a weighted `np.bincount` over the flat positions the index
    selects), set into `a` as its new value."""
    if not is_chunked(a):
        np.add.at(a, index, values)
        return
    import dask.array as da
    parts = index if isinstance(index, tuple) else (index,)
    like = a if any(is_chunked(p) for p in parts) else None       # (a host index: host positions)
    positions = np.arange(a.size, like=like).reshape(a.shape)[index]
    flat = da.asarray(positions.reshape(-1))
    weights = da.asarray(np.broadcast_to(values, positions.shape).reshape(-1)).rechunk(flat.chunks)
    added = np.bincount(flat, weights=weights, minlength=a.size)
    a[...] = a + added.reshape(a.shape).astype(a.dtype)


def blockwise_last(f, *arrays):
    """`f(*arrays)` for an `f` that needs each array's last axis whole (a
    sort, a rank): on Dask arrays, block by block with the last axis in one
    chunk (no compute); else as it is."""
    if not any(is_chunked(x) for x in arrays):
        return f(*arrays)
    import dask.array as da
    lazy = [x if is_chunked(x) else da.from_array(x) for x in arrays]
    lazy = [x.rechunk({x.ndim - 1: -1}) if x.ndim else x for x in lazy]
    return da.map_blocks(f, *lazy, dtype=np.result_type(*[x.dtype for x in lazy]))
