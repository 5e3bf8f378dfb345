"""Pytrees at the compiled boundary: Numba sees arrays and numbers.

A compiled gradient's kernel takes each pytree argument as its leaves
(`def df(p_W, p_b, x)`, reading `p['W']` as `p_W`) and returns its
containers (dicts, lists, named tuples, dataclasses) as flat tuples; the
wrapper splits the arguments into leaves and rebuilds the containers
around what the kernel returns.  A pytree used other than leaf by leaf
(passed whole to a helper, its length taken) is refused.
"""

from __future__ import annotations

import ast

from ..kinds import Tree, leaves
from ..names import Namer
from ..runtime import pytrees


class Flat:
    """How a top-level generated function is flattened: its parameters'
    leaves, the text edits, the structure of what it returns."""

    def __init__(self):
        self.inputs = {}          # parameter -> [(path, leaf parameter)]
        self.edits = []           # (node, replacement text)
        self.output = None        # the returned structure, or None: returned as it is
        self.classes = set()      # names of the classes the return no longer reads
        self.returned = None      # the returned display written as a flat tuple


def flatten(tree, trees, taken, resolve):
    """The Flat of function `tree` for pytree parameters `trees`
    ({parameter: Tree kind}); `resolve(name)` gives what a free name holds.
    Returns (Flat, None) or (None, (node, why)) where it cannot be flattened."""
    flat, namer = Flat(), Namer(taken)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for param, kind in trees.items():
        names = {path: namer.fresh("_".join([param] + [str(k) for k in path]))
                 for path, _ in leaves(kind)}
        flat.inputs[param] = list(names.items())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Name) and node.id == param):
                continue
            reached, path, leaf_kind = _chain(node, kind, parents)
            if isinstance(leaf_kind, Tree) or not isinstance(getattr(reached, "ctx", None), ast.Load):
                return None, (node, f"it uses the pytree argument `{param}` other than leaf by leaf "
                              f"(`{ast.unparse(reached)}`)")
            flat.edits.append((reached, names[path]))
            leaf = ast.copy_location(ast.Name(id=names[path], ctx=ast.Load()), reached)
            _replace(parents[reached], reached, leaf)     # (for the return's text below)
    returns = [n for n in ast.walk(tree) if isinstance(n, ast.Return)]
    if any(_container(r.value, resolve) for r in returns):
        if len(returns) != 1:
            return None, (returns[0], "it returns a pytree from more than one place")
        structure, parts = _decode(returns[0].value, resolve, flat.classes)
        if structure is None:
            return None, (returns[0], f"it returns a pytree it cannot take apart "
                          f"(`{ast.unparse(returns[0].value)}`)")
        flat.output, flat.returned = structure, returns[0].value
        flat.edits.append((returns[0].value, "(" + ", ".join(ast.unparse(p) for p in parts)
                           + ("," if len(parts) == 1 else "") + ")"))
    return flat, None


def _replace(parent, old, new):
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
        elif isinstance(value, list):
            parent.__dict__[field] = [new if v is old else v for v in value]


def _chain(node, kind, parents):
    """The longest item or field chain `p['a'].b` from a parameter's Name:
    (the outermost node, its path, the kind it reaches)."""
    path = ()
    while isinstance(kind, Tree):
        parent = parents.get(node)
        key = None
        if isinstance(parent, ast.Subscript) and parent.value is node \
                and isinstance(parent.slice, ast.Constant):
            key = parent.slice.value
        elif isinstance(parent, ast.Attribute) and parent.value is node:
            key = kind.field(parent.attr)
        if key is None or key not in kind.keys:
            break
        kind, path, node = kind.child(key), path + (key,), parent
    return node, path, kind


def _container(node, resolve):
    if isinstance(node, (ast.Dict, ast.List)):
        return True
    if isinstance(node, ast.Tuple):
        return any(_container(e, resolve) for e in node.elts)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
        and isinstance(resolve(node.func.id), type)


def _decode(node, resolve, classes):
    """(structure, leaf nodes) of a returned display; structure None where
    it is not one of the displays generated code builds."""
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys):
        kids = [_decode(v, resolve, classes) for v in node.values]
        return _node(("dict", tuple(k.value for k in node.keys)), kids)
    if isinstance(node, (ast.List, ast.Tuple)):
        kids = [_decode(e, resolve, classes) for e in node.elts]
        return _node(("list" if isinstance(node, ast.List) else "tuple", None), kids)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        cls = resolve(node.func.id)
        if isinstance(cls, type) and not (node.args and node.keywords) \
                and all(k.arg is not None for k in node.keywords) \
                and not any(isinstance(a, ast.Starred) for a in node.args):
            classes.add(node.func.id)
            kids = [_decode(a, resolve, classes) for a in node.args + [k.value for k in node.keywords]]
            return _node(("class", (cls, tuple(k.arg for k in node.keywords) or None)), kids)
        if isinstance(cls, type):
            return None, []
    return "leaf", [node]


def _node(head, kids):
    if any(structure is None for structure, _ in kids):
        return None, []
    return (head, [structure for structure, _ in kids]), [p for _, parts in kids for p in parts]


def rebuild(structure, values):
    """The containers of `structure` around the kernel's flat results."""
    return _rebuild(structure, iter(values))


def _rebuild(structure, values):
    if structure == "leaf":
        return next(values)
    (kind, extra), kids = structure
    parts = [_rebuild(k, values) for k in kids]
    if kind == "dict":
        return dict(zip(extra, parts))
    if kind == "list":
        return parts
    if kind == "tuple":
        return tuple(parts)
    cls, keywords = extra
    return cls(**dict(zip(keywords, parts))) if keywords else cls(*parts)


def split(value, paths):
    """The leaves of pytree argument `value` at `paths`, in order."""
    return [pytrees.at(value, path) for path in paths]


