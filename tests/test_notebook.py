"""Notebooks: functions defined in IPython cells (their source is the cell's),
redefined and differentiated again, helpers redefined under a built
gradient, and the generated source shown highlighted."""

import numpy as np
import pytest

IPython = pytest.importorskip("IPython")


@pytest.fixture()
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    yield shell
    shell.reset()


def run(shell, cell):
    result = shell.run_cell(cell)
    if not result.success:
        raise result.error_in_exec or result.error_before_exec
    return shell.user_ns


def test_functions_defined_in_cells_redefined_and_differentiated_again(shell):
    ns = run(shell, "import numpy as np, s2sad\n"
                    "def scale(x):\n    return x * 2.0\n"
                    "def f(x):\n    return np.sum(np.sin(scale(x)) ** 2)\n"
                    "df = s2sad.grad(f)\n"
                    "g1 = df(np.array([0.3, -0.7]))\n")
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(ns["g1"], 4 * np.sin(2 * x) * np.cos(2 * x), rtol=1e-12)
    ns = run(shell, "def scale(x):\n    return x * 3.0\n"            # a helper redefined: rebuilt
                    "g2 = df(np.array([0.3, -0.7]))\n")
    np.testing.assert_allclose(ns["g2"], 6 * np.sin(3 * x) * np.cos(3 * x), rtol=1e-12)
    ns = run(shell, "def f(x):\n    return np.sum(x ** 3)\n"         # f redefined, differentiated again
                    "g3 = s2sad.grad(f)(np.array([0.3, -0.7]))\n"
                    "value, t = s2sad.jvp(f)(np.array([0.3, -0.7]), np.ones(2))\n")
    np.testing.assert_allclose(ns["g3"], 3 * x ** 2, rtol=1e-12)
    assert ns["t"] == pytest.approx(np.sum(3 * x ** 2), rel=1e-12)


def test_an_error_in_a_cell_names_the_cells_line(shell):
    ns = run(shell, "import numpy as np, s2sad\n"
                    "def f(x):\n    y = x * 2.0\n    y.sort()\n    return np.sum(y)\n")
    import s2sad
    with pytest.raises(s2sad.TransformError) as info:
        s2sad.grad(ns["f"])(np.ones(3))
    assert "line 4" in str(info.value) and "y.sort()" in str(info.value)


def test_the_generated_source_is_shown_highlighted(shell):
    ns = run(shell, "import numpy as np, s2sad\n"
                    "def f(x):\n    return np.sum(np.tanh(x))\n"
                    "src = s2sad.source(s2sad.grad(f), np.ones(3))\n")
    src = ns["src"]
    assert isinstance(src, str) and src.startswith("def df(x):")
    formats, _ = shell.display_formatter.format(src)
    assert "text/html" in formats and "<span" in formats["text/html"] and "tanh" in formats["text/html"]
