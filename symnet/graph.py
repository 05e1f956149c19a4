"""The graph core: types, variables, constants, shared variables, Apply nodes, the Op contract,
and the table of graph-building functions the layers above register.

Nothing here computes numbers and nothing here imports another symnet module but the settings:
ops live in ``symnet.ops`` (each family imports only this module, the runtime and its own
helpers), user-facing math in ``symnet.tensor``. Code that needs a function of another family,
or of a layer above (the printer, the compiler), calls it through :data:`tensor_functions`,
where each family registers its functions when it is imported; the operator methods of
:class:`Variable` (``x + y``, ``x[1:]``, ``x.sum()``) are installed from one table,
:data:`_OPERATORS`, of names in it.
"""

from __future__ import annotations

import functools
import gc
import itertools
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import fields

import numpy as np

from symnet.config import config

_ids = itertools.count()

#: dtypes symnet supports, by NumPy name.
SUPPORTED_DTYPES = frozenset(
    [
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float32",
        "float64",
    ]
)


def without_gc(fn):
    """Run ``fn`` with Python's cyclic garbage collector paused.

    Graphs are made of many small objects with reference cycles (a node and its outputs), and
    each collection walks all of them: building, differentiating and rewriting a graph of n
    nodes spent most of its time in the collector, and more than linear time (a 1000-op
    chain's grad took 1.35 s, 0.26 s without it). Nothing a graph pass allocates needs
    collecting before the pass ends; the collector runs again afterwards.
    """

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return run


def normalize_dtype(dtype) -> str:
    """Return the NumPy name of ``dtype``, or raise TypeError if symnet does not support it."""
    if dtype == "floatX":
        dtype = config.float_x
    name = np.dtype(dtype).name
    if name == "float16":
        name = "float32"  # Numba has no float16 arithmetic; promote to float32
    if name not in SUPPORTED_DTYPES:
        raise TypeError(f"unsupported dtype {name!r}; symnet supports {sorted(SUPPORTED_DTYPES)}")
    return name


class FunctionTable:
    """The graph-building functions of the op families (and the few hooks of the layers above:
    ``pp``, ``function``), looked up by name when called.

    A family registers its public functions when it is imported (``tensor_functions.register``
    at the bottom of its module); ``symnet`` imports every family, so the table is complete
    before any user code runs. Code below a function's layer, or in another family, calls it
    as ``T.sum(x)`` after ``from symnet.graph import tensor_functions as T``: the same names
    ``symnet.tensor`` exports, without an import cycle.
    """

    def __init__(self):
        self._functions: dict = {}

    def register(self, *functions, **named):
        """Register functions under their ``__name__`` (or the keyword's name); returns the
        first one, so it also works as a decorator."""
        for fn in functions:
            named.setdefault(fn.__name__, fn)
        for name, fn in named.items():
            if self._functions.get(name, fn) is not fn:
                raise ValueError(f"two functions registered as {name!r}: "
                                 f"{self._functions[name].__module__} and {fn.__module__}")
            self._functions[name] = fn
        return functions[0] if functions else None

    def __getattr__(self, name):
        try:
            return self.__dict__["_functions"][name]
        except KeyError:
            raise AttributeError(f"no graph function {name!r} is registered (is it defined and "
                                 "registered by an op family that symnet imports?)") from None

    def __contains__(self, name) -> bool:
        return name in self._functions

    def __dir__(self):
        return sorted(self._functions)


#: The registered graph-building functions; see :class:`FunctionTable`.
tensor_functions = FunctionTable()


