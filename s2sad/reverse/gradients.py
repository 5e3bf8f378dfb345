"""The gradient a generated function returns: each parameter's adjoint at the
end of the reverse sweep, zeros where none reached it, in the structure of
the parameter (a dict, list, tuple or named tuple literal)."""

import gast

from .. import runtime
from ..kinds import Opaque, Scalar, Tree
from ..refs import Ref
from ..sweep import access, tree_literal
from ..trees import call, const, copy_node, name


def leaf_gradient(rev, param, path, kind, final=True):
    """The gradient of one leaf of a parameter: its adjoint, zeros if it got
    none, and (`final`, for the user) a Python float for a float."""
    if not kind.differentiable or isinstance(kind, Opaque):
        return const(None)
    leaf = Ref(param, 0, path)
    adj = rev.table.get(leaf)
    if adj is None:
        if isinstance(kind, Scalar):
            return const(0.0)
        return call(gast.Attribute(value=rev.ctx.numpy(), attr="zeros_like", ctx=gast.Load()),
                    access(leaf))
    expr = copy_node(adj.expr)
    if not final:
        return expr
    if isinstance(kind, Scalar):          # a Python float, not a NumPy scalar
        if isinstance(expr, gast.Constant):
            return const(float(expr.value))
        return call(name("float"), expr)
    if isinstance(expr, gast.Constant) or adj.scalar or getattr(kind, "ndim", None) == 0:
        # (a 0-d array's gradient a 0-d array: NumPy's reductions give NumPy scalars)
        return call(gast.Attribute(value=rev.ctx.numpy(), attr="full_like", ctx=gast.Load()),
                    access(leaf), expr)
    if getattr(kind, "dtype", None) in ("float32", "float16", "complex64"):
        return call(name(rev.ctx.spell(runtime.in_dtype_of, "in_dtype_of")), expr, access(leaf))
    return expr


def gradient_of(rev, param):
    """The gradient expression returned for a parameter (a pytree literal for pytrees)."""
    def build(kind, path):
        if isinstance(kind, Tree):
            children = [build(c, path + (k,)) for k, c in zip(kind.keys, kind.children)]
            return tree_literal(rev.ctx, kind, children)
        return leaf_gradient(rev, param, path, kind)

    return build(rev.facts.kind(param, 0), ())
