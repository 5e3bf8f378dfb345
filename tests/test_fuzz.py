"""The differential fuzzer (tests/fuzz): a fixed sample of random programs
through every oracle, the fuzzer catching and shrinking a broken rule, and
its rewrites keeping programs' meaning.

Long campaigns run from the command line:
    python -m tests.fuzz --count 50000 --seed 1 --jobs 2
"""

import ast
import collections
import copy
import random

import numpy as np
import pytest

import s2sad
from s2sad import rules

from fuzz import generate, oracles, rewrite, shrink
from fuzz.campaign import program_seed

SAMPLE = 120          # programs in the default suite (about a minute on 2 cores)


@pytest.mark.parametrize("block", range(4))
def test_sample_of_programs(block):
    """A fixed sample: no wrong gradient, no crash; most programs differentiated."""
    statuses = collections.Counter()
    failures = []
    per_block = SAMPLE // 4
    for index in range(block * per_block, (block + 1) * per_block):
        seed = program_seed(0, index)
        program = generate.generate(seed)
        outcome = oracles.check(program, seed)
        statuses[outcome.status] += 1
        if outcome.failed:
            failures.append(f"program {index}: {outcome.status} / {outcome.oracle}: "
                            f"{outcome.detail[:300]}\n{program.source}")
    assert not failures, "\n\n".join(failures)
    # a sample that only refuses or is invalid would prove nothing
    assert statuses["ok"] >= 0.6 * per_block, dict(statuses)


@pytest.fixture
def broken_sin():
    """np.sin's adjoint with its sign flipped; calling the fixture mends it."""
    state = rules.snapshot()

    @s2sad.adjoint(np.sin)
    def _(g, result, x):
        return -g * np.cos(x)

    def mend():
        rules.restore(state)

    yield mend
    mend()


def test_fuzzer_catches_and_shrinks_a_broken_rule(broken_sin):
    for index in range(200):
        seed = program_seed(7, index)
        program = generate.generate(seed)
        if "np.sin(" not in program.source:
            continue
        outcome = oracles.check(program, seed, metamorphic=False, hvp_rate=0.0)
        if outcome.failed:
            break
    else:
        pytest.fail("200 programs with np.sin and no failure under a broken rule")
    assert outcome.status == "wrong"
    small, small_outcome = shrink.shrink(program, seed, outcome)
    assert small_outcome.signature() == outcome.signature()
    f_lines = small.source.split("def f(")[1].splitlines()
    assert len(f_lines) <= 4, small.source        # `def f(...):` and a line or two
    assert "np.sin" in small.source
    # the printed regression test fails under the broken rule, and passes once it is mended
    text = shrink.as_test(small, seed, small_outcome)
    module = oracles.load(shrink.REGRESSION_HEADER + "\n\n" + text)
    test = next(v for k, v in vars(module).items() if k.startswith("test_fuzz_"))
    with pytest.raises(AssertionError, match="finite differences"):
        test()
    broken_sin()
    test()


# ---- the generator ---------------------------------------------------------------------

def test_generator_is_deterministic_and_varied():
    a, b = generate.generate(5), generate.generate(5)
    assert a.source == b.source and a.wrt == b.wrt
    sources = {generate.generate(i).source for i in range(40)}
    assert len(sources) == 40
    used = collections.Counter()
    for i in range(300):
        used.update(generate.generate(i).features)
    for rule in ["for range", "while on data", "break", "continue", "swap", "np.add.at",
                 "append", "pop", "call helper", "call recursive helper", "call closure",
                 "loop else", "ternary", "stop_gradient", "float32", "dict argument",
                 "list argument", "integer-array index repeated", "boolean mask",
                 "loop variable reuses a name", "return inside a loop", "enumerate", "zip",
                 "for over rows", "augmented *=", "chained assignment", "global W",
                 "keepdims", "broadcast VM"]:
        assert used[rule] > 0, rule


