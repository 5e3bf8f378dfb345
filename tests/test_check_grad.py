"""s2sad.check_grad: passes on right gradients, names the argument of a wrong one."""

import numpy as np
import pytest

import s2sad

rng = np.random.default_rng(7)


def mlp(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return np.mean((h @ params["W2"] - y) ** 2)


def loop(x, n):
    y = x
    for i in range(n):
        y = np.tanh(y) * x
    return np.sum(y)


def falling(v, g):
    y, vy, total = 0.0, v, 0.0
    while y >= 0.0:
        y = y + 0.1 * vy
        vy = vy - 0.1 * g
        total = total + y
    return total


def mixed(a, xs, s):
    return np.sum(a[0] * xs[1]) * s + np.sum(np.exp(xs[0])) / s


def test_right_gradients_pass_with_small_errors():
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 2))}
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    errors = s2sad.check_grad(mlp, params, x, y, wrt=(0, "x"))
    assert list(errors) == ["params", "x"] and max(errors.values()) < 1e-6
    assert s2sad.check_grad(loop, rng.normal(size=4), 3)["x"] < 1e-6
    errors = s2sad.check_grad(falling, 3.0, 9.8, wrt=("v", "g"))
    assert list(errors) == ["v", "g"] and max(errors.values()) < 1e-5
    a, xs = rng.normal(size=(2, 3)), [rng.normal(size=3), rng.normal(size=3)]
    assert max(s2sad.check_grad(mixed, a, xs, 2, wrt=(0, 1, 2)).values()) < 1e-6  # int s: a float


def test_inputs_are_checked_in_float64_and_left_alone():
    x = rng.normal(size=4).astype(np.float32)
    before = x.copy()
    assert s2sad.check_grad(loop, x, 2)["x"] < 1e-6      # float32 differences would be noise
    assert x.dtype == np.float32 and np.array_equal(x, before)


def _wrongly_ruled():
    def cube(x):
        return x * x * x

    @s2sad.adjoint(cube)
    def _(g, result, x):
        return g * 3.0 * x                   # wrong: should be 3 x**2

    def f(w, b):
        return np.sum(cube(w)) + b * b
    return f


def test_a_wrong_rule_is_reported_with_its_argument_and_worst_element():
    f = _wrongly_ruled()
    w = np.array([[0.5, 2.0], [1.0, -3.0]])
    with pytest.raises(s2sad.GradientCheckError) as info:
        s2sad.check_grad(f, w, 1.5, wrt=(0, 1))
    assert isinstance(info.value, AssertionError)
    report = str(info.value)
    assert "gradient of f" in report and "argument w:" in report
    assert "worst at index (1, 1)" in report                      # 3 * -3 vs 27
    assert "s2sad -9, numeric 27" in report and "3 of 4 elements differ" in report
    assert "argument b" not in report                             # b's gradient is right


def test_a_wrong_leaf_of_a_pytree_is_named_by_its_path():
    f = _wrongly_ruled()

    def g(p):
        return f(p["layers"][1], p["scale"])

    p = {"layers": [np.ones(2), np.array([2.0, 3.0])], "scale": 0.5}
    with pytest.raises(AssertionError, match=r"argument p\['layers'\]\[1\]: 2 of 2 elements"):
        s2sad.check_grad(g, p)


def test_verbose_prints_a_table(capsys):
    s2sad.check_grad(mixed, np.ones((2, 3)), [np.ones(3), np.ones(3)], 2.0, wrt=(1, 2),
                     verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("check_grad(mixed): central differences, eps=1e-06")
    assert "(14 evaluations)" in out[0]
    assert out[1].split() == ["argument", "size", "worst", "index", "s2sad", "numeric", "rel.",
                              "error"]
    assert [line.split()[0] for line in out[2:]] == ["xs[0]", "xs[1]", "s"]
    assert all(line.endswith("ok") for line in out[2:])
    with pytest.raises(s2sad.GradientCheckError):
        s2sad.check_grad(_wrongly_ruled(), np.array([2.0]), 1.0, verbose=True)
    assert "FAIL (1 elements)" in capsys.readouterr().out


def test_tolerances_and_bad_uses():
    f = _wrongly_ruled()
    assert s2sad.check_grad(f, np.array([1.0]), 1.0)["w"] < 1e-8   # 3 x == 3 x**2 at 1
    small = np.array([1e-4])                  # s2sad 3e-4 vs 3e-8: within atol=1e-3 only
    assert s2sad.check_grad(f, small, 1.0, atol=1e-3)["w"] <= 1e-5
    with pytest.raises(AssertionError, match="relative error 0.003"):
        s2sad.check_grad(f, small, 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="rtol"):
        s2sad.check_grad(loop, np.ones(2), 1, rtol=0)
    with pytest.raises(ValueError, match="no parameter named 'z'"):
        s2sad.check_grad(loop, np.ones(2), 1, wrt="z")
    with pytest.raises(TypeError, match=r"loop\(\): missing a required argument: 'n'"):
        s2sad.check_grad(loop, np.ones(2))

    def scaled(x, s=2.0):
        return np.sum(x) * s
    with pytest.raises(TypeError, match="pass scaled's argument 's' explicitly"):
        s2sad.check_grad(scaled, np.ones(2), wrt="s")
