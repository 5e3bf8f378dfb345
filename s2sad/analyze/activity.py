"""Activity: which refs depend on a `wrt` input (varied) and reach the
output (useful), and which parameters a function's result depends on."""

import inspect

import gast
import numpy as np

from .. import rules
from ..kinds import UNKNOWN, Tree, leaves
from ..parse import MISSING
from ..refs import Ref
from .values import (NONDIFF_ATTRIBUTES, concatenated_kind, flatten, is_append, is_pop, literal_elements,
                     named_field, tree_span, updated_name, value_operands)


# ---- activity -----------------------------------------------------------------

def _refs(an, name, version):
    """Leaf refs of a local version."""
    kind = an.kinds.get((name, version), UNKNOWN)
    return [Ref(name, version, path) for path, _ in leaves(kind)]


def _flows(an, facts):
    """[(sf, out_ref, [in_refs])] of every statement, joins and carried values
    included, in program order."""
    flows = []
    for stmt, _ in flatten(an.core.body):
        sf = facts.stmts[id(stmt)]
        for out, ins in _flow(an, stmt, sf):
            flows.append((sf, out, ins))
        for name, (phi, *incoming) in list(sf.joins.items()) + list(sf.carried.items()):
            for ref in _refs(an, name, phi):     # a list literal that grows into a Seq:
                ins = [r for v in incoming if v is not None     # all its elements flow
                       for r in _refs(an, name, v) if _nested(r.path, ref.path)]
                flows.append((sf, ref, ins))
    return flows


def _varied(an, flows, seeds):
    """The refs that depend on `seeds` (differentiable values only), to a fixed point."""
    varied = set(seeds)
    changed = True
    while changed:
        changed = False
        for _, out, ins in flows:
            if out not in varied and _leaf_kind(an, out).differentiable \
                    and any(i in varied for i in ins):
                varied.add(out)
                changed = True
    return varied


def dependencies(an, facts):
    """Which parameter leaves each leaf of the returned value depends on:
    {output path: {(param, path), ...}}, differentiable leaves only.  A
    helper's call sends adjoints (and takes tangents) only along these: a
    result that is a global, a constant or a value of its own depends on no
    argument, and `f(x, x)` of a helper reading only its first parameter
    differentiates that one."""
    flows = _flows(an, facts)
    kind = facts.output_kind
    deps = {path: set() for path, _ in leaves(kind)}
    if facts.output is None:
        return deps
    outputs = _refs(an, *facts.output)
    for param in an.core.params:
        for path, leaf in leaves(an.kinds[(param, 0)]):
            if not leaf.differentiable:
                continue
            varied = _varied(an, flows, {Ref(param, 0, path)})
            for ref in outputs:
                if ref in varied and ref.path in deps:
                    deps[ref.path].add((param, path))
    return deps


def activity(an, facts):
    """Varied forwards, useful backwards, to a fixed point (loops feed back)."""
    seeds = set()
    for name in an.wrt:
        for path, kind in leaves(an.kinds[(name, 0)]):
            if kind.differentiable:
                seeds.add(Ref(name, 0, path))
    flows = _flows(an, facts)
    varied = _varied(an, flows, seeds)
    useful = set()
    if facts.output is not None:
        name, version = facts.output
        useful.update(r for r in _refs(an, name, version)
                      if any(r.path[:len(p)] == p for p in an.output_paths))
    changed = True
    while changed:
        changed = False
        for sf, out, ins in reversed(flows):
            if out in useful and out in varied:
                sf.active = True
                for i in ins:
                    if i in varied:
                        sf.active_inputs.add(i)
                        if i not in useful:
                            useful.add(i)
                            changed = True
    facts.varied, facts.useful = varied, useful


