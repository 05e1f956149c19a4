"""Graph rewrites: the engine and pass order live in :mod:`symnet.compiler.rewrite.passes`."""

from symnet.compiler.rewrite.passes import (  # noqa: F401
    PASS_ORDER,
    global_pass,
    local_rewrite,
    rewrite_fgraph,
    rewrite_graph,
)
