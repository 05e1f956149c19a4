"""What generated kernel modules import at run time.

The compiler renders a graph into a module of source text (:mod:`symnet.compiler.backends.numba`)
that calls the op families' helpers and the modules here: the decorator and Numba cache locator
of symnet's helpers (:mod:`~symnet.runtime.kernel`), vectorizable scalar math
(:mod:`~symnet.runtime.vmath`), the vector machine for very large elementwise groups
(:mod:`~symnet.runtime.elemvm`), matrix products through NumPy's BLAS
(:mod:`~symnet.runtime.blas`), the C allocator's tuning (:mod:`~symnet.runtime.allocator`) and
where the kernel cache lives on disk (:mod:`~symnet.runtime.cache_root`).

Modules here import only NumPy, Numba, SciPy, :mod:`symnet.config` and each other, never
:mod:`symnet.compiler` or :mod:`symnet.ops`: the op families and the compiler import them, and
a process that only loads a cached kernel needs nothing more.
"""
