"""What the reverse and forward sweeps share: the build context, statements
annotated with versions, refs and their kinds, zero values, variables of
their own for table entries, and the primitive operation a statement makes.

A ref (`refs.Ref`: name, version, path) is one leaf of one version of a
local value.  Each sweep keeps a table from ref to what it knows (an `Adjoint` in
reverse, a tangent atom forward); `entry_expr` reads the expression out."""

import inspect
import operator

import types

import gast
import numpy as np

from . import rules, runtime
from .runtime import pytrees
from .kinds import UNKNOWN, Scalar, Seq, Tree, is_namedtuple, kind_of, leaves
from .analyze import concatenated_kind, literal_elements, named_field, tree_span, updated_name
from .analyze.methods import receiver_class
from .names import Namer
from .parse import MISSING, bind_arguments, user_text
from .refs import Version
from .trees import Comment, at, call, const, copy_node, name, unparse


class Context:
    """Names for one generated function: fresh names and closure cells."""

    def __init__(self, core, builder):
        self.core = core
        self.builder = builder
        self.namer = Namer(core.namer.taken, core.namer.bases)
        self.cells = {}             # name -> object the generated code needs
        self.notes = builder.notes if builder is not None else []   # for verbose=True
        self._spelled = {}
        self._used = None

    def note(self, stmt, text):
        """Record a remark on the build (printed with `verbose=True`)."""
        self.notes.append(f"{self.core.source.name}, line {stmt.s2sad_origin.lineno}: {text}")

    def spell(self, obj, preferred):
        """The name generated code uses for a library object."""
        key = id(obj)
        if key in self._spelled:
            return self._spelled[key]
        names = [n for n in self.core.source.namespace.names_bound_to(obj)
                 if n not in self.core.local_names and n != "_"]
        used = [n for n in names if n in self._used_names()]
        if used:
            spelled = used[0]                 # the user's own spelling, e.g. `xp`
        elif names and isinstance(obj, types.ModuleType):
            spelled = preferred if preferred in names else sorted(names, key=len)[0]
        else:                                 # held by the function itself, not read from globals
            spelled = self.namer.fresh(preferred)
            self.cells[spelled] = obj
        self._spelled[key] = spelled
        return spelled

    def _used_names(self):
        if self._used is None:
            self._used = {n.id for n in gast.walk(self.core.source.node) if isinstance(n, gast.Name)}
        return self._used

    def numpy(self):
        return name(self.spell(np, "np"))


def annotate(core, facts):
    """Copies of the core statements whose local names carry their versions
    (and, as `s2sad_facts`, the statement's facts)."""
    return [_annotated(core, facts, stmt) for stmt in core.body]


def _annotated(core, facts, stmt):
    sf = facts.stmts[id(stmt)]
    blocks = {"body", "orelse"} if isinstance(stmt, (gast.If, gast.For, gast.While)) else set()
    copied = type(stmt)(**{f: copy_node(getattr(stmt, f, None)) if f not in blocks else None
                           for f in stmt._fields})
    copied.__dict__.update({k: v for k, v in stmt.__dict__.items() if k not in stmt._fields})
    for node in gast.walk(copied):
        if isinstance(node, gast.Name) and node.id in core.local_names:
            if isinstance(node.ctx, gast.Store):
                node.s2sad_ref = Version(node.id, sf.writes[node.id])
            elif node.id in sf.reads:
                node.s2sad_ref = Version(node.id, sf.reads[node.id])
    for field_ in blocks:
        setattr(copied, field_, [_annotated(core, facts, s) for s in getattr(stmt, field_)])
    if isinstance(stmt, gast.For):
        copied.target.s2sad_ref = sf.counter
    copied.s2sad_facts = sf
    return copied


def access(ref):
    """`params['W1']`: the expression reading the leaf `ref` of a value."""
    return at(name(ref.name, ref.local), ref.path)