_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def _creation_site() -> str | None:
    """file:line of the first frame outside symnet (cheap: walks frames without formatting)."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PKG_DIR):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


class TensorType:
    """A dtype plus a static shape: a tuple with an int per known dimension, None where unknown."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape: Sequence[int | None] = ()):
        self.dtype = normalize_dtype(dtype)
        self.shape = tuple(None if s is None else int(s) for s in shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(s == 1 for s in self.shape)

    def __call__(self, name: str | None = None) -> Variable:
        return Variable(self, name=name)

    def __eq__(self, other):
        return isinstance(other, TensorType) and (self.dtype, self.shape) == (
            other.dtype,
            other.shape,
        )

    def __hash__(self):
        return hash((self.dtype, self.shape))

    def __repr__(self):
        dims = ", ".join("?" if s is None else str(s) for s in self.shape)
        return f"TensorType({self.dtype}, ({dims}{',' if self.ndim == 1 else ''}))"

    def __getstate__(self):
        return (self.dtype, self.shape)

    def __setstate__(self, state):
        self.dtype, self.shape = state

    def short(self) -> str:
        """Compact form used by debugprint: float64(?, 3)."""
        dims = ", ".join("?" if s is None else str(s) for s in self.shape)
        return f"{self.dtype}({dims})"

    def is_compatible_shape(self, shape: tuple[int, ...]) -> bool:
        return len(shape) == self.ndim and all(
            s is None or s == d for s, d in zip(self.shape, shape)
        )

    def filter(self, value, *, name: str = "input", allow_downcast: bool = False) -> np.ndarray:
        """Convert ``value`` to an ndarray of this type, or raise naming ``name``.

        Lossless conversions are accepted (Python numbers, lists, narrower ints into floats);
        a lossy one (float into int, float64 array into float32) raises TypeError unless
        ``allow_downcast``.
        """
        return filter_value(self, value, name, allow_downcast)


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"ndarray(dtype={value.dtype}, shape={value.shape})"
    return f"{type(value).__name__} {value!r}"[:80]


def filter_value(ttype: TensorType, value, name: str, allow_downcast: bool) -> np.ndarray:
    """The slow, complete input check behind TensorType.filter (see there)."""
    target = np.dtype(ttype.dtype)
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name}: cannot convert {_describe(value)} to {ttype.short()}: {exc}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name}: expected {ttype.short()}, got an array of dtype {arr.dtype} "
            f"(shape {arr.shape}); only bool, integer and float data are accepted"
        )
    if arr.ndim != ttype.ndim:
        raise TypeError(
            f"{name}: expected {ttype.ndim}-d {ttype.short()}, got {arr.ndim}-d array "
            f"of shape {arr.shape}"
        )
    if arr.dtype != target:
        if not _lossless(arr, value, target) and not allow_downcast:
            raise TypeError(
                f"{name}: expected {ttype.short()}, got {_describe(value)}; converting "
                f"{arr.dtype} to {target} may lose information (cast it yourself or pass "
                f"allow_input_downcast=True to function())"
            )
        arr = arr.astype(target)
    for axis, (static, actual) in enumerate(zip(ttype.shape, arr.shape)):
        if static is not None and static != actual:
            raise ValueError(
                f"{name}: expected shape {ttype.shape} (None = any), got {arr.shape}: "
                f"axis {axis} has length {actual}, not {static}"
            )
    return arr


def _lossless(arr: np.ndarray, original, target: np.dtype) -> bool:
    if np.can_cast(arr.dtype, target, casting="safe"):
        return True
    if isinstance(original, np.ndarray):
        return False
    # Python scalars and lists: accept when the values survive the round trip
    # (an int into a float input, 1.0 into an int input is still refused: floats never go to ints).
    if arr.dtype.kind == "f" and target.kind in "biu":
        return False
    if arr.dtype.kind in "iu" and target.kind in "iub":
        converted = arr.astype(target)
        return bool(np.array_equal(converted.astype(arr.dtype), arr))
    if target.kind == "f":
        converted = arr.astype(target)
        with np.errstate(over="ignore", invalid="ignore"):
            return bool(np.array_equal(converted.astype(arr.dtype), arr, equal_nan=True))
    return False


