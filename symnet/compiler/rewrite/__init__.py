"""Graph rewrites: the engine and pass order live in :mod:`symnet.compiler.rewrite.passes`;
each module below registers its rewrites into it when imported, so importing this package
(which every importer of a rewrite module does first) loads the whole pipeline."""

from symnet.compiler.rewrite.passes import (  # noqa: F401
    PASS_ORDER,
    global_pass,
    local_rewrite,
    rewrite_fgraph,
    rewrite_graph,
)
from symnet.compiler.rewrite import (  # noqa: F401 - each registers its rewrites
    canonicalize,
    constant_fold,
    cse,
    fuse,
    inplace,
    specialize,
    stabilize,
)
