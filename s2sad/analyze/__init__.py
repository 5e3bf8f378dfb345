"""Stage 3: facts about a core function, specialised for its argument kinds.

* versions: each assignment of a name makes a new version (SSA numbering),
  so a value can be told apart from a later value of the same name;
* kinds: the kind (scalar, array of ndim and dtype, pytree) of every
  version, worked out by evaluating each operation once on tiny stand-in
  values (`kinds.dummy`), never on the user's data;
* shape classes: versions that provably have the same shape, so the
  generated code can skip `unbroadcast` where nothing was broadcast;
* activity: a value gets an adjoint only if it depends on a `wrt` input
  (varied) *and* influences the output (useful).

Values are addressed by *refs* (`refs.Ref`: name, version, path): the path
picks a leaf inside a pytree value (`params["W1"]` is
`Ref("params", 0, ("W1",))`).
"""

import ast
import inspect
import types
import warnings
from dataclasses import dataclass, field

import gast
import numpy as np

from .. import rules, runtime
from ..kinds import UNKNOWN, Array, Opaque, Scalar, Seq, Tree, leaves
from ..parse import MISSING
from ..refs import Ref, Version
from .shape_classes import ShapeClasses
from .value_kinds import ValueKinds
from .values import (NONDIFF_ATTRIBUTES, PENDING, SAFE_BUILTINS, VIEW_METHODS,  # noqa: F401 (the stage's API)
                     appended_kind, assigned_names, assigned_names_deep, concatenated_kind,
                     constructed_type, flatten, index_atoms, is_append, is_pop, is_pure, literal_elements,
                     merge_kinds, named_field, statement_value, tree_span, updated_name, value_operands)


@dataclass
class StmtFacts:
    reads: dict = field(default_factory=dict)      # name -> version read
    writes: dict = field(default_factory=dict)     # name -> version written
    active: bool = False                           # has an adjoint to propagate
    active_inputs: set = field(default_factory=set)  # refs that receive adjoints
    joins: dict = field(default_factory=dict)      # if: name -> (after, body's, else's)
    carried: dict = field(default_factory=dict)    # loop: name -> [top of trip, before, end of trip]
    counter: tuple = None                          # for: (name, version) of the counter
    copy_needed: bool = True                       # `x = x.copy()` before `x[i] = v`
    shares: frozenset = None                       # operands the value may share memory with


@dataclass
class Facts:
    kinds: dict            # (name, version) -> kind
    stmts: list            # StmtFacts, one per core statement
    shape_class: dict      # (name, version) -> hashable class
    varied: set            # refs depending on wrt
    useful: set            # refs influencing the output
    output: tuple          # (name, version) of the returned atom, or None
    output_kind: object
    final_versions: dict   # name -> last version
    # values whose arrays an update changes in place (its copy dropped): what
    # the reverse sweep reads of them must not be recomputed from them later
    changed_in_place: set = field(default_factory=set)

    def kind(self, name, version):
        return self.kinds.get((name, version), UNKNOWN)

    def same_shape(self, a, b):
        ca, cb = self.shape_class.get(a), self.shape_class.get(b)
        return ca is not None and ca == cb

    def active(self, ref):
        return ref in self.varied and ref in self.useful


