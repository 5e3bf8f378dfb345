"""s2sad: source-to-source automatic differentiation for NumPy code.

    import s2sad
    df = s2sad.grad(f)              # gradient w.r.t. the first argument
    print(s2sad.source(df))         # the generated Python, readable
"""

from .api import grad, jvp, source, stop_gradient, value_and_grad
from .errors import TransformError
from .rules import adjoint, tangent

__all__ = ["grad", "value_and_grad", "jvp", "source", "adjoint", "tangent", "stop_gradient",
           "TransformError"]
__version__ = "0.1.0"
