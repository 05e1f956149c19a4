"""Pipeline entry and exit: ``function()`` builds a FunctionGraph from the user's inputs,
outputs, updates and givens, runs the rewrite passes, hands the graph to a backend, and wraps
the result in a :class:`Function` whose call path binds and checks arguments, runs the kernel
and commits shared-variable updates only after the kernel succeeded.
"""

from __future__ import annotations

import io
import os
import threading
import time
import warnings
from collections.abc import Mapping

import numpy as np

from symnet.compiler import background, warmup
from symnet.compiler.backends.numba import compile_numba
from symnet.compiler.backends.python import compile_python
from symnet.compiler.backends.tier0 import Tier0Program
from symnet.compiler.callpath import Runner, build_call
from symnet.compiler.fgraph import FunctionGraph
from symnet.compiler.rewrite.passes import rewrite_fgraph
from symnet.config import SymnetWarning, config
from symnet.graph import (
    Constant,
    SharedVariable,
    Variable,
    as_tensor,
    clone_replace,
    filter_value,
    graph_inputs,
    tensor_functions,
    without_gc,
)
from symnet.ops.math import cast
from symnet.printing import debugprint

_MISSING = object()


class UnusedInputError(ValueError):
    """An input no output depends on (see ``on_unused_input``)."""


class MissingInputError(ValueError):
    """The outputs need a variable that is neither an input nor shared nor constant."""


class LockGroup:
    """Many locks held as one context manager: taken in the given order, released in reverse.

    A ``with`` statement naming each lock nests one block per lock, and Python compiles at
    most 20 statically nested blocks, so a training step that touches a whole model's shared
    variables holds them through this one object instead.
    """

    __slots__ = ("locks",)

    def __init__(self, locks):
        self.locks = tuple(locks)

    def __enter__(self):
        taken = 0
        try:
            for lock in self.locks:
                lock.acquire()
                taken += 1
        except BaseException:
            # interrupted while waiting: give back what was taken, in reverse
            for lock in reversed(self.locks[:taken]):
                lock.release()
            raise
        return self

    def __exit__(self, *exc_info):
        for lock in reversed(self.locks):
            lock.release()
        return False


#: under config.compile='background', a function whose tier 0 would first compile more than
#: this many shared kernels (a machine whose cache lacks them) compiles its own kernel instead
TIER0_MAX_UNCOMPILED = 4


class In:
    """A function input with an optional default value and keyword name.

    Examples
    --------
    >>> import symnet as sn, symnet.tensor as T
    >>> x, y = T.dscalars('x', 'y')
    >>> f = sn.function([x, sn.In(y, value=1)], x + y)
    >>> float(f(2)), float(f(2, 5))
    (3.0, 7.0)
    """

    def __init__(self, variable: Variable, value=None, name: str | None = None,
                 borrow: bool = False, mutable: bool = False):
        if not isinstance(variable, Variable):
            raise TypeError(f"In() needs a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.value = value
        self.name = name if name is not None else variable.name
        self.borrow = borrow
        self.mutable = mutable

    @property
    def has_default(self) -> bool:
        return self.value is not None

    def __repr__(self):
        return f"In({self.variable!r}, value={self.value!r}, name={self.name!r})"


def _as_pairs(value, what: str) -> list[tuple]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value.items())
    pairs = list(value)
    for p in pairs:
        if not isinstance(p, (tuple, list)) or len(p) != 2:
            raise TypeError(f"{what} must be a dict or a list of (variable, expression) pairs, got {p!r}")
    return [tuple(p) for p in pairs]


def _may_alias(var: Variable) -> bool:
    """True if the value of ``var`` may share memory with an input, shared value or constant."""
    while var.owner is not None:
        if not getattr(var.owner.op, "may_return_view", False):
            return False
        var = var.owner.inputs[0]
    return True


