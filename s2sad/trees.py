"""Small operations on gast trees that several stages share."""

import gast


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
                         args=[slices_as_values(p) if p is not None else gast.Constant(value=None, kind=None) for p in parts],
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
