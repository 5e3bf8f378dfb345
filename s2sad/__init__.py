"""s2sad: source-to-source automatic differentiation for NumPy code.

    import s2sad
    df = s2sad.grad(f)              # gradient w.r.t. the first argument
    print(s2sad.source(df))         # the generated Python, readable
"""

from .api import grad, jvp, source, stop_gradient, value_and_grad
from .check import GradientCheckError, check_grad
from .errors import TransformError
from .hooks import grad_of
from .higher import hessian, hvp, jacobian
from .runtime.pytrees import register_pytree
from .rules import adjoint, tangent
from . import optim

__all__ = ["grad", "value_and_grad", "jvp", "hvp", "jacobian", "hessian", "source", "adjoint",
           "tangent", "stop_gradient", "grad_of", "TransformError", "optim",
           "check_grad", "GradientCheckError", "register_pytree"]
__version__ = "0.1.0"
