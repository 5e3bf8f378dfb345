"""The `s2sad` command line: `show`, `export`, and its one-line errors (exit 2).

Every command runs in a subprocess (`python -m s2sad`, as the console script
`s2sad = s2sad.cli:main` does), so the user modules it imports stay out of
this test session.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

MODULE = '''\
import numpy as np

SCALE = 0.5


def helper(a):
    return np.tanh(a) * SCALE


def f(x, b, n):
    y = x
    for i in range(n):
        y = helper(y) * x + b
    return np.sum(y * y)


def batched(a, w):
    return np.sum(np.tanh(a @ w))


def defaults(x: float, n: int, w=np.ones(3)):
    return np.sum(w * x) * n


def unsupported(x):
    with open("nothing") as fh:
        pass
    return x


def make(c):
    def inner(x):
        return np.sum(x * c)
    return inner


closure = make(np.ones(3))
'''


def s2sad_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "s2sad", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "loopmod.py").write_text(MODULE)
    return tmp_path


def test_show_prints_the_generated_source_plain_when_piped(user_dir):
    done = s2sad_cli("show", "loopmod.py:f", "--args", "np.ones(3), 0.5, 4", cwd=user_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("def df(x, b, n):\n")
    assert "    for i in reversed(range(n)):\n" in done.stdout
    assert "\ndef helper_fwd(a):\n" in done.stdout and "\ndef helper_bwd(" in done.stdout
    assert "\x1b[" not in done.stdout
    wrt = s2sad_cli("show", "loopmod.py:f", "--args", "np.ones(3), 0.5, 4", "--wrt", "x,b",
                    cwd=user_dir)
    assert wrt.returncode == 0 and "return (dx" in wrt.stdout and "float(db" in wrt.stdout
    by_index = s2sad_cli("show", "loopmod.py:f", "--args", "np.ones(3), 0.5, 4", "--wrt", "0,1",
                         cwd=user_dir)
    assert by_index.stdout == wrt.stdout
    fwd = s2sad_cli("show", "loopmod.py:f", "--args", "np.ones(3), 0.5, n=4", "--mode", "fwd",
                    cwd=user_dir)
    assert fwd.returncode == 0 and fwd.stdout.startswith("def jvp_f(dx, x, b, n):")


def test_show_highlights_on_request(user_dir):
    pytest.importorskip("pygments")
    done = s2sad_cli("show", "loopmod.py:f", "--args", "np.ones(3), 0.5, 4", "--color", "always",
                     cwd=user_dir)
    assert done.returncode == 0 and "\x1b[" in done.stdout and "helper_fwd" in done.stdout


def test_show_takes_examples_from_defaults_and_annotations_or_asks_for_args(user_dir):
    done = s2sad_cli("show", "loopmod.py:defaults", cwd=user_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("def ddefaults(x: float, n: int, w=np.ones(3)):")
    done = s2sad_cli("show", "loopmod.py:f", cwd=user_dir)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "s2sad: error: cannot make an example for f's argument 'x' (no default and no "
        "annotation): pass example arguments, e.g. --args \"np.ones(3), 2.0\""]


@pytest.mark.parametrize("target, message", [
    ("loopmod.py:nope", "s2sad: error: loopmod.py has no function 'nope' (it has: batched, "
                        "closure, defaults, f, helper, make, unsupported)"),
    ("missing.py:f", "s2sad: error: no such file: "),
    ("loopmod.py", "s2sad: error: expected FILE.py:FUNCTION, not 'loopmod.py'"),
    ("loopmod.py:SCALE", "s2sad: error: loopmod.py:SCALE is a float, not a Python function"),
])
def test_a_bad_target_is_one_line_and_exit_code_2(user_dir, target, message):
    done = s2sad_cli("show", target, "--args", "1.0", cwd=user_dir)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(message)


def test_errors_show_the_users_line(user_dir):
    done = s2sad_cli("show", "loopmod.py:unsupported", "--args", "1.0", cwd=user_dir)
    assert done.returncode == 2
    first, line = done.stderr.splitlines()[:2]
    assert first.startswith("s2sad cannot differentiate in unsupported (")
    assert "loopmod.py, line 26): `with` blocks are not supported" in first
    assert line.strip() == 'with open("nothing") as fh:'
    (user_dir / "broken.py").write_text("import numpy as np\nX = np.ones(2) @ np.ones(3)\n")
    done = s2sad_cli("show", "broken.py:f", cwd=user_dir)
    assert done.returncode == 2
    first, line = done.stderr.splitlines()
    assert first.startswith("s2sad: error: importing ") and "failed: ValueError: matmul" in first
    assert line.endswith("broken.py:2: X = np.ones(2) @ np.ones(3)")
    done = s2sad_cli("show", "loopmod.py:f", "--args", "np.ones(3", cwd=user_dir)
    assert done.returncode == 2 and "cannot evaluate --args 'np.ones(3'" in done.stderr


def run_fresh(code, cwd):
    """Run `code` in a fresh interpreter; it prints one JSON line."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("target, args, wrt, call", [
    ("f", "np.ones(3), 0.5, 4", "x,b", "(x, 0.3, 5)"),
    ("batched", "np.ones((2, 3, 4)), np.ones((2, 4, 5))", "a,w", "(a, w)"),  # rule called
])
def test_export_writes_a_module_without_the_transformer(user_dir, target, args, wrt, call):
    out = user_dir / "generated"
    out.mkdir()
    done = s2sad_cli("export", f"loopmod.py:{target}", "--args", args, "--wrt", wrt,
                     "-o", "generated/grad_func.py", cwd=user_dir)
    assert done.returncode == 0, done.stderr
    text = (out / "grad_func.py").read_text()
    assert not re.search(r"^\s*(import|from) s2sad", text, re.M)
    compile(text, "grad_func.py", "exec")
    if target == "batched":                   # runtime helpers, loaded without s2sad/__init__
        assert "\n_runtime = _load_runtime()\n" in text
    # a fresh interpreter elsewhere, with only the output folder on its path: the module
    # finds loopmod.py relative to itself
    result = run_fresh(f"""
        import json, sys
        sys.path.insert(0, {str(out)!r})
        import numpy as np
        import grad_func
        rng = np.random.default_rng(0)
        x, a, w = rng.normal(size=4), rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 5))
        exported = grad_func.d{target}{call}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "s2sad")
        import s2sad, loopmod
        expected = s2sad.grad(loopmod.{target}, wrt={tuple(wrt.split(","))!r}){call}
        print(json.dumps({{"loaded": loaded, "same": all(
            np.allclose(e, g, rtol=1e-12, atol=0) for e, g in zip(expected, exported))}}))
    """, cwd=os.path.dirname(user_dir))
    assert result == {"loaded": [], "same": True}


