"""Shrinking: a failing program reduced to a minimal one, printed as a test.

Greedy delta debugging over the program's `ast`: drop a statement, replace
an `if` or a loop by one of its blocks, replace an expression by one of its
operands, drop a helper nothing calls.  A reduction is kept when the
program still fails the same way (same status and oracle) under the same
seed; the program's own run decides what is well-formed (a reduction that
breaks it makes it invalid, which is not the same failure).
"""

import ast
import copy
import dataclasses
import signal

import numpy as np

from .oracles import check, stage_of

_BLOCK_FIELDS = ("body", "orelse")

# what a file of printed regression tests starts with (tests/ on sys.path, as under pytest)
REGRESSION_HEADER = """import numpy as np
import scipy.special as sp
import s2sad
from collections import namedtuple

from fuzz.oracles import check_case

P = namedtuple("P", "w b")
"""


def _blocks(tree):
    """(node, field) of every statement list in the module's functions."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.If, ast.For, ast.While)):
            for field in _BLOCK_FIELDS:
                block = getattr(node, field, None)
                if block:
                    yield node, field


def _candidates(source):
    """Smaller programs, the biggest cuts first."""
    tree = ast.parse(source)
    # 1. helpers nothing calls
    called = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name != "f" and node.name not in called:
            yield _without(tree, lambda t, i=i: t.body.pop(i))
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                isinstance(node.value.func, ast.Name) and node.value.func.id.startswith("make") \
                and node.targets[0].id not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                                               and isinstance(n.ctx, ast.Load)}:
            yield _without(tree, lambda t, i=i: t.body.pop(i))
    # 2. statements, and compound statements by one of their blocks
    locations = [(id(node), field, i) for node, field in _blocks(tree)
                 for i in range(len(getattr(node, field)))]
    for node_id, field, i in locations:
        def drop(t, node_id=node_id, field=field, i=i):
            block = getattr(_find(t, tree, node_id), field)
            if len(block) == 1 and field == "body":
                block[0] = ast.Pass()
            else:
                block.pop(i)
        yield _without(tree, drop)
        stmt = getattr(_by_id(tree, node_id), field)[i]
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            for inner in _BLOCK_FIELDS:
                if getattr(stmt, inner, None):
                    def unwrap(t, node_id=node_id, field=field, i=i, inner=inner):
                        block = getattr(_find(t, tree, node_id), field)
                        block[i:i + 1] = getattr(block[i], inner)
                    yield _without(tree, unwrap)
    # 3. expressions by their operands
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    exprs = [n for fn in functions for n in ast.walk(fn)
             if isinstance(n, (ast.BinOp, ast.Call, ast.UnaryOp, ast.IfExp, ast.BoolOp,
                               ast.Subscript))]
    for node in exprs:
        for child in _operands(node):
            def lift(t, node_id=id(node), child_id=id(child)):
                old = _find(t, tree, node_id)
                new = _find(t, tree, child_id)
                _swap(t, old, new)
            yield _without(tree, lift)
    # 4. smaller literal ranges
    for node in (n for fn in functions for n in ast.walk(fn)):
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value > 1:
            def smaller(t, node_id=id(node)):
                _find(t, tree, node_id).value -= 1
            yield _without(tree, smaller)


def _operands(node):
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.IfExp):
        return [node.body, node.orelse]
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.Subscript):
        return [node.value]
    if isinstance(node, ast.Call):
        return [a for a in node.args if not isinstance(a, ast.Starred)]
    return []


def _by_id(tree, node_id):
    return next(n for n in ast.walk(tree) if id(n) == node_id)


def _find(copied, original, node_id):
    """The node of `copied` standing where `original`'s node `node_id` stands."""
    for a, b in zip(ast.walk(original), ast.walk(copied)):
        if id(a) == node_id:
            return b
    raise KeyError(node_id)


def _swap(tree, old, new):
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return


def _without(tree, change):
    copied = copy.deepcopy(tree)
    try:
        change(copied)
        return ast.unparse(ast.fix_missing_locations(copied)) + "\n"
    except Exception:
        return None


class _TooLong(Exception):
    pass


def _bounded(run, seconds=20):
    """run(), stopped after `seconds` (a cut may make a program loop forever)."""
    def alarm(signum, frame):
        raise _TooLong()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        return run()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def shrink(program, seed, outcome, budget=300):
    """The smallest program (found greedily) failing as `outcome` did, and its outcome."""
    target = outcome.signature()
    metamorphic = outcome.oracle.startswith("rewrite")   # (the same draw: the same rewrites)
    hvp_rate = 1.0 if outcome.oracle.startswith("hvp") else 0.0
    checkpoint_rate = 1.0 if stage_of(outcome.oracle) == "checkpoint" else 0.0
    until = stage_of(outcome.oracle)
    best, best_outcome = program, outcome
    tried = set()
    progress = True
    while progress and budget > 0:
        progress = False
        for source in _candidates(best.source):
            if source is None or source in tried:
                continue
            tried.add(source)
            budget -= 1
            trial = dataclasses.replace(best, source=source)
            try:
                result = _bounded(lambda: check(trial, seed, metamorphic=metamorphic,
                                                hvp_rate=hvp_rate, until=until,
                                                checkpoint_rate=checkpoint_rate))
            except Exception:             # a cut the harness cannot run: not the same failure
                continue
            if result.signature() == target:
                best, best_outcome = trial, result
                progress = True
                break
            if budget <= 0:
                break
    return best, best_outcome


def _literal(value):
    """Python source rebuilding `value` exactly."""
    if isinstance(value, np.ndarray):
        dtype = "" if value.dtype == np.float64 else f", dtype=np.{value.dtype}"
        return f"np.array({value.tolist()!r}{dtype})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "_fields"):
        return f"P({', '.join(_literal(v) for v in value)})"
    if isinstance(value, tuple):
        return "(" + "".join(_literal(v) + ", " for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


def as_test(program, seed, outcome):
    """A ready-to-paste regression test: the program with its names made
    unique, its globals and arguments as literals, and the oracles' check."""
    tree = ast.parse(program.source)
    suffix = f"_{seed}"
    module_names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)} | {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
        if isinstance(t, ast.Name)} - {"P"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in module_names:
            node.id += suffix
        elif isinstance(node, ast.FunctionDef) and node.name in module_names:
            node.name += suffix
    body = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))
            and not (isinstance(n, ast.Assign) and n.targets[0].id.startswith(("P", "SCALE", "BIAS", "W")))]
    lines = [f"# found by the fuzzer (program seed {seed}): {outcome.status}, {outcome.oracle}"]
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for name, value in (outcome.globals or {}).items():
        if name + suffix in read:
            lines.append(f"{name}{suffix} = {_literal(value)}")
    lines.append("")
    lines.append(ast.unparse(ast.Module(body=body, type_ignores=[])))
    lines += ["", "", f"def test_fuzz{suffix}():",
              f"    args = {_literal(list(outcome.args or []))}",
              f"    check_case(f{suffix}, args, wrt={program.wrt!r}"
              f"{', hvp=True' if (outcome.oracle or '').startswith('hvp') else ''})"]
    return "\n".join(lines)


def shrink_and_print(program, seed, outcome):
    small, small_outcome = shrink(program, seed, outcome)
    detail = (small_outcome.detail or "").splitlines()[:3]
    return as_test(small, seed, small_outcome) + "".join("\n# " + d for d in detail)
