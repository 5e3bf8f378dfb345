"""The examples and the README: every example in examples/ runs in its --fast
mode and reaches what it promises, and the README shows real output (the
source s2sad generates for its examples, as it generates it).

Each example's main(argv) returns a dict of outcomes. matplotlib and tqdm are
optional (the examples fall back to no plot and a plain range); scikit-learn
is needed by mlp_digits only, which is skipped without it
(`pip install -e ".[examples]"` installs all three).
"""

import importlib.util
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import s2sad

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

try:
    import matplotlib  # noqa: F401
    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False


def load_file(path, module_name=None):
    spec = importlib.util.spec_from_file_location(module_name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name):
    if str(EXAMPLES) not in sys.path:                # the examples import their _common helper
        sys.path.insert(0, str(EXAMPLES))
    return load_file(EXAMPLES / f"{name}.py", f"example_{name}")


def run_fast(name, tmp_path):
    return load(name).main(["--fast", "--out", str(tmp_path)])


def check_plot(result, key="plot"):
    if HAVE_MATPLOTLIB:
        assert result[key] is not None and pathlib.Path(result[key]).stat().st_size > 0
    else:
        assert result[key] is None


def test_ols_matches_the_closed_form(tmp_path, capsys):
    result = run_fast("ols", tmp_path)
    assert result["final_loss"] < result["initial_loss"]
    assert result["max_abs_diff"] < 1e-3
    np.testing.assert_allclose(result["beta"], result["beta_lstsq"], atol=1e-3)
    assert result["final_loss"] == pytest.approx(result["lstsq_loss"], rel=1e-4)
    out = capsys.readouterr().out
    assert "np.linalg.lstsq" in out and "(beta, X, Y):" in out
    check_plot(result)


def test_logistic_regression(tmp_path):
    result = run_fast("logistic_regression", tmp_path)
    assert result["final_loss"] < result["initial_loss"]
    assert result["newton_loss"] <= result["final_loss"] + 1e-9
    assert result["final_loss"] - result["newton_loss"] < 1e-3
    assert result["test_accuracy"] > 0.85
    check_plot(result)
    check_plot(result, "boundary_plot")


def test_method_model_trains_a_model_of_named_tuples(tmp_path):
    result = run_fast("method_model", tmp_path)
    assert result["final_loss"] < 0.2 * result["initial_loss"]
    model = result["model"]
    assert type(model).__name__ == "MLP" and type(model.hidden).__name__ == "Dense"
    assert result["gradient_type"] == "MLP"
    check_plot(result)
    check_plot(result, "fit_plot")


def test_dataclass_mlp_trains_a_model_of_frozen_dataclasses(tmp_path):
    result = run_fast("dataclass_mlp", tmp_path)
    assert result["final_loss"] < 0.1 * result["initial_loss"] and result["accuracy"] > 0.95
    model = result["model"]
    assert type(model).__name__ == "MLP" and all(type(layer).__name__ == "Dense" for layer in model.layers)
    assert model.leak == 0.01 and model.decay == 1e-4       # None gradients: left as they were
    assert result["gradient_type"] == "MLP"
    check_plot(result)


def test_negative_binomial_glm_recovers_its_parameters(tmp_path):
    pytest.importorskip("scipy")
    result = run_fast("negative_binomial_glm", tmp_path)
    true_w, true_b, true_r = result["true"]
    assert result["losses"][-1] < result["losses"][0]
    np.testing.assert_allclose(result["params"]["w"], true_w, atol=0.08)
    assert abs(result["params"]["b"] - true_b) < 0.15 and abs(result["r"] - true_r) < 0.5
    check_plot(result)


def test_perceptron_separates_the_toy_set(tmp_path):
    result = run_fast("perceptron", tmp_path)
    assert result["final_loss"] < result["initial_loss"]
    assert result["accuracy"] >= 0.95 and result["accuracy"] > result["initial_accuracy"]
    check_plot(result)


def test_mlp_digits_improves(tmp_path):
    pytest.importorskip("sklearn")
    result = run_fast("mlp_digits", tmp_path)
    assert result["final_train_loss"] < result["initial_train_loss"]
    assert result["test_accuracy"] > result["initial_test_accuracy"] + 0.3
    check_plot(result)


