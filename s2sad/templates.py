"""Inline a rule's body at a call site, specialised for the argument kinds.

A rule is an ordinary function (`def _(g, result, x): return g * result`).
Its parameters are replaced by the call site's atoms, its locals get fresh
names, and what the argument kinds decide is folded away (`np.ndim(a) == 2`,
`axis is None`, `keepdims`, `selects_each_once(i)`, `unbroadcast` where the
shapes provably match).  If the folded body is straight-line, it is
inlined; otherwise the caller calls the rule as a function.
"""

import inspect
from dataclasses import dataclass

import gast
import numpy as np

from .kinds import Array, Opaque, Scalar, Seq, Tree, kind_of
from .parse import MISSING, parse_function
from . import runtime
from .trees import copy_node, is_boolean, slices_as_values

_PARSED = {}
_LITERALS = (type(None), bool, int, float, complex, str)


@dataclass
class Inlined:
    stmts: list                # statements to emit before the outputs are used
    outputs: list              # one expression (or None) per positional argument


class Operand:
    """A call-site argument: its atom, its kind, and whether it provably has
    the result's shape (so `unbroadcast` to it is the identity)."""

    def __init__(self, atom, kind, same_shape=False):
        self.atom, self.kind, self.same_shape = atom, kind, same_shape


class CallSite:
    """What the inliner needs to know of the call being differentiated."""

    def __init__(self, args, keywords, g, result, result_kind, kind, spell, fresh):
        self.args = args                  # Operand per positional argument
        self.keywords = keywords          # name -> Operand
        self.g = g                        # gast expr: adjoint of the result
        self.result = result              # gast expr: the result
        self.result_kind = result_kind
        self.kind = kind                  # atom -> kind (for atoms inside an index)
        self.spell = spell                # (object, preferred name) -> identifier
        self.fresh = fresh                # hint -> fresh identifier
        self.tangent = False              # a reverse rule used for a tangent: no unbroadcast
        self.single = False               # the rule returns one value (a forward rule)


def _template(rule):
    node = _PARSED.get(rule)
    if node is None:
        node = _PARSED[rule] = parse_function(rule)
    return node


class GaveUp:
    """Why a rule is called rather than inlined (false, where an `Inlined` is true)."""

    def __init__(self, reason):
        self.reason = reason

    def __bool__(self):
        return False


def inline(rule, site):
    """The rule's body at this call site (`Inlined`), or why it cannot be
    (`GaveUp`: its body is not straight-line code once the kinds are known)."""
    try:
        source = _template(rule)
    except Exception:
        return GaveUp("its source cannot be read")
    sig = inspect.signature(rule)
    params = list(sig.parameters.values())
    bound = {params[0].name: Operand(site.g, site.result_kind, True),
             params[1].name: Operand(site.result, site.result_kind, True)}
    positional = [p for p in params[2:] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = next((p for p in params if p.kind is p.VAR_POSITIONAL), None)
    args = list(site.args)
    for p in positional:
        if args:
            bound[p.name] = args.pop(0)
        elif p.name in site.keywords:
            bound[p.name] = site.keywords[p.name]
        elif p.default is not p.empty:
            bound[p.name] = _default(p.default, site)
        else:
            return GaveUp(f"the call gives no value for its parameter `{p.name}`")
    if varargs is not None:
        elts = [copy_node(a.atom) for a in args]
        for elt, operand in zip(elts, args):
            elt.s2sad_operand = operand          # `bounds[0] is None` folds on the element
        bound[varargs.name] = Operand(gast.Tuple(elts=elts, ctx=gast.Load()),
                                      Tree(tuple, tuple(range(len(args))), tuple(a.kind for a in args)))
    elif args:
        return GaveUp("the call passes more arguments than it has parameters")
    for p in params:
        if p.kind is p.KEYWORD_ONLY:
            if p.name in site.keywords:
                bound[p.name] = site.keywords[p.name]
            elif p.default is not p.empty:
                bound[p.name] = _default(p.default, site)
            else:
                return GaveUp(f"the call gives no value for its keyword `{p.name}`")
    extra = set(site.keywords) - set(bound)
    kwargs = next((p for p in params if p.kind is p.VAR_KEYWORD), None)
    if extra and kwargs is None:
        return GaveUp(f"it takes no keyword {', '.join(sorted(extra))}")
    body = copy_node(source.node.body)
    locals_ = {n.id for s in body for n in gast.walk(s)
               if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    if kwargs is not None and any(isinstance(n, gast.Name) and n.id == kwargs.name
                                  for s in body for n in gast.walk(s)):
        return GaveUp(f"its body reads `**{kwargs.name}`")
    renames = {name: site.fresh(name) for name in sorted(locals_)}
    folder = _Folder(bound, renames, source.namespace, site)
    body = folder.statements(body)
    if folder.failed or not body or not isinstance(body[-1], gast.Return):
        return GaveUp("its body branches on what the argument kinds do not decide")
    if any(not isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr)) for s in body[:-1]):
        return GaveUp("its body has a loop or another compound statement")
    body = [slices_as_values(s) for s in body]
    value = body[-1].value
    outputs = list(value.elts) if isinstance(value, gast.Tuple) else [value]
    outputs = [None if isinstance(o, gast.Constant) and o.value is None else o for o in outputs]
    if len(outputs) == 1 and len(site.args) > 1 and not _one_value(value) and not site.single:
        return GaveUp("it returns one value for several arguments (a tuple made by a call?)")
    for s in body[:-1] + [o for o in outputs if o is not None]:
        folder.spell_globals(s)
    if folder.failed:
        return GaveUp("it reads a global the generated code cannot name")
    return Inlined(body[:-1], outputs)