class Variable:
    """A symbolic tensor: a graph input (no owner) or the output of an :class:`Apply` node.

    ``==`` and ``!=`` are Python identity, so variables can be dict keys; use ``T.eq`` and
    ``T.neq`` to compare elementwise.
    """

    __array_priority__ = 1000  # make ndarray <op> Variable defer to Variable's reflected op

    def __init__(self, type: TensorType, owner: Apply | None = None, index: int | None = None,
                 name: str | None = None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.id = next(_ids)
        self.tag = {"trace": _creation_site()}

    # --- type information --------------------------------------------------------------
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def static_shape(self) -> tuple[int | None, ...]:
        return self.type.shape

    @property
    def shape(self) -> Variable:
        return tensor_functions.shape(self)

    @property
    def size(self) -> Variable:
        return tensor_functions.prod(tensor_functions.shape(self))

    @property
    def T(self) -> Variable:
        return tensor_functions.transpose(self)

    def __repr__(self):
        try:
            text = tensor_functions.pp(self, max_length=200)
        except Exception:  # never let repr fail
            text = self.name or f"<{self.type.short()}>"
        if len(text) > 200:
            text = text[:197] + "..."
        return text

    def __str__(self):
        return self.name if self.name is not None else repr(self)

    def __bool__(self):
        raise TypeError(
            "a symbolic variable has no truth value; use T.switch / sn.ifelse for conditions, "
            "and T.eq / T.neq for elementwise comparisons"
        )

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d symbolic variable")
        if self.type.shape[0] is None:
            raise TypeError(f"len() of {self!r}: its first dimension is not known statically")
        return self.type.shape[0]

    def __iter__(self):
        if self.ndim == 0 or self.type.shape[0] is None:
            raise TypeError(f"cannot iterate over {self!r}: its length is not known statically")
        for i in range(self.type.shape[0]):
            yield self[i]

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    # The operators and the short math methods (x + y, x[1:], x.sum()) are installed below the
    # class from _OPERATORS.

    def nonzero_values(self):  # pragma: no cover - Theano name kept for discoverability
        raise TypeError("nonzero_values needs data-dependent shapes, which symnet does not build")

    def copy(self, name=None):
        """A fresh input variable of the same type (no owner), like Theano's ``type()``."""
        return self.type(name if name is not None else self.name)

    def eval(self, inputs_to_values: dict | None = None, **kwargs):
        """Compile a function of the free inputs and evaluate it (cached per input set).

        >>> import symnet.tensor as T
        >>> x = T.dscalar('x')
        >>> float((x * 2).eval({x: 3.0}))
        6.0
        """
        inputs_to_values = dict(inputs_to_values or {})
        inputs = list(inputs_to_values)
        cache = self.tag.setdefault("eval_cache", {})
        key = (tuple(id(v) for v in inputs), tuple(sorted(kwargs.items())))
        fn = cache.get(key)
        if fn is None:
            fn = tensor_functions.function(inputs, self, on_unused_input="ignore", **kwargs)
            cache[key] = fn
        return fn(*[inputs_to_values[v] for v in inputs])

    def __getstate__(self):
        state = dict(self.__dict__)
        tag = dict(state.get("tag", {}))
        tag.pop("eval_cache", None)
        state["tag"] = tag
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.id = next(_ids)

    def __reduce_ex__(self, protocol):
        if self.owner is None:
            return super().__reduce_ex__(protocol)
        # A computed variable travels as its whole graph, flattened in topological order:
        # pickling (and copy.deepcopy) never recurses once per node, so deep graphs pickle.
        return (_unflatten_graph, _flatten_graph(self))


# --- the operator methods of Variable --------------------------------------------------------

#: (method, registered function, reflected): ``x + y`` is ``add(x, y)``, ``2 - x`` (``__rsub__``)
#: is ``sub(2, x)``; methods without an operand (``-x``) are unary.
_OPERATORS = (
    ("__add__", "add", False), ("__radd__", "add", True),
    ("__sub__", "sub", False), ("__rsub__", "sub", True),
    ("__mul__", "mul", False), ("__rmul__", "mul", True),
    ("__truediv__", "true_div", False), ("__rtruediv__", "true_div", True),
    ("__floordiv__", "floor_div", False), ("__rfloordiv__", "floor_div", True),
    ("__mod__", "mod", False), ("__rmod__", "mod", True),
    ("__pow__", "pow", False), ("__rpow__", "pow", True),
    ("__matmul__", "matmul", False), ("__rmatmul__", "matmul", True),
    ("__and__", "and_", False), ("__rand__", "and_", True),
    ("__or__", "or_", False), ("__ror__", "or_", True),
    ("__xor__", "xor", False),
    ("__lt__", "lt", False), ("__le__", "le", False),
    ("__gt__", "gt", False), ("__ge__", "ge", False),
    ("__getitem__", "getitem", False),
    ("__neg__", "neg", None), ("__abs__", "abs", None), ("__invert__", "invert", None),
    # methods whose arguments pass through unchanged
    ("sum", "sum", False), ("mean", "mean", False), ("prod", "prod", False),
    ("max", "max", False), ("min", "min", False), ("argmax", "argmax", False),
    ("argmin", "argmin", False), ("var", "var", False), ("std", "std", False),
    ("dimshuffle", "dimshuffle", False), ("flatten", "flatten", False),
    ("astype", "cast", False), ("dot", "dot", False), ("clip", "clip", False),
    ("squeeze", "squeeze", False),
)


def _operator(method: str, name: str, reflected: bool | None):
    if reflected is None:
        def apply(self):
            return getattr(tensor_functions, name)(self)
    elif reflected:
        def apply(self, other):
            return getattr(tensor_functions, name)(other, self)
    else:
        def apply(self, *args, **kwargs):
            return getattr(tensor_functions, name)(self, *args, **kwargs)
    apply.__name__ = apply.__qualname__ = method
    apply.__doc__ = f"``{name}`` of symnet.tensor on this variable."
    return apply


for _method, _name, _reflected in _OPERATORS:
    setattr(Variable, _method, _operator(_method, _name, _reflected))
del _method, _name, _reflected


def _pos(self):
    return self


def _reshape(self, *shape, ndim=None):
    """``reshape(self, shape)``; the shape may also come as separate arguments."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Variable)):
        shape = shape[0]
    return tensor_functions.reshape(self, shape, ndim=ndim)


def _transpose(self, *axes):
    """``transpose(self, axes)``; the axes may also come as separate arguments."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return tensor_functions.transpose(self, axes or None)


Variable.__pos__ = _pos
Variable.reshape = _reshape
Variable.transpose = _transpose


def _flatten_graph(var: Variable) -> tuple[list, tuple[int, int]]:
    """(nodes, root) for pickling: each node is (op, inputs, outputs), an input being an
    ownerless variable (pickled as itself, so shared by every graph that uses it) or the
    (node position, output index) of an earlier node; outputs are (class, state) pairs."""
    order = toposort([var])
    position = {id(node): k for k, node in enumerate(order)}
    nodes = []
    for node in order:
        inputs = [inp if inp.owner is None else (position[id(inp.owner)], inp.index)
                  for inp in node.inputs]
        outputs = []
        for out in node.outputs:
            state = out.__getstate__()
            del state["owner"], state["index"]
            outputs.append((type(out), state))
        nodes.append((node.op, inputs, outputs))
    return nodes, (position[id(var.owner)], var.index)


def _unflatten_graph(nodes: list, root: tuple[int, int]) -> Variable:
    """Rebuild the graph :func:`_flatten_graph` described and return its root variable."""
    built: list[Apply] = []
    for op, inputs, outputs in nodes:
        ins = [inp if isinstance(inp, Variable) else built[inp[0]].outputs[inp[1]]
               for inp in inputs]
        outs = []
        for cls, state in outputs:
            out = cls.__new__(cls)
            out.__setstate__(dict(state))
            outs.append(out)
        built.append(Apply(op, ins, outs))
    node, index = root
    return built[node].outputs[index]


def _owner_of(var: Variable) -> Apply:
    return var.owner


class Constant(Variable):
    """A variable with a fixed value. Its data is read-only."""

    def __init__(self, type: TensorType, data, name: str | None = None):
        super().__init__(type, name=name)
        data = np.array(data, dtype=type.dtype, copy=True)
        data.setflags(write=False)
        self.data = data

    def signature(self):
        """A hashable identity for merging equal constants."""
        return (self.type, self.data.shape, self.data.tobytes())

    def __repr__(self):
        return tensor_functions.pp(self)


def _c_order(arr: np.ndarray) -> np.ndarray:
    """``arr`` as a shared value: C order and writable, since compiled updates may write it in
    place (a copy otherwise; np.ascontiguousarray would turn a 0-d array into a 1-d one)."""
    if arr.flags.c_contiguous and arr.flags.writeable:
        return arr
    return np.array(arr, order="C")


class SharedVariable(Variable):
    """A variable whose value lives across calls: weights, counters, optimizer slots.

    ``get_value``/``set_value`` copy unless ``borrow=True``. A compiled function's ``updates``
    replace the value only after the whole call succeeded.

    Threads: each shared variable has a lock. A compiled function holds the locks of every
    shared variable it reads or updates for the whole call (in one global order, so two
    functions never deadlock), and ``get_value`` copies under it: no call, copy or update
    ever sees another call's update half written, even one written in place.
    """

    def __init__(self, value, name: str | None = None, *, borrow: bool = False,
                 dtype=None, shape=None):
        arr = np.array(value, dtype=dtype, copy=not borrow) if dtype is not None else (
            np.array(value, copy=not borrow))
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"shared {name or ''}: value of dtype {arr.dtype} is not numeric")
        if arr.dtype.name == "float16":
            arr = arr.astype("float32")
        if shape is None:
            # The rank is fixed; lengths stay free so set_value may change them.
            shape = (None,) * arr.ndim
        super().__init__(TensorType(arr.dtype, shape), name=name)
        # C order: compiled kernels are specialised on memory layout, so one layout for every
        # value a shared variable holds means one specialisation (no recompiling mid-training)
        self.container = [_c_order(arr)]
        self.lock = threading.Lock()

    def get_value(self, borrow: bool = False) -> np.ndarray:
        if borrow:
            return self.container[0]
        with self.lock:
            return self.container[0].copy()

    def set_value(self, value, borrow: bool = False) -> None:
        name = f"shared variable {self.name!r}" if self.name else "shared variable"
        arr = filter_value(self.type, value, name, allow_downcast=False)
        if arr is value and not borrow:
            arr = arr.copy()
        arr = _c_order(arr)
        with self.lock:  # not between a call's in-place write and its commit
            self.container[0] = arr

    @property
    def value(self):
        return self.get_value()

    def assign(self, value) -> None:
        """Keras's spelling of :meth:`set_value` (the value is converted to the dtype)."""
        self.set_value(np.asarray(value, dtype=self.dtype))

    def numpy(self) -> np.ndarray:
        """Keras's spelling of :meth:`get_value`."""
        return self.get_value()

    def __float__(self):
        if self.ndim != 0:
            raise TypeError(f"float() of the {self.ndim}-d shared variable {self!r}")
        return float(self.container[0])

    def __repr__(self):
        return self.name or f"<shared {self.type.short()}>"

    def __getstate__(self):
        state = super().__getstate__()
        del state["lock"]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self.lock = threading.Lock()


