"""The user documentation stays true of the code.

* Every ```python block of docs/rules.md, and every block of the other docs
  marked with a `<!-- run -->` line right before it, runs without an error.
  A block marked `<!-- raises NAME -->` instead must raise the exception
  class NAME (TransformError, TypeError, ValueError, ...), and in
  docs/errors.md its message (and hint) must be the one documented in the
  ```text block above it (`message: ...` / `hint: ...`, `<placeholders>`
  standing for the parts that vary).
* Every message and hint documented in docs/errors.md is a string the s2sad
  sources build (compared with the string literals and f-strings of s2sad/,
  their `{...}` fields standing for the placeholders), and every
  TransformError message the sources raise is documented.

Blocks are written to files before they run, since s2sad reads the source
of the functions it differentiates; they all run in one subprocess, so the
rules they register do not leak into the rest of the test session. Each
block runs after `import numpy as np` and `import s2sad`.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = ROOT / "s2sad"
PREAMBLE = "import numpy as np\nimport s2sad\n"
ALWAYS_RUN = {"rules.md"}                  # every python block of these runs
DOC_FILES = ("rules.md", "subset.md", "errors.md", "cupy.md", "dask.md")
MARKER = re.compile(r"<!--\s*(run|raises\s+(\w+))\s*-->")
PLACEHOLDER = re.compile(r"<[^<>\s][^<>]*>")


# ---- reading the docs -------------------------------------------------------------------------

def parse_doc(name):
    """The code blocks of one doc: dicts with the block's language, code, first
    line, marker (None, "run" or the exception name) and, for errors.md, the
    message/hint documented in the nearest ```text block above it."""
    path = DOCS / name
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    out, documented = [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(\s*)```(\w*)\s*$", line)
        if not fence:
            i += 1
            continue
        lang, start = fence.group(2), i + 1
        j = start
        while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
            j += 1
        indent = len(fence.group(1))
        code = "\n".join(line[indent:] for line in lines[start:j]) + "\n"
        before = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        m = MARKER.fullmatch(before)
        marker = None if m is None else ("run" if m.group(1) == "run" else m.group(2))
        if lang == "text" and code.lstrip().startswith("message:"):
            documented = parse_message_block(code, name, start)
        out.append({"doc": name, "lang": lang, "code": code, "line": start, "marker": marker,
                    "documented": documented})
        i = j + 1
    return out


def parse_message_block(code, doc, line):
    fields = {}
    for raw in code.splitlines():
        key, sep, value = raw.partition(":")
        if sep and key.strip() in ("message", "hint"):
            fields[key.strip()] = value.strip()
    fields["where"] = f"{doc}:{line}"
    return fields


def runnable_blocks():
    found = []
    for name in DOC_FILES:
        for block in parse_doc(name):
            if block["lang"] != "python":
                continue
            if block["marker"] is not None or name in ALWAYS_RUN:
                found.append(block)
    return found


def documented_messages():
    found = []
    for block in parse_doc("errors.md"):
        doc = block["documented"]
        if block["lang"] == "text" and doc is not None and doc["where"] == f"errors.md:{block['line']}":
            found.append(doc)
    return found


def template_regex(documented):
    """A documented message as a regex: its <placeholders> stand for anything."""
    parts, last = [], 0
    for m in PLACEHOLDER.finditer(documented):
        parts.append(re.escape(documented[last:m.start()]))
        parts.append("(?s:.*?)")
        last = m.end()
    parts.append(re.escape(documented[last:]))
    return "".join(parts)


# ---- reading the code ---------------------------------------------------------------------------