def _default(value, site):
    if isinstance(value, _LITERALS):
        return Operand(gast.Constant(value=value, kind=None), kind_of(value))
    return Operand(gast.Name(id=site.spell(value, "default"), ctx=gast.Load(), annotation=None,
                             type_comment=None), kind_of(value))


_ELEMENTWISE = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow)


def _ones(kind):
    if isinstance(kind, Scalar):
        return ()
    return getattr(kind, "ones", None)


def _sum(value, axes, keepdims):
    """`value.sum(axis=...)`; every axis of a 1-D value: `value.sum()`."""
    keywords = [gast.keyword(arg="axis", value=_const(axes[0] if len(axes) == 1 else axes))]
    if keepdims:
        keywords.append(gast.keyword(arg="keepdims", value=_const(True)))
    return gast.Call(func=gast.Attribute(value=value, attr="sum", ctx=gast.Load()), args=[],
                     keywords=keywords)


def _one_value(node):
    """Is a rule's bare return value one cotangent, not a tuple of them?"""
    if isinstance(node, gast.Tuple):
        return True
    if isinstance(node, (gast.BinOp, gast.UnaryOp, gast.Constant)):
        return True
    if isinstance(node, gast.Attribute):             # g.T
        return True
    if isinstance(node, gast.Name):
        operand = getattr(node, "s2sad_operand", None)
        return operand is not None and not isinstance(operand.kind, Tree)
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute):
        return not hasattr(node.func, "s2sad_object") and node.func.attr in _ARRAY_METHODS \
            or getattr(node.func.value, "s2sad_object", None) is np
    return False


_ARRAY_METHODS = {"reshape", "transpose", "sum", "mean", "astype", "copy", "conj"}


def _literal(node):
    """The value of a constant or a tuple of constants, else MISSING."""
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.Tuple):
        values = tuple(_literal(e) for e in node.elts)
        return MISSING if MISSING in values else values
    return MISSING


def _is_const(node):
    return isinstance(node, gast.Constant)


def _const(value):
    return gast.Constant(value=value, kind=None)


