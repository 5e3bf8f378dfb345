"""Statements the analysis writes out once it knows kinds.

Some calls can only be put in core form once the kinds of their operands are
known: a method call of one of the user's classes (`methods.py`), a call
with `*parts` or `**options` (`f(*parts)` is `f(parts_0, parts_1)` for a
tuple of two).  The analysis raises a `Rewrite` at such a statement;
`Builder.analysis` analyses a copy of the core with it rewritten
(`rewritten`), one statement at a time, until the walk goes through.
"""

import copy
import types
from dataclasses import dataclass

import gast

from ..normalize.core_form import CoreFunction
from ..trees import assign, child_blocks, const, copy_node, name


@dataclass
class First:
    """`expr` assigned first to a name of its own (a name made from `hint`),
    which the Name `holder` in the rewritten value takes."""
    hint: str
    expr: object
    holder: object


class Rewrite(Exception):
    """The statement `stmt` is to read `value` instead, after `firsts`; `cls`
    is a class (or function) `value` names, spelled where the user's globals
    do not.  With `made` = (name, transform), the statement goes instead:
    the transform it made is made while building (`nested.py`)."""

    def __init__(self, stmt, value, cls=None, firsts=(), made=None):
        super().__init__(f"rewrite at line {getattr(stmt, 'lineno', '?')}")
        self.stmt, self.value, self.cls, self.firsts = stmt, value, cls, list(firsts)
        self.made = made

    @property
    def key(self):
        """What the rewritten function depends on (its cache key)."""
        from ..trees import unparse
        what = unparse(self.value) if self.value is not None else id(self.made[1])
        return id(self.stmt), self.cls, what


class DictKeys(Exception):
    """A dict comprehension over the items of a dict whose keys the kind
    tells: the user's source is to read the dict literal it makes
    (`{k: v * 2 for k, v in p.items()}` as `{"W": p["W"] * 2, "b": p["b"] * 2}`)."""

    def __init__(self, comprehension, keys):
        super().__init__(f"dict comprehension at line {getattr(comprehension, 'lineno', '?')}")
        self.comprehension, self.keys = comprehension, tuple(keys)


def written_out(source, rewrite):
    """A copy of the user's source with the comprehension replaced by its
    literal (the key named by the loop's key, the value by `p[key]`)."""
    from ..parse import Source
    comp = rewrite.comprehension
    gen = comp.generators[0]
    it = gen.iter
    over = it.func.value if isinstance(it, gast.Call) else it
    k = gen.target.elts[0].id if isinstance(gen.target, gast.Tuple) else gen.target.id
    v = gen.target.elts[1].id if isinstance(gen.target, gast.Tuple) else None

    def entry(expr, key):
        expr = copy_node(expr)
        holder = gast.Expr(value=expr)
        for n in gast.walk(holder):
            for field, child in gast.iter_fields(n):
                swap = lambda c: (const(key) if c.id == k else gast.Subscript(
                    value=name(over.id), slice=const(key), ctx=gast.Load()))
                if isinstance(child, gast.Name) and child.id in (k, v) and isinstance(child.ctx, gast.Load):
                    setattr(n, field, swap(child))
                elif isinstance(child, list):
                    child[:] = [swap(c) if isinstance(c, gast.Name) and c.id in (k, v)
                                and isinstance(c.ctx, gast.Load) else c for c in child]
        return holder.value

    literal = gast.Dict(keys=[entry(comp.key, key) for key in rewrite.keys],
                        values=[entry(comp.value, key) for key in rewrite.keys])
    gast.copy_location(literal, comp)
    node = copy_node(source.node)
    for old, new in zip(gast.walk(source.node), gast.walk(node)):
        for field, child in gast.iter_fields(new):
            original = getattr(old, field, None)
            if original is comp:
                setattr(new, field, literal)
            elif isinstance(child, list) and isinstance(original, list) and any(c is comp for c in original):
                child[:] = [literal if o is comp else c for o, c in zip(original, child)]
    out = Source(source.func, node, source.filename)
    out.namespace = source.namespace
    return out