class Analyzer(ValueKinds, ShapeClasses):
    """Works out the facts of one core function for given argument kinds.

    `call_kind(obj, arg_kinds, kw_kinds)` gives the result kind of a call
    to a user helper (the driver analyses the helper itself), and
    `call_dependencies(obj, arg_kinds, kw_kinds)` which of its parameters'
    leaves each leaf of that result depends on (`dependencies`), or None
    where it cannot say (every leaf on every argument).
    """

    def __init__(self, core, arg_kinds, wrt, call_kind=None, output_paths=((),), helper=False,
                 call_dependencies=None):
        self.core = core
        self.helper = helper                  # called by the user's code, which sees its arguments
        self.output_paths = output_paths      # leaves of the output that are seeded
        self.ns = core.source.namespace
        self.arg_kinds = arg_kinds            # param name -> kind
        self.wrt = wrt                        # param names
        self.call_kind = call_kind or (lambda obj, a, k: UNKNOWN)
        self.call_dependencies = call_dependencies or (lambda obj, a, k: None)
        self.kinds = {}
        self.shape_class = {}
        self.current = {}
        self.sizes = {}                       # (name, version) -> size fact (see size_fact)
        self.stmts = []
        self._classes = 0
        self.dummy_size = 1
        self.nesting = 0                      # inside how many `if`s and loops

    # ---- kinds ------------------------------------------------------------


    # ---- the walk ---------------------------------------------------------

    def run(self):
        core = self.core
        for name in core.params:
            kind = self.arg_kinds.get(name, UNKNOWN)
            self.kinds[(name, 0)] = kind
            self.shape_class[(name, 0)] = self.new_class(kind)
            self.current[name] = 0
        self.stmts = {}
        self.output = None
        self.output_kind = Opaque(type(None))
        self.block(core.body)
        facts = Facts(self.kinds, self.stmts, self.shape_class, set(), set(), self.output,
                      self.output_kind, dict(self.current))
        _check_in_place_updates(self, facts)
        _activity(self, facts)
        return facts

    def block(self, stmts):
        for stmt in stmts:
            self.statement(stmt)

    def read(self, stmt, sf, atoms):
        for atom in atoms:
            if isinstance(atom, gast.Name) and atom.id in self.core.local_names:
                if atom.id not in self.current:
                    raise self.core.source.error(stmt, f"`{atom.id}` is used before it is assigned")
                sf.reads[atom.id] = self.current[atom.id]

    def statement(self, stmt):
        core = self.core
        sf = self.stmts[id(stmt)] = StmtFacts()
        if isinstance(stmt, gast.If):
            return self.branch(stmt, sf)
        if isinstance(stmt, (gast.For, gast.While)):
            return self.loop(stmt, sf)
        value = statement_value(stmt)
        self.read(stmt, sf, value_operands(value) if value is not None else [])
        base = updated_name(stmt)
        if base is not None:               # `x[i] = v`, `np.add.at(x, i, v)`: a new value of x
            target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
            if target is not None:
                self.read(stmt, sf, [target.value] + index_atoms(target.slice))
            old = self.current[base]
            kind = self.kinds[(base, old)]
            if target is not None and (isinstance(kind, Tree) and kind.type is dict
                                       or isinstance(kind, Opaque) and kind.type is dict):
                raise core.source.error(
                    stmt.s2sad_origin, "assigning to a dict item is not differentiated yet",
                    f"build a new dict instead, e.g. `{base} = {{\"w\": v, \"b\": {base}[\"b\"]}}`")
            if target is not None and isinstance(kind, Tree) and kind.type is list \
                    and not isinstance(target.slice, gast.Constant) \
                    and any(isinstance(c, Tree) for c in kind.children):
                raise core.source.error(
                    stmt.s2sad_origin, "replacing an element of a list of lists or dicts at an "
                    "index known only at run time is not differentiated",
                    f"use a constant index (`{base}[0] = ...`), or keep the inner lists in "
                    f"separate names")
            if is_append(stmt):
                kind = appended_kind(self.kinds[(base, old)], self.atom_kind(stmt.value.args[0]))
                self.define(base, kind, None, sf)
                return
            if is_pop(stmt):
                self.read(stmt, sf, stmt.value.args)
                kind = self.kinds[(base, old)]
                if isinstance(kind, Tree) and kind.type is list and kind.children:
                    at = self.popped_position(stmt, base, len(kind.children))
                    kind = Tree(list, kind.keys[:-1], kind.children[:at] + kind.children[at + 1:])
                self.define(base, kind, None, sf)
                return
            if target is not None and isinstance(kind, Tree) and kind.type is list \
                    and isinstance(target.slice, gast.Constant) \
                    and kind.key_at(target.slice.value) in kind.keys:
                at = kind.key_at(target.slice.value)  # `xs[k] = v`: v's kind at position k
                children = tuple(self.atom_kind(stmt.value) if i == at else c
                                 for i, c in enumerate(kind.children))
                self.define(base, Tree(list, kind.keys, children), None, sf)
                return
            self.define(base, self.kinds[(base, old)], self.shape_class[(base, old)], sf)
            return
        if isinstance(value, gast.Call):
            self.check_effect(stmt, value, isinstance(stmt, gast.Expr))
        if isinstance(stmt, gast.Assign):
            self.assign(stmt, sf)
        if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
            self.call_result_kind(stmt.value)   # a helper called for its effect: checked too
        if isinstance(stmt, gast.Return):
            self.output_kind = self.value_kind(stmt.value)
            if isinstance(stmt.value, gast.Name) and stmt.value.id in core.local_names:
                self.output = Version(stmt.value.id, self.current[stmt.value.id])

    def check_effect(self, stmt, call, for_effect):
        """A call that may change a value of the function in place, other than
        the updates the core form follows (`x[i] = v`, `xs.append(v)`,
        `xs.pop()`, `np.add.at`), is refused: the gradient would not see the
        change (`xs.extend(ys)`, `d.update(...)`, `setattr(obj, "a", v)`,
        `rng.shuffle(x)`).  A method of a list, dict or object called for its
        effect, or a function that is not known to leave its arguments as they
        were, given a mutable value of ours."""
        func = call.func
        changed = None
        if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
            receiver = func.value
            if isinstance(receiver, gast.Name) and receiver.id in self.core.local_names:
                kind = self.atom_kind(receiver)
                if func.attr in _CONTAINER_MUTATORS and not isinstance(kind, (Array, Scalar)) \
                        or func.attr in _IN_PLACE_DUNDERS and mutable(kind) \
                        or for_effect and mutable(kind) and not isinstance(kind, Array):
                    changed = receiver.id
        elif for_effect:
            obj = self.ns.resolve(func, self.core.local_names)
            if obj is MISSING:                   # `logger.info(...)`: a global object's method
                obj = _static_attribute(self.ns, func, self.core.local_names)
            if not _leaves_arguments(obj):
                atoms = list(call.args) + [k.value for k in call.keywords]
                changed = next((a.id for a in atoms if isinstance(a, gast.Name)
                                and a.id in self.core.local_names
                                and mutable(self.atom_kind(a))), None)
        if changed is None:
            return
        what = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "call")
        raise self.core.source.error(
            stmt.s2sad_origin,
            f"this call may change `{changed}` in place (`{what}`), which s2sad does not follow",
            "make a new value instead: a new list (`xs = xs + ys`) or dict, or keep what an "
            "attribute would hold in a variable of its own")

    def popped_position(self, stmt, base, n):
        """Which element `xs.pop()` / `xs.pop(k)` removes from a list of n
        elements whose kinds are known one by one: k must be a constant."""
        args = stmt.value.args
        if not args:
            return n - 1
        k = args[0].value if isinstance(args[0], gast.Constant) else None
        if type(k) is not int:
            raise self.core.source.error(
                stmt.s2sad_origin, f"`{base}.pop(...)` with an index known only at run time, on a "
                f"list of {n} elements s2sad follows one by one",
                f"use a constant index (`{base}.pop(0)`), or build the list in a loop "
                f"(`{base}.append(...)`): a list of unknown length pops at any index")
        if not -n <= k < n:
            raise self.core.source.error(stmt.s2sad_origin,
                                         f"`{base}.pop({k})` on a list of {n} elements",
                                         "pop an index inside the list")
        return k % n

    def branch(self, stmt, sf):
        """`if`: each branch from the same versions; where they end on different
        versions of a name, a new (join) version takes over after the `if`."""
        self.read(stmt, sf, [stmt.test])
        before = dict(self.current)
        self.nesting += 1
        self.block(stmt.body)
        after_body = self.current
        self.current = dict(before)
        self.block(stmt.orelse)
        self.nesting -= 1
        after_else = self.current
        self.current = dict(before)
        for name in sorted(set(after_body) | set(after_else)):
            a, b = after_body.get(name), after_else.get(name)
            if a == b or a is None or b is None:
                # a name only one branch defines can only be read on that path
                self.current[name] = a if a is not None else b
                continue
            ka = self.kinds.get((name, a)) if a is not None else None
            kb = self.kinds.get((name, b)) if b is not None else None
            self.check_join(stmt, name, ka, kb)
            self.define(name, merge_kinds(ka, kb), None, sf)
            sf.joins[name] = (sf.writes[name], a, b)

    def check_join(self, stmt, name, a, b):
        """A name that is a list (tuple, dict) on one path and an array or a
        number on another has no one kind the gradient can follow: refused."""
        def what(k):
            if isinstance(k, Seq):
                return "a list"
            if isinstance(k, Tree):
                return f"a {k.type.__name__}"
            if isinstance(k, (Array, Scalar)):
                return "an array" if isinstance(k, Array) and k.ndim != 0 else "a number"
            return None
        func = self.core.source.func
        if name not in self.core.user_names or (func.__module__ or "").startswith("s2sad") \
                or getattr(func, "__s2sad_source__", None) is not None:
            return          # (a result early returns join; s2sad's rules and generated code)
        if what(a) and what(b) and (isinstance(a, (Seq, Tree)) != isinstance(b, (Seq, Tree))):
            where = "after this `if`" if isinstance(stmt, gast.If) else "across the trips of this loop"
            plain = b if isinstance(a, (Seq, Tree)) else a
            raise self.core.source.error(
                stmt.s2sad_origin if hasattr(stmt, "s2sad_origin") else stmt,
                f"`{name}` is {what(a)} on one path and {what(b)} on another {where}; s2sad "
                f"follows a value whose kind stays the same",
                f"give the {what(plain).split()[-1]} a name of its own")

    def loop(self, stmt, sf):
        """A loop: names the body assigns get a version at the top of every trip
        (joining the value before the loop with the value at the end of the
        last trip); it is also their version after the loop.  Kinds that
        change across a trip (an int that becomes a float) are merged and the
        body walked again."""
        assigned = sorted({n for s in stmt.body for n in assigned_names_deep(s)}
                          | ({stmt.target.id} if isinstance(stmt, gast.For) else set()))
        before = {name: self.current.get(name) for name in assigned}
        guess = {name: self.kinds.get((name, v)) if v is not None else None
                 for name, v in before.items()}
        attempts = 8
        for attempt in range(attempts):
            snapshot = (dict(self.kinds), dict(self.shape_class), dict(self.stmts),
                        dict(self.current), self._classes, dict(self.sizes))
            sf.carried = {}
            if isinstance(stmt, gast.For):
                self.read(stmt, sf, list(stmt.iter.args))
            for name in assigned:
                if isinstance(stmt, gast.For) and name == stmt.target.id and before[name] is None:
                    continue                      # after the loop: the counter's last value
                # (a counter with a value from before the loop, which a loop of no trips
                # leaves, is carried: after the loop it joins that value and its last one)
                self.define(name, guess[name] if guess[name] is not None else PENDING, None, sf)
                sf.carried[name] = [sf.writes[name], before[name], None]
            if isinstance(stmt, gast.For):
                self.define(stmt.target.id, Scalar("int"), "()", sf)
                sf.counter = Version(stmt.target.id, sf.writes[stmt.target.id])
            else:
                self.read(stmt, sf, [stmt.test])
            self.nesting += 1
            self.block(stmt.body)
            self.nesting -= 1
            changed = False
            for name, entry in sf.carried.items():
                entry[2] = self.current[name]
                self.check_join(stmt, name, guess[name], self.kinds.get((name, entry[2])))
                merged = merge_kinds(guess[name], self.kinds.get((name, entry[2])))
                if merged != guess[name]:
                    # (kinds only grow, but size-one facts and joins can take several
                    # trips; late on, what still changes is taken as not known)
                    guess[name], changed = merged if attempt < attempts - 3 else UNKNOWN, True
            if not changed:
                break
            if attempt == attempts - 1:      # (not reached: UNKNOWN is where kinds end)
                raise self.core.source.error(stmt, "the kinds of the values this loop "
                                             "carries do not settle", "please report it")
            self.kinds, self.shape_class, self.stmts, self.current, self._classes, self.sizes = snapshot
            self.stmts[id(stmt)] = sf
            sf.writes.clear()
            sf.reads.clear()
        for name, (phi, _, _) in sf.carried.items():
            self.current[name] = phi

    def assign(self, stmt, sf):
        target = stmt.targets[0]
        value = stmt.value
        if getattr(value, "s2sad_iteration", False) and isinstance(self.atom_kind(value.value), Tree) \
                and self.atom_kind(value.value).type is dict:
            raise self.core.source.error(stmt.s2sad_origin, "looping over a dict directly is not "
                                         "supported", "loop over `d.items()` or `d.keys()`")
        if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Slice) \
                and isinstance(self.atom_kind(value.value), Tree) \
                and self.atom_kind(value.value).differentiable \
                and tree_span(self.atom_kind(value.value), value.slice) is None:
            raise self.core.source.error(
                stmt.s2sad_origin, "slicing a list or tuple with bounds known only at run time is "
                "not differentiated", "slice with constant bounds (`xs[1:]`), or keep the arrays "
                "in one array (`np.stack(xs)`) and slice that")
        if isinstance(target, gast.Name):
            kind = self.value_kind(value)
            ones = self.value_ones(value, kind)
            if ones is not None:
                kind = Array(kind.ndim, kind.dtype, ones)
            cls = self.value_class(value, kind)
            if self.nesting == 0:
                self.unify_operand_classes(value, kind)
            size = self.size_fact(value)
            sf.shares = self.shared_memory(value, kind)
            self.define(target.id, kind, cls, sf)
            if size is not None:
                self.sizes[(target.id, self.current[target.id])] = size
            return
        source = self.atom_kind(value)
        n = len(target.elts)
        shape = self.size_fact(value)                # `n, m = W.shape`
        if isinstance(shape, tuple) and len(shape) == n:
            for elt, flag in zip(target.elts, shape):
                self.sizes[(elt.id, self.current.get(elt.id, -1) + 1)] = flag
        if isinstance(source, Tree):
            if len(source.children) != n:
                raise self.core.source.error(
                    stmt, f"cannot unpack {len(source.children)} values into {n} names")
            parts = list(source.children)
        elif isinstance(source, Array) and source.ndim:
            parts = [Array(source.ndim - 1, source.dtype, source.ones and source.ones[1:])] * n
        else:
            parts = [UNKNOWN] * n
        for elt, kind in zip(target.elts, parts):
            self.define(elt.id, kind, self.new_class(kind), sf)

    def global_data(self, atom):
        """The dotted name of the global (or closure) array, list, dict or object
        an atom reads (`BUF`, `mod.BUF`, `P` of `P.w`): data an in-place update
        through a local name would change outside the function.  None for
        locals, constants, modules and functions."""
        path = []
        node = atom
        while isinstance(node, gast.Attribute):
            path.append(node.attr)
            node = node.value
        if not isinstance(node, gast.Name) or node.id in self.core.local_names \
                or not (isinstance(atom, gast.Name) or getattr(atom, "s2sad_global", False)
                        or isinstance(atom, gast.Attribute)):
            return None
        obj, name = self.ns.lookup(node.id), node.id
        for attr in reversed(path):
            if not isinstance(obj, (types.ModuleType, type)):
                break                            # data: its attributes are its parts
            obj, name = getattr(obj, attr, MISSING), f"{name}.{attr}"
        if obj is MISSING or isinstance(obj, _IMMUTABLE + (types.ModuleType, type)) \
                or callable(obj):
            return None
        return name

    def shared_memory(self, value, kind):
        """The local operands whose memory the value may share (a view, the
        array itself, a list of views), asked of NumPy: the operation runs on
        stand-ins and `np.may_share_memory` answers, so every function that can
        return a view (`np.flip`, `np.split`, `x.T`, basic slicing, ...) is
        known without a list of them.  Where it cannot run (unknown kinds), every
        array operand; None for functions that are not NumPy's (`_shared_roots`
        decides: a helper may return what it was given)."""
        if isinstance(kind, (Scalar, Opaque)) or not isinstance(
                value, (gast.Subscript, gast.Attribute, gast.Call)) \
                or getattr(value, "s2sad_global", False):
            return None
        operands = [a for a in value_operands(value)
                    if isinstance(a, gast.Name) and a.id in self.core.local_names]
        # global arrays too (`np.flip(BUF)`), named "global:BUF"
        global_operands = [(a, key) for a in value_operands(value)
                           for key in [self.global_data(a)] if key is not None]
        if not any(isinstance(self.atom_kind(a), Array)
                   for a in operands + [a for a, _ in global_operands]):
            return None
        if isinstance(value, gast.Subscript) and not isinstance(self.atom_kind(value.value), Array):
            return None                      # an element of a list: the element itself
        if isinstance(value, gast.Call):
            func = value.func
            if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
                if not isinstance(self.atom_kind(func.value), Array):
                    return None
                if func.attr == "copy" and not value.args and not value.keywords:
                    return frozenset()
            else:
                obj = self.ns.resolve(func, self.core.local_names)
                if obj is MISSING or not is_pure(obj) or rules.is_user_function(obj):
                    return None
                if any(obj is f for f in _FRESH_FUNCTIONS):
                    # new memory, whatever the operands' kinds (`np.zeros_like(v)` of a
                    # value that is None on some paths, in a generated backward)
                    return frozenset()
        for self.dummy_size in (1, 12):
            try:
                stand_ins = {}

                def stand_in(atom, for_index=False):
                    made = self.stand_in(atom, for_index)
                    if isinstance(atom, gast.Name) and atom.id in self.core.local_names:
                        stand_ins.setdefault(atom.id, []).append(made)
                    elif any(atom is a for a, _ in global_operands):
                        key = next(k for a, k in global_operands if a is atom)
                        stand_ins.setdefault(f"global:{key}", []).append(made)
                    return made

                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = _run(value, stand_in, self)
                if _empty(result):
                    continue                 # `a[1:]` of a size-one stand-in: ask a larger one
                return frozenset(name for name, made in stand_ins.items()
                                 if any(_may_share(result, m) for m in made))
            except Exception:
                continue
            finally:
                self.dummy_size = 1
        # it could not run (kinds not known): it may return a view of any array operand
        return frozenset([a.id for a in operands if not isinstance(self.atom_kind(a), Scalar)]
                         + [f"global:{key}" for a, key in global_operands
                            if not isinstance(self.atom_kind(a), Scalar)])


    def define(self, name, kind, cls, sf):
        version = self.current.get(name, -1) + 1
        while (name, version) in self.kinds:
            version += 1
        self.current[name] = version
        self.kinds[(name, version)] = kind
        self.shape_class[(name, version)] = cls if cls is not None else self.new_class(kind)
        sf.writes[name] = version


