"""Fresh names for generated code, derived from the user's.

Temporaries are named after what they hold (`xW1` for `x @ W1`, `tanh_a`
for `np.tanh(a)`), adjoints after their primal (`dW1`), so the generated
code reads like hand-written code rather than `_t17`.
"""

import keyword
import re

import gast

_OP_WORDS = {
    gast.Add: "plus", gast.Sub: "minus", gast.Div: "over", gast.FloorDiv: "div",
    gast.Mod: "mod", gast.Pow: "pow", gast.BitAnd: "and", gast.BitOr: "or",
    gast.BitXor: "xor", gast.LShift: "shl", gast.RShift: "shr",
}
MAX_LENGTH = 20


class Namer:
    """Hands out names no other part of the function uses."""

    def __init__(self, taken=(), bases=None):
        self.taken = set(taken)
        self.bases = dict(bases or {})    # a suffixed name -> the name it would have liked

    def reserve(self, name):
        self.taken.add(name)

    def fresh(self, hint):
        base = _identifier(hint) or "t"
        if base not in self.taken:
            self.taken.add(base)
            return base
        sep = "_" if base[-1].isdigit() else ""
        i = 1
        while f"{base}{sep}{i}" in self.taken:
            i += 1
        name = f"{base}{sep}{i}"
        self.taken.add(name)
        self.bases[name] = base
        return name


def _identifier(text):
    text = re.sub(r"\W", "", str(text))
    if not text:
        return ""
    if text[0].isdigit():
        text = "v" + text
    if keyword.iskeyword(text) or text in ("None", "True", "False"):
        text += "_"
    return text


def function_word(func):
    """The word the generated functions of a helper are named by: its name;
    `Layer_call` for a special method (`Layer.__call__`); `rule` for a
    rule's `_`."""
    name = func.__name__
    if name == "_":
        return "rule"
    if name.startswith("__") and name.endswith("__"):
        owner = func.__qualname__.split(".")[-2:-1]
        word = name.strip("_")
        return f"{owner[0]}_{word}" if owner and owner[0] != "<locals>" else word
    return name


def atom_word(node):
    """A short word for an operand: its name, or a small constant's digits."""
    if isinstance(node, gast.Name):
        return getattr(node, "s2sad_word", node.id)   # a temporary: the word it was named by
    if isinstance(node, gast.Attribute):
        return node.attr
    if isinstance(node, gast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        v = node.value
        text = str(int(v)) if float(v).is_integer() else str(v).replace(".", "p")
        return text.replace("-", "neg")
    return ""


def _short(*parts, fallback):
    name = "_".join(p for p in parts if p)
    if name and len(name) <= MAX_LENGTH:
        return name
    return fallback


def hint_for(value):
    """A name for the temporary holding a (lowered) expression."""
    if isinstance(value, gast.BinOp):
        left, right = atom_word(value.left), atom_word(value.right)
        if isinstance(value.op, (gast.Mult, gast.MatMult)):
            if left and right and len(left) + len(right) <= 8 and not left[-1].isdigit():
                return left + right
            return _short(left, right, fallback=(left or "prod")[:MAX_LENGTH - 5] + "_prod")
        if isinstance(value.op, gast.Pow) and right == "2":
            return _short(left, "sq", fallback="sq")
        word = _OP_WORDS.get(type(value.op), "op")
        return _short(left, word, right, fallback=_short(left, word, fallback=word))
    if isinstance(value, gast.UnaryOp):
        word = {gast.USub: "neg", gast.Not: "not", gast.Invert: "inv"}.get(type(value.op), "pos")
        return _short(word, atom_word(value.operand), fallback=word)
    if isinstance(value, gast.Call):
        func = value.func
        fname = func.attr if isinstance(func, gast.Attribute) else atom_word(func)
        if isinstance(func, gast.Attribute) and not _is_dotted_global(func):
            return _short(atom_word(func.value), fname, fallback=fname or "call")
        arg = atom_word(value.args[0]) if value.args else ""
        return _short(fname, arg, fallback=fname or "call")
    if isinstance(value, gast.Attribute):
        base = atom_word(value.value)
        if value.attr == "T":
            return base + "T" if base and len(base) < MAX_LENGTH else "transposed"
        return _short(base, value.attr, fallback=value.attr)
    if isinstance(value, gast.Subscript):
        base = atom_word(value.value)
        index = value.slice
        if isinstance(index, gast.Constant) and isinstance(index.value, str):
            return _short(index.value, fallback=_short(base, "item", fallback="item"))
        word = atom_word(index) if isinstance(index, (gast.Name, gast.Constant)) else ""
        return _short(base, word or "part", fallback="part")
    if isinstance(value, (gast.Tuple, gast.List)):
        return "items"
    if isinstance(value, gast.Dict):
        return "fields"
    if isinstance(value, gast.Compare):
        return "cond"
    return "t"


def _is_dotted_global(node):
    # Marked by normalize: `np.linalg.norm` is a path to a global, not a method.
    return getattr(node, "s2sad_global", False)