def tree_literal(ctx, kind, children):
    """A dict, list, tuple, named tuple, dataclass or registered class of the
    kind's structure holding `children`."""
    if kind.type is dict:
        return gast.Dict(keys=[const(k) for k in kind.keys], values=children)
    if is_namedtuple(kind.type):                  # `P(dw, None)`: the argument's own class
        return call(name(ctx.spell(kind.type, kind.type.__name__)), *children)
    if pytrees.plain_init(kind.type):             # `Params(W=dW, b=db)`
        return call(name(ctx.spell(kind.type, kind.type.__name__)),
                    **{str(k): c for k, c in zip(kind.keys, children)})
    if kind.by_attribute:                         # (its __init__ may not take its fields as given)
        aux = [] if kind.aux is None else [_literal(kind.aux) or name(
            ctx.spell(kind.aux, kind.type.__name__ + "_aux"))]
        return call(name(ctx.spell(pytrees.new, "new_pytree")),
                    name(ctx.spell(kind.type, kind.type.__name__)), *aux,
                    **{str(k): c for k, c in zip(kind.keys, children)})
    node = gast.List if kind.type is list else gast.Tuple
    return node(elts=children, ctx=gast.Load())


def _copied_sequence(sweep, value):
    """The list or tuple `list(a)` / `tuple(a)` copies (a list or tuple of
    known length, or a list of any length to a list), else None."""
    if not isinstance(value, gast.Call) or len(value.args) != 1 or value.keywords \
            or not getattr(value.args[0], "s2sad_ref", None):
        return None
    obj = sweep.src.namespace.resolve(value.func, sweep.core.local_names)
    kind = sweep.kind(value.args[0])
    if obj in (list, tuple) and (isinstance(kind, Tree) and issubclass(kind.type, (list, tuple))
                                 or isinstance(kind, Seq)):
        return value.args[0]
    return None


def _literal(value):
    """`value` as a constant or a tuple of constants, where it is one; else None."""
    if type(value) in (int, float, bool, str) or value is None:
        return const(value)
    if type(value) is tuple:
        parts = [_literal(v) for v in value]
        return gast.Tuple(elts=parts, ctx=gast.Load()) if all(p is not None for p in parts) else None
    return None


def helper_dependencies(sweep, func, call_, out_paths=None):
    """The parameters of a helper that the leaves `out_paths` of its result
    (all, where None) depend on, for a call's argument kinds; None where
    that is not known (every parameter may matter)."""
    deps = sweep.ctx.builder.helper_dependencies(
        func, [sweep.kind(a) or UNKNOWN for a in call_.args],
        {k.arg: sweep.kind(k.value) or UNKNOWN for k in call_.keywords})
    if deps is None:
        return None
    paths = list(deps) if out_paths is None else out_paths
    if any(p not in deps for p in paths):
        return None
    return {param for p in paths for param, _ in deps[p]}