# methods of lists, dicts and sets that change them (arrays have none of these names)
_CONTAINER_MUTATORS = {"extend", "insert", "remove", "clear", "sort", "reverse", "update",
                       "setdefault", "popitem", "add", "discard"}
# spelled-out in-place operators, on arrays too (`a.__iadd__(b)`, `a.__setitem__(i, v)`)
_IN_PLACE_DUNDERS = {"__setitem__", "__delitem__", "__setattr__", "__delattr__", "__iadd__",
                     "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__imod__",
                     "__ipow__", "__imatmul__", "__iand__", "__ior__", "__ixor__", "__ilshift__",
                     "__irshift__"}
_IMMUTABLE = (str, bytes, type(None), type, bool, int, float, complex, range, slice,
              type(Ellipsis), np.dtype, types.ModuleType, types.FunctionType,
              types.BuiltinFunctionType)


def mutable(kind):
    """Can a value of this kind be changed in place (an array, list, dict, object)?"""
    if isinstance(kind, Scalar):
        return False
    if isinstance(kind, Opaque):
        return not issubclass(kind.type, _IMMUTABLE)
    if isinstance(kind, Tree) and issubclass(kind.type, tuple):
        return any(mutable(c) for c in kind.children)
    return True


def _static_attribute(ns, node, local_names):
    """What `obj.method` names for a global object, found without running
    properties (`inspect.getattr_static`); MISSING if it cannot be told."""
    if isinstance(node, gast.Name):
        return MISSING if node.id in local_names else ns.lookup(node.id)
    if not isinstance(node, gast.Attribute):
        return MISSING
    base = _static_attribute(ns, node.value, local_names)
    if base is MISSING:
        return MISSING
    try:
        found = inspect.getattr_static(base, node.attr)
    except AttributeError:
        return MISSING
    owner = getattr(found, "__objclass__", None)    # a method of a C type: its class's module
    if owner is not None and not hasattr(found, "__module__"):
        return types.SimpleNamespace(__module__=owner.__module__)
    return found