class Apply:
    """One application of an Op to input variables, producing output variables."""

    __slots__ = ("op", "inputs", "outputs", "__weakref__")

    def __init__(self, op: Op, inputs: Sequence[Variable], outputs: Sequence[Variable]):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for i, out in enumerate(self.outputs):
            out.owner = self
            out.index = i

    @property
    def out(self) -> Variable:
        (out,) = self.outputs
        return out

    def __repr__(self):
        return f"Apply({self.op}, {len(self.inputs)} inputs)"

    def __reduce__(self):
        # through an output, whose graph pickles flat (see Variable.__reduce_ex__)
        return (_owner_of, (self.outputs[0],))


class MissingNumbaImplementation(TypeError):
    """An op in the graph has no Numba implementation (nothing falls back to object mode)."""


class Op:
    """Base of all ops: the whole contract an op family implements, with its defaults.

    Subclasses are frozen dataclasses whose fields are their props: equal props make equal
    ops (what CSE and the kernel cache rely on). Every stage of the compiler asks the op and
    never lists op classes:

    - :meth:`make_node` (required) checks the inputs and builds the :class:`Apply` node,
      with the outputs' static types;
    - :meth:`perform` (required) computes the outputs with NumPy: the reference backend;
    - :meth:`grad`: the gradient graph (default: no gradient);
    - :meth:`infer_shape`: the lengths of the outputs' axes from the inputs', for the shape
      analysis of the rewrites (default: nothing known beyond the static types);
    - :meth:`numba_lines`, with :meth:`numba_impl` as the short form: the op's code in the
      generated kernel; :meth:`numba_data`: values the kernel receives as arguments for it;
      :meth:`numba_checks`/:meth:`numba_body`: the same code split so that equal nodes share
      one function of the kernel module;
    - :meth:`inner_graphs`: the graphs an op runs inside itself (scan's step, ifelse's
      branches), which the compiler rewrites and compiles with the outer graph;
    - printing: ``pp_name``, ``infix``, :meth:`name_for_pp`, :meth:`pp_args`.
    """

    #: name used by pp for call-style printing; defaults to the lower-cased class name
    pp_name: str | None = None
    #: how many outputs make_node produces when it is not 1 (informational)
    default_output: int | None = 0

    def props(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self)) if hasattr(self, "__dataclass_fields__") else ()

    def __call__(self, *inputs, **kwargs):
        node = self.make_node(*inputs, **kwargs)
        if len(node.outputs) == 1:
            return node.outputs[0]
        return list(node.outputs)

    def make_node(self, *inputs) -> Apply:
        """Check ``inputs`` (variables or values) and return the node applying this op."""
        raise NotImplementedError(f"{type(self).__name__}.make_node")

    def perform(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """The outputs for concrete ``inputs``, computed with NumPy."""
        raise NotImplementedError(f"{type(self).__name__}.perform")

    def grad(self, inputs, output_grads):
        """Symbolic gradients of a scalar cost with respect to ``inputs``, given its gradients
        with respect to the outputs (None for an output the cost does not depend on). One
        entry per input: a variable, or None where the input is disconnected."""
        raise TypeError(f"{self} has no gradient")

    def infer_shape(self, node, input_lengths: list[tuple], lengths) -> list[tuple] | None:
        """The lengths of the axes of each output of ``node``, or None if the op tells nothing
        beyond the outputs' static shapes.

        ``input_lengths`` has one tuple per input, a length per axis: an int where it is known,
        else an opaque symbolic length that only ``lengths`` interprets. ``lengths`` is the
        shape analysis (:class:`symnet.compiler.rewrite.utils.ShapeInfo`): its
        ``broadcast(column, out, axis)`` combines the lengths of inputs broadcast together,
        ``from_vector(vec, out)`` reads the lengths a shape vector holds, ``scalar(s)`` the
        length an int scalar holds, ``fresh(var, axis)`` names a length nothing else
        determines, and ``assume_equal(a, b)`` records two lengths the op requires to be equal
        (its run-time check fails otherwise).
        """
        return None

    def numba_impl(self, node, names: list[str]) -> str:
        """A Python expression over the input names computing the output(s) in the kernel."""
        raise MissingNumbaImplementation(
            f"numba backend: {self} has no numba_impl; use mode='python' or implement it")

    def numba_lines(self, node, names: list[str], outs: list[str], data_names=()) -> list[str]:
        """The kernel source lines assigning the outputs ``outs`` from the inputs ``names``
        (and the values of :meth:`numba_data`, bound to ``data_names``). By default one
        assignment from :meth:`numba_impl`."""
        return [f"{', '.join(outs)} = {self.numba_impl(node, names)}"]

    def numba_data(self, node) -> list:
        """Values (arrays, scalars) the kernel receives as arguments for ``node``, so that its
        code does not depend on them: one compiled kernel serves every value."""
        return []

    def numba_checks(self, node, names: list[str]) -> list[str]:
        """The lines of :meth:`numba_lines` that check the inputs; an op that overrides this
        and :meth:`numba_body` lets equal nodes that read differently named values share one
        function of the kernel module (the checks stay in the caller, with their names)."""
        return []

    def numba_body(self, node, names: list[str], outs: list[str], data_names=()) -> list[str]:
        """:meth:`numba_lines` without the lines of :meth:`numba_checks`."""
        return self.numba_lines(node, names, outs, data_names)

    def inner_graphs(self) -> tuple:
        """The graphs this op runs inside itself (none by default)."""
        return ()

    def name_for_pp(self) -> str:
        return self.pp_name or type(self).__name__.lower()

    def pp_args(self) -> list[str]:
        """Extra keyword arguments pp shows after the inputs, e.g. ['axis=1']."""
        out = []
        if hasattr(self, "__dataclass_fields__"):
            for f in fields(self):
                value = getattr(self, f.name)
                if f.default is not None and value == f.default:
                    continue
                if value is None:
                    continue
                out.append(f"{f.name}={value}")
        return out

    def __str__(self):
        args = ", ".join(self.pp_args())
        return f"{type(self).__name__}{{{args}}}" if args else type(self).__name__


# --- constructors of symbolic inputs and constants ---------------------------------------------


def tensor(dtype="float64", shape=(None, None), name=None) -> Variable:
    """A symbolic input of ``dtype`` and static ``shape`` (None = any length).

    Examples
    --------
    >>> tensor('float32', shape=(None, 3), name='x').type
    TensorType(float32, (?, 3))
    """
    if isinstance(shape, int):
        shape = (None,) * shape
    return TensorType(dtype, shape)(name)


def _constructor(ndim: int, default_dtype: str | None):
    def make(name=None, dtype=None):
        dtype = dtype or default_dtype or "floatX"
        return TensorType(dtype, (None,) * ndim)(name)

    return make


def _plural(single):
    def make(*names, dtype=None):
        if len(names) == 1 and isinstance(names[0], int):
            names = [None] * names[0]
        return tuple(single(n, dtype=dtype) for n in names)

    return make


_RANKS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4}
_PREFIXES = {"d": "float64", "f": "float32", "i": "int32", "l": "int64", "b": "int8"}
_PLURALS = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "tensor3": "tensor3s",
            "tensor4": "tensor4s"}

