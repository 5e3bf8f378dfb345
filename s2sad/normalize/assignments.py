"""Normalising assignments: unpacking, `a += b` as `a = a + b`, item updates
(`x[i] = v` after a copy where the array is shared), and refusing calls that
change their arguments in place."""

from __future__ import annotations

import gast
import numpy as np

from ..names import hint_for
from ..parse import MISSING
from ..trees import copy_node, name, store, unparse
from .core_form import same_object


_MUTATING_METHODS = {
    "fill": "make a new array: `np.full_like(x, value)`",
    "sort": "use `np.sort(x)`, which returns a sorted copy",
    "resize": "use `np.resize(x, shape)`",
    "put": "assign items instead (`x[i] = v`)",
    "itemset": "assign items instead (`x[i] = v`)",
    "partition": "use `np.partition(x, k)`",
}


_MUTATING_FUNCTIONS = (np.copyto, np.put, np.place, np.putmask, np.fill_diagonal)


def _literal_pair(target, value):
    """A tuple/list target matched by a tuple/list display of the same length."""
    return (isinstance(target, (gast.Tuple, gast.List)) and isinstance(value, (gast.Tuple, gast.List))
            and len(target.elts) == len(value.elts)
            and not any(isinstance(e, gast.Starred) for e in target.elts + value.elts))


