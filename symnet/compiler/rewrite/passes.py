"""Pipeline stage 2: the rewrite engine, its registry, and the one place pass order is written.

A local rewrite is a function ``(fgraph, node) -> list of replacement outputs | None``
registered into exactly one pass with :func:`local_rewrite`; a global pass is a function
``(fgraph, exclude) -> Counter of fired rewrites | None`` registered with :func:`global_pass`.
Local passes sweep the graph (outputs first) until no rewrite fires; reaching
``MAX_ITERATIONS`` sweeps is an error naming the rewrites that kept firing. A replacement
must keep dtype and rank; its new nodes are merged with equal nodes already in the graph, so
a graph stays merged after cse. Any rewrite or pass can be switched off by name
(``exclude``).
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from dataclasses import dataclass, field

from symnet.compiler.fgraph import FunctionGraph
from symnet.config import config
from symnet.graph import without_gc

PASS_ORDER = (
    "canonicalize",   # one normal form: flatten add/mul, constants first, x - y -> x + -y
    "constant_fold",  # evaluate all-constant nodes with Op.perform
    "cse",            # merge nodes with equal op and equal inputs
    "stabilize",      # log(1 + x) -> log1p(x), log(softmax(x)) -> log_softmax(x)
    "specialize",     # x ** 2 -> sqr(x), sum(x * y) over vectors -> dot
    "fuse_elemwise",  # collapse elementwise subgraphs into one fused loop
    "inplace",        # reuse an input buffer only if nothing else reads it (not inputs/shared)
)

#: passes that only make sense for the compiled backend
BACKEND_PASSES = {"fuse_elemwise", "inplace"}

#: the modules that register rewrites (imported on first use)
_PASS_MODULES = (
    "symnet.compiler.rewrite.canonicalize",
    "symnet.compiler.rewrite.control",  # canonicalize for scan and ifelse
    "symnet.compiler.rewrite.constant_fold",
    "symnet.compiler.rewrite.cse",
    "symnet.compiler.rewrite.stabilize",
    "symnet.compiler.rewrite.specialize",
    "symnet.compiler.rewrite.fuse",
    "symnet.compiler.rewrite.inplace",
)

MAX_ITERATIONS = 50

LOCAL_REWRITES: dict[str, list] = {name: [] for name in PASS_ORDER}
GLOBAL_PASSES: dict[str, object] = {}


class RewriteLoopError(RuntimeError):
    """Local rewrites kept firing past MAX_ITERATIONS (two rewrites undoing each other)."""


def local_rewrite(pass_name: str, tracks=None):
    """Register a local rewrite into ``pass_name``; ``tracks`` lists ops (or op classes) it
    matches, so the engine only calls it on those nodes."""
    if pass_name not in LOCAL_REWRITES:
        raise ValueError(f"unknown pass {pass_name!r}; passes are {PASS_ORDER}")

    def register(fn):
        fn.tracks = tuple(tracks) if tracks else None
        LOCAL_REWRITES[pass_name].append(fn)
        return fn

    return register


def global_pass(pass_name: str):
    """Register ``fn(fgraph)`` as the whole of pass ``pass_name``."""
    if pass_name not in PASS_ORDER:
        raise ValueError(f"unknown pass {pass_name!r}; passes are {PASS_ORDER}")

    def register(fn):
        GLOBAL_PASSES[pass_name] = fn
        return fn

    return register


def _load_passes():
    for module in _PASS_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


@dataclass
class PassReport:
    name: str
    nodes_before: int
    nodes_after: int = 0
    seconds: float = 0.0
    fired: Counter = field(default_factory=Counter)


@dataclass
class RewriteReport:
    passes: list[PassReport] = field(default_factory=list)
    compile_seconds: float = 0.0

    def format(self) -> str:
        lines = ["pass             nodes before -> after   seconds   rewrites fired"]
        for p in self.passes:
            fired = ", ".join(f"{k} x{v}" for k, v in sorted(p.fired.items())) or "-"
            lines.append(f"{p.name:<16} {p.nodes_before:>6} -> {p.nodes_after:<8} {p.seconds:8.4f}   {fired}")
        lines.append(f"backend compile: {self.compile_seconds:.4f} s")
        return "\n".join(lines)


def _matches(rewrite, op) -> bool:
    tracks = rewrite.tracks
    if tracks is None:
        return True
    for t in tracks:
        if isinstance(t, type):
            if isinstance(op, t):
                return True
        elif t == op:
            return True
    return False


def _new_nodes(fgraph: FunctionGraph, var) -> list:
    """The nodes behind ``var`` that ``fgraph`` does not hold yet, inputs first."""
    order, seen, stack = [], set(), [(var, False)]
    input_ids = None
    while stack:
        v, expanded = stack.pop()
        node = v.owner
        if node is None or node in fgraph.nodes:
            continue
        if expanded:
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
            continue
        if input_ids is None:
            input_ids = {id(i) for i in fgraph.inputs}
        if id(v) in input_ids or id(node) in seen:
            continue
        stack.append((v, True))
        stack.extend((i, False) for i in node.inputs)
    return order


def merge_with_existing(fgraph: FunctionGraph, var):
    """``var`` with every node a rewrite just built that equals a node of ``fgraph`` (equal
    op, identical inputs) replaced by that node, so the graph stays merged after cse."""
    if var.owner is None or var.owner in fgraph.nodes:
        return var
    memo: dict = {}
    for node in _new_nodes(fgraph, var):
        # fresh nodes are not in the graph yet: pointing them at merged inputs is safe
        node.inputs = [memo.get(id(i), i) for i in node.inputs]
        if not node.inputs or getattr(node.op, "nondeterministic", False):
            continue
        for client, _ in fgraph.clients.get(node.inputs[0], ()):
            if (client != "output" and client is not node and client.op == node.op
                    and len(client.inputs) == len(node.inputs)
                    and all(a is b for a, b in zip(client.inputs, node.inputs))):
                for old, new in zip(node.outputs, client.outputs):
                    memo[id(old)] = new
                break
    return memo.get(id(var), var)


def run_local_pass(fgraph: FunctionGraph, pass_name: str, rewrites, report: PassReport) -> None:
    """Apply ``rewrites`` to every node until none fires (bounded by MAX_ITERATIONS)."""
    if not rewrites:
        return
    for _ in range(MAX_ITERATIONS):
        changed = False
        # Outputs first: a rewrite that takes in a whole tree (a flattened sum, say) then
        # meets the tree's root before its inner nodes, which it leaves alone; inputs first
        # would rebuild the tree once per level as it grows, quadratic on long chains.
        for node in reversed(fgraph.toposort()):
            if node not in fgraph.nodes:
                continue  # replaced earlier in this sweep
            for rewrite in rewrites:
                if not _matches(rewrite, node.op):
                    continue
                replacement = rewrite(fgraph, node)
                if replacement is None:
                    continue
                if len(replacement) != len(node.outputs):
                    raise RuntimeError(f"{pass_name}/{rewrite.__name__} returned {len(replacement)} "
                                       f"outputs for {len(node.outputs)}")
                for old, new in zip(node.outputs, replacement):
                    if old.dtype != new.dtype or old.ndim != new.ndim:
                        raise TypeError(
                            f"{pass_name}/{rewrite.__name__} replaced {old.type} by {new.type}"
                        )
                replacement = [merge_with_existing(fgraph, new) for new in replacement]
                if all(old is new for old, new in zip(node.outputs, replacement)):
                    continue  # rebuilt the node it matched: nothing changed
                for old, new in zip(node.outputs, replacement):
                    if old is not new:
                        fgraph.replace(old, new, reason=rewrite.__name__)
                report.fired[rewrite.__name__] += 1
                if config.verbose_rewrites:
                    print(f"{pass_name}/{rewrite.__name__}")
                changed = True
                break
        if not changed:
            return
    raise RewriteLoopError(
        f"pass {pass_name} did not reach a fixed point in {MAX_ITERATIONS} sweeps; rewrites that "
        f"fired: {dict(report.fired)}"
    )


def rewrite_fgraph(fgraph: FunctionGraph, *, mode: str = "numba", exclude=(), enabled=True,
                   passes=None) -> RewriteReport:
    """Run the passes of PASS_ORDER (or ``passes``) on ``fgraph`` in place."""
    _load_passes()
    report = RewriteReport()
    if not enabled:
        return report
    exclude = set(exclude)
    names = PASS_ORDER if passes is None else tuple(p for p in PASS_ORDER if p in passes)
    for name in names:
        if name in exclude or getattr(GLOBAL_PASSES.get(name), "__name__", None) in exclude:
            continue
        if mode == "python" and name in BACKEND_PASSES and passes is None:
            continue
        entry = PassReport(name, nodes_before=len(fgraph.nodes))
        start = time.perf_counter()
        if name in GLOBAL_PASSES:
            fired = GLOBAL_PASSES[name](fgraph, exclude=exclude)
            if fired:
                entry.fired.update(fired)
        else:
            rewrites = [r for r in LOCAL_REWRITES[name] if r.__name__ not in exclude]
            run_local_pass(fgraph, name, rewrites, entry)
        entry.seconds = time.perf_counter() - start
        entry.nodes_after = len(fgraph.nodes)
        report.passes.append(entry)
        if config.check_graph:
            fgraph.validate()
    from symnet.compiler.rewrite.utils import forget_shapes

    forget_shapes(fgraph)
    return report


@without_gc
def rewrite_graph(outputs, passes=None, exclude=(), inputs=None):
    """Rewrite a graph without compiling it; returns the rewritten outputs.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> from symnet.compiler.rewrite import rewrite_graph
    >>> x = T.dvector('x')
    >>> out = rewrite_graph(T.log(1 + x), passes=('stabilize',))
    """
    from symnet.graph import Constant, Variable, graph_inputs

    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    if inputs is None:
        inputs = [v for v in graph_inputs(outs) if not isinstance(v, Constant)]
    fgraph = FunctionGraph(list(inputs), outs)
    rewrite_fgraph(fgraph, mode="python" if passes is None else "numba", exclude=exclude, passes=passes)
    return fgraph.outputs[0] if single else fgraph.outputs