def _leaves_arguments(obj):
    """Is a function called for its effect known to leave its arguments as they
    were?  `print`, NumPy's functions (its mutating ones are refused when the
    source is read), rules, the user's own functions (differentiated from their
    source, where changing an argument is refused), logging and warnings."""
    if obj is print:
        return True
    if obj is MISSING:
        return False
    if rules.is_user_function(obj) or is_pure(obj):
        return True
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in ("s2sad", "logging", "warnings")


def _run(value, stand_in, an):
    """A subscript, attribute or call of the core form, run on stand-ins."""
    if isinstance(value, gast.Subscript):
        index = value.slice

        def part(node):
            if isinstance(node, gast.Slice):
                bound = lambda p: None if p is None else stand_in(p, True)
                return slice(bound(node.lower), bound(node.upper), bound(node.step))
            if isinstance(node, gast.Tuple):
                return tuple(part(e) for e in node.elts)
            return stand_in(node, True)
        return stand_in(value.value)[part(index)]
    if isinstance(value, gast.Attribute):
        return getattr(stand_in(value.value), value.attr)
    func = value.func
    args = [stand_in(a) for a in value.args]
    keywords = {k.arg: stand_in(k.value) for k in value.keywords}
    if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
        return getattr(stand_in(func.value), func.attr)(*args, **keywords)
    return an.ns.resolve(func, an.core.local_names)(*args, **keywords)