def _string_template(node):
    """A string literal or f-string of the sources as a regex ({...} fields
    stand for anything), or None for other expressions."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(re.escape(str(v.value)))
            else:
                parts.append("(?s:.*?)")
        return "".join(parts)
    return None


def _literal_chunks(regex_template):
    """The literal stretches of a template regex (to prefilter matches)."""
    return [re.sub(r"\\(.)", r"\1", c) for c in regex_template.split("(?s:.*?)") if c]


def code_strings():
    """Every string literal / f-string of the s2sad sources, as regexes."""
    templates = set()
    for path in SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.JoinedStr):
                templates.add(_string_template(node))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
                templates.add(_string_template(node))
    return [(t, _literal_chunks(t)) for t in templates if t]


def transform_error_sites():
    """(file:line, message regex) of every TransformError the sources raise:
    `Source.error(node, message, hint)`, `self.fail(node, message, hint)`,
    `_refusal(unit, node, message, hint)` and `TransformError(message, ...)`
    with the message written out there."""
    sites = []
    for path in sorted(SOURCES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            receiver = getattr(func, "value", None)
            receiver = getattr(receiver, "attr", None) or getattr(receiver, "id", None)
            if isinstance(func, ast.Attribute) and len(node.args) >= 2 and (
                    func.attr == "error" and receiver in ("src", "source")
                    or func.attr == "fail" and receiver == "self"):
                message = node.args[1]
            elif isinstance(func, ast.Name) and func.id == "TransformError" and node.args:
                message = node.args[0]
            elif isinstance(func, ast.Name) and func.id == "_refusal" and len(node.args) >= 3:
                message = node.args[2]          # (compiled/kernel.py: a CompileRefused)
            else:
                continue
            template = _string_template(message)
            if template is not None:
                sites.append((f"{path.relative_to(ROOT)}:{node.lineno}", template))
    return sites


def _in_code(documented, strings):
    """Whether some string of the code builds this documented text: it matches
    the string's template, and the template's literal text makes up (nearly)
    all of the documented literal text, so `f"{x}"` does not match everything."""
    literal = len(PLACEHOLDER.sub("", documented))
    for template, chunks in strings:
        if sum(map(len, chunks)) >= 0.8 * literal and all(c in documented for c in chunks) \
                and re.fullmatch(template, documented):
            return True
    return False


# ---- running the blocks ----------------------------------------------------------------------------

def _run_blocks(spec_path, out_path):
    """In the subprocess: run each block from a file of its own, in order."""
    import contextlib
    import io
    import traceback
    import warnings

    warnings.simplefilter("ignore")
    specs = json.loads(Path(spec_path).read_text())
    results = {}
    folder = Path(spec_path).parent / "blocks"
    folder.mkdir(exist_ok=True)
    for spec in specs:
        path = folder / f"{spec['id']}.py"
        path.write_text(PREAMBLE + spec["code"])
        namespace = {"__name__": spec["id"], "__file__": str(path)}
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer):
                exec(compile(path.read_text(), str(path), "exec"), namespace)
            results[spec["id"]] = {"raised": None, "stdout": buffer.getvalue()}
        except BaseException as exc:             # noqa: B036 (reported, not swallowed)
            transform = any(c.__name__ == "TransformError" for c in type(exc).__mro__)  # (subclasses too)
            results[spec["id"]] = {
                "raised": "TransformError" if transform else type(exc).__name__,
                "message": getattr(exc, "message", None) if transform else str(exc),
                "hint": getattr(exc, "hint", None),
                "traceback": "".join(traceback.format_exception(exc)),
                "stdout": buffer.getvalue()}
    Path(out_path).write_text(json.dumps(results))


def block_id(block):
    return f"{block['doc'].replace('.md', '')}_L{block['line']}"


BLOCKS = runnable_blocks()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    spec, out = folder / "blocks.json", folder / "outcomes.json"
    spec.write_text(json.dumps([{"id": block_id(b), "code": b["code"]} for b in BLOCKS]))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, __file__, "--run-blocks", str(spec), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize("block", BLOCKS, ids=[block_id(b) for b in BLOCKS])
def test_doc_block(block, outcomes):
    got = outcomes[block_id(block)]
    where = f"docs/{block['doc']}, block at line {block['line']}"
    expected = None if block["marker"] in (None, "run") else block["marker"]
    if expected is None:
        if got["raised"] == "ModuleNotFoundError" and "import scipy" in block["code"]:
            pytest.skip(f"{where} needs scipy, which is not installed")
        assert got["raised"] is None, f"{where} raised:\n{got.get('traceback')}"
        return
    assert got["raised"] == expected, \
        f"{where} should raise {expected}, got {got['raised']}:\n{got.get('traceback', '')}"
    documented = block["documented"]
    if block["doc"] != "errors.md" or documented is None:
        return
    message = documented.get("message")
    assert message is not None, f"{where}: no `message:` documented above it"
    assert re.fullmatch(template_regex(message), got["message"] or ""), (
        f"{where} raised a message other than the one documented at {documented['where']}:\n"
        f"  documented: {message}\n  raised:     {got['message']}")
    hint = documented.get("hint")
    if hint is None:
        assert got["hint"] is None, (f"{where}: the error now has a hint, document it at "
                                     f"{documented['where']}: {got['hint']}")
    else:
        assert re.fullmatch(template_regex(hint), got["hint"] or ""), (
            f"{where} raised a hint other than the one documented at {documented['where']}:\n"
            f"  documented: {hint}\n  raised:     {got['hint']}")


MESSAGES = documented_messages()
FIELDS = [(m["where"], key, m[key]) for m in MESSAGES for key in ("message", "hint") if key in m]


@pytest.fixture(scope="module")
def strings():
    return code_strings()


@pytest.mark.parametrize("where, key, text", FIELDS, ids=[f"{w}-{k}" for w, k, _ in FIELDS])
def test_documented_error_is_in_the_code(where, key, text, strings):
    assert _in_code(text, strings), (
        f"docs/{where}: this {key} is not built anywhere in s2sad/ any more; update the doc:\n"
        f"  {text}")


SITES = transform_error_sites()


@pytest.mark.parametrize("where, template", SITES, ids=[w for w, _ in SITES])
def test_every_transform_error_is_documented(where, template):
    documented = [m["message"] for m in MESSAGES if "message" in m]
    assert any(re.fullmatch(template, d) for d in documented), (
        f"{where} raises a TransformError that docs/errors.md does not document; add a "
        f"section with its `message:` (placeholders as <name>), when it happens, and the fix")


def test_the_docs_were_read():
    """The parser found what the docs hold (a broken fence would hide blocks)."""
    assert sum(b["doc"] == "rules.md" for b in BLOCKS) >= 10
    assert len(MESSAGES) >= 60
    assert len(SITES) >= 50
    assert any(b["doc"] == "subset.md" for b in BLOCKS)
    raising = [b for b in BLOCKS if b["doc"] == "errors.md" and b["marker"] not in (None, "run")]
    assert len(raising) >= 50
    unmarked = [b["line"] for b in parse_doc("errors.md") if b["lang"] == "python" and b["marker"] is None]
    assert not unmarked, f"docs/errors.md: examples at lines {unmarked} need <!-- raises NAME -->"


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--run-blocks":
    _run_blocks(sys.argv[2], sys.argv[3])
