"""symnet: a symbolic autodiff engine with a graph compiler (Theano's API, Numba kernels).

>>> import symnet as sn
>>> import symnet.tensor as T
>>> x, y = T.dscalars('x', 'y')
>>> f = sn.function([x, y], x + y)
>>> float(f(2, 3))
5.0
>>> sn.pp(x + y)
'(x + y)'
"""

__version__ = "0.1.0"

from symnet.config import SymnetWarning, config  # noqa: E402
from symnet.graph import Constant, SharedVariable, TensorType, Variable  # noqa: E402
from symnet import tensor  # noqa: E402
from symnet.compiler.cache import clear_cache  # noqa: E402
from symnet.compiler.function import Function, In, function  # noqa: E402
from symnet.grad import DisconnectedInputError, grad, hessian, jacobian, verify_grad  # noqa: E402
from symnet.printing import debugprint, pp  # noqa: E402
from symnet.ops.random import RandomStream, RandomStreams  # noqa: E402
from symnet.ops.control import ifelse, scan  # noqa: E402
from symnet import nn  # noqa: E402
from symnet.shared import shared  # noqa: E402

__all__ = [
    "config", "SymnetWarning", "Constant", "SharedVariable", "TensorType", "Variable", "tensor", "clear_cache", "Function", "In",
    "function", "DisconnectedInputError", "grad", "hessian", "jacobian", "verify_grad",
    "debugprint", "pp", "RandomStream", "RandomStreams", "nn", "shared", "ifelse", "scan",
]