def test_rnn_learns_the_sine_waves(tmp_path):
    result = run_fast("rnn_sequence", tmp_path)
    assert result["final_loss"] < 0.5 * result["initial_loss"]
    assert result["test_mse"] < result["initial_test_mse"]
    assert result["test_mse"] < result["naive_mse"]   # better than "next = current"
    check_plot(result)


def test_projectile_approaches_the_target(tmp_path):
    result = run_fast("projectile", tmp_path)
    assert result["final_loss"] < 0.1 * result["initial_loss"]
    assert result["miss"] < 5.0
    assert 0.0 < result["angle"] < np.pi / 2
    check_plot(result)


def test_building_heating_lowers_the_cost(tmp_path):
    result = run_fast("building_heating", tmp_path)
    assert result["final_loss"] < 0.7 * result["initial_loss"]
    assert result["min_heat"] >= 0.0
    assert np.all(result["heat"] >= 0.0)
    check_plot(result)


def test_building_heating_compiled(tmp_path, capsys):
    pytest.importorskip("numba")
    result = load("building_heating").main(["--fast", "--out", str(tmp_path), "--compile", "numba"])
    assert result["final_loss"] < 0.7 * result["initial_loss"]
    assert "gradient per call: plain" in capsys.readouterr().out
    assert result["timing"]["compiled"] > 0 and result["timing"]["compile_s"] > 0


def test_inspect_gradient_prints_the_generated_code(capsys):
    result = load("inspect_gradient").main(["--fast"])
    out = capsys.readouterr().out
    assert "def d" in out and "def jvp" in out     # reverse- and forward-mode code
    assert "iterate" in result["iterate_source"] and "reversed(range(" in result["iterate_source"]
    assert result["iterate_grad"] == pytest.approx(result["iterate_fd"], abs=1e-7)
    x1, x2 = 0.5, 2.0
    np.testing.assert_allclose(result["grad"], (np.exp(x1) + x2, x1), rtol=1e-12)
    np.testing.assert_allclose(result["jvp"], result["grad"], rtol=1e-12)
    np.testing.assert_allclose(result["fd"], result["grad"], rtol=1e-7)
    assert result["value"] == pytest.approx(np.exp(x1) + x1 * x2)


def test_an_example_runs_as_a_script(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "ols.py"), "--fast", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "largest difference" in done.stdout
    assert (tmp_path / "ols_loss.png").exists() == HAVE_MATPLOTLIB


# ---- the quickstart and the README ---------------------------------------------------

def test_quickstart(capsys):
    quickstart = load("quickstart")
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
    dloss = s2sad.grad(load_file(path).loss, wrt=(0, 1, 2, 3))
    assert s2sad.source(dloss, *args).strip() == shown.strip()


def test_readme_loop_example_is_real(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    example, shown = blocks[2], blocks[3]
    path = tmp_path / "readme_loop.py"
    path.write_text("import numpy as np\n\n" + example)
    df = s2sad.grad(load_file(path).f)
    assert s2sad.source(df, np.ones(3), 4).strip() == shown.strip()
    x = np.array([0.1, 0.5, -0.3])
    g = df(x, 4)
    eps = 1e-6
    f = load_file(path).f
    numeric = [(f(x + eps * e, 4) - f(x - eps * e, 4)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(g, numeric, rtol=1e-6)


def test_readme_while_example_is_real(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    example, shown = blocks[4], blocks[5]
    path = tmp_path / "readme_while.py"
    path.write_text(example)
    f = load_file(path).height_sum
    df = s2sad.grad(f)
    assert s2sad.source(df, 3.0, 9.8).strip() == shown.strip()
    eps = 1e-6
    assert abs(df(3.0, 9.8) - (f(3.0 + eps, 9.8) - f(3.0 - eps, 9.8)) / (2 * eps)) < 1e-6


def test_quickstart_trains_a_model():
    quickstart = load("quickstart")
    first, last, (w, b) = quickstart.fit()
    assert last < 1e-3 * first
    np.testing.assert_allclose(w, [2.0, -1.0], atol=0.02)
    assert abs(b - 0.5) < 0.02


def test_dask_logistic_reaches_scikit_learns_solution(tmp_path):
    pytest.importorskip("dask.array")
    pytest.importorskip("sklearn")
    result = run_fast("dask_logistic", tmp_path)
    assert result["final_loss"] < result["initial_loss"]
    assert result["relative_to_sklearn"] < 1e-4
    check_plot(result)