def _empty(result):
    """Is `result` (or a part of it) an empty array, which shares no memory?"""
    if isinstance(result, (list, tuple)):
        return any(_empty(r) for r in result)
    return isinstance(result, np.ndarray) and result.size == 0


def _may_share(result, array):
    """Does `result` (an array, or a list or tuple of them) share `array`'s memory?"""
    if isinstance(result, (list, tuple)):
        return any(_may_share(r, array) for r in result)
    return isinstance(result, np.ndarray) and isinstance(array, np.ndarray) \
        and np.may_share_memory(result, array)


def has_effect(core, stmt):
    """Statements the forward sweep keeps even when nothing reads their result."""
    if isinstance(stmt, (gast.Expr, gast.Assert)):
        return True
    value = getattr(stmt, "value", None)
    if isinstance(value, gast.Call):
        func = value.func
        if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
            return False
        obj = core.source.namespace.resolve(func, core.local_names)
        return obj is MISSING or not is_pure(obj)
    return False


# ---- in-place updates -------------------------------------------------------------

_FRESH_FUNCTIONS = (np.zeros_like, np.ones_like, np.full_like, np.empty_like, np.copy, np.zeros,
                   np.ones, np.full, np.empty)     # always a new array


def _memory_sharing(an, facts, order, handed_over):
    """What each value may share with others, to a fixed point over the
    statements (`order`), and the updates in place to check: (roots, objects,
    inner, ids, updates), `ids` naming what each id stands for."""
    core = an.core
    # (name, version) -> ids of what it may share: `roots` the memory of arrays
    # (an array's, or its elements' for a list), `objects` the object itself (a
    # list's identity: what an append changes), `inner` the lists, dicts and
    # objects a container holds (`rows = [r]`: r's object)
    roots, objects, inner = {}, {}, {}
    tables = (roots, objects, inner)
    ids = {}

    def fresh(*key):                                 # one id per value made
        return frozenset([ids.setdefault(key, len(ids))])

    def grow(table, ref, memory):
        """Ids only grow, so the walk below reaches a fixed point."""
        old = table.get(ref, frozenset())
        if not memory <= old:
            table[ref] = old | memory
            return True
        return False

    for name in core.params:
        ref = (name, 0)
        roots[ref], objects[ref], inner[ref] = (fresh(part, name)
                                                for part in ("param", "object", "inner"))
    updates = []
    changed = True
    while changed:
        # to a fixed point: an `if` comes before its branches in `order`, and a
        # loop's carried value joins the value its trips leave, so a join learns
        # what its incoming values may share only on a later walk (a loop-carried
        # swap `v, x = x, v`, a ternary's result appended to a list)
        changed = False
        updates = []
        for index, (stmt, loops) in enumerate(order):
            sf = facts.stmts[id(stmt)]
            for name, (phi, *incoming) in list(sf.joins.items()) + list(sf.carried.items()):
                for table in tables:                 # a join may be any value it joins
                    changed |= grow(table, (name, phi), frozenset().union(
                        *[table.get((name, v), frozenset()) for v in incoming if v is not None]))
            base = updated_name(stmt)
            if base is not None:                     # changed in place: the same memory
                old, new = (base, sf.reads[base]), (base, sf.writes[base])
                for table in tables:
                    changed |= grow(table, new, table.get(old, frozenset()))
                held = stmt.value.args[0] if is_append(stmt) else stmt.value \
                    if isinstance(stmt, gast.Assign) and _container(facts.kind(*old)) else None
                if held is not None:                 # a list holds what it was given (not a copy)
                    memory, objs = _held(an, held, sf, tables, fresh)
                    changed |= grow(roots, new, memory) | grow(inner, new, objs)
                continue
            if not isinstance(stmt, gast.Assign):
                continue
            target = stmt.targets[0]
            if isinstance(stmt.value, gast.Name) and isinstance(target, gast.Name) \
                    and stmt.value.id in sf.reads:   # `b = a`: the same value
                source = (stmt.value.id, sf.reads[stmt.value.id])
                for table in tables:
                    changed |= grow(table, (target.id, sf.writes[target.id]),
                                    table.get(source, frozenset()))
                continue
            if handed_over and isinstance(target, gast.Tuple) \
                    and isinstance(stmt.value, gast.Name):   # what a forward half saved: distinct
                memory = objs = itself = frozenset()
            elif isinstance(target, gast.Tuple):     # `a, b = t`: elements of t
                memory, objs, itself = _sharing(an, gast.Subscript(
                    value=stmt.value, slice=gast.Constant(value=0, kind=None), ctx=gast.Load()),
                    sf, tables, fresh)
            else:
                memory, objs, itself = _sharing(an, stmt.value, sf, tables, fresh)
            for name, version in sf.writes.items():
                ref = (name, version)
                if not mutable(facts.kind(*ref)):
                    changed |= grow(roots, ref, fresh("memory", *ref)) \
                        | grow(objects, ref, fresh("object", *ref))
                    continue                         # a number shares nothing
                changed |= grow(roots, ref, memory or fresh("memory", *ref))
                changed |= grow(objects, ref, fresh("object", *ref) | itself)
                changed |= grow(inner, ref, objs)
            target = stmt.targets[0]
            if getattr(stmt, "s2sad_copy_on_write", False):
                old = (target.id, sf.reads[target.id])
                start = next(i for i, (s_, _) in enumerate(order) if s_ is loops[0]) \
                    if loops else index + 1
                updates.append((stmt, old, start))
            elif getattr(stmt, "s2sad_augmented", False) and isinstance(target, gast.Name):
                old = (target.id, sf.reads.get(target.id))
                kind = facts.kind(*old)
                if not isinstance(kind, (Scalar, Opaque)) \
                        and not (isinstance(kind, Tree) and issubclass(kind.type, tuple)):
                    # (`xs += ys` extends the list itself; `t += (v,)` makes a new tuple)
                    # in a loop, the statements before it run again
                    start = next(i for i, (s_, _) in enumerate(order) if s_ is loops[0]) \
                        if loops else index + 1
                    updates.append((stmt, old, start))
    return roots, objects, inner, ids, updates