def _nested(a, b):
    """Paths of which one leads into the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _leaf_kind(an, ref):
    kind = an.kinds.get(ref.local, UNKNOWN)
    for key in ref.path:
        kind = kind.child(key) if isinstance(kind, Tree) else UNKNOWN
    return kind


def _atom_refs(an, atom, sf, path=None):
    if isinstance(atom, gast.Name) and atom.id in sf.reads:
        refs = _refs(an, atom.id, sf.reads[atom.id])
        if path is not None:
            refs = [r for r in refs if r.path[:len(path)] == path]
        return refs
    return []


def _is_fill_diagonal(an, stmt):
    """`np.fill_diagonal(x, v)` as an update (in generated code only)."""
    func = getattr(stmt.value, "func", None)
    return func is not None and an.ns.resolve(func, an.core.local_names) is np.fill_diagonal


def _flow(an, stmt, sf):
    """Which output refs of a statement depend on which input refs."""
    base = updated_name(stmt)
    if base is not None:
        if isinstance(stmt, gast.Assign):
            sources = [stmt.targets[0].value, stmt.value]
        elif is_append(stmt):
            sources = [stmt.value.func.value, stmt.value.args[0]]
        elif is_pop(stmt):
            sources = [stmt.value.func.value]
        elif _is_fill_diagonal(an, stmt):
            sources = stmt.value.args[:2]                # np.fill_diagonal(x, v)
        else:
            sources = [stmt.value.args[0]] + stmt.value.args[2:3]
        ins = [r for a in sources for r in _atom_refs(an, a, sf)]
        return [(o, ins) for o in _refs(an, base, sf.writes[base])]
    if not isinstance(stmt, gast.Assign):
        return []
    target = stmt.targets[0]
    value = stmt.value
    if isinstance(target, gast.Tuple):             # unpacking
        out = []
        for i, elt in enumerate(target.elts):
            version = sf.writes[elt.id]
            for ref in _refs(an, elt.id, version):
                src = _atom_refs(an, value, sf)
                if src and any(r.path for r in src):
                    src = [r for r in src if r.path[:1] == (i,) and r.path[1:] == ref.path]
                out.append((ref, src))
        return out
    name = target.id
    version = sf.writes[name]
    outs = _refs(an, name, version)
    if isinstance(value, gast.Name):
        src = {r.path: r for r in _atom_refs(an, value, sf)}
        return [(o, [src[o.path]] if o.path in src else []) for o in outs]
    literal = literal_elements(value, an.ns, an.core.local_names)
    if literal is not None:
        keys, elts = literal
        if keys is not None:
            flow = []
            for o in outs:
                if not o.path:
                    continue
                key, rest = o.path[0], o.path[1:]
                elt = elts[list(keys).index(key)]
                flow.append((o, [r for r in _atom_refs(an, elt, sf) if r.path == rest]))
            return flow
    if isinstance(value, gast.Subscript) and isinstance(an.kinds.get(
            (value.value.id, sf.reads.get(value.value.id)), None) if isinstance(value.value, gast.Name)
            else None, Tree):
        picked = tree_span(an.kinds[(value.value.id, sf.reads.get(value.value.id))], value.slice)
        if picked is not None:
            src = {r.path: r for r in _atom_refs(an, value.value, sf)}
            return [(o, [src[(picked[o.path[0]],) + o.path[1:]]]
                     if (picked[o.path[0]],) + o.path[1:] in src else []) for o in outs if o.path]
        if isinstance(value.slice, gast.Constant):
            key = an.kinds[(value.value.id, sf.reads.get(value.value.id))].key_at(value.slice.value)
            src = {r.path: r for r in _atom_refs(an, value.value, sf)}
            return [(o, [src[(key,) + o.path]] if (key,) + o.path in src else []) for o in outs]
    key = named_field(lambda a: an.atom_kind(a, sf.reads), value)
    if key is not None:                             # `p.w` of a named tuple: its position
        src = {r.path: r for r in _atom_refs(an, value.value, sf)}
        return [(o, [src[(key,) + o.path]] if (key,) + o.path in src else []) for o in outs]
    if concatenated_kind(lambda a: an.atom_kind(a, sf.reads), value) is not None:
        left, right = _atom_refs(an, value.left, sf), _atom_refs(an, value.right, sf)
        if not isinstance(an.kinds.get((name, version)), Tree):
            return [(o, left + right) for o in outs]          # a list of any length
        n = len(an.atom_kind(value.left, sf.reads).keys)
        flow = []
        for o in outs:
            key, rest = o.path[0], o.path[1:]
            side, at = (left, key) if key < n else (right, key - n)
            flow.append((o, [r for r in side if r.path == (at,) + rest]))
        return flow
    if _nondifferentiable(an, value) or _class_constant(an, value, sf):
        return [(o, []) for o in outs]
    helper = _helper_flow(an, value, sf, outs)
    if helper is not None:
        return helper
    ins = [r for a in value_operands(value) for r in _atom_refs(an, a, sf)]
    return [(o, ins) for o in outs]


def _helper_flow(an, value, sf, outs):
    """A call of a user helper differentiated from its source: each leaf of its
    result depends on the arguments its parameters' leaves it depends on
    (`dependencies`), or None where that is not known."""
    if not isinstance(value, gast.Call) or isinstance(value.func, gast.Attribute) \
            and not getattr(value.func, "s2sad_global", False):
        return None
    obj = an.ns.resolve(value.func, an.core.local_names)
    if obj is MISSING or not rules.is_user_function(obj) or rules.lookup_adjoint(obj) is not None \
            or rules.lookup_tangent(obj) is not None:
        return None                       # a rule of the user's decides what it depends on
    deps = an.call_dependencies(obj, [an.atom_kind(a, sf.reads) for a in value.args],
                                {k.arg: an.atom_kind(k.value, sf.reads) for k in value.keywords})
    if deps is None or any(o.path not in deps for o in outs):
        return None
    try:
        signature = inspect.signature(obj)
        bound = signature.bind(*value.args, **{k.arg: k.value for k in value.keywords}).arguments
    except (TypeError, ValueError):
        return None
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
        return None
    flow = []
    for o in outs:
        ins = []
        for param, path in sorted(deps[o.path], key=repr):
            if param in bound:
                refs = _atom_refs(an, bound[param], sf)
                ins += [r for r in refs if _nested(r.path, path)] or refs
        flow.append((o, ins))
    return flow


def _class_constant(an, value, sf):
    """`p.eps` of a named tuple or dataclass `p` that is no field of it: a
    constant of its class (properties are called through their getters by
    then, `analyze.methods`)."""
    if not isinstance(value, gast.Attribute) or getattr(value, "s2sad_global", False):
        return False
    base = an.atom_kind(value.value, sf.reads)
    return isinstance(base, Tree) and base.field(value.attr) is None


def _nondifferentiable(an, value):
    if isinstance(value, gast.Compare) or isinstance(value, gast.JoinedStr):
        return True
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.Not, gast.Invert)):
        return True
    if isinstance(value, gast.Attribute) and value.attr in NONDIFF_ATTRIBUTES:
        return True
    if isinstance(value, gast.Call):
        func = value.func
        if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
            return rules.is_nondifferentiable(rules.method_key(func.attr))
        obj = an.ns.resolve(func, an.core.local_names)
        return obj is not MISSING and rules.is_nondifferentiable(obj)
    return False
