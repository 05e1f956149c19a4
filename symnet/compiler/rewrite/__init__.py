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
# each registers its rewrites; within a pass they run in the order registered
from symnet.compiler.rewrite import canonicalize  # noqa: F401, I001
from symnet.compiler.rewrite import control  # noqa: F401 - canonicalize for scan and ifelse
from symnet.compiler.rewrite import constant_fold  # noqa: F401
from symnet.compiler.rewrite import cse  # noqa: F401
from symnet.compiler.rewrite import stabilize  # noqa: F401
from symnet.compiler.rewrite import specialize  # noqa: F401
from symnet.compiler.rewrite import fuse  # noqa: F401
from symnet.compiler.rewrite import inplace  # noqa: F401
