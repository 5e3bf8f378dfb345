"""Dataclasses, named tuples and registered classes as pytrees: a gradient of
the argument's own type with every float and array field checked against
central finite differences (fields rebuilt here with `dataclasses.replace`,
not s2sad's own pytree code), in reverse and forward mode, through `hvp`,
`jacobian`, `hessian`, `check_grad` and the optimisers; constructed inside
the function; refusals and errors."""

import dataclasses
import typing
from typing import NamedTuple

import numpy as np
import pytest

import s2sad
from fdcheck import numerical_grad

RNG = np.random.default_rng(11)


@dataclasses.dataclass(frozen=True)
class Layer:
    W: np.ndarray
    b: np.ndarray


@dataclasses.dataclass
class MLP:
    hidden: Layer
    out: Layer
    scale: float
    depth: int = 2
    name: str = "mlp"


def mlp_loss(m, x, y):
    h = np.tanh(x @ m.hidden.W + m.hidden.b)
    p = h @ m.out.W + m.out.b
    return np.sum((p * m.scale - y) ** 2) / m.depth


def _mlp(n_in=3, n_hidden=4, n_out=2):
    return MLP(Layer(RNG.normal(size=(n_in, n_hidden)), RNG.normal(size=n_hidden)),
               Layer(RNG.normal(size=(n_hidden, n_out)), RNG.normal(size=n_out)), 0.7)


X = RNG.normal(size=(5, 3))
Y = RNG.normal(size=(5, 2))

def _layered_fields(first, second, scalar):
    """The float fields of a two-layer model: (name, read, write), write(m, v)
    a new model (built with `dataclasses.replace`, not s2sad's pytree code)."""
    def leaf(layer, name):
        return (f"{layer}.{name}", lambda m: getattr(getattr(m, layer), name),
                lambda m, v: dataclasses.replace(m, **{layer: dataclasses.replace(getattr(m, layer), **{name: v})}))

    return [leaf(layer, name) for layer in (first, second) for name in ("W", "b")] + [
        (scalar, lambda m: getattr(m, scalar), lambda m, v: dataclasses.replace(m, **{scalar: v}))]


FIELDS = _layered_fields("hidden", "out", "scale")


def _field_fd(f, m, write, read, *rest):
    return numerical_grad(lambda v: f(write(m, v), *rest), [read(m)], 0)


def test_dataclass_gradient_has_its_type_and_every_field():
    m = _mlp()
    g = s2sad.grad(mlp_loss)(m, X, Y)
    assert type(g) is MLP and type(g.hidden) is Layer and type(g.out) is Layer
    assert g.depth is None and g.name is None           # an int and a str carry no gradient
    assert isinstance(g.scale, float)
    for label, read, write in FIELDS:
        np.testing.assert_allclose(read(g), _field_fd(mlp_loss, m, write, read, X, Y),
                                   rtol=1e-6, atol=1e-8, err_msg=label)


def test_dataclass_source_builds_the_class():
    df = s2sad.grad(mlp_loss)
    df(_mlp(), X, Y)
    text = s2sad.source(df)
    assert "return MLP(hidden=Layer(W=dm_hidden_W, b=dm_hidden_b), out=Layer(" in text
    assert "depth=None, name=None)" in text


def test_dataclass_jvp_and_hvp_against_differences():
    m, t = _mlp(), _mlp()
    value, tangent = s2sad.jvp(mlp_loss)(m, X, Y, t)
    assert value == pytest.approx(mlp_loss(m, X, Y))
    eps = 1e-6

    def along(s):
        out = m
        for _, read, write in FIELDS:
            out = write(out, read(m) + s * read(t))
        return mlp_loss(out, X, Y)

    assert tangent == pytest.approx((along(eps) - along(-eps)) / (2 * eps), rel=1e-6)
    hv = s2sad.hvp(mlp_loss)(m, X, Y, t)
    assert type(hv) is MLP and hv.depth is None
    dfn = s2sad.grad(mlp_loss)

    def grad_along(s):
        out = m
        for _, read, write in FIELDS:
            out = write(out, read(m) + s * read(t))
        return dfn(out, X, Y)

    plus, minus = grad_along(eps), grad_along(-eps)
    for label, read, _ in FIELDS:
        np.testing.assert_allclose(read(hv), (np.asarray(read(plus)) - read(minus)) / (2 * eps),
                                   rtol=1e-5, atol=1e-7, err_msg=label)