def test_generated_programs_run():
    """Most generated programs run as plain Python at drawn inputs."""
    ran = 0
    for i in range(60):
        program = oracles.Program(generate.generate(program_seed(3, i)))
        rng = np.random.default_rng(i)
        try:
            program.draw(rng, 4, 3, np.float64, oracles.draw_globals(rng, 4))
            ran += 1
        except oracles.Failure:
            pass
    assert ran >= 50


# ---- the rewrites keep the meaning -------------------------------------------------------

def _values(source, args, globals_):
    module = oracles.load(source)
    oracles.set_globals(module, globals_)
    f = module.bound_f() if hasattr(module, "bound_f") else module.f     # (`method`)
    return f(*copy.deepcopy(args))


@pytest.mark.parametrize("name", sorted(rewrite.REWRITES))
def test_rewrites_keep_values(name):
    changed = 0
    for i in range(60):
        program = generate.generate(program_seed(11, i))
        new = rewrite.REWRITES[name](program.source, random.Random(i))
        if new is None:
            continue
        ast.parse(new)
        rng = np.random.default_rng(i)
        globals_ = oracles.draw_globals(rng, 4)
        loaded = oracles.Program(program)
        try:
            args = loaded.draw(rng, 4, 3, np.float64, globals_)
        except oracles.Failure:
            continue
        expected = _values(program.source, args, globals_)
        got = _values(new, args, globals_)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=new)
        changed += new != program.source
    assert changed >= 2


def test_unroll_and_outline_shapes():
    source = ("import numpy as np\n\ndef f(x):\n    a = np.sin(x)\n    b = a * 2.0\n"
              "    for i in range(3):\n        a = a + b * i\n    return np.sum(a)\n")
    unrolled = rewrite.unroll(source, random.Random(1))
    assert "for " not in unrolled and unrolled.count("i = ") == 3
    outlined = rewrite.outline(source, random.Random(0))
    assert "def outlined(" in outlined
    x = np.array([0.1, 0.2])
    for new in (unrolled, outlined, rewrite.rename(source), rewrite.temporaries(source, random.Random(0))):
        assert np.isclose(_values(new, [x], {}), _values(source, [x], {}))


def test_instrument_measures_the_margin():
    source = ("import numpy as np\n\ndef f(x):\n    if np.sum(x) > 1.0:\n        x = x * 2\n"
              "    return np.sum(np.abs(x)) + np.max(x)\n")
    module = oracles.load(rewrite.instrument(source))
    module._probe = probe = rewrite.Probe()
    module.f(np.array([0.4, 0.59, -0.3]))
    # |sum - 1| = 0.31, min |x| = 0.3, the two largest differ by 0.19
    assert probe.margin == pytest.approx(0.19)


def test_instrument_measures_the_largest_intermediate():
    source = ("import numpy as np\n\ndef f(x, k=np.ones(2)):\n    y = np.exp(x * 10.0)\n"
              "    return np.sum(np.log(y))\n")
    module = oracles.load(rewrite.instrument(source))
    module._probe = probe = rewrite.Probe()
    module.f(np.array([1.0, -1.0]))
    assert probe.largest == pytest.approx(np.exp(10.0))


def test_differences_beside_a_huge_intermediate_are_not_a_wrong_gradient():
    """x cumsummed until it reaches 1e27, then a stopped sum taken off: the
    differences read 0 where the gradient is 1; that is the oracle's limit."""
    source = ("import numpy as np\nimport s2sad\n\ndef f(x):\n    for k in range(25):\n"
              "        x = x.cumsum()\n        x -= s2sad.stop_gradient(x).sum()\n"
              "    return np.sum(np.sin(x * 0.0 + x[0]))\n")
    program = generate.Program(source, [generate.Param("x", "V")], 0, "float64",
                               collections.Counter())
    outcome = oracles.check(program, 3, metamorphic=False, hvp_rate=0.0)
    assert (outcome.status, outcome.oracle) == (
        "invalid", "finite differences below the rounding of an intermediate"), outcome
