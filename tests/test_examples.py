"""The examples run and print what they promise; the README shows real output."""

import importlib.util
import pathlib
import re

import numpy as np

import s2sad

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart(capsys):
    quickstart = load(ROOT / "examples" / "quickstart.py")
    dw, (dv, dw0, dw1) = quickstart.main()
    assert dw == -2.0 and isinstance(dw, float)
    assert (dv, dw0, dw1) == (-50.0, -20.0, -30.0)
    out = capsys.readouterr().out
    assert "dL/dw = -2.0" in out and "dL/dv = -50.0" in out
    assert "def dchain(a, b, w0, w1, v):" in out and "# ---- reverse sweep ----" in out


def test_readme_shows_the_source_s2sad_generates(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    example, shown = blocks[0], blocks[1]
    rng = np.random.default_rng(0)
    args = (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)),
            rng.normal(size=2), rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
    path = tmp_path / "readme_example.py"              # the example's function, from a file
    path.write_text(example.split("dloss = ")[0])
    dloss = s2sad.grad(load(path).loss, wrt=(0, 1, 2, 3))
    assert s2sad.source(dloss, *args).strip() == shown.strip()


def test_readme_loop_example_is_real(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    example, shown = blocks[2], blocks[3]
    path = tmp_path / "readme_loop.py"
    path.write_text("import numpy as np\n\n" + example)
    df = s2sad.grad(load(path).f)
    assert s2sad.source(df, np.ones(3), 4).strip() == shown.strip()
    x = np.array([0.1, 0.5, -0.3])
    g = df(x, 4)
    eps = 1e-6
    f = load(path).f
    numeric = [(f(x + eps * e, 4) - f(x - eps * e, 4)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(g, numeric, rtol=1e-6)


def test_readme_while_example_is_real(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    example, shown = blocks[4], blocks[5]
    path = tmp_path / "readme_while.py"
    path.write_text(example)
    f = load(path).height_sum
    df = s2sad.grad(f)
    assert s2sad.source(df, 3.0, 9.8).strip() == shown.strip()
    eps = 1e-6
    assert abs(df(3.0, 9.8) - (f(3.0 + eps, 9.8) - f(3.0 - eps, 9.8)) / (2 * eps)) < 1e-6


def test_quickstart_trains_a_model():
    quickstart = load(ROOT / "examples" / "quickstart.py")
    first, last, (w, b) = quickstart.fit()
    assert last < 1e-3 * first
    np.testing.assert_allclose(w, [2.0, -1.0], atol=0.02)
    assert abs(b - 0.5) < 0.02