def _check_in_place_updates(an, facts):
    """`a += b` on an array updates the object `a` names.  The core form
    rebinds `a` to a new array instead, which keeps Python's meaning only if
    no other name that is read later shares the old array (a copy `z = a`,
    a view `a[0:2]`, `a.T`, a reshape...).  Where one might, refuse: never a
    silently different program.  (The caller's own array is never changed:
    an argument updated in place is copied on write.)"""
    core = an.core
    # code s2sad generated, transformed again (`hvp`): a helper's backward half
    # pops the stacks its forward half saved (distinct lists), which the caller
    # hands over and never reads again, so it runs on them in place as it does
    # at first order
    handed_over = getattr(core.source.func, "__s2sad_source__", None) is not None
    order = list(flatten(core.body))
    roots, objects, inner, ids, updates = _memory_sharing(an, facts, order, handed_over)
    tables = (roots, objects, inner)
    # the copy before `x[i] = v` is not needed where nothing else reads the old
    # array and it is not the caller's
    params = frozenset() if handed_over else \
        frozenset().union(*[table[(p, 0)] for p in core.params for table in tables])
    global_ids = {i: key[1] for key, i in ids.items() if key[0] == "global"}
    last_update = max((i for i, (s_, _) in enumerate(order) if updated_name(s_)), default=-1)
    for stmt, old, _ in updates:
        of_list = isinstance(facts.kind(*old), (Seq, Tree))
        memory = objects.get(old, frozenset()) if of_list else roots[old]
        changed = sorted(global_ids[i] for i in memory if i in global_ids)
        if changed:                                  # `b = BUF` then `b[0] = v`
            raise core.source.error(
                stmt.s2sad_origin,
                f"this in-place update may change `{changed[0]}` (`{old[0]}` may be it or a part "
                f"of it), which is not a local variable: that would change state outside the "
                f"function",
                f"copy it into a local value first (`{old[0]} = {changed[0]}.copy()`)")
        if not getattr(stmt, "s2sad_copy_on_write", False):
            # `v /= 2` on (a view of) what the caller passed in: Python changes the
            # caller's array, which the core form's new array would not
            if an.helper and (memory & params or old[0] in core.params and old[1] == 0
                              and not handed_over):
                what = "a list" if of_list else "an array"
                raise core.source.error(
                    stmt.s2sad_origin,
                    f"{core.source.name} changes {what} its caller passed in ({old[0]!r} or "
                    f"a part of it) in place; the caller would see the change, which s2sad "
                    f"does not follow",
                    f"make a new value instead (`{_source_text(stmt)}`) and return it")
            continue
        # every other read of this memory must come after the last update, outside
        # loops (it sees the final array); `x[i]` read for `x[i] += v` is done first
        unsafe = bool(memory & params) or old[0] in core.params and old[1] == 0 \
            and not handed_over
        if unsafe and an.helper:
            what = "a list" if of_list else "an array"
            raise core.source.error(
                stmt.s2sad_origin,
                f"{core.source.name} changes {what} its caller passed in ({old[0]!r} or a part "
                f"of it) in place; the caller would see the change, which s2sad does not follow",
                f"return the new value instead (`{old[0]} = {old[0]}.copy()` first, then "
                f"`return {old[0]}`) and assign it in the caller")
        for i, (other, loops) in enumerate(order):
            if unsafe:
                break
            if other is stmt or getattr(other, "s2sad_copy_on_write", False) \
                    or getattr(other, "s2sad_item_read", False):
                continue
            if of_list and _reads_items_only(other):
                continue                             # growing a list changes no element
            for name, version in facts.stmts[id(other)].reads.items():
                if name == old[0] and updated_name(other) == name:
                    continue                         # the update itself
                ref = (name, version)
                seen = objects.get(ref, frozenset()) | inner.get(ref, frozenset()) if of_list \
                    else roots.get(ref, frozenset())
                if seen & memory and (loops or i < last_update):
                    unsafe = True
        facts.stmts[id(stmt)].copy_needed = unsafe
        if not unsafe and not of_list:     # (growing or setting a list's items changes no array)
            facts.changed_in_place.update(ref for ref, shared in roots.items() if shared & roots[old])
    if not handed_over:       # (generated code reads no value an update made stale: it
        _StaleReads(an, facts, roots, objects, inner, updates).run()   # copies `dx[0].copy()` first)


def _source_text(stmt):
    """`v = v / 1.5` for the user's `v /= 1.5`."""
    origin = getattr(stmt, "s2sad_origin", None)
    if isinstance(origin, gast.AugAssign):
        node = gast.gast_to_ast(origin)
        return ast.unparse(ast.Assign(targets=[node.target], value=ast.BinOp(
            left=ast.Name(id=ast.unparse(node.target), ctx=ast.Load()), op=node.op,
            right=node.value), lineno=0))
    return f"{stmt.targets[0].id} = ..."


