"""Every example in examples/ runs in its --fast mode and reaches what it promises.

Each example's main(argv) returns a dict of outcomes. matplotlib and tqdm are
optional (the examples fall back to no plot and a plain range); scikit-learn
is needed by mlp_digits only, which is skipped without it
(`pip install -e ".[examples]"` installs all three).
"""

import importlib.util
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

try:
    import matplotlib  # noqa: F401
    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False


def load(name):
    if str(EXAMPLES) not in sys.path:                # the examples import their _common helper
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