def test_jacobian_and_hessian_with_respect_to_a_dataclass():
    m = MLP(Layer(RNG.normal(size=(3, 2)), RNG.normal(size=2)),
            Layer(RNG.normal(size=(2, 1)), RNG.normal(size=1)), 0.5)

    def outputs(m, x):
        return np.tanh(x @ m.hidden.W + m.hidden.b) @ m.out.W * m.scale

    x = RNG.normal(size=(4, 3))
    for mode in ("fwd", "rev"):
        J = s2sad.jacobian(outputs, mode=mode)(m, x)
        assert type(J) is MLP and J.depth is None
        for label, read, write in FIELDS:
            leaf = np.asarray(read(m), dtype=float)
            expected = np.zeros((4, 1) + leaf.shape)
            for i in np.ndindex(leaf.shape):
                e = np.zeros_like(leaf)
                e[i] = 1e-6
                expected[(...,) + i] = (outputs(write(m, leaf + e if leaf.shape else float(leaf + e)), x)
                                        - outputs(write(m, leaf - e if leaf.shape else float(leaf - e)), x)) / 2e-6
            got = read(J)
            if label == "out.b":
                assert np.all(got == 0)
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7, err_msg=f"{mode} {label}")
    y = RNG.normal(size=(4, 1))
    H = s2sad.hessian(mlp_loss)(m, x, y)
    assert type(H) is MLP and type(H.hidden.W) is MLP and H.depth is None
    assert H.hidden.W.hidden.W.shape == (3, 2, 3, 2) and H.hidden.W.scale.shape == (3, 2)
    np.testing.assert_allclose(H.hidden.W.out.W, np.moveaxis(H.out.W.hidden.W, [0, 1], [2, 3]),
                               rtol=1e-9, atol=1e-12)         # symmetric
    dfn = s2sad.grad(mlp_loss)
    for label, read, write in FIELDS:                      # d(grad)/d(out.W): H[.][out.W]
        column = np.zeros(np.shape(read(m)) + (2, 1))
        for i in np.ndindex(2, 1):
            e = np.zeros((2, 1))
            e[i] = 1e-6
            plus = dfn(dataclasses.replace(m, out=Layer(m.out.W + e, m.out.b)), x, y)
            minus = dfn(dataclasses.replace(m, out=Layer(m.out.W - e, m.out.b)), x, y)
            column[(...,) + i] = (np.asarray(read(plus)) - read(minus)) / 2e-6
        np.testing.assert_allclose(read(H).out.W, column, rtol=1e-5, atol=1e-7, err_msg=label)


def test_check_grad_takes_dataclasses():
    worst = s2sad.check_grad(mlp_loss, _mlp(), X, Y)
    assert worst["m"] < 1e-5


class Params(NamedTuple):
    w: np.ndarray
    b: float


def test_named_tuples_and_dataclasses_nested_in_dicts_and_lists():
    m = _mlp()
    tree = {"mlp": m, "heads": [Params(RNG.normal(size=2), 0.3), Params(RNG.normal(size=2), -0.2)]}

    def loss(t, x, y):
        total = mlp_loss(t["mlp"], x, y)
        for head in t["heads"]:
            total = total + np.sum(np.tanh(x[:, :2] * head.w + head.b) ** 2)
        return total

    g = s2sad.grad(loss)(tree, X, Y)
    assert type(g["mlp"]) is MLP and all(type(h) is Params for h in g["heads"])
    for label, read, write in FIELDS:
        np.testing.assert_allclose(read(g["mlp"]), _field_fd(
            lambda mm, x, y: loss({**tree, "mlp": mm}, x, y), m, write, read, X, Y),
            rtol=1e-6, atol=1e-8, err_msg=label)
    for k in range(2):
        def with_head(h, k=k):
            heads = list(tree["heads"])
            heads[k] = h
            return {**tree, "heads": heads}
        head = tree["heads"][k]
        np.testing.assert_allclose(g["heads"][k].w, numerical_grad(
            lambda w: loss(with_head(head._replace(w=w)), X, Y), [head.w], 0), rtol=1e-6)
        assert g["heads"][k].b == pytest.approx(numerical_grad(
            lambda b: loss(with_head(head._replace(b=b)), X, Y), [head.b], 0), rel=1e-6)


@dataclasses.dataclass(frozen=True)
class Checked:
    w: np.ndarray
    n: int

    def __post_init__(self):
        if not isinstance(self.n, int):
            raise TypeError("n must be an int")

    def loss(self, x):
        return np.sum((x @ self.w) ** 2) * self.n


def test_dataclass_whose_init_would_reject_a_gradient_and_grad_with_respect_to_self():
    c = Checked(RNG.normal(size=3), 2)
    g = s2sad.grad(Checked.loss, wrt=0)(c, X)
    assert type(g) is Checked and g.n is None            # built without __post_init__
    np.testing.assert_allclose(g.w, numerical_grad(lambda w: Checked(w, 2).loss(X), [c.w], 0),
                               rtol=1e-6)
    assert "new_pytree(Checked, w=" in s2sad.source(s2sad.grad(Checked.loss, wrt=0), c, X)
    gm = s2sad.grad(c.loss)(X)                           # a bound method: w.r.t. x
    np.testing.assert_allclose(gm, numerical_grad(c.loss, [X], 0), rtol=1e-6)