class _StaleReads:
    """Refuses a read that Python would see changed by an in-place update.

    Python's `a[i] = v` (and `a += b`, `xs.append(v)`) changes the object `a`
    names, so every value sharing its memory (a view, an alias, a list holding
    it) shows the change; the core form copies instead, so those values keep
    the old contents.  The two agree unless such a value is read after the
    update.  A forward walk over the blocks follows which values are *stale*:
    an update makes every value sharing the old memory stale, a value made
    afresh is not, and a join or a loop's carried value is stale where the
    value it took on that path is (loops to a fixed point; a `break` leaves
    with the values it sees)."""

    def __init__(self, an, facts, roots, objects, inner, updates):
        self.an, self.facts, self.roots, self.objects, self.inner = an, facts, roots, objects, inner
        self.updates = {id(stmt): old for stmt, old, _ in updates}
        self.breaks = []                       # (stale, current) where each `break` leaves

    def run(self):
        self.block(self.an.core.body, {}, {p: 0 for p in self.an.core.params})

    def block(self, stmts, stale, current):
        """The stale values (ref -> the update) after a block, None if it ends
        in a `break`, and the versions current there (`current` is updated)."""
        for stmt in stmts:
            if isinstance(stmt, gast.Break):
                self.breaks.append((stale, dict(current)))
                return None, current
            stale = self.statement(stmt, stale, current)
            if stale is None:
                return None, current
        return stale, current

    def statement(self, stmt, stale, current):
        sf = self.facts.stmts[id(stmt)]
        if isinstance(stmt, gast.While):         # its test reads the values at the top of a trip
            return self.loop(sf, stmt, stale, current)
        self.check(stmt, sf, stale)
        if isinstance(stmt, gast.If):
            return self.branch(sf, stmt, stale, current)
        if isinstance(stmt, gast.For):
            return self.loop(sf, stmt, stale, current)
        stale = dict(stale)
        old = self.updates.get(id(stmt))
        if old is not None:
            self.update(stmt, old, stale)
        for name, version in sf.writes.items():
            stale.pop((name, version), None)         # made afresh
            current[name] = version
        return stale

    def check(self, stmt, sf, stale):
        for name, version in sf.reads.items():
            update = stale.get((name, version))
            if update is None:
                continue
            core = self.an.core
            what = f"`{name}`" if name in core.user_names else "another value"
            base = update.targets[0].id
            raise core.source.error(
                update.s2sad_origin,
                f"this in-place update changes an array that {what} shares and reads "
                f"later (line {stmt.s2sad_origin.lineno}); s2sad does not differentiate "
                f"in-place updates of shared arrays yet",
                f"make a new array instead (`{base} = {base} + ...`), or copy before "
                f"sharing (`.copy()`)")

    def update(self, stmt, old, stale):
        """Python changes the old memory here: every value sharing it is stale
        (the new version, made afresh, is not)."""
        of_list = isinstance(self.facts.kind(*old), (Seq, Tree))
        table = self.objects if of_list else self.roots
        memory = table.get(old, frozenset())
        if not memory:
            return
        for ref, shared in self.roots.items():
            if of_list:                               # the list, or one holding it
                shared = self.objects.get(ref, frozenset()) | self.inner.get(ref, frozenset())
            if shared & memory:
                stale[ref] = stmt

    @staticmethod
    def joined(stale, name, phi, incoming):
        """`stale` with the join `phi` of a name stale where the value it took is."""
        stale.pop((name, phi), None)
        for state, version in incoming:
            if state is not None and version is not None and (name, version) in state:
                stale[(name, phi)] = state[(name, version)]

    def branch(self, sf, stmt, stale, current):
        body, body_current = self.block(stmt.body, stale, dict(current))
        other, other_current = self.block(stmt.orelse, stale, dict(current))
        if body is None and other is None:
            return None
        out = {}
        for state in (body, other):
            out.update(state or {})
        for name in set(body_current) | set(other_current):
            a, b = body_current.get(name), other_current.get(name)
            if a == b or a is None or b is None:     # as the analysis versions them
                current[name] = a if a is not None else b
        for name, (phi, a, b) in sf.joins.items():
            self.joined(out, name, phi, [(body, a), (other, b)])
            current[name] = phi
        return out

    def loop(self, sf, stmt, stale, current):
        entry = stale
        breaks_before = len(self.breaks)
        header = dict(entry)
        for name, (phi, before, _) in sf.carried.items():
            self.joined(header, name, phi, [(entry, before)])
        inside = dict(current)
        for name, (phi, _, _) in sf.carried.items():
            inside[name] = phi
        if sf.counter is not None:
            inside[sf.counter.name] = sf.counter.version
        while True:
            if sf.counter is not None:
                header.pop(sf.counter, None)
            if isinstance(stmt, gast.While):
                self.check(stmt, sf, header)          # its test, at every trip
            del self.breaks[breaks_before:]
            end, _ = self.block(stmt.body, header, dict(inside))
            new = dict(header)                        # stale values only grow: a fixed point
            tops = {(name, phi) for name, (phi, _, _) in sf.carried.items()}
            for ref, update in (end or {}).items():
                if ref not in tops:                   # made afresh at the top of a trip
                    new.setdefault(ref, update)
            for name, (phi, _, last) in sf.carried.items():
                if end is not None and (name, last) in end:
                    new.setdefault((name, phi), end[(name, last)])
            if new.keys() == header.keys():
                break
            header = new
        out = dict(header)
        for broke, at in self.breaks[breaks_before:]:
            out.update({ref: u for ref, u in broke.items() if ref not in out and ref not in tops})
            for name, (phi, _, _) in sf.carried.items():
                if (name, at.get(name)) in broke:     # what the name holds where it breaks
                    out.setdefault((name, phi), broke[(name, at.get(name))])
        del self.breaks[breaks_before:]
        for name, (phi, _, _) in sf.carried.items():
            current[name] = phi
        if sf.counter is not None and current.get(sf.counter.name) is None:
            current[sf.counter.name] = sf.counter.version
        return out


def _copies(an, value, sf):
    """Does `x[index]` of an array make a copy: one number (every axis given
    an integer), or an array of indices or a mask anywhere in the index?"""
    base = an.atom_kind(value.value, sf.reads)
    if not isinstance(base, Array) or not isinstance(base.ndim, int):
        return False
    parts = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
    kinds = [an.atom_kind(p, sf.reads) if isinstance(p, gast.Name) else
             Scalar("int") if isinstance(p, gast.Constant) and type(p.value) is int else None
             for p in parts]
    def advanced(k):                     # an array or list of indices, or a mask
        if isinstance(k, Array):
            return isinstance(k.ndim, int) and k.ndim >= 1
        return isinstance(k, Seq) or isinstance(k, Tree) and k.type is list

    if any(advanced(k) for k in kinds):
        return True
    integer = [isinstance(k, Scalar) and k.dtype == "int"
               or isinstance(k, Array) and k.ndim == 0 and (k.dtype or "").startswith(("int", "uint"))
               for k in kinds]
    return len(parts) == base.ndim and base.ndim > 0 and all(integer)


def _reads_items_only(stmt):
    """`v = xs[k]`: reads one element of a list, not the list itself."""
    return isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) \
        and isinstance(stmt.value, gast.Subscript) and isinstance(stmt.value.value, gast.Name) \
        and not isinstance(stmt.value.slice, gast.Slice)


def _container(kind):
    """A list, dict, tuple or object: what can hold a list that an update changes."""
    return not isinstance(kind, (Array, Scalar)) and mutable(kind)