class Sweep:
    """A walk over one core function's annotated statements, building code."""

    def kind(self, atom):
        ref = getattr(atom, "s2sad_ref", None)
        if ref is not None:
            return self.facts.kind(*ref)
        if isinstance(atom, gast.Constant):
            return kind_of(atom.value)
        if isinstance(atom, gast.Name) or getattr(atom, "s2sad_global", False):
            obj = self.src.namespace.resolve(atom, self.core.local_names)
            return UNKNOWN if obj is MISSING else kind_of(obj)
        return None

    def leaf_refs(self, atom):
        ref = getattr(atom, "s2sad_ref", None)
        if ref is None:
            return []
        return [ref.leaf(path) for path, _ in leaves(self.facts.kind(*ref))]

    def leaf_kind(self, ref):
        kind = self.facts.kind(*ref.local)
        for key in ref.path:
            kind = kind.child(key) if isinstance(kind, Tree) else UNKNOWN
        return kind

    def moved_from(self, value, outs):
        """Where each leaf of `target = value` comes from, where the statement only
        moves values (`b = a`, `t = (a, b)`, `P(a, b)`, `p.w`, `xs[0]` and `xs[1:]` of
        a tuple): {out ref: source ref, or None for a constant}; None otherwise."""
        if isinstance(value, gast.Name):
            return {ref: value.s2sad_ref.leaf(ref.path) for ref in outs}
        copied = _copied_sequence(self, value)
        if copied is not None:                    # `list(t)`, `tuple(xs)`: element by element
            return {ref: copied.s2sad_ref.leaf(ref.path) for ref in outs}
        literal = literal_elements(value, self.src.namespace, self.core.local_names)
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)) or literal is not None:
            keys, elts = literal if literal is not None else ([k.value for k in value.keys], value.values)
            by_key = dict(zip(keys, elts))
            sources = {}
            for ref in outs:
                src = getattr(by_key[ref.path[0]], "s2sad_ref", None)
                sources[ref] = src.leaf(ref.path[1:]) if src is not None else None
            return sources
        if isinstance(value, gast.Subscript) and isinstance(self.kind(value.value), Tree):
            base, kind = value.value.s2sad_ref, self.kind(value.value)
            picked = tree_span(kind, value.slice)
            if picked is not None:                # `ys = xs[1:]`: by position
                return {ref: base.leaf((picked[ref.path[0]],) + ref.path[1:]) for ref in outs}
            if isinstance(value.slice, gast.Constant):
                key = kind.key_at(value.slice.value)
                return {ref: base.leaf((key,) + ref.path) for ref in outs}
            return None                           # an item picked at run time
        key = named_field(self.kind, value)
        if key is not None:                       # `p.w` of a named tuple: by position
            return {ref: value.value.s2sad_ref.leaf((key,) + ref.path) for ref in outs}
        return None

    def assignment_form(self, value, outs):
        """What `target = value` does, as the sweeps' handler tables name it:
        "concatenation" (`xs + ys` of lists), "list item" (`xs[i]`), "tuple item"
        (`t[i]` with i known only at run time), "helper" (a call to one of the
        user's functions), or "operation" (a primitive).  (Moves come first:
        `moved_from`.)"""
        if concatenated_kind(self.kind, value) is not None:
            return "concatenation"
        if isinstance(value, gast.Subscript):
            kind = self.kind(value.value)
            if isinstance(kind, Seq) and not isinstance(value.slice, gast.Slice) \
                    and [o.path for o in outs] == [()]:
                return "list item"
            if isinstance(kind, Tree):
                return "tuple item"
        if self.helper_called(value) is not None:
            return "helper"
        return "operation"

    def helper_called(self, value):
        """The user's function `value` calls, where the sweep transforms it
        rather than apply a rule (None otherwise)."""
        if not isinstance(value, gast.Call):
            return None
        func = value.func
        if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
            return None                           # a method
        obj = self.src.namespace.resolve(func, self.core.local_names)
        return obj if obj is not MISSING and self.transforms(obj) else None

    def bind_call(self, stmt, func):
        """The arguments of a call to one of the user's functions, bound to its
        parameters (a call that does not match them is the user's error)."""
        value = stmt.value
        try:
            binding = bind_arguments(func, value.args, {k.arg: k.value for k in value.keywords})
        except TypeError as exc:
            raise self.src.error(stmt.s2sad_origin, f"the call to {func.__name__} does not match "
                                 f"its parameters: {exc}") from None
        if any(p.kind is p.VAR_POSITIONAL for p in binding.signature.parameters.values()):
            # (its *args would hold atoms no table knows: their tangents silently lost)
            raise self.src.error(stmt.s2sad_origin, f"{func.__name__} takes *args, which s2sad does "
                                 f"not differentiate through", "name each parameter of "
                                 f"{func.__name__} (pass a list or tuple to group them)")
        return binding

    def transforms(self, obj):
        """Does this sweep transform `obj`'s source (not apply a rule)?"""
        raise NotImplementedError

    def is_scalar(self, atom):
        return isinstance(self.kind(atom), Scalar)

    def entry_expr(self, entry):
        """The expression a table entry holds."""
        return entry

    def variable_name(self, ref):
        """The name a variable of ref's own is given (`dW1`)."""
        raise NotImplementedError

    def names_in_use(self, table, but=None):
        """The variables a table's entries (all but ref `but`'s) are held in."""
        exprs = [self.entry_expr(e) for r, e in table.items() if r != but]
        return {e.id for e in exprs if isinstance(e, gast.Name)}

    def own_variable(self, ref, tables):
        """A variable for ref's entry that no other entry of these tables names."""
        in_use = set().union(*[self.names_in_use(t, ref) for t in tables])
        own = self.variable_name(ref)
        return own if own not in in_use else self.ctx.namer.fresh(own)

    def operation(self, stmt, value):
        """The rule key, positional atoms and keyword atoms of an operation."""
        if updated_name(stmt) and isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            return runtime.setitem, [target.value, target.slice, value], {}
        if isinstance(value, gast.BinOp):
            return rules.BINARY_OPERATORS[type(value.op)], [value.left, value.right], {}
        if isinstance(value, gast.UnaryOp):
            return rules.UNARY_OPERATORS[type(value.op)], [value.operand], {}
        if isinstance(value, gast.Attribute):
            return rules.method_key(value.attr), [value.value], {}
        if isinstance(value, gast.Subscript):
            return operator.getitem, [value.value, value.slice], {}
        if isinstance(value, gast.Call):
            keywords = {k.arg: k.value for k in value.keywords}
            func = value.func
            if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
                self.refuse_method_call(stmt, func)
                return rules.method_key(func.attr), [func.value] + list(value.args), keywords
            obj = self.src.namespace.resolve(func, self.core.local_names)
            if obj is MISSING:
                raise self.src.error(stmt.s2sad_origin,
                                     f"cannot tell which function `{unparse(func)}` is",
                                     "call a function defined at module level or imported")
            call = getattr(type(obj), "__call__", None)
            if isinstance(call, types.FunctionType) and not isinstance(obj, (type, types.FunctionType)) \
                    and rules.lookup_adjoint(obj) is None:
                # (an object of the user's classes is called through its class: analyze/methods.py)
                owner = f"{type(obj).__name__} object (from {type(obj).__module__.split('.')[0]})"
                raise self.src.error(
                    stmt.s2sad_origin, f"`{unparse(func)}(...)` calls a {owner}, whose "
                    f"`__call__` s2sad does not differentiate",
                    f"register a rule for it (`@s2sad.adjoint({unparse(func)})`), or write what it "
                    f"computes with array operations")
            return obj, list(value.args), keywords
        raise self.src.error(stmt.s2sad_origin, f"`{type(value).__name__}` cannot be differentiated")

    def refuse_method_call(self, stmt, func):
        """`self.features(x)`: a method of one of the user's objects (not an array's)."""
        kind = self.kind(func.value)
        owner = receiver_class(kind)
        if owner is None or isinstance(kind, Tree) and kind.field(func.attr) is not None \
                or not callable(getattr(owner, func.attr, None)):
            return
        receiver = unparse(func.value)
        what = type(inspect.getattr_static(owner, func.attr)).__name__
        raise self.src.error(
            stmt.s2sad_origin,
            f"`{receiver}.{func.attr}(...)` calls a method of `{receiver}` (a {owner.__name__}) "
            f"that is not a function s2sad can read the source of (a {what})",
            f"call the function it wraps through its class: `{owner.__name__}.<function>({receiver}, ...)`")

    def comment(self, origin):
        if origin is not self.last_origin:
            self.items.append(Comment(user_text(origin)))
            self.last_origin = origin


def same_atom(a, b):
    """Do two atoms read the same variable or constant?"""
    if isinstance(a, gast.Name) and isinstance(b, gast.Name):
        return a.id == b.id
    return isinstance(a, gast.Constant) and isinstance(b, gast.Constant) and a.value == b.value