scalar = _constructor(0, None)
vector = _constructor(1, None)
matrix = _constructor(2, None)
tensor3 = _constructor(3, None)
tensor4 = _constructor(4, None)
scalars, vectors, matrices = _plural(scalar), _plural(vector), _plural(matrix)

for _prefix, _dtype in _PREFIXES.items():
    for _kind, _ndim in _RANKS.items():
        _single = _constructor(_ndim, _dtype)
        _single.__name__ = _prefix + _kind
        _single.__doc__ = f"A symbolic {_dtype} {_kind} input (``{_prefix}{_kind}('name')``)."
        globals()[_prefix + _kind] = _single
        _many = _plural(_single)
        _many.__name__ = _prefix + _PLURALS[_kind]
        _many.__doc__ = f"Several {_dtype} {_kind} inputs: ``{_prefix}{_PLURALS[_kind]}('a', 'b')``."
        globals()[_prefix + _PLURALS[_kind]] = _many
del _prefix, _dtype, _kind, _ndim, _single, _many


def constant(value, name=None, dtype=None) -> Constant:
    """A constant tensor holding ``value`` (copied, read-only).

    Python floats become float64 and Python ints int64 unless ``dtype`` says otherwise.
    """
    if isinstance(value, Variable):
        raise TypeError(f"constant() needs a value, got the symbolic variable {value!r}")
    arr = np.asarray(value, dtype=dtype)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"constant: unsupported value of dtype {arr.dtype}")
    arr = arr.astype(normalize_dtype(arr.dtype), copy=False)
    return Constant(TensorType(arr.dtype, arr.shape), arr, name=name)