def test_dataclass_built_inside_the_function_and_by_a_helper():
    def layer(W, b):
        return Layer(W=W * 2.0, b=b)

    def loss(W, b, x):
        first = Layer(W, b=b + 1.0)
        second = layer(first.W, first.b)
        return np.sum(np.tanh(x @ second.W + second.b) ** 2)

    W, b = RNG.normal(size=(3, 4)), RNG.normal(size=4)
    for i, arg in ((0, W), (1, b)):
        np.testing.assert_allclose(s2sad.grad(loss, wrt=i)(W, b, X),
                                   numerical_grad(loss, [W, b, X], i), rtol=1e-6, err_msg=str(i))
        _, t = s2sad.jvp(loss, wrt=i)(W, b, X, np.ones_like(arg))
        assert t == pytest.approx(np.sum(numerical_grad(loss, [W, b, X], i)), rel=1e-6)


def test_a_field_changing_kind_builds_again():
    @dataclasses.dataclass
    class P:
        a: object

    def loss(p, x):
        return np.sum(p.a * x)

    df = s2sad.grad(loss)
    x = RNG.normal(size=3)
    assert df(P(2.0), x).a == pytest.approx(np.sum(x))
    np.testing.assert_allclose(df(P(np.ones(3)), x).a, x)


def test_optimisers_update_dataclasses_and_keep_their_types():
    m0 = MLP(Layer(RNG.normal(size=(3, 8)) * 0.5, np.zeros(8)),
             Layer(RNG.normal(size=(8, 2)) * 0.5, np.zeros(2)), 1.0)
    vg = s2sad.value_and_grad(mlp_loss)
    for opt in (s2sad.optim.Adam(lr=1e-2), s2sad.optim.SGD(lr=1e-3, momentum=0.9)):
        m, state = m0, opt.init(m0)
        first = mlp_loss(m, X, Y)
        for _ in range(100):
            _, g = vg(m, X, Y)
            m, state = opt.update(m, g, state)
        assert type(m) is MLP and type(m.hidden) is Layer
        assert m.depth == 2 and m.name == "mlp"           # None gradients: left as they were
        assert mlp_loss(m, X, Y) < 0.5 * first


class Linear:
    """A class of the user's, registered as a pytree (children its attributes)."""

    def __init__(self, W, b, activation="tanh"):
        self.W, self.b, self.activation = W, b, activation


s2sad.register_pytree(Linear, lambda layer: ((layer.W, layer.b), layer.activation),
                      lambda activation, children: Linear(*children, activation=activation))


def linear_loss(layer, x):
    return np.sum(np.tanh(x @ layer.W + layer.b) ** 2)


