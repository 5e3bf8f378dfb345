"""The reverse sweep's table of adjoints: naming them after their primals,
adding contributions (in place where the array is provably ours alone),
and giving an alias its own copy before its variable is assigned."""

import gast

from .. import runtime
from ..kinds import Seq
from ..normalize import is_atom
from ..trees import Comment, assign, call, copy_node, name, statements


def _is_name(node, id_):
    return isinstance(node, gast.Name) and node.id == id_


_FRESH_CALLS = ("zeros_like", "ones_like", "zeros", "ones", "copy", "zeros_list", "add_lists",
                "list", "full_like", "outer", "dot", "matmul", "stack", "concatenate")


def _fresh(value):
    """Does this expression make a new array (or list), never one of its operands?"""
    if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.List)):
        return True
    if isinstance(value, gast.Call):
        func = value.func
        name_ = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None)
        return name_ in _FRESH_CALLS
    return False


def _zeros_of(stmt, id_):
    """Is `stmt` `id_ = np.zeros_like(...)`?"""
    return isinstance(stmt, gast.Assign) and _is_name(stmt.targets[0], id_) \
        and isinstance(stmt.value, gast.Call) and isinstance(stmt.value.func, gast.Attribute) \
        and stmt.value.func.attr == "zeros_like"


class Adjoint:
    """The current adjoint of a ref: an expression, and whether we own its name."""

    def __init__(self, expr, owned, scalar):
        self.expr = expr
        self.owned = owned          # a variable of ours we may assign to
        self.scalar = scalar        # provably a Python scalar


