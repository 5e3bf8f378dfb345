"""Quickstart: differentiate two lecture examples, show the generated code,
and fit a small model with the gradient (NumPy only)."""

import numpy as np

import s2sad


def half_squared_error(x, w):
    return 0.5 * (x - w) ** 2


def chain(a, b, w0, w1, v):
    u = a * w0 + b * w1
    f = v * u
    return (f - 10) ** 2


def mse(w, b, X, y):
    return np.mean((X @ w + b - y) ** 2)


def fit(steps=200):
    """Least squares by gradient descent: data made from known weights."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(200, 2))
    y = X @ np.array([2.0, -1.0]) + 0.5 + 0.01 * rng.normal(size=200)
    params = (np.zeros(2), 0.0)
    opt = s2sad.optim.SGD(lr=0.5, momentum=0.9)
    state = opt.init(params)
    dmse = s2sad.grad(mse, wrt=(0, 1))
    first = mse(*params, X, y)
    for _ in range(steps):
        params, state = opt.update(params, dmse(*params, X, y), state)
    return first, mse(*params, X, y), params


def main():
    dL_dw = s2sad.grad(half_squared_error, wrt="w")
    print("L = 0.5*(x - w)**2 at x=5, w=3:  dL/dw =", dL_dw(5.0, 3.0))

    dL = s2sad.grad(chain, wrt=("v", "w0", "w1"))
    dv, dw0, dw1 = dL(2.0, 3.0, 1.0, 1.0, 1.0)
    print("u = a*w0 + b*w1; f = v*u; L = (f - 10)**2 at a=2, b=3, w0=w1=v=1:")
    print("  dL/dv =", dv, " dL/dw0 =", dw0, " dL/dw1 =", dw1)
    print()
    print("The generated gradient:")
    print(s2sad.source(dL))
    first, last, (w, b) = fit()
    print(f"Fitting y = X @ w + b by gradient descent: loss {first:.4f} -> {last:.6f}, "
          f"w = {np.round(w, 3)}, b = {b:.3f} (data made with w = [2, -1], b = 0.5)")
    return dL_dw(5.0, 3.0), (dv, dw0, dw1)


if __name__ == "__main__":
    main()