@without_gc
def function(inputs, outputs=None, updates=None, givens=None, on_unused_input="raise",
             name=None, mode=None, allow_input_downcast=False, trust_input=False,
             exclude=(), rewrite=True, no_default_updates=False):
    """Compile a callable from symbolic ``inputs`` to ``outputs``.

    Parameters
    ----------
    inputs : list of Variable or In
        The arguments, in order. ``In(var, value=..., name=...)`` gives a default and a keyword.
    outputs : Variable or list of Variable
        One variable gives one array back (0-d for scalars); a list gives a list.
    updates : dict or list of (SharedVariable, expression)
        New values for shared variables, committed after the whole call succeeded.
    givens : dict or list of (Variable, expression)
        Substitutions made in the graph before compiling.
    on_unused_input : {'raise', 'warn', 'ignore'}
        What to do with an input no output or update depends on.
    mode : {'numba', 'python'}, optional
        The backend; ``config.mode`` (numba) by default.
    allow_input_downcast : bool
        Accept lossy input conversions (float64 data into a float32 input).
    trust_input : bool
        Skip argument checks: the caller guarantees ndarrays of the right dtype and rank.
    exclude : list of str
        Names of rewrites (or passes) to switch off.
    rewrite : bool
        False runs no rewrite at all (the graph as built).

    Examples
    --------
    >>> import symnet as sn, symnet.tensor as T
    >>> x, y = T.dscalars('x', 'y')
    >>> f = sn.function([x, y], x + y)
    >>> float(f(2, 3))
    5.0
    """
    mode = mode or config.mode
    if mode not in ("numba", "python", "nan_guard"):
        raise ValueError(f"function: unknown mode {mode!r}; use 'numba', 'python' or 'nan_guard'")
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused_input!r}")
    if isinstance(inputs, (Variable, In)):
        inputs = [inputs]
    ins = [i if isinstance(i, In) else In(i) for i in inputs]
    seen_inputs = set()
    for pos, inp in enumerate(ins):
        var = inp.variable
        if isinstance(var, (Constant, SharedVariable)) or var.owner is not None:
            kind = ("a constant" if isinstance(var, Constant) else "a shared variable"
                    if isinstance(var, SharedVariable) else "computed from other variables")
            raise TypeError(
                f"function: input {pos} ({var!r}) is {kind}; inputs must be free symbolic "
                f"variables (use givens to substitute an expression)"
            )
        if id(var) in seen_inputs:
            raise ValueError(f"function: input {pos} ({var!r}) is given twice")
        seen_inputs.add(id(var))

    single = not isinstance(outputs, (list, tuple))
    if outputs is None:
        out_list, single = [], False
    elif single:
        out_list = [as_tensor(outputs)]
    else:
        out_list = [as_tensor(o) for o in outputs]

    update_pairs = []
    for target, expr in _as_pairs(updates, "updates"):
        if not isinstance(target, SharedVariable):
            raise TypeError(f"updates: {target!r} is not a shared variable")
        expr = as_tensor(expr)
        if expr.ndim != target.ndim:
            raise TypeError(
                f"updates: the new value of {target!r} is {expr.ndim}-d ({expr.type.short()}) "
                f"but the shared variable is {target.ndim}-d"
            )
        if expr.dtype != target.dtype:
            if np.can_cast(expr.dtype, target.dtype, casting="same_kind") or allow_input_downcast:
                expr = cast(expr, target.dtype)
            else:
                raise TypeError(
                    f"updates: the new value of {target!r} has dtype {expr.dtype}, the shared "
                    f"variable {target.dtype}"
                )
        update_pairs.append((target, expr))
    targets = [t for t, _ in update_pairs]
    if len({id(t) for t in targets}) != len(targets):
        dup = [t for t in targets if sum(u is t for u in targets) > 1][0]
        raise ValueError(f"updates: {dup!r} is updated twice in one function")

    given_pairs = []
    for old, new in _as_pairs(givens, "givens"):
        if not isinstance(old, Variable):
            raise TypeError(f"givens: {old!r} is not a symbolic variable")
        new = as_tensor(new)
        if new.ndim != old.ndim:
            raise TypeError(f"givens: {old!r} is {old.ndim}-d but its replacement is {new.ndim}-d")
        if new.dtype != old.dtype:
            new = cast(new, old.dtype)
        given_pairs.append((old, new))

    # Default updates (random streams) for shared variables read but not updated explicitly.
    if not no_default_updates:
        pending = out_list + [e for _, e in update_pairs]
        done = {id(t) for t in targets}
        while pending:
            added = []
            for var in graph_inputs(pending):
                default = getattr(var, "default_update", None)
                if isinstance(var, SharedVariable) and default is not None and id(var) not in done:
                    done.add(id(var))
                    update_pairs.append((var, default))
                    added.append(default)
            pending = added

    all_outputs = out_list + [e for _, e in update_pairs]
    if given_pairs:
        all_outputs = clone_replace(all_outputs, dict(given_pairs))

    # Which inputs are used, and is anything missing?
    needed = graph_inputs(all_outputs)
    needed_ids = {id(v) for v in needed}
    input_vars = [i.variable for i in ins]
    for pos, inp in enumerate(ins):
        if id(inp.variable) not in needed_ids:
            message = (f"function: input {pos} ({inp.variable!r}) is not used to compute any output "
                       f"or update (pass on_unused_input='ignore' to allow this)")
            if on_unused_input == "raise":
                raise UnusedInputError(message)
            if on_unused_input == "warn":
                warnings.warn(message, SymnetWarning, stacklevel=2)
    input_ids = {id(v) for v in input_vars}
    shared_read = []
    for var in needed:
        if isinstance(var, SharedVariable):
            shared_read.append(var)
        elif not isinstance(var, Constant) and id(var) not in input_ids:
            raise MissingInputError(
                f"function: {var!r} ({var.type.short()}) is needed to compute the outputs but is "
                f"not among the inputs {[i.variable for i in ins]}"
            )

    fgraph = FunctionGraph(input_vars + shared_read, all_outputs)
    compiled = Function(ins, fgraph, n_outputs=len(out_list), single=single,
                        updated=[t for t, _ in update_pairs], shared_read=shared_read, mode=mode,
                        name=name, allow_input_downcast=allow_input_downcast,
                        trust_input=trust_input, exclude=tuple(exclude), rewrite=rewrite)
    # what pickling sends: the user's graph, rebuilt and compiled again on arrival
    compiled.spec = {
        "inputs": ins, "outputs": outputs, "updates": _as_pairs(updates, "updates"),
        "givens": _as_pairs(givens, "givens"), "on_unused_input": on_unused_input, "name": name,
        "mode": mode, "allow_input_downcast": allow_input_downcast, "trust_input": trust_input,
        "exclude": tuple(exclude), "rewrite": rewrite, "no_default_updates": no_default_updates,
    }
    return compiled