def test_registered_class():
    layer = Linear(RNG.normal(size=(3, 2)), RNG.normal(size=2), "tanh")
    df = s2sad.grad(linear_loss)
    g = df(layer, X)
    assert type(g) is Linear and g.activation == "tanh"  # unflatten(aux, children)
    np.testing.assert_allclose(g.W, numerical_grad(lambda W: linear_loss(Linear(W, layer.b), X),
                                                   [layer.W], 0), rtol=1e-6)
    np.testing.assert_allclose(g.b, numerical_grad(lambda b: linear_loss(Linear(layer.W, b), X),
                                                   [layer.b], 0), rtol=1e-6)
    assert "new_pytree(Linear, 'tanh', W=dlayer_W, b=dlayer_b)" in s2sad.source(df)
    t = Linear(np.ones((3, 2)), np.ones(2))
    _, tangent = s2sad.jvp(linear_loss)(layer, X, t)
    assert tangent == pytest.approx(np.sum(g.W) + np.sum(g.b), rel=1e-10)
    hv = s2sad.hvp(linear_loss)(layer, X, t)
    eps = 1e-6
    plus = df(Linear(layer.W + eps, layer.b + eps), X)
    minus = df(Linear(layer.W - eps, layer.b - eps), X)
    np.testing.assert_allclose(hv.W, (plus.W - minus.W) / (2 * eps), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(hv.b, (plus.b - minus.b) / (2 * eps), rtol=1e-5, atol=1e-7)
    opt = s2sad.optim.Adam(lr=0.1)
    new, _ = opt.update(layer, g, opt.init(layer))
    assert type(new) is Linear and new.activation == "tanh"


def test_registered_class_errors():
    class Bad:
        def __init__(self, w):
            self.w = w

    s2sad.register_pytree(Bad, lambda o: ((o.w * 1.0,), None), lambda aux, ch: Bad(*ch))
    with pytest.raises(TypeError, match="not one of the instance's attributes"):
        s2sad.grad(lambda o: np.sum(o.w))(Bad(np.ones(2)))

    class Unhashable:
        def __init__(self, w):
            self.w = w

    s2sad.register_pytree(Unhashable, lambda o: ((o.w,), [1]), lambda aux, ch: Unhashable(*ch))
    with pytest.raises(TypeError, match="must be hashable"):
        s2sad.grad(lambda o: np.sum(o.w))(Unhashable(np.ones(2)))
    with pytest.raises(TypeError, match="must be callables"):
        s2sad.register_pytree(Bad, None, None)


def test_tangent_of_another_structure_is_a_type_error():
    m = _mlp()
    with pytest.raises(TypeError, match="must have its structure"):
        s2sad.jvp(mlp_loss)(m, X, Y, {"hidden": 1.0})
    with pytest.raises(TypeError, match=r"tangent for 'm.hidden.W' must have the shape"):
        s2sad.jvp(mlp_loss)(m, X, Y, dataclasses.replace(m, hidden=Layer(np.ones(2), m.hidden.b)))


def test_attribute_writes_and_in_place_updates_of_fields_are_refused():
    def writes(m, x):
        m.scale = 2.0
        return np.sum(m.hidden.W) * m.scale

    with pytest.raises(s2sad.TransformError, match=r"assigning to an attribute \(`m.scale = ...`\)"):
        s2sad.grad(writes)(_mlp(), X)

    def updates(m, x):
        w = m.hidden.W
        w[0, 0] = 0.0
        return np.sum(m.hidden.W * 2.0)

    with pytest.raises(s2sad.TransformError, match=r"changes an array that `m` shares and reads later"):
        s2sad.grad(updates)(_mlp(), X)


@dataclasses.dataclass(frozen=True)
class Dense:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


@dataclasses.dataclass(frozen=True)
class Net:
    first: Dense
    second: Dense
    alpha: float = 0.1

    def features(self, x):
        return self.first(x)                  # a callable object held in a field

    @property
    def penalty(self):
        return self.alpha * np.sum(self.first.W ** 2)

    @staticmethod
    def squared(r):
        return r * r

    @classmethod
    def total(cls, r):
        return np.sum(cls.squared(r))

    def loss(self, x, y):
        h = self.features(x)
        return Net.total(self.second(h) - y) + self.penalty


NET_FIELDS = _layered_fields("first", "second", "alpha")


def test_gradient_with_respect_to_self_through_methods_properties_and_callable_fields():
    net = Net(Dense(RNG.normal(size=(3, 4)), RNG.normal(size=4)), Dense(RNG.normal(size=(4, 2)), RNG.normal(size=2)))
    df = s2sad.grad(Net.loss)
    g = df(net, X, Y)
    assert type(g) is Net and type(g.first) is Dense
    for label, read, write in NET_FIELDS:
        np.testing.assert_allclose(read(g), _field_fd(Net.loss, net, write, read, X, Y), rtol=1e-6,
                                   atol=1e-8, err_msg=label)
    text = s2sad.source(df)
    assert "features_fwd(self, x)" in text and "Dense_call_fwd(self.second, h)" in text
    assert "penalty_fwd(self)" in text and "total_fwd(Net, " in text
    _, t = s2sad.jvp(Net.loss)(net, X, Y, net)
    expected = sum(np.sum(np.asarray(read(g)) * read(net)) for _, read, _ in NET_FIELDS)
    assert t == pytest.approx(expected, rel=1e-8)
    np.testing.assert_allclose(s2sad.grad(net.loss)(X, Y), numerical_grad(net.loss, [X, Y], 0), rtol=1e-6)


def test_class_constants_read_through_self_are_constants_read_at_each_call():
    @dataclasses.dataclass
    class Scaled:
        w: np.ndarray
        eps: typing.ClassVar[float] = 0.1
        scale = np.array([1.0, 2.0, 3.0])

        def loss(self, x):
            return np.sum(np.tanh(x * self.w) ** 2 * self.scale) + self.eps * np.sum(self.w ** 2)

    s, x = Scaled(np.array([0.5, -1.0, 2.0])), np.array([0.3, 0.2, -0.4])
    df = s2sad.grad(Scaled.loss)
    sources = set()
    for scale in (np.array([1.0, 2.0, 3.0]), np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]]), 2.0):
        Scaled.scale = scale                                  # value and kind changed between calls
        np.testing.assert_allclose(df(s, x).w, numerical_grad(lambda w: Scaled(w).loss(x), [s.w], 0),
                                   rtol=1e-6, err_msg=str(scale))
        sources.add(s2sad.source(df))
    assert len(sources) == 2                                  # a float: built again, no unbroadcast
    assert "scalar_output" not in s2sad.source(df)            # its kind known: no run-time checks
