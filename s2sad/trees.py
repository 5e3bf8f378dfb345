"""Small operations on gast trees that several stages share: building
nodes, copying and walking them, printing them as Python source."""

import ast

import gast

from .runtime.pytrees import Field
from .refs import Version

CONTROL = (gast.If, gast.For, gast.While)


class Comment:
    """A comment line in generated code."""

    def __init__(self, text):
        self.text = text


def name(id_, ref=None, store=False):
    """The name `id_`; `ref`, (name, version), says which version of a local it is."""
    node = gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(), annotation=None,
                     type_comment=None)
    if ref is not None:
        node.s2sad_ref = Version(*ref)
    return node


def store(id_):
    """The name `id_` as an assignment target."""
    return name(id_, store=True)


def const(value):
    return gast.Constant(value=value, kind=None)


def call(func, *args, **keywords):
    return gast.Call(func=func, args=list(args),
                     keywords=[gast.keyword(arg=k, value=v) for k, v in keywords.items()])


def at(node, path):
    """`node['W1'][0].w`: the part of a value at `path` (a `Field` key is an
    attribute of a dataclass, an int or other key an item)."""
    for key in path:
        if isinstance(key, Field):
            node = gast.Attribute(value=node, attr=str(key), ctx=gast.Load())
        else:
            node = gast.Subscript(value=node, slice=const(key), ctx=gast.Load())
    return node


def assign(target, value):
    return gast.Assign(targets=[target], value=value, type_comment=None)


def copy_node(node):
    """A copy of a gast tree; annotations (`s2sad_ref`, `s2sad_origin`, ...)
    are shared, not copied: they are read-only facts about the node.  (Much
    cheaper than `copy.deepcopy`, which dominated build time.)"""
    if isinstance(node, list):
        return [copy_node(x) for x in node]
    if not isinstance(node, gast.AST):
        return node
    new = type(node)(**{f: copy_node(getattr(node, f, None)) for f in node._fields})
    new.__dict__.update({k: v for k, v in node.__dict__.items() if k not in node._fields})
    return new


def child_blocks(stmt):
    """The statement lists inside a branch or loop (none for other statements)."""
    if isinstance(stmt, gast.If):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, (gast.For, gast.While)):
        return [stmt.body]
    return []


def statements(items):
    """Every statement of a list of items, into nested blocks (Comments, which
    are not gast nodes, skipped)."""
    for item in items:
        if not isinstance(item, gast.AST):
            continue
        yield item
        for block in child_blocks(item):
            yield from statements(block)


def slices_as_values(node, in_index=False):
    """`1:` is only syntax inside `x[...]`: an index passed as a value (to
    `np.add.at`, or to a rule called as a function) spells it `slice(1, None)`."""
    if isinstance(node, gast.Slice) and not in_index:
        parts = [node.lower, node.upper] + ([node.step] if node.step is not None else [])
        if parts == [None, None]:
            parts = [None]
        return gast.Call(func=gast.Name(id="slice", ctx=gast.Load(), annotation=None, type_comment=None),
                         args=[slices_as_values(p) if p is not None else const(None) for p in parts],
                         keywords=[])
    for field, value in gast.iter_fields(node):
        index = isinstance(node, gast.Subscript) and field == "slice" or \
            in_index and isinstance(node, gast.Tuple) and field == "elts"
        if isinstance(value, list):
            setattr(node, field, [slices_as_values(v, index) if isinstance(v, gast.AST) else v
                                  for v in value])
        elif isinstance(value, gast.AST):
            setattr(node, field, slices_as_values(value, index))
    return node


def is_boolean(node):
    """Is this expression a comparison or a logical one (a boolean value)?
    Folding `1.0 * (a == r)` to the mask would change its arithmetic: True +
    True is True, -True an error."""
    return isinstance(node, (gast.Compare, gast.BoolOp)) or isinstance(node, gast.UnaryOp) \
        and isinstance(node.op, (gast.Not, gast.Invert))


# ---- printing ------------------------------------------------------------------------

def unparse(node):
    """Source of a gast node (which may lack line numbers)."""
    tree = _signed_constants(gast.gast_to_ast(node))
    for child in ast.walk(tree):
        if isinstance(child, ast.stmt) and not hasattr(child, "lineno"):
            child.lineno = 1
    return ast.unparse(tree)


def _signed_constants(tree):
    """A negative number as `-` applied to a positive one: `ast.unparse` prints
    `Constant(-0.86) ** 2` as `-0.86 ** 2`, which Python reads as -(0.86 ** 2),
    but it puts the parentheses a unary minus needs."""
    class Signs(ast.NodeTransformer):
        def visit_Constant(self, node):
            value = node.value
            if type(value) in (int, float) and (value < 0 or value == 0 and str(value)[0] == "-"):
                return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-value))
            return node
    return Signs().visit(tree)


def header_text(node):
    """`if c:` / `for i in range(n):` / `while c:` of a control statement."""
    if isinstance(node, gast.If):
        return f"if {unparse(node.test)}:"
    if isinstance(node, gast.While):
        return f"while {unparse(node.test)}:"
    return f"for {unparse(node.target)} in {unparse(node.iter)}:"