def expand_star_call(value, kind_of_atom):
    """`f(x, *parts, **options)` as `f(x, parts_0, parts_1, scale=options_scale)`
    where `parts` is a list or tuple of known length and `options` a dict of
    string keys; None where they are not."""
    from ..kinds import Tree
    args, keywords, firsts = [], [], []
    for a in value.args:
        if not isinstance(a, gast.Starred):
            args.append(a)
            continue
        if isinstance(a.value, gast.Constant) and isinstance(a.value.value, tuple):
            args += [const(v) for v in a.value.value]
            continue
        kind = kind_of_atom(a.value)
        if not (isinstance(kind, Tree) and issubclass(kind.type, (list, tuple))):
            return None
        for i in range(len(kind.keys)):
            holder = name("")
            firsts.append(First(f"{a.value.id}_{i}", gast.Subscript(
                value=copy_node(a.value), slice=const(i), ctx=gast.Load()), holder))
            args.append(holder)
    for k in value.keywords:
        if k.arg is not None:
            keywords.append(k)
            continue
        kind = kind_of_atom(k.value)
        if not (isinstance(kind, Tree) and kind.type is dict and all(isinstance(key, str) for key in kind.keys)):
            return None
        for key in kind.keys:
            holder = name("")
            firsts.append(First(f"{k.value.id}_{key}", gast.Subscript(
                value=copy_node(k.value), slice=const(key), ctx=gast.Load()), holder))
            keywords.append(gast.keyword(arg=key, value=holder))
    call = gast.Call(func=copy_node(value.func), args=args, keywords=keywords)
    return call, firsts


def is_star_call(value):
    return isinstance(value, gast.Call) and (any(isinstance(a, gast.Starred) for a in value.args)
                                             or any(k.arg is None for k in value.keywords))


def rewritten(core, call):
    """A copy of `core` with `call.stmt`'s value replaced by `call.value` (and
    its `firsts` assigned before it), in a namespace where the class it names
    is spelled (a cell of its own where the user's globals do not already)."""
    node = copy_node(core.node)
    local_names = core.local_names
    made = dict(core.made)
    for block in _blocks(node.body):
        for i, (old, new) in enumerate(zip(_original(core.body, node.body, block), block)):
            if old is not call.stmt:
                continue
            if call.made is not None:
                del block[i]
                if not block:
                    block.append(gast.Pass())
                made[call.made[0]] = call.made[1]
                break
            new.value = call.value
            for offset, first in enumerate(call.firsts):
                first.holder.id = core.namer.fresh(first.hint)
                local_names = local_names | {first.holder.id}
                stmt = assign(name(first.holder.id, store=True), first.expr)
                stmt.__dict__.update({k: v for k, v in new.__dict__.items() if k not in new._fields})
                block.insert(i + offset, stmt)
            break
    source = core.source
    if call.cls is None:
        return CoreFunction(source, node, core.params, local_names, core.namer, core.user_names, made)
    ns = source.namespace
    spelled = [n for n in ns.names_bound_to(call.cls) if n not in core.local_names]
    spelling = spelled[0] if spelled else core.namer.fresh(call.cls.__name__)
    if not spelled:
        source = copy.copy(source)
        source.namespace = copy.copy(ns)
        source.namespace.cells = {**ns.cells, spelling: types.CellType(call.cls)}
    for n in gast.walk(call.value):
        if getattr(n, "s2sad_class", None) is not None:
            n.id = spelling
    return CoreFunction(source, node, core.params, local_names, core.namer, core.user_names, made)


def _blocks(body):
    """Every statement list of a function body, nested ones too."""
    yield body
    for stmt in body:
        for block in child_blocks(stmt):
            yield from _blocks(block)


def _original(old_body, new_body, block):
    """The statements of `old_body` at the places of `block`'s in `new_body` (a copy)."""
    for old, new in zip(_blocks(old_body), _blocks(new_body)):
        if new is block:
            return old
    return []