class AdjointTable:
    """Adjoint bookkeeping, mixed into `Reverse`."""

    def adjoint_name(self, ref):
        key = (ref.name, ref.path)
        if key not in self.adjoint_names:
            base, path = ref.name, ref.path
            suffix = "_".join(str(p) for p in path)
            self.adjoint_names[key] = self.ctx.namer.fresh(f"d{base}_{suffix}" if suffix else f"d{base}")
            if base not in self.core.user_names:
                self.temporary_adjoints.add(self.adjoint_names[key])
        return self.adjoint_names[key]

    def temporaries(self):
        """Names the reverse sweep assigns that are not a user variable's adjoint."""
        user = set(self.adjoint_names.values()) - self.temporary_adjoints
        return {n.id for item in self.items if not isinstance(item, Comment)
                for n in gast.walk(item)
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
                and getattr(n, "s2sad_ref", None) is None} - user

    def adopt_user_name(self, ref):
        """`dlogits`, not `dlogits_minus_y`: a user variable whose adjoint is
        the very array a temporary's adjoint holds gives it its name."""
        adj = self.table.get(ref)
        if adj is None or not isinstance(adj.expr, gast.Name) or ref.name not in self.core.user_names \
                or adj.expr.id not in self.temporary_adjoints or adj.expr.id in self.pinned:
            return
        old, new = adj.expr.id, self.adjoint_name(ref)
        everything = [i for items in self.outer + self.aside for i in items] + self.items \
            + self.block + [a.expr for a in self.table.values()]
        if any(isinstance(n, gast.Name) and n.id == new for item in everything
               if not isinstance(item, Comment) for n in gast.walk(item)):
            return
        for item in everything:
            if not isinstance(item, Comment):
                for n in gast.walk(item):
                    if isinstance(n, gast.Name) and n.id == old:
                        n.id = new

    def emit(self, stmt):
        self.block.append(stmt)

    def release(self, id_, keep, *reads):
        """Before `id_` is assigned: refs aliasing it get a copy of their own,
        in a variable that neither another adjoint nor what is about to be
        computed (`reads`, and contributions still pending) reads."""
        for ref, adj in list(self.table.items()):
            if ref != keep and isinstance(adj.expr, gast.Name) and adj.expr.id == id_:
                own = self.adjoint_name(ref)
                in_use = {a.expr.id for a in self.table.values() if isinstance(a.expr, gast.Name)}
                in_use |= {n.id for e in list(reads) + self.pending for n in gast.walk(e)
                           if isinstance(n, gast.Name)}
                if own == id_ or own in in_use:
                    own = self.ctx.namer.fresh(own)
                self.emit(assign(name(own, store=True), name(id_)))
                self.table[ref] = Adjoint(name(own), False, adj.scalar)   # the same object

    def accumulate(self, ref, expr, scalar):
        current = self.table.get(ref)
        if current is None:
            if is_atom(expr):             # just scattered into new zeros: ours alone
                self.table[ref] = Adjoint(expr, self.scattered(expr), scalar)
                return
            value = expr
        else:
            value = self.plus(ref, copy_node(current.expr), expr)
            scalar = scalar and current.scalar
        target = current.expr.id if current is not None and current.owned else self.adjoint_name(ref)
        if current is not None and current.owned and not self.is_list(ref) and (
                target in self.in_place or self.scattered(expr)
                and target not in self.names_in_use(self.table, ref) and self.exclusive(target)):
            # (`dx += c` adds arrays; on a list's adjoints, `+=` would extend the list)
            self.emit(self.add_in_place(target, expr))
            return
        self.release(target, ref, value)
        self.emit(assign(name(target, store=True), value))
        self.table[ref] = Adjoint(name(target), True, scalar)

    def exclusive(self, id_):
        """Does variable `id_` hold an array nothing else holds, so that it may be
        changed in place? Its last assignment so far made a new array (arithmetic,
        zeros, a copy), and nothing since bound what it holds to another name
        (`dx = unbroadcast(dy, x)` may return dy itself)."""
        emitted = [s for items in self.outer + [self.items, self.block] for s in statements(items)]
        for stmt in reversed(emitted):
            if isinstance(stmt, gast.Assign) and any(
                    isinstance(n, gast.Name) and n.id == id_ for n in gast.walk(stmt.targets[0])):
                return isinstance(stmt.targets[0], gast.Name) and _fresh(stmt.value)
            if isinstance(stmt, gast.Assign) and not _fresh(stmt.value) and any(
                    isinstance(n, gast.Name) and n.id == id_ for n in gast.walk(stmt.value)):
                return False
        return False

    def scattered(self, expr):
        """Is `expr` a contribution just scattered into zeros (`t = zeros_like(x); t[i] = g`)?"""
        block = self.block
        return isinstance(expr, gast.Name) and len(block) >= 2 and _zeros_of(block[-2], expr.id) \
            and isinstance(block[-1], gast.Assign) and isinstance(block[-1].targets[0], gast.Subscript) \
            and _is_name(block[-1].targets[0].value, expr.id)

    def add_in_place(self, target, expr):
        """`dx += c` on an array only this loop's sum holds; a scattered
        contribution (`t = zeros_like(x); t[i] = g`) goes straight in: `dx[i] += g`."""
        block = self.block
        if isinstance(expr, gast.Name) and len(block) >= 2 and _zeros_of(block[-2], expr.id):
            last = block[-1]
            if isinstance(last, gast.Assign) and isinstance(last.targets[0], gast.Subscript) \
                    and _is_name(last.targets[0].value, expr.id):
                block[-2:] = []
                index = copy_node(last.targets[0])
                index.value = name(target)
                return gast.AugAssign(target=index, op=gast.Add(), value=last.value)
            if isinstance(last, gast.Expr) and isinstance(last.value, gast.Call) \
                    and last.value.args and _is_name(last.value.args[0], expr.id):
                block[-2:] = []
                last.value.args[0] = name(target)     # np.add.at(dx, index, g)
                return last
        return gast.AugAssign(target=name(target, store=True), op=gast.Add(), value=expr)

    def is_list(self, ref):
        return isinstance(self.facts.kind(*ref.local), Seq) and ref.path == ()

    def plus(self, ref, a, b):
        """The sum of two adjoints of ref (element by element for a list's)."""
        if self.is_list(ref):
            return call(name(self.ctx.spell(runtime.add_lists, "add_lists")), a, b)
        return gast.BinOp(left=a, op=gast.Add(), right=b)

    def contribute(self, contributions):
        """Add (ref, expr, scalar) contributions; writes read by others go last."""
        grouped = {}
        for ref, expr, scalar in contributions:
            if ref in grouped:
                old, old_scalar = grouped[ref]
                grouped[ref] = (self.plus(ref, old, expr), old_scalar and scalar)
            else:
                grouped[ref] = (expr, scalar)
        pending = list(grouped.items())

        def writes_read_elsewhere(item):
            ref = item[0]
            target = self.table[ref].expr.id if ref in self.table and self.table[ref].owned \
                else self.adjoint_name(ref)
            return any(isinstance(n, gast.Name) and n.id == target
                       for other in pending if other is not item for n in gast.walk(other[1][0]))

        ordered = sorted(pending, key=writes_read_elsewhere)
        outer = self.pending
        try:
            for i, (ref, (expr, scalar)) in enumerate(ordered):
                self.pending = outer + [e for _, (e, _) in ordered[i + 1:]]
                self.accumulate(ref, expr, scalar)
        finally:
            self.pending = outer

    def finish(self, outs, contributions):
        """The outputs' adjoints pass to the inputs; a variable of ours passed
        on whole (`ys = xs`, a list's adjoint) stays ours."""
        owned = set()
        for ref in outs:
            adj = self.table.pop(ref, None)
            if adj is not None and adj.owned and isinstance(adj.expr, gast.Name) and self.is_list(ref):
                owned.add(adj.expr.id)
        handed = [c for c in contributions if isinstance(c[1], gast.Name) and c[1].id in owned
                  and c[0] not in self.table
                  and sum(isinstance(o[1], gast.Name) and o[1].id == c[1].id for o in contributions) == 1
                  and c[1].id not in self.names_in_use(self.table)]
        for ref, expr, scalar in handed:
            self.table[ref] = Adjoint(expr, True, scalar)
        self.contribute([c for c in contributions if c not in handed])