class Assignments:
    """Assignments and updates, mixed into the normaliser."""

    def stmt_AnnAssign(self, s):
        if s.value is not None:
            self.assign([s.target], s.value)

    def stmt_Assign(self, s):
        if isinstance(s.value, gast.Lambda) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name) and s.targets[0].id in self.inner_names:
            self.lift_lambda_assignment(s.targets[0], s.value)     # `sq = lambda v: v * v`
            return
        self.assign(s.targets, s.value)

    def stmt_AugAssign(self, s):
        target = s.target
        if isinstance(target, gast.Subscript):
            # `x[i] += v` is `x[i] = x[i] + v` (repeated indices: the last write wins)
            base, index = self.update_target(target)
            item = self.bind_temp(gast.Subscript(value=name(base), slice=index, ctx=gast.Load()),
                                  f"{base}_item")
            self.out[-1].s2sad_item_read = True          # read before the update, used once
            total = self.bind_temp(gast.BinOp(left=item, op=s.op, right=self.atom(s.value)),
                                   f"{base}_item_new")
            self.update(base, copy_node(index), total)
            return
        if not isinstance(target, gast.Name):
            self.fail(s, "in-place updates of attributes are not supported",
                      "keep the value in a variable of its own")
        value = gast.BinOp(left=name(target.id), op=s.op, right=self.atom(s.value))
        stmt = gast.Assign(targets=[store(target.id)], value=value, type_comment=None)
        stmt.s2sad_augmented = True
        self.emit(stmt)

    def is_local_pop(self, call):
        """`xs.pop()` or `xs.pop(i)` on a list of the function's own."""
        func = call.func
        return isinstance(func, gast.Attribute) and func.attr == "pop" and len(call.args) <= 1 \
            and not call.keywords and isinstance(func.value, gast.Name) \
            and func.value.id in self.locals and not getattr(func, "s2sad_global", False)

    def assign(self, targets, value):
        first = targets[0]
        if isinstance(first, gast.Subscript) and len(targets) == 1:
            self.in_place(first, self.atom(value))
            return
        if isinstance(first, gast.Name) and len(targets) == 1 and isinstance(value, gast.Call) \
                and self.is_local_pop(value):
            # `v = xs.pop(i)`: the item (the last without `i`), then the list without it
            seq = value.func.value.id
            index = self.atom(value.args[0]) if value.args else gast.Constant(value=-1, kind=None)
            self.emit(gast.Assign(targets=[store(first.id)], value=gast.Subscript(
                value=name(seq), slice=index, ctx=gast.Load()), type_comment=None))
            pop = gast.Call(func=gast.Attribute(value=name(seq), attr="pop", ctx=gast.Load()),
                            args=[copy_node(index)] if value.args else [], keywords=[])
            self.stmt_Expr(gast.Expr(value=pop))
            return
        if isinstance(first, gast.Name) and isinstance(value, (gast.IfExp, gast.BoolOp)):
            self.choice(value, first.id)          # `z = a if c else b`: z in each branch
            source = name(first.id)
        elif isinstance(first, gast.Name):
            self.emit(gast.Assign(targets=[store(first.id)], value=self.expression(value),
                                  type_comment=None))
            source = name(first.id)
        else:
            simple = self.unpack_literal(first, value) if len(targets) == 1 else False
            if simple:
                return
            source = self.atom(value)
            self.bind(first, source)
        for target in targets[1:]:
            self.bind(target, source)

    def unpack_literal(self, target, value):
        """`a, (b, c) = x, (y, z)` element by element, without tuples in between.

        Python evaluates the whole right side before assigning: a name that an
        earlier target overwrites (`a, b = b, a`) is copied first."""
        if not _literal_pair(target, value):
            return False
        steps = []

        def flatten(t, v):
            if _literal_pair(t, v):
                for te, ve in zip(t.elts, v.elts):
                    flatten(te, ve)
            else:
                steps.append((t, self.atom(v)))
        flatten(target, value)
        assigned = set()
        for i, (t, a) in enumerate(steps):
            if isinstance(a, gast.Name) and a.id in assigned:
                steps[i] = (t, self.bind_temp(a, f"{a.id}_prev"))
            assigned |= {n.id for n in gast.walk(t) if isinstance(n, gast.Name)}
        for t, a in steps:
            self.bind(t, a)
        return True

    def bind(self, target, atom):
        """Assign an atom to a target: a name, or (nested) tuple of names."""
        if isinstance(target, gast.Name):
            self.emit(gast.Assign(targets=[store(target.id)], value=atom, type_comment=None))
            return
        if isinstance(target, (gast.Tuple, gast.List)):
            names, nested = [], []
            for elt in target.elts:
                if isinstance(elt, gast.Name):
                    names.append(store(elt.id))
                elif isinstance(elt, (gast.Tuple, gast.List)):
                    temp = self.namer.fresh("part")
                    self.locals.add(temp)
                    names.append(store(temp))
                    nested.append((elt, name(temp)))
                elif isinstance(elt, gast.Starred):
                    self.fail(self.origin, "starred assignment targets are not supported",
                              "unpack by index, e.g. `a, rest = t[0], t[1:]`")
                else:
                    self.in_place(elt)
            self.emit(gast.Assign(targets=[gast.Tuple(elts=names, ctx=gast.Store())], value=atom,
                                  type_comment=None))
            for elt, temp in nested:
                self.bind(elt, temp)
            return
        self.in_place(target, atom)

    def in_place(self, target, atom=None):
        if isinstance(target, gast.Attribute):
            owner = unparse(target.value)
            self.fail(self.origin, f"assigning to an attribute (`{owner}.{target.attr} = ...`) is not "
                      f"differentiated: it changes an object the gradient cannot follow",
                      f"keep the value in a local name (`{target.attr} = ...`) and use that; for a "
                      f"dataclass or named tuple, build a new one with the new field")
        if not isinstance(target, gast.Subscript) or atom is None:
            self.fail(self.origin, "assigning to items inside an unpacking is not supported",
                      "assign to a name first, then store it with its own statement")
        base, index = self.update_target(target)
        self.update(base, index, atom)

    def update_target(self, target):
        """`x[i, j]` as a target: the name updated, and the index in atoms."""
        if not isinstance(target.value, gast.Name):
            self.fail(self.origin, "only items of a named array can be assigned "
                                   "(`x[i][j] = v` updates a temporary)",
                      "index once: `x[i, j] = v`")
        if target.value.id not in self.locals:
            self.fail(self.origin, f"`{target.value.id}` is not a local variable: updating it "
                                   "would change state outside the function",
                      "copy it into a local array first (`a = np.array(...)`)")
        return target.value.id, self.index(target.slice)

    def check_mutation(self, call):
        """Calls that change an array in place would go unseen by the gradient."""
        func = call.func
        args = call.args
        named = [a for a in args[:1] if isinstance(a, gast.Name) and a.id in self.locals]
        if isinstance(func, gast.Attribute) and not getattr(func, "s2sad_global", False) \
                and func.attr in _MUTATING_METHODS and isinstance(func.value, gast.Name):
            self.fail(self.origin, f"`.{func.attr}()` changes `{func.value.id}` in place, which "
                                   "s2sad does not differentiate",
                      _MUTATING_METHODS[func.attr])
        target = self.src.namespace.resolve(func, self.locals) \
            if getattr(func, "s2sad_global", False) or isinstance(func, gast.Name) else MISSING
        called = getattr(target, "__name__", "")
        if named and (any(same_object(target, f) for f in _MUTATING_FUNCTIONS)
                      or called == "at" and not same_object(target, np.add.at)):
            self.fail(self.origin, f"this call changes `{named[0].id}` in place, which s2sad "
                                   "does not differentiate",
                      "assign items instead (`x[i] = v`), or use np.add.at to sum into an array")
        for k in call.keywords:
            if k.arg == "out":
                self.fail(self.origin, "`out=` writes into an existing array, which s2sad does "
                                       "not differentiate", "assign the result to a name")

    def update_call(self, call, base):
        """`np.add.at(x, i, v)`, `xs.append(v)`: x changes in place (copied first,
        as for `x[i] = v`)."""
        copy = gast.Assign(targets=[store(base)], value=gast.Call(
            func=gast.Attribute(value=name(base), attr="copy", ctx=gast.Load()), args=[],
            keywords=[]), type_comment=None)
        copy.s2sad_copy_on_write = True
        self.emit(copy)
        stmt = gast.Expr(value=call)
        stmt.s2sad_update = True
        self.emit(stmt)

    def update(self, base, index, atom):
        """`x[i] = v`: the array is copied first (`x = x.copy()`), so every value
        the gradient needs stays as it was and the caller's array is never
        changed; the analysis drops the copy where nothing else reads the old
        array."""
        copy = gast.Assign(targets=[store(base)], value=gast.Call(
            func=gast.Attribute(value=name(base), attr="copy", ctx=gast.Load()), args=[],
            keywords=[]), type_comment=None)
        copy.s2sad_copy_on_write = True
        self.emit(copy)
        stmt = gast.Assign(targets=[gast.Subscript(value=name(base), slice=index, ctx=gast.Store())],
                           value=atom, type_comment=None)
        stmt.s2sad_update = True
        self.emit(stmt)

    def bind_temp(self, value, hint=None):
        word = hint or hint_for(value)
        temp = self.namer.fresh(word)
        self.locals.add(temp)
        self.emit(gast.Assign(targets=[store(temp)], value=value, type_comment=None))
        atom = name(temp)
        atom.s2sad_word = word       # `x.shape[0]` of a second `x_shape1`: `x_shape_0`
        return atom