def test_export_of_a_loop_reads_like_the_source(user_dir):
    done = s2sad_cli("export", "loopmod.py:f", "--args", "np.ones(3), 0.5, 4",
                     "-o", "grad_func.py", cwd=user_dir)
    assert done.returncode == 0, done.stderr
    text = (user_dir / "grad_func.py").read_text()
    shown = s2sad_cli("show", "loopmod.py:f", "--args", "np.ones(3), 0.5, 4", cwd=user_dir).stdout
    for block in shown.split("\n\n\n"):      # df, helper_fwd, helper_bwd: as generated
        assert block.strip() in text
    assert "_user_module = _load_module('loopmod', 'loopmod.py')" in text
    assert "\nimport numpy as np\nfrom loopmod import SCALE\n" in text
    assert "x: 1-D float64 array, b: float, n: int" in text


def test_export_refuses_what_cannot_be_imported(user_dir):
    done = s2sad_cli("export", "loopmod.py:closure", "--args", "np.ones(3)", "-o", "g.py",
                     cwd=user_dir)
    assert done.returncode == 2 and not (user_dir / "g.py").exists()
    assert done.stderr.splitlines() == [
        "s2sad: error: cannot export dinner: it uses 'c', a ndarray held in a closure, which "
        "cannot be imported by name; make it a module-level name of your module"]
    done = s2sad_cli("export", "loopmod.py:f", "--args", "np.ones(3), 0.5, 4", "-o", "loopmod.py",
                     cwd=user_dir)
    assert done.returncode == 2 and "would overwrite" in done.stderr
    assert (user_dir / "loopmod.py").read_text() == MODULE
