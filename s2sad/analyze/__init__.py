"""Stage 3: facts about a core function, specialised for its argument kinds.

* versions: each assignment of a name makes a new version (SSA numbering),
  so a value can be told apart from a later value of the same name;
* kinds: the kind (scalar, array of ndim and dtype, pytree) of every
  version, worked out by evaluating each operation once on tiny stand-in
  values (`kinds.dummy`), never on the user's data;
* shape classes: versions that provably have the same shape, so the
  generated code can skip `unbroadcast` where nothing was broadcast;
* activity: a value gets an adjoint only if it depends on a `wrt` input
  (varied) *and* influences the output (useful);
* in-place updates: an update of an array another value shares and reads
  later is refused, one of an argument or a global copies it first.

`Analyzer` walks the statements (kinds from `value_kinds.py`, shape classes
from `shape_classes.py`); `in_place.py` and `activity.py` run over the
facts it found.

Values are addressed by *refs* (`refs.Ref`: name, version, path): the path
picks a leaf inside a pytree value (`params["W1"]` is
`Ref("params", 0, ("W1",))`).
"""

import inspect
import types
import warnings
from dataclasses import dataclass, field

import gast
import numpy as np

from .. import rules
from ..kinds import UNKNOWN, Array, Opaque, Scalar, Seq, Tree
from ..parse import MISSING
from ..refs import Version
from .activity import activity, dependencies  # noqa: F401 (the stage's API)
from .in_place import FRESH_FUNCTIONS, check_in_place_updates
from .shape_classes import ShapeClasses
from .value_kinds import ValueKinds
from .methods import against_class
from .nested import against_generated, made_while_building, only_called
from .rewrites import DictKeys, Rewrite, expand_star_call, is_star_call
from .values import (IMMUTABLE, NONDIFF_ATTRIBUTES, PENDING, SAFE_BUILTINS, VIEW_METHODS,  # noqa: F401 (the stage's API)
                     appended_kind, assigned_names, assigned_names_deep, concatenated_kind,
                     constructed_type, flatten, index_atoms, is_append, is_pop, is_pure, literal_elements,
                     merge_kinds, mutable, named_field, statement_value, tree_span, updated_name,
                     value_operands)


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
        self.made = dict(core.made)           # local name -> a transform made inside (nested.py)

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
        check_in_place_updates(self, facts)
        activity(self, facts)
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
        comprehension = getattr(value, "s2sad_dictcomp", None)
        if comprehension is not None:        # `{k: f(v) for k, v in p.items()}`: p's keys decide
            self.read(stmt, sf, value.args)
            kind = self.atom_kind(value.args[0])
            if not (isinstance(kind, Tree) and kind.type is dict):
                raise core.source.error(stmt.s2sad_origin, f"a dict comprehension over `{value.args[0].id}`, "
                                        f"whose keys the build cannot know", "iterate over a dict argument "
                                        "or literal, or over a literal tuple of keys")
            raise DictKeys(comprehension, kind.keys)
        if isinstance(stmt, (gast.Assign, gast.Expr)) and is_star_call(stmt.value):
            self.read(stmt, sf, [a.value if isinstance(a, gast.Starred) else a for a in stmt.value.args]
                      + [k.value for k in stmt.value.keywords])
            expanded = expand_star_call(stmt.value, self.atom_kind)
            if expanded is None:
                raise core.source.error(
                    stmt.s2sad_origin, "a call with `*` or `**` of a list whose length, or a dict whose "
                    "keys, the build cannot know", "pass the arguments one by one (`f(xs[0], xs[1])`), or "
                    "from a tuple or a dict literal")
            raise Rewrite(stmt, expanded[0], None, expanded[1])   # `f(*parts)`: `f(parts_0, parts_1)`
        if isinstance(stmt, (gast.Assign, gast.Expr)) and isinstance(value, gast.Call) \
                and updated_name(stmt) is None:
            self.nested_call(stmt, sf)
        self.read(stmt, sf, value_operands(value) if value is not None else [])
        base = updated_name(stmt)
        if isinstance(stmt, (gast.Assign, gast.Expr)) and base is None:
            resolved = against_class(stmt.value, self.value_kind,
                                     lambda node: self.ns.resolve(node, core.local_names))
            if resolved is not None:      # `self.features(x)`: analysed again as `Model.features(self, x)`
                raise Rewrite(stmt, *resolved)
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

    def nested_call(self, stmt, sf):
        """A call of a transform s2sad made (`denergy(x)`): analysed again as a
        call of its generated function (`analyze/nested.py`).  A transform made
        here from names the build resolves (`s2sad.grad(energy)`), held in a
        name only ever called, is made while building: its statement goes."""
        resolve = lambda node: self.ns.resolve(node, self.core.local_names)   # noqa: E731
        made = made_while_building(stmt.value, resolve, self.made)
        if made is not None and isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) \
                and only_called(self.core.node, stmt.targets[0].id, resolve, self.core.local_names):
            raise Rewrite(stmt, None, made=(stmt.targets[0].id, made))
        callee = stmt.value.func
        self.read(stmt, sf, [a.value if isinstance(a, gast.Starred) else a for a in stmt.value.args]
                  + [k.value for k in stmt.value.keywords]
                  + ([callee] if isinstance(callee, gast.Name) and callee.id not in self.made else []))
        error = lambda message, fix: self.core.source.error(stmt.s2sad_origin, message, fix)  # noqa: E731
        found = against_generated(stmt.value, self.value_kind, resolve, self.made, error)
        if found is not None:
            raise Rewrite(stmt, found[0], found[1], found[2])

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
            old = self.atom_kind(target) if getattr(stmt, "s2sad_augmented", False) else None
            if isinstance(old, Array) and old.ndim == 0 and isinstance(kind, Scalar):
                # `z *= 2` changes a 0-d array in place, so z stays that array (which
                # another name may share); the core form's `z = z * 2` is a NumPy scalar
                kind = old
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
        if obj is MISSING or isinstance(obj, IMMUTABLE + (types.ModuleType, type)) \
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
                if any(obj is f for f in FRESH_FUNCTIONS):
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


