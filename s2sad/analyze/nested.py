"""Calls of s2sad's own transforms inside a differentiated function.

`g = denergy(x)`, where `denergy = s2sad.grad(energy)`, calls generated
code, which is Python like the user's helpers.  Once the analysis knows the
kinds of the call's arguments, it writes the call as a call of the
generated function built for those kinds (the `def denergy(x)` that
`s2sad.source(denergy, x)` shows), and every later stage differentiates it
again like any helper: reverse over reverse, forward over reverse.  A jvp's (or hvp's)
generated function takes its tangents first: the call is written in that
order.  A transform made inside the function from names the build can
resolve (`s2sad.grad(energy)(x)`, `s2sad.grad(loss, wrt=1)`) is made while
building, as the user's code would make it when run.
"""

import weakref

import gast

from ..parse import MISSING
from ..kinds import Tree
from ..trees import const, copy_node, name
from .rewrites import First


def transform_state(obj):
    """The state of an object s2sad's grad, value_and_grad, jvp or hvp made
    (None for anything else)."""
    return getattr(obj, "__s2sad__", None) if callable(obj) else None


_MADE = weakref.WeakValueDictionary()   # (maker, args, keywords) -> a transform made while building


def _makers():
    from .. import api, higher
    return (api.grad, api.value_and_grad, api.jvp, higher.hvp)


def made_while_building(value, resolve, made):
    """`s2sad.grad(energy, wrt=1)`: the transform object it makes, where the
    function and options are constants, names the build resolves, or
    transforms made before (`made`, by local name); else None."""
    maker = resolve(value.func) if isinstance(value, gast.Call) else None
    if maker not in _makers():
        return None

    def known(atom):
        if isinstance(atom, gast.Constant):
            return atom.value
        if isinstance(atom, gast.Name) and atom.id in made:
            return made[atom.id]
        return resolve(atom) if isinstance(atom, (gast.Name, gast.Attribute)) else MISSING

    args = [known(a) for a in value.args]
    keywords = {k.arg: known(k.value) for k in value.keywords}
    if MISSING in args or MISSING in keywords.values() or None in keywords:
        return None
    try:
        key = (maker, tuple(args), tuple(sorted(keywords.items())))
        hash(key)
    except TypeError:
        key = None
    made = _MADE.get(key) if key is not None else None
    if made is None:
        try:
            made = maker(*args, **keywords)
        except (TypeError, ValueError):
            return None                 # (the user's call is wrong: it fails as it runs)
        if key is not None:
            _MADE[key] = made
    return made


def only_called(func_node, local, resolve, local_names):
    """Is `local` assigned once in the function and otherwise only called
    (`grad_energy(x)`) or transformed again from names and constants
    (`s2sad.grad(grad_energy)`)?  Then the transform it holds needs no statement."""
    names = [n for n in gast.walk(func_node) if isinstance(n, gast.Name) and n.id == local]
    used = set()
    for node in gast.walk(func_node):
        if not isinstance(node, gast.Call):
            continue
        if isinstance(node.func, gast.Name) and node.func.id == local:
            used.add(id(node.func))
        elif resolve(node.func) in _makers():
            atoms = list(node.args) + [k.value for k in node.keywords]
            if all(isinstance(a, gast.Constant) or isinstance(a, gast.Name)
                   and (a.id not in local_names or a.id == local) for a in atoms):
                used.update(id(a) for a in atoms)
    stores = [n for n in names if not isinstance(n.ctx, gast.Load)]
    return len(stores) == 1 and all(id(n) in used for n in names if isinstance(n.ctx, gast.Load))


def against_generated(value, kind_of_atom, resolve, made, error):
    """`value` (a statement's value) written as a call of the generated
    function of the transform it calls, for its arguments' kinds: (call, the
    generated function, the assignments it needs first); None where it calls
    no transform.  `made` maps local names to transforms made inside the
    function; `error(message, fix)` makes the refusal of a call that does not
    fit the transform's parameters."""
    if not isinstance(value, gast.Call) or getattr(value, "s2sad_generated", False):
        return None
    func = value.func
    obj = made.get(func.id) if isinstance(func, gast.Name) and func.id in made else resolve(func)
    if getattr(obj, "__s2sad_bound__", None) is not None:
        raise error(f"`{_spelled(func)}` is the gradient of a functools.partial or a bound method, "
                    f"which s2sad does not differentiate through yet",
                    "transform the function itself (`s2sad.grad(loss)`) and pass the bound "
                    "arguments at the call")
    if getattr(obj, "__s2sad_stacked__", None) is not None:
        raise error(f"`{_spelled(func)}` is made by s2sad.{obj.__s2sad_stacked__}, which stacks "
                    f"derivatives in a Python loop s2sad does not differentiate through",
                    "call s2sad.hvp, s2sad.jvp or s2sad.grad inside the loss instead")
    state = transform_state(obj)
    if state is None:
        return None
    args = list(value.args)
    forward = getattr(state, "forward", False)
    if forward:
        if not args:
            raise error(f"`{_spelled(func)}(...)` is a jvp: it takes the arguments and a tangent",
                        "pass the tangent last, positionally")
        args, tangent = args[:-1], args[-1]
    keywords = {k.arg: kind_of_atom(k.value) for k in value.keywords}
    try:
        bound = state.signature.bind(*[kind_of_atom(a) for a in args], **keywords)
    except TypeError as exc:
        tangent = ", then a tangent" if forward else ""
        raise error(f"the call to {_spelled(func)} does not match its parameters: {exc}",
                    f"pass it the arguments of {getattr(state.f, '__name__', 'its function')}"
                    f"{state.signature}{tangent}") from None
    generated = state.generated(dict(bound.arguments))
    firsts = []
    order = _generated_order(state, args, kind_of_atom, firsts)
    if forward:
        order = _split(tangent, state.tuple_wrt, kind_of_atom, firsts) + order
    holder = name(generated.__name__)
    holder.s2sad_class = generated          # (spelled by `rewritten`, in a cell of its own)
    call = gast.Call(func=holder, args=order, keywords=[copy_node(k) for k in value.keywords])
    call.s2sad_generated = True
    return call, generated, firsts


def _generated_order(state, args, kind_of_atom, firsts):
    """A transform's arguments in its generated function's order (a grad of
    a jvp takes the jvp's tangents first: `_Gradient.generated_args`)."""
    inner = state.inner
    if inner is not None and getattr(inner, "forward", False) and args:
        return _split(args[-1], inner.tuple_wrt, kind_of_atom, firsts) + list(args[:-1])
    return list(args)


def _split(atom, several, kind_of_atom, firsts):
    """A tangent atom as the generated function takes it: itself, or (for a
    tuple `wrt`) its parts, each assigned first to a name of its own."""
    if not several:
        return [atom]
    kind = kind_of_atom(atom)
    if not isinstance(kind, Tree) or not issubclass(kind.type, (tuple, list)):
        return [atom]                   # (the analysis of the call refuses what does not fit)
    parts = []
    for i in range(len(kind.keys)):
        holder = name("")
        hint = f"{atom.id}_{i}" if isinstance(atom, gast.Name) else f"tangent_{i}"
        firsts.append(First(hint, gast.Subscript(value=copy_node(atom), slice=const(i),
                                                 ctx=gast.Load()), holder))
        parts.append(holder)
    return parts


def _spelled(func):
    return func.id if isinstance(func, gast.Name) else getattr(func, "attr", "the transform")