def as_tensor(value, name=None, ndim=None, dtype=None) -> Variable:
    """Return ``value`` as a symbolic variable: variables pass through, data becomes a constant."""
    if isinstance(value, Variable):
        var = value
        if dtype is not None and var.dtype != normalize_dtype(dtype):
            var = tensor_functions.cast(var, dtype)
    elif isinstance(value, (list, tuple)) and any(isinstance(v, Variable)
                                                  for v in _flatten_nested(value)):
        var = tensor_functions.stack([as_tensor(v) for v in value])
        if dtype is not None:
            var = tensor_functions.cast(var, dtype)
    else:
        var = constant(value, name=name, dtype=dtype)
    if ndim is not None and var.ndim != ndim:
        raise TypeError(f"expected a {ndim}-d tensor, got {var.ndim}-d {var!r}")
    return var


as_tensor_variable = as_tensor

tensor_functions.register(as_tensor, constant)


def _flatten_nested(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten_nested(item)
        else:
            yield item


# --- graph walking ---------------------------------------------------------------------------

def as_variable_list(outputs) -> list[Variable]:
    if isinstance(outputs, Variable):
        return [outputs]
    return list(outputs)


def toposort(outputs: Iterable[Variable] | Variable, stop: Iterable[Variable] = ()) -> list[Apply]:
    """Apply nodes needed for ``outputs`` in dependency order (iterative: deep graphs are fine).

    Variables in ``stop`` are treated as inputs: their owners are not visited.
    """
    outputs = as_variable_list(outputs)
    stop_ids = {id(v) for v in stop}
    order: list[Apply] = []
    done: set[int] = set()
    visiting: set[int] = set()
    stack: list[tuple[Apply, int]] = []
    for out in outputs:
        node = out.owner
        if node is None or id(node) in done or id(out) in stop_ids:
            continue
        stack.append((node, 0))
        visiting.add(id(node))
        while stack:
            node, i = stack[-1]
            if i < len(node.inputs):
                stack[-1] = (node, i + 1)
                inp = node.inputs[i]
                parent = inp.owner
                if parent is None or id(inp) in stop_ids or id(parent) in done:
                    continue
                if id(parent) in visiting:
                    raise ValueError("the graph has a cycle")
                visiting.add(id(parent))
                stack.append((parent, 0))
            else:
                stack.pop()
                visiting.discard(id(node))
                done.add(id(node))
                order.append(node)
    return order


def ancestors(outputs, stop: Iterable[Variable] = ()) -> list[Variable]:
    """Every variable ``outputs`` depend on (including themselves), inputs first."""
    outputs = as_variable_list(outputs)
    seen: dict[int, Variable] = {}
    for node in toposort(outputs, stop):
        for var in node.inputs:
            seen.setdefault(id(var), var)
        for var in node.outputs:
            seen.setdefault(id(var), var)
    for var in outputs:
        seen.setdefault(id(var), var)
    return list(seen.values())


def graph_inputs(outputs, stop: Iterable[Variable] = ()) -> list[Variable]:
    """Ownerless variables (inputs, constants, shared variables) ``outputs`` depend on."""
    stop_ids = {id(v) for v in stop}
    result, seen = [], set()
    for var in ancestors(outputs, stop):
        if (var.owner is None or id(var) in stop_ids) and id(var) not in seen:
            seen.add(id(var))
            result.append(var)
    return result


def clone_replace(outputs, replace: dict[Variable, Variable] | None = None,
                  *, copy_inputs: bool = False) -> list[Variable]:
    """Rebuild the graph of ``outputs`` with ``replace`` applied; the original is untouched.

    Nodes whose inputs did not change are rebuilt too (so the result shares no Apply with the
    original), unless nothing changed and ``copy_inputs`` is False, in which case the
    original variables come back. Ownerless variables are kept unless ``copy_inputs``.
    """
    outputs = as_variable_list(outputs)
    replace = dict(replace or {})
    memo: dict[int, Variable] = {id(k): v for k, v in replace.items()}
    for node in toposort(outputs, stop=replace.keys()):
        for inp in node.inputs:
            if id(inp) not in memo:
                if inp.owner is None and copy_inputs and not isinstance(inp, (Constant, SharedVariable)):
                    memo[id(inp)] = inp.copy()
                else:
                    memo[id(inp)] = inp
        new_inputs = [memo[id(i)] for i in node.inputs]
        new_node = node.op.make_node(*new_inputs)
        for old, new in zip(node.outputs, new_node.outputs):
            if old.name is not None and new.name is None:
                new.name = old.name
            new.tag["trace"] = old.tag.get("trace")
            memo[id(old)] = new
    return [memo.get(id(o), o) for o in outputs]


def is_constant(var: Variable, value=None) -> bool:
    """True if ``var`` is a Constant (and, if ``value`` is given, every element equals it)."""
    if not isinstance(var, Constant):
        return False
    if value is None:
        return True
    return bool(np.all(var.data == value)) and var.data.size > 0


def owner_op(var: Variable):
    return var.owner.op if var.owner is not None else None
