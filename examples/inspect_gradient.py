"""Read the code s2sad generates: a loop with a branch, and both modes of f(x1, x2) = exp(x1) + x1*x2.

    python examples/inspect_gradient.py

s2sad.grad and s2sad.jvp write ordinary Python functions; s2sad.source shows
them. This example prints, with notes in the right margin:

1. the reverse-mode gradient of a `for` loop holding an `if` whose branch
   depends on the data: the forward loop records what the reverse loop needs,
   the reverse loop replays the iterations backwards and re-takes each branch;
2. the reverse-mode (s2sad.grad) and forward-mode (s2sad.jvp) code of
   f(x1, x2) = exp(x1) + x1 * x2, whose partial derivatives are
   df/dx1 = exp(x1) + x2 and df/dx2 = x1.

Each gradient is checked against central finite differences. No training,
so no plot; --fast and --out are accepted for uniformity.
"""

import re

import numpy as np

import s2sad

from _common import parse_args


def iterate(x, n):
    """n steps of a map that takes a square root above 1 and y*x + 1 below."""
    y = x
    for i in range(n):
        if y > 1.0:
            y = np.sqrt(y)
        else:
            y = y * x + 1.0
    return y


def f(x1, x2):
    return np.exp(x1) + x1 * x2


# Notes for the right margin: (text a line contains, note). The first match wins.
NOTES = [
    ("_stack = []", "a stack for a value the loop overwrites"),
    ("_stack1 = []", "a stack for a value the loop overwrites"),
    (".append(", "record it for the reverse sweep"),
    (".pop()", "take the recorded value back"),
    ("reversed(range(", "the same trips, backwards"),
    ("cond = ", "the branch condition, from recorded values"),
    ("trips", "a while loop's trip count"),
]


def annotate(source, width=50):
    """The generated source with a note in the right margin of the lines worth one."""
    lines, reverse, seen_comment = [], False, False
    forward_mode = source.lstrip().startswith("def jvp")
    for line in source.rstrip().splitlines():
        body = line.strip()
        adjoint = re.match(r"d(\w+) = (.*)$", body)
        note = next((text for key, text in NOTES if key in body), None)
        if body.startswith("def "):
            note = ("a plain Python function: the tangents first, then f's arguments" if forward_mode
                    else "a plain Python function with f's arguments")
        elif "---- reverse sweep ----" in body:
            reverse, note = True, "from here on the adjoints, last statement first"
        elif body.startswith("# "):
            note = None if seen_comment else "each block under the source line it comes from"
            seen_comment = True
        elif note is None and adjoint and forward_mode:
            note = f"the tangent of {adjoint.group(1)}" if adjoint.group(1) not in ("x1", "x2") else None
        elif note is None and adjoint and reverse:
            name, value = adjoint.groups()
            if value in ("1.0", "np.ones_like(" + name + ")"):
                note = f"the seed: d out / d {name} = 1 ({name} is the output)"
            elif value in ("0.0", "np.zeros_like(" + name + ")"):
                note = f"an accumulator for d out / d {name}"
            elif value.startswith("d" + name + " + "):
                note = f"add one more use of {name} to d out / d {name}"
            else:
                note = f"d out / d {name}"
        elif body.startswith("return"):
            note = ("f's value and its tangent" if forward_mode
                    else "the gradients" if body.startswith("return (") else "the gradient")
        lines.append(f"{line:<{width}}  <- {note}" if note else line)
    return "\n".join(lines)


def central_difference(fn, args, i, eps=1e-6):
    plus, minus = list(args), list(args)
    plus[i] += eps
    minus[i] -= eps
    return (fn(*plus) - fn(*minus)) / (2 * eps)


def main(argv=None):
    parse_args(__doc__.splitlines()[0], argv)
    out = {}

    print("=" * 78)
    print("1. A for loop with a data-dependent if, in reverse mode\n")
    print("def iterate(x, n):\n    y = x\n    for i in range(n):\n        if y > 1.0:\n"
          "            y = np.sqrt(y)\n        else:\n            y = y * x + 1.0\n    return y\n")
    d_iterate = s2sad.grad(iterate)
    x, n = 0.7, 6
    g = d_iterate(x, n)
    fd = central_difference(iterate, (x, n), 0)
    out["iterate_source"] = s2sad.source(d_iterate, x, n)
    print("s2sad.source(s2sad.grad(iterate), 0.7, 6):\n")
    print(annotate(out["iterate_source"]))
    print(f"\nd iterate / dx at x = {x}, n = {n}: {g:.10f} (s2sad), {fd:.10f} (finite differences)")
    out["iterate_grad"], out["iterate_fd"] = g, fd

    print("\n" + "=" * 78)
    print("2. f(x1, x2) = exp(x1) + x1 * x2: reverse mode and forward mode\n")
    x1, x2 = 0.5, 2.0
    df = s2sad.grad(f, wrt=(0, 1))
    grad = df(x1, x2)
    out["reverse_source"] = s2sad.source(df, x1, x2)
    print("Reverse mode, s2sad.grad(f, wrt=(0, 1)): one sweep back gives both partials.\n")
    print(annotate(out["reverse_source"]))
    if "return (dx1, x1)" in out["reverse_source"]:
        print("\n(df/dx2 = x1 needs no arithmetic, so x1 itself is returned; f's value is never")
        print("computed, since nobody asked for it.)")
    print(f"\n(df/dx1, df/dx2) at ({x1}, {x2}) = ({grad[0]:.10f}, {grad[1]:.10f}); "
          f"by hand (exp(x1) + x2, x1) = ({np.exp(x1) + x2:.10f}, {x1:.10f})")

    jf = s2sad.jvp(f, wrt=(0, 1))
    tangent = (1.0, 0.0)
    value, directional = jf(x1, x2, tangent)
    out["forward_source"] = s2sad.source(jf, x1, x2, tangent)
    print("\nForward mode, s2sad.jvp(f, wrt=(0, 1)): each intermediate value travels with its tangent,")
    print("so one sweep gives one directional derivative (here along (1, 0): df/dx1).\n")
    print(annotate(out["forward_source"]))
    _, along_x2 = jf(x1, x2, (0.0, 1.0))
    print(f"\nf = {float(value):.10f}; J (1, 0) = {float(directional):.10f}; J (0, 1) = {float(along_x2):.10f}")
    print("Reverse mode costs one sweep for all inputs of a scalar output; forward mode one per input direction.")

    out.update(grad=tuple(float(v) for v in grad), value=float(value),
               jvp=(float(directional), float(along_x2)),
               fd=(central_difference(f, (x1, x2), 0), central_difference(f, (x1, x2), 1)))
    return out


if __name__ == "__main__":
    main()