class _Folder:
    """Substitutes parameters, renames locals and folds what kinds decide."""

    def __init__(self, bound, renames, namespace, site):
        self.bound = bound
        self.renames = renames
        self.ns = namespace
        self.site = site
        self.failed = False

    # statements

    def statements(self, stmts):
        out = []
        for s in stmts:
            if isinstance(s, gast.If):
                test = self.expr(s.test)
                if _is_const(test):
                    out.extend(self.statements(s.body if test.value else s.orelse))
                    if out and isinstance(out[-1], gast.Return):
                        return out
                    continue
                self.failed = True
                return out
            if isinstance(s, gast.Return):
                out.append(gast.Return(value=self.expr(s.value) if s.value is not None else _const(None)))
                return out
            if isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr)):
                out.append(self.generic(s))
                continue
            self.failed = True
            return out
        return out

    def generic(self, node):
        for field, value in gast.iter_fields(node):
            if isinstance(value, list):
                setattr(node, field, [self.expr(v) if isinstance(v, gast.expr) else self.generic(v)
                                      if isinstance(v, gast.AST) else v for v in value])
            elif isinstance(value, gast.expr):
                setattr(node, field, self.expr(value))
            elif isinstance(value, gast.AST):
                setattr(node, field, self.generic(value))
        return node

    # expressions

    def expr(self, node):
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Store) or node.id in self.renames:
                return gast.Name(id=self.renames.get(node.id, node.id), ctx=node.ctx,
                                 annotation=None, type_comment=None)
            if node.id in self.bound:
                operand = self.bound[node.id]
                copy_ = copy_node(operand.atom)
                copy_.s2sad_operand = operand
                return copy_
            obj = self.ns.lookup(node.id)
            if obj is MISSING:
                self.failed = True
                return node
            node.s2sad_object = obj
            return node
        node = self.generic(node)
        method = getattr(self, "fold_" + type(node).__name__, None)
        return method(node) if method else node

    def obj(self, node):
        """The library object an expression names (`np.ndim`), or MISSING."""
        if isinstance(node, gast.Name):
            return getattr(node, "s2sad_object", MISSING)
        if isinstance(node, gast.Attribute):
            base = self.obj(node.value)
            if base is MISSING or not hasattr(base, "__name__"):
                return MISSING
            return getattr(base, node.attr, MISSING)
        return MISSING

    def kind(self, node):
        operand = getattr(node, "s2sad_operand", None)
        return operand.kind if operand is not None else None

    def ndim(self, node):
        kind = self.kind(node)
        ndim = getattr(kind, "ndim", None) if kind is not None else None
        return ndim if isinstance(ndim, int) else None

    def fold_Subscript(self, node):
        """`g[1]` of a literal list of adjoints (a tuple-valued result's)."""
        index = _literal(node.slice)
        if isinstance(node.value, (gast.List, gast.Tuple)) and isinstance(index, int) \
                and not isinstance(index, bool) and -len(node.value.elts) <= index < len(node.value.elts):
            return node.value.elts[index]
        return node

    def fold_Attribute(self, node):
        if node.attr == "ndim":
            ndim = self.ndim(node.value)
            if ndim is not None:
                return _const(ndim)
        return node

    def fold_Call(self, node):
        fn = self.obj(node.func)
        if fn is np.ndim and len(node.args) == 1:
            ndim = self.ndim(node.args[0])
            if ndim is not None:
                return _const(ndim)
        if fn is len and len(node.args) == 1 and isinstance(node.args[0], gast.Tuple):
            return _const(len(node.args[0].elts))
        if fn is runtime.selects_each_once and len(node.args) == 1:
            basic = self.selects_each_once(node.args[0])
            if basic is not None:
                return _const(basic)
        if fn in (runtime.has_newaxis, runtime.without_newaxes) and len(node.args) == 1:
            parts = self.newaxes(node.args[0])
            if parts is not None:
                if fn is runtime.has_newaxis:
                    return _const(any(parts))
                index = node.args[0]
                kept = [e for e, new in zip(index.elts if isinstance(index, gast.Tuple) else [index],
                                            parts) if not new]
                return kept[0] if len(kept) == 1 else gast.Tuple(elts=kept, ctx=gast.Load())
        if fn is runtime.inverse_axes and len(node.args) == 1:
            axes = _literal(node.args[0])
            if axes is not MISSING:
                return _const(runtime.inverse_axes(axes))
        if fn is isinstance and len(node.args) == 2:
            answer = self.is_instance(node.args[0], self.obj(node.args[1]))
            if answer is not None:
                return _const(answer)
        if fn is runtime.power_slope and len(node.args) == 2:
            folded = self.power_slope(node.args[0], node.args[1])
            if folded is not None:
                return folded
        if fn is runtime.unbroadcast and len(node.args) == 2:
            if self.site.tangent:
                return node.args[0]
            operand = getattr(node.args[1], "s2sad_operand", None)
            if operand is not None and operand.same_shape:
                return node.args[0]
            if operand is not None:
                return self.unbroadcast(node, node.args[0], _ones(operand.kind))
        return node

    def power_slope(self, x, y):
        """`power_slope(x, c)` for a constant exponent: 0 for c == 0 (x ** 0 is
        1 everywhere), 1 for c == 1, else `c * x ** (c - 1)`."""
        if not (_is_const(y) and isinstance(y.value, (int, float))
                and not isinstance(y.value, bool)):
            return None
        c = y.value
        if c == 0:
            return _const(0.0)
        if c == 1:
            return _const(1)
        power = x if c == 2 else gast.BinOp(left=x, op=gast.Pow(), right=_const(c - 1))
        slope = gast.BinOp(left=_const(c), op=gast.Mult(), right=power)
        slope.s2sad_factor = True            # `g * slope` reads `g * c * x ** (c - 1)`
        return slope

    def ones(self, node):
        """Size-one dimensions of an expression built from operands, or None."""
        operand = getattr(node, "s2sad_operand", None)
        if operand is not None:
            return _ones(operand.kind)
        if isinstance(node, gast.Constant) and isinstance(node.value, (int, float)):
            return ()
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
            return self.ones(node.operand)
        if isinstance(node, gast.BinOp) and isinstance(node.op, _ELEMENTWISE):
            left, right = self.ones(node.left), self.ones(node.right)
            if left is None or right is None:
                return None
            n = max(len(left), len(right))
            left, right = (True,) * (n - len(left)) + left, (True,) * (n - len(right)) + right
            return tuple(a and b for a, b in zip(left, right))
        return None

    def unbroadcast(self, node, value, target):
        """`unbroadcast(g, x)` as the sum it stands for, where the size-one
        dimensions of both are known: `g.sum(axis=0)` for a bias."""
        source = self.ones(value)
        if source is None or target is None or len(target) > len(source):
            return node
        lead = len(source) - len(target)
        kept = tuple(lead + i for i, t in enumerate(target) if t and not source[lead + i])
        if kept:
            value = _sum(value, kept, keepdims=True)
        if lead:
            value = _sum(value, tuple(range(lead)), keepdims=False)
        return value

    def is_instance(self, node, types_):
        """`isinstance(x, float)` for an operand whose kind decides it."""
        kind = self.kind(node)
        if not isinstance(types_, type) or kind is None:
            return None
        if types_ is list:               # (a list of any length, `getitem`'s adjoint)
            return isinstance(kind, Seq) or isinstance(kind, Tree) and kind.type is list \
                if isinstance(kind, (Seq, Tree, Array, Scalar)) else None
        if isinstance(kind, Scalar):
            python = {"float": float, "int": int, "bool": bool, "complex": complex}[kind.dtype]
            return issubclass(python, types_) if types_ in (float, int, bool, complex) else None
        if types_ is str:                # a constant string (einsum's subscripts) or not
            return isinstance(kind, Opaque) and kind.type is str if isinstance(kind, (Opaque, Array)) \
                else None
        if types_ in (float, int, bool, complex) and getattr(kind, "ndim", None) is not None:
            return False                 # arrays (a numpy float64 scalar has kind Scalar)
        if self.site.tangent and types_ is float and isinstance(kind, Array):
            return False                 # unknown (a recursive helper's result): a forward
        return None                      # rule has no runtime call: the array branch serves all

    def newaxes(self, node):
        """For each part of an index, whether it is a new axis (`None`,
        `np.newaxis`); None where a part's kind does not say."""
        parts = node.elts if isinstance(node, gast.Tuple) else [node]
        out = []
        for part in parts:
            if _is_const(part) or isinstance(part, gast.Slice):
                out.append(_is_const(part) and part.value is None)
            elif isinstance(part, gast.Attribute) and part.attr == "newaxis":
                out.append(True)
            elif isinstance(self.kind(part) or (self.site.kind(part) if isinstance(part, gast.Name)
                                                 else None), (Scalar, Array)):
                out.append(False)
            else:
                return None
        return out

    def selects_each_once(self, node):
        if isinstance(node, gast.Slice):
            return True
        if isinstance(node, gast.Constant):
            return node.value is None or node.value is Ellipsis or (
                isinstance(node.value, int) and not isinstance(node.value, bool))
        if isinstance(node, gast.Tuple):
            parts = [self.selects_each_once(e) for e in node.elts]
            return None if None in parts else all(parts)
        kind = self.kind(node) or (self.site.kind(node) if isinstance(node, gast.Name) else None)
        if isinstance(kind, Scalar):
            return kind.dtype in ("int", "bool")
        if isinstance(kind, Tree):
            return False                                 # a list of indices
        if isinstance(kind, Array) and kind.ndim is not None and kind.dtype is not None:
            return np.dtype(kind.dtype).kind == "b" or kind.ndim == 0 and np.dtype(kind.dtype).kind in "iu"
        return None

    def fold_Compare(self, node):
        if len(node.ops) != 1:
            return node
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if isinstance(op, (gast.Is, gast.IsNot)) and _is_const(right) and right.value is None:
            if _is_const(left):
                answer = left.value is None
            else:
                kind = self.kind(left)
                if kind is None or kind == Opaque(type(None)):
                    return node
                answer = False
            return _const(answer if isinstance(op, gast.Is) else not answer)
        if _is_const(left) and _is_const(right):
            from .rules import COMPARE_OPERATORS
            try:
                return _const(bool(COMPARE_OPERATORS[type(op)](left.value, right.value)))
            except Exception:
                return node
        return node

    def fold_BoolOp(self, node):
        values = node.values
        if all(_is_const(v) for v in values):
            result = all(v.value for v in values) if isinstance(node.op, gast.And) \
                else any(v.value for v in values)
            return _const(result)
        if isinstance(node.op, gast.Or) and any(_is_const(v) and v.value for v in values):
            return _const(True)
        if isinstance(node.op, gast.And) and any(_is_const(v) and not v.value for v in values):
            return _const(False)
        return node

    def fold_UnaryOp(self, node):
        if isinstance(node.op, gast.Not) and _is_const(node.operand):
            return _const(not node.operand.value)
        if isinstance(node.op, gast.USub) and _is_const(node.operand) \
                and isinstance(node.operand.value, (int, float)):
            return _const(-node.operand.value)
        return node

    def fold_BinOp(self, node):
        left, right = node.left, node.right
        number = lambda n: _is_const(n) and isinstance(n.value, (int, float)) \
            and not isinstance(n.value, bool)
        if number(left) and number(right):
            from .rules import BINARY_OPERATORS
            try:
                return _const(BINARY_OPERATORS[type(node.op)](left.value, right.value))
            except Exception:
                return node
        op = node.op
        if getattr(right, "s2sad_factor", False) and isinstance(op, gast.Mult):
            return gast.BinOp(left=gast.BinOp(left=left, op=gast.Mult(), right=right.left),
                              op=gast.Mult(), right=right.right)
        if isinstance(left, gast.Tuple) and isinstance(right, gast.Tuple) and isinstance(op, gast.Add):
            return gast.Tuple(elts=left.elts + right.elts, ctx=gast.Load())
        if isinstance(left, gast.Tuple) and number(right) and isinstance(op, gast.Mult):
            return gast.Tuple(elts=[copy_node(e) for _ in range(right.value) for e in left.elts],
                              ctx=gast.Load())
        # (`1.0 * (a == result)` stays: the mask alone is boolean, and True + True
        # is True, -True an error)
        if number(right) and right.value == 1 and isinstance(op, (gast.Mult, gast.Div, gast.Pow)) \
                and not is_boolean(left):
            return left
        if number(left) and left.value == 1 and isinstance(op, gast.Mult) and not is_boolean(right):
            return right
        if number(right) and right.value == 0 and isinstance(op, (gast.Add, gast.Sub)):
            return left
        if number(left) and left.value == 0 and isinstance(op, gast.Add):
            return right
        return node

    # globals

    def spell_globals(self, tree):
        """Give the library objects a rule names the spelling generated code uses."""
        for node in gast.walk(tree):
            if isinstance(node, gast.Name) and hasattr(node, "s2sad_object"):
                node.id = self.site.spell(node.s2sad_object, node.id)