def _function_from_spec(spec: dict) -> Function:
    return function(**spec)


class Function:
    """A compiled function: call it with input values; see :func:`function`."""

    def __init__(self, ins, fgraph, *, n_outputs, single, updated, shared_read, mode, name,
                 allow_input_downcast, trust_input, exclude, rewrite):
        self.ins = ins
        self.fgraph = fgraph
        self.n_outputs = n_outputs
        self.single = single
        self.updated = updated
        self.shared_read = shared_read
        self.mode = mode
        self.name = name or "function"
        self.allow_input_downcast = allow_input_downcast
        self.trust_input = trust_input
        self.exclude = exclude
        # the locks of the shared variables the call reads or updates, in creation order
        touched = {id(v): v for v in list(shared_read) + list(updated)}
        self.locks = [v.lock for v in sorted(touched.values(), key=lambda v: v.id)]
        # the graph as built, kept to explain run-time failures with the reference backend
        self.reference_fgraph = FunctionGraph(fgraph.inputs, fgraph.outputs) if mode == "numba" else fgraph
        self._reference_run = None
        # which kernel input each update overwrites (the inplace pass may write it in place)
        positions = {id(v): k for k, v in enumerate(fgraph.inputs)}
        fgraph.update_targets = {n_outputs + i: positions[id(shared)]
                                 for i, shared in enumerate(updated) if id(shared) in positions}
        # nan_guard runs the graph as the user built it, so the node it names is theirs
        self.report = rewrite_fgraph(fgraph, mode=mode, exclude=exclude,
                                     enabled=rewrite and mode != "nan_guard")
        start = time.perf_counter()
        if mode in ("python", "nan_guard"):
            run = compile_python(fgraph, nan_guard=mode == "nan_guard")
            self.kernel = Runner(entry=lambda *values: run(values))
            self.source = None
        else:
            self.kernel, self.source = compile_numba(fgraph)
        self.report.compile_seconds = time.perf_counter() - start

        self.n_inputs = len(ins)
        self.input_types = [i.variable.type for i in ins]
        self.input_names = [i.name for i in ins]
        self.name_to_index = {}
        for pos, inp in enumerate(ins):
            if inp.name is not None and inp.name not in self.name_to_index:
                self.name_to_index[inp.name] = pos
        self.defaults = []
        for pos, inp in enumerate(ins):
            if inp.has_default:
                self.defaults.append(self.filter_input(pos, inp.value))
            else:
                self.defaults.append(_MISSING)
        outputs = fgraph.outputs
        seen = set()
        self.copy_output = []
        update_ids = {id(v) for v in outputs[n_outputs:]}
        for var in outputs[:n_outputs]:
            self.copy_output.append(_may_alias(var) or id(var) in seen or id(var) in update_ids)
            seen.add(id(var))
        self.copy_update = [_may_alias(v) for v in outputs[n_outputs:]]
        self.lock_group = LockGroup(self.locks)
        self.tier = 1 if mode == "numba" else None
        self.tier_reason = f"mode={mode!r}: the reference interpreter" if mode != "numba" else ""
        self._tier1 = self.kernel
        self._job = None
        self._notice: str | None = None
        self._promote_lock = threading.Lock()
        if mode == "numba":
            self._choose_tier()
        self._call = self._build_call(self.kernel)
        if mode == "numba":
            # Calls go straight to the generated call path: Python looks __call__ up on the
            # type, so each compiled function gets a subclass whose __call__ is that path
            # (saves a bound-method hop, about 0.15 us of a sub-microsecond call).
            self.__class__ = type("Function", (Function,), {"__call__": staticmethod(self._call)})
            if self._job is not None:
                background.submit(self._job)

    # --- tiers --------------------------------------------------------------------------------
    def _shared_values(self) -> list:
        return [s.container[0] for s in self.shared_read]

    def _choose_tier(self) -> None:
        """Tier 1 if the kernel is compiled (in this process or on disk) or the policy is
        'wait'; otherwise tier 0, with the kernel compiling in the background unless the
        policy is 'never' (see ``config.compile``)."""
        policy = config.compile
        if policy not in ("background", "wait", "never"):
            raise ValueError(f"config.compile must be 'background', 'wait' or 'never', got "
                             f"{policy!r}")
        self._signature = self._tier1.signature(self.fgraph, self._shared_values())
        if policy != "never" and self._tier1.load_cached(self._signature):
            self.tier_reason = "its kernel was compiled already (this process or the disk cache)"
            return
        if policy == "wait":
            self.tier_reason = "config.compile='wait': the first call compiles the kernel"
            return
        warmup.ensure_started()  # once per machine: tier 0's shared kernels, in the background
        start = time.perf_counter()
        program = Tier0Program(self.fgraph)
        self.report.compile_seconds += time.perf_counter() - start
        if policy == "background" and len(program.uncompiled) > TIER0_MAX_UNCOMPILED:
            # a cold machine: tier 0 would compile that many small functions in this process
            # (each about as long as a small kernel) while the kernel compiles beside it on
            # the other core; compiling the kernel alone answers sooner
            self.tier_reason = (f"tier 0 would first compile {len(program.uncompiled)} shared "
                                f"kernels no process compiled yet (a cold cache); the first "
                                f"call compiles the kernel")
            return
        self.kernel = program
        self.tier = 0
        if policy == "never":
            self.tier_reason = "config.compile='never': node by node on shared kernels"
            return
        job = background.CompileJob(self._tier1.module_path, self._tier1.module_name,
                                    self._signature, self._background_done,
                                    config.compile_timeout)
        if os.path.exists(job.marker):
            self.tier_reason = (f"an earlier compile of its kernel ran out of time; it stays on "
                                f"tier 0 (f.wait() compiles it here; delete {job.marker} to "
                                f"try again in the background)")
            self._notice = f"{self.name}: {self.tier_reason}"
            return
        self.tier_reason = "its kernel is compiling in the background"
        self._job = job

    def _background_done(self, job) -> None:
        """On the compile thread when the worker finished: swap the kernel in, or report."""
        if job.error is None:
            try:
                self._promote()
                return
            except Exception as exc:  # noqa: BLE001 - reported on the next call instead
                job.error = f"{type(exc).__name__}: {exc}"
        self.tier_reason = f"its kernel failed to compile ({job.error}); it stays on tier 0"
        self._notice = f"{self.name}: {self.tier_reason}"

    def _promote(self) -> None:
        """Load (or compile) the kernel and switch calls to it between two calls: the switch
        holds the shared variables' locks, so no call touching them is half way through."""
        with self._promote_lock:
            if self.tier == 1:
                return
            kernel = self._tier1
            if not kernel.load_cached(self._signature):
                kernel.compile(self._signature)
            fast = self._build_call(kernel)
            with self.lock_group:
                self.kernel = kernel
                self._call = fast
                type(self).__call__ = staticmethod(fast)
                self.tier = 1
                self.tier_reason = "its kernel compiled in the background and replaced tier 0"

    def wait(self, timeout: float | None = None) -> "Function":
        """Block until the function runs on its kernel (tier 1): wait for the background
        compile, or compile here when none is running (``config.compile='never'``, a forked
        child, an earlier timeout). Returns the function. A kernel that failed to compile
        leaves it on tier 0 with a ``SymnetWarning``."""
        if self.tier != 0:
            return self
        job = self._job
        if job is not None and job.pid == os.getpid() and not job.cancelled:
            job.done.wait(timeout)
        else:
            self._promote()
        self._warn_notice()
        return self

    def _build_call(self, kernel):
        """The call path on ``kernel`` (the tier-1 kernel, a tier-0 program or the reference
        interpreter's runner): see :mod:`symnet.compiler.callpath`."""
        if isinstance(kernel, Runner):
            return build_call(self, kernel)
        if self.tier == 0:
            return build_call(self, kernel.runner, prologue=self._report_notice)
        return build_call(self, kernel.runner)

    def _report_notice(self) -> None:
        if self._notice is not None:
            self._warn_notice(stacklevel=4)  # the user's call, behind the call path

    def _warn_notice(self, stacklevel: int = 3) -> None:
        notice, self._notice = self._notice, None
        if notice is not None:
            warnings.warn(notice, SymnetWarning, stacklevel=stacklevel)

    # --- the call path ------------------------------------------------------------------------
    def _describe_input(self, pos: int) -> str:
        name = self.input_names[pos]
        return f"{self.name}: input {pos}" + (f" ({name!r})" if name else "")

    def filter_input(self, pos: int, value) -> np.ndarray:
        ttype = self.input_types[pos]
        if (type(value) is np.ndarray and value.dtype.name == ttype.dtype
                and ttype.is_compatible_shape(value.shape)):
            return value
        return filter_value(ttype, value, self._describe_input(pos), self.allow_input_downcast)

    def bind(self, args, kwargs) -> list:
        n = len(args)
        if n > self.n_inputs:
            raise TypeError(f"{self.name}() takes {self.n_inputs} arguments but {n} were given")
        values = list(args) + [_MISSING] * (self.n_inputs - n)
        for key, value in kwargs.items():
            pos = self.name_to_index.get(key)
            if pos is None:
                raise TypeError(
                    f"{self.name}() got an unexpected keyword argument {key!r}; "
                    f"keywords are {sorted(self.name_to_index)}"
                )
            if values[pos] is not _MISSING:
                raise TypeError(f"{self.name}() got multiple values for argument {key!r} (input {pos})")
            values[pos] = value
        for pos, value in enumerate(values):
            if value is _MISSING:
                default = self.defaults[pos]
                if default is _MISSING:
                    name = self.input_names[pos]
                    raise TypeError(
                        f"{self.name}() missing a value for input {pos}"
                        + (f" ({name!r})" if name else "")
                        + f" ({self.input_types[pos].short()})"
                    )
                values[pos] = default
            elif not self.trust_input:
                values[pos] = self.filter_input(pos, value)
        return values

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def failure(self, args, exc: Exception) -> Exception:
        """The exception a call with ``args`` that raised ``exc`` reports (see
        :meth:`explain_failure`)."""
        values = self.bind(args, {})
        values.extend(s.container[0] for s in self.shared_read)
        return self.explain_failure(values, exc)

    def explain_failure(self, values, exc: Exception) -> Exception:
        """The compiled kernel raised: rerun the graph as built on the reference backend, whose
        error names the op, its inputs' shapes and the line that created it."""
        if self.mode != "numba" or getattr(exc, "symnet_node", None) is not None:
            return exc
        if self._reference_run is None:
            self._reference_run = compile_python(self.reference_fgraph)
        try:
            self._reference_run(values)
        except Exception as reference_exc:
            return reference_exc.with_traceback(None)  # no frames from inside symnet
        return exc

    # --- introspection ------------------------------------------------------------------------
    @property
    def maker(self):
        return self

    @property
    def inputs(self):
        return [i.variable for i in self.ins]

    @property
    def outputs(self):
        return self.fgraph.outputs[: self.n_outputs]

    def explain(self, print_=True) -> str:
        """Which rewrites fired, node counts and time per pass, and the final graph."""
        buf = io.StringIO()
        tier = {0: "tier 0 (node by node on kernels shared by every graph)",
                1: "tier 1 (its whole-graph kernel)", None: "the reference interpreter"}
        text = (self.report.format() + f"\nruns on: {tier[self.tier]}, because "
                f"{self.tier_reason}\nfinal graph:\n" + debugprint(self, file=buf))
        if print_:
            print(text)
        return text

    def __repr__(self):
        return f"<symnet.Function {self.name}: {self.n_inputs} inputs, {self.n_outputs} outputs, mode={self.mode}>"

    def __reduce__(self):
        # The graph travels (with the shared variables' current values); the kernel is built
        # again, or loaded from the kernel cache, where it is unpickled.
        return (_function_from_spec, (self.spec,))


tensor_functions.register(function)
