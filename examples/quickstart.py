"""Quickstart: differentiate two lecture examples and show the generated code."""

import s2sad


def half_squared_error(x, w):
    return 0.5 * (x - w) ** 2


def chain(a, b, w0, w1, v):
    u = a * w0 + b * w1
    f = v * u
    return (f - 10) ** 2


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
    return dL_dw(5.0, 3.0), (dv, dw0, dw1)


if __name__ == "__main__":
    main()
