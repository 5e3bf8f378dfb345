"""The shape of the package itself: stages import one way (no cycles among
s2sad's modules) and no module reaches into another's private names."""

import ast
import functools
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "s2sad"


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name):
    """(imported module, imported names, line) for every relative import,
    at module level or inside a function (a lazy import still ties two
    modules together)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[:len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                child = f"{target}.{alias.name}"
                yield (child, None, node.lineno) if child in MODULES else \
                    (target, alias.name, node.lineno)


@functools.lru_cache(maxsize=None)
def _graph():
    """Module -> the modules it imports; a package's own submodules are left
    out (a package imports its families, and they import its registry)."""
    graph = {}
    for name in MODULES:
        graph[name] = {target for target, _, _ in _imports(name)
                       if not target.startswith(name + ".") and not name.startswith(target + ".")}
    return graph


def _cycle_through(graph, start):
    """A path start -> ... -> start, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_cycle(name):
    cycle = _cycle_through(_graph(), name)
    assert cycle is None, " -> ".join(cycle)


def test_no_private_name_imported_across_modules():
    found = [f"{name}:{line} imports {target}.{imported}"
             for name in MODULES for target, imported, line in _imports(name)
             if imported and imported.startswith("_") and not imported.startswith("__")]
    assert not found, "\n".join(found)


def test_the_checks_see_the_package():
    # a check that found no modules or no imports would pass vacuously
    assert {"s2sad.reverse", "s2sad.forward", "s2sad.trees", "s2sad.rules.elementwise"} <= set(MODULES)
    graph = _graph()
    assert "s2sad.trees" in graph["s2sad.reverse"] and "s2sad.sweep" in graph["s2sad.forward"]
    assert _cycle_through({"a": {"b"}, "b": {"a"}}, "a") == ["a", "b", "a"]


def test_ci_runs_the_readme_test_command():
    root = PACKAGE.parent
    readme = (root / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith('pip install ".[test]"'))
    assert "ruff check" in command and "pytest" in command
    assert command in (root / ".ci" / "run").read_text().splitlines()


def test_node_annotations_are_declared():
    import re
    from s2sad.annotations import ANNOTATIONS
    pattern = re.compile(r'\.(s2sad_[a-z_]+)|(?:getattr|hasattr|setattr)\([^,()]+,\s*"(s2sad_[a-z_]+)"')
    used = {a or b for path in MODULES.values() for a, b in pattern.findall(path.read_text())}
    assert {"s2sad_ref", "s2sad_origin", "s2sad_facts"} <= used      # the scan sees them
    assert not used - set(ANNOTATIONS), sorted(used - set(ANNOTATIONS))
    assert not set(ANNOTATIONS) - used, sorted(set(ANNOTATIONS) - used)   # none stale
