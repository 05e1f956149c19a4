"""symnet.tensor: the user-facing constructors and math (Theano's ``theano.tensor``).

This module is only the public namespace: the constructors of symbolic inputs and constants
come from the graph core (``symnet.graph``), the functions from the op families that define
them (``symnet.ops.math`` for elementwise math, ``symnet.ops.reduction``, ``symnet.ops.shape``,
``symnet.ops.linalg``, ``symnet.ops.subtensor``, ``symnet.ops.nnet``), so ``T.exp``, ``T.sum``,
``T.dot`` and ``T.reshape`` all work.

Examples
--------
>>> import symnet
>>> import symnet.tensor as T
>>> x, y = T.dscalars('x', 'y')
>>> symnet.pp(x + y)
'(x + y)'
"""

from __future__ import annotations


from symnet.graph import (  # noqa: F401 - the public names
    Constant,
    SharedVariable,
    TensorType,
    Variable,
    as_tensor,
    as_tensor_variable,
    normalize_dtype,
    constant,
    tensor,
    scalar,
    vector,
    matrix,
    tensor3,
    tensor4,
    scalars,
    vectors,
    matrices,
)
from symnet.graph import (  # noqa: F401 - typed constructors: dscalar, fmatrices, ltensor3, ...
    bscalar, bscalars, bvector, bvectors, bmatrix, bmatrices, btensor3, btensor3s, btensor4,
    btensor4s, dscalar, dscalars, dvector, dvectors, dmatrix, dmatrices, dtensor3, dtensor3s,
    dtensor4, dtensor4s, fscalar, fscalars, fvector, fvectors, fmatrix, fmatrices, ftensor3,
    ftensor3s, ftensor4, ftensor4s, iscalar, iscalars, ivector, ivectors, imatrix, imatrices,
    itensor3, itensor3s, itensor4, itensor4s, lscalar, lscalars, lvector, lvectors, lmatrix,
    lmatrices, ltensor3, ltensor3s, ltensor4, ltensor4s,
)
from symnet.ops.math import *  # noqa: F401, F403 - elementwise math, with the table's rows
from symnet.ops.shape import (  # noqa: F401
    broadcast_to,
    dimshuffle,
    expand_dims,
    shape,
    shape_i,
    transpose,
)
from symnet.ops.shape import (  # noqa: F401
    alloc,
    arange,
    concatenate,
    eye,
    flatten,
    ones,
    ones_like,
    reshape,
    squeeze,
    stack,
    zeros,
    zeros_like,
)
from symnet.ops.reduction import (  # noqa: F401 - all, any, max, min, sum shadow builtins here
    all,
    any,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from symnet.ops.linalg import dot, matmul, outer, tensordot  # noqa: F401
from symnet.ops.subtensor import getitem, inc_subtensor, set_subtensor  # noqa: F401
from symnet.ops import nnet  # noqa: F401 - T.nnet

__all__ = [n for n in dir() if not n.startswith("_") and n != "annotations"]
