"""In-place updates: which values may share memory with which (arrays, the
caller's arguments, globals), and whether an update changes an array that
another value still reads (refused, naming the line) or that the caller
passed in (copied first, or refused in a helper)."""

import ast

import gast
import numpy as np

from .. import rules, runtime
from ..kinds import UNKNOWN, Array, Opaque, Scalar, Seq, Tree
from ..parse import MISSING
from .values import (VIEW_METHODS, concatenated_kind, flatten, is_append, is_pure, literal_elements,
                     mutable, updated_name)


# ---- in-place updates -------------------------------------------------------------

FRESH_FUNCTIONS = (np.zeros_like, np.ones_like, np.full_like, np.empty_like, np.copy, np.zeros,
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


def check_in_place_updates(an, facts):
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