def _held(an, atom, sf, tables, fresh):
    """What a container holding `atom` reaches through it: the memory of its
    arrays, and the lists, dicts and objects in it, `atom` itself included."""
    roots, objects, inner = tables
    if not (isinstance(atom, gast.Name) and atom.id in sf.reads):
        key = an.global_data(atom)                   # a global array or list: all of it
        return (fresh("global", key),) * 2 if key is not None else (frozenset(), frozenset())
    ref = (atom.id, sf.reads[atom.id])
    objs = inner.get(ref, frozenset())
    if _container(an.kinds.get(ref, UNKNOWN)):
        objs = objs | objects.get(ref, frozenset())
    return roots.get(ref, frozenset()), objs


def _sharing(an, value, sf, tables, fresh):
    """What a new value may share with existing ones, as ids (empty: fresh):
    the memory of its arrays, the lists and objects it holds, and the objects
    it may itself be (an element of a list, what a helper returned)."""
    roots, objects, inner = tables
    none = frozenset()

    def glob(atom):                                  # global data: its id
        key = an.global_data(atom)
        return fresh("global", key) if key is not None else none

    def ref(atom):
        return (atom.id, sf.reads[atom.id]) \
            if isinstance(atom, gast.Name) and atom.id in sf.reads else None

    def of(atom):                                    # its memory
        return roots.get(ref(atom), none) | glob(atom)

    def within(atom):                                # the containers it holds
        return inner.get(ref(atom), none) | glob(atom)

    def held(atoms):                                 # (memory, containers) of values given
        parts = [_held(an, a, sf, tables, fresh) for a in atoms]
        return frozenset().union(*[m for m, _ in parts]), frozenset().union(*[o for _, o in parts])

    def kind(atom):
        return an.atom_kind(atom, sf.reads)

    if isinstance(value, gast.Name) or getattr(value, "s2sad_global", False):
        return (glob(value),) * 3                    # `b = BUF`: the global itself
    if sf.shares is not None:                        # NumPy said, on stand-ins
        return frozenset().union(*[roots.get((n, sf.reads[n]), none) for n in sf.shares
                                   if n in sf.reads],
                                 *[fresh("global", n[len("global:"):]) for n in sf.shares
                                   if n.startswith("global:")]), none, none
    literal = literal_elements(value, an.ns, an.core.local_names)
    if isinstance(value, gast.Dict):
        return held(value.values) + (none,)
    if literal is not None:                          # a new tuple or list holding its elements
        return held(literal[1]) + (none,)
    if isinstance(value, gast.Subscript):
        if isinstance(kind(value.value), Array):
            return (none if _copies(an, value, sf) else of(value.value)), none, none
        if isinstance(value.slice, gast.Slice):      # a new list of the same elements
            return of(value.value), within(value.value), none
        # an element of a list, tuple or dict: itself, not a copy
        return of(value.value), within(value.value), within(value.value)
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) \
            and concatenated_kind(kind, value) is not None:     # a new list of the same elements
        return of(value.left) | of(value.right), within(value.left) | within(value.right), none
    if isinstance(value, gast.Attribute):
        if value.attr in ("T", "real", "imag", "mT"):
            return of(value.value), none, none       # a view
        if isinstance(kind(value.value), (Tree, Opaque)):   # what an object or named tuple holds
            return of(value.value), within(value.value), within(value.value)
    if isinstance(value, gast.Call):
        func = value.func
        args = list(value.args) + [k.value for k in value.keywords]
        if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False):
            receiver = func.value
            if isinstance(kind(receiver), Array):
                return (of(receiver) if func.attr in VIEW_METHODS else none), none, none
            if func.attr == "copy":                  # a new list or dict of the same elements
                return of(receiver), within(receiver), none
            # a method of a list, dict or object (`d.get(k)`): what it holds, or an
            # argument (`d.get(k, default)`)
            memory, objs = held(args)
            return of(receiver) | memory, within(receiver) | objs, within(receiver) | objs
        if isinstance(func, gast.Attribute) and glob(func.value):
            # a method of a global array or list (`BUF.reshape(3)`): it, a view of it
            memory, objs = held(args)
            return glob(func.value) | memory, glob(func.value) | objs, glob(func.value) | objs
        obj = an.ns.resolve(func, an.core.local_names)
        if any(obj is f for f in (runtime.zeros_list, runtime.add_lists)):
            return none, none, none                  # new lists of new arrays
        if obj is runtime.as_list:                   # a new list of an array's rows
            return frozenset().union(*[of(a) for a in args]), none, none
        if rules.is_user_function(obj) and rules.lookup_adjoint(obj) is None \
                or obj is MISSING or not is_pure(obj) or any(obj is f for f in _PASSING_BUILTINS):
            # a helper may return (a view of, a list holding) what it was given, or
            # a global of its own (`v = BIAS; return v`)
            memory, objs = held(args)
            generated = any(getattr(f, "__s2sad_source__", None) is not None
                            for f in (obj, an.core.source.func))   # (transformed again)
            if rules.is_user_function(obj) and not generated:
                given = frozenset().union(*[fresh("global", n) for n in _globals_given_back(obj)])
                memory, objs = memory | given, objs | given
            return memory, objs, objs
        if rules.facts(obj).view:
            return (of(value.args[0]) if value.args else none), none, none
    return none, none, none


# may return (a part of) an argument
_PASSING_BUILTINS = (min, max, list, tuple, sorted, reversed, iter, next, dict)


def _globals_given_back(func):
    """Global (or closure) arrays, lists and dicts a helper names other than
    as an operand of arithmetic or a comparison: those it may return as they
    are, or a view of (`v = BIAS; return v`, `return W.T`), whose in-place
    update by the caller would change the global."""
    from ..parse import parse_function
    try:
        node = parse_function(func).node
    except Exception:
        return ()
    scope = dict(func.__globals__)
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or ()):
        try:
            scope[name] = cell.cell_contents
        except ValueError:
            pass
    local = {n.id for n in gast.walk(node) if isinstance(n, gast.Name)
             and isinstance(n.ctx, (gast.Store, gast.Param))}
    operand = set()                                  # `W` of `v @ W.T`, `x * W[0]`: a new array
    for n in gast.walk(node):
        parts = [n.left, n.right] if isinstance(n, gast.BinOp) else [n.operand] \
            if isinstance(n, gast.UnaryOp) else [n.left] + list(n.comparators) \
            if isinstance(n, gast.Compare) else []
        for part in parts:
            while isinstance(part, (gast.Attribute, gast.Subscript)):
                part = part.value
            operand.add(id(part))
    return sorted({n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
                   and n.id not in local and id(n) not in operand
                   and isinstance(scope.get(n.id), (np.ndarray, list, dict))})


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


def _activity(an, facts):
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
    if _nondifferentiable(an, value):
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
