"""A small vector machine for very large fused elementwise groups.

Numba's compile time grows with the size of the function it compiles (roughly 10 ms per
generated statement), so a fused loop of thousands of scalar steps (a long chain and its
gradient) would take minutes. Above ``VM_MIN_STEPS`` steps, a fused group whose values are all
floats (or booleans) of one dtype is run instead by :func:`run`: one precompiled interpreter
(cached on disk once, shared by every graph) that executes the group's program as an array of
opcodes, chunk by chunk, each step a short loop over ``CHUNK`` elements that LLVM vectorizes.
A new graph then compiles only its small outer kernel.

Registers are chunk buffers; a step's register is reused once its value is dead. Booleans live
in float registers as 0.0/1.0.
"""

from __future__ import annotations

import numpy as np

from symnet.runtime import vmath
from symnet.runtime.kernel import kernel

VM_MIN_STEPS = 96
CHUNK = 256

_OPS = (
    "add", "sub", "mul", "true_div", "pow", "maximum", "minimum", "neg", "abs", "sign", "exp",
    "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "sqr", "sin", "cos", "tan",
    "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sigmoid", "softplus", "floor", "ceil",
    "round", "eq", "neq", "lt", "gt", "le", "ge", "switch", "identity", "mod", "floor_div",
    "isnan", "isinf", "to_bool", "copy",
)
OPCODES = {name: i for i, name in enumerate(_OPS)}


def opcode_for(rule_name: str, register_dtype: str) -> int | None:
    """The opcode of a scalar rule in a VM of ``register_dtype``, or None if unsupported."""
    if rule_name in OPCODES and rule_name not in ("to_bool", "copy"):
        return OPCODES[rule_name]
    if rule_name == "cast_bool":
        return OPCODES["to_bool"]
    if rule_name == f"cast_{register_dtype}":
        return OPCODES["copy"]
    return None


def eligible(fused, node) -> str | None:
    """The register dtype if ``fused`` (applied in ``node``) can run on the VM, else None."""
    if len(fused.program) < VM_MIN_STEPS:
        return None
    dtypes = {step[2] for step in fused.program} | {x.dtype for x in node.inputs}
    floats = dtypes - {"bool"}
    if len(floats) != 1:
        return None
    (register,) = floats
    if register not in ("float32", "float64"):
        return None
    if any(opcode_for(step[0].name, register) is None for step in fused.program):
        return None
    masks = fused.input_masks()
    everything = (1 << len(node.inputs)) - 1
    if any(masks[j] != everything for j in fused.outputs):
        return None  # every output must have the loop's shape
    return register


def assemble(fused, register: str):
    """Program arrays for :func:`run`: (code, n_registers, const values, const registers,
    input registers, output registers)."""
    n_in = fused.n_inputs
    last_use = {}
    for j, (_, operands, _) in enumerate(fused.program):
        for kind, ref in operands:
            if kind == "step":
                last_use[ref] = j
    exported = set(fused.outputs)
    free: list[int] = []
    n_regs = n_in
    const_regs: dict = {}
    const_values: list = []
    step_reg: dict[int, int] = {}
    code = np.zeros((len(fused.program), 5), dtype=np.int64)
    for j, (rule, operands, _) in enumerate(fused.program):
        refs = []
        for kind, ref in operands:
            if kind == "in":
                refs.append(ref)
            elif kind == "step":
                refs.append(step_reg[ref])
            else:
                if ref not in const_regs:
                    const_regs[ref] = n_regs
                    const_values.append(float(np.asarray(ref[0], dtype=ref[1])))
                    n_regs += 1
                refs.append(const_regs[ref])
        # operands whose value dies here give their register back (after reading them)
        dying = [step_reg[ref] for kind, ref in operands
                 if kind == "step" and last_use.get(ref) == j and ref not in exported]
        if free:
            dest = free.pop()
        else:
            dest = n_regs
            n_regs += 1
        step_reg[j] = dest
        code[j, 0] = opcode_for(rule.name, register)
        code[j, 1] = dest
        code[j, 2 : 2 + len(refs)] = refs
        for reg in set(dying):
            if reg != dest:
                free.append(reg)
        if j not in last_use and j not in exported and dest not in free:
            free.append(dest)  # computed but never read: only possible after rewrites off
    const_reg_array = np.array(list(const_regs.values()), dtype=np.int64)
    return (code, n_regs, np.array(const_values, dtype=register), const_reg_array,
            np.arange(n_in, dtype=np.int64), np.array([step_reg[j] for j in fused.outputs], dtype=np.int64))


@kernel
def fill_row(stack, k, x, shape):
    """Broadcast input ``x`` to ``shape`` into row ``k`` of the input stack (bool -> 0/1)."""
    row = stack[k].reshape(shape)
    row[...] = x


@kernel
def run(code, n_regs, const_values, const_regs, inputs, input_regs, output_regs):
    """Execute a fused program over the rows of ``inputs``; returns one row per output."""
    n_in = inputs.shape[0]
    size = inputs.shape[1]
    regs = np.zeros((n_regs, CHUNK), dtype=inputs.dtype)
    out = np.empty((output_regs.shape[0], size), dtype=inputs.dtype)
    for k in range(const_regs.shape[0]):
        regs[const_regs[k], :] = const_values[k]
    one = inputs.dtype.type(1.0)
    zero = inputs.dtype.type(0.0)
    for start in range(0, size, CHUNK):
        m = min(CHUNK, size - start)
        for k in range(n_in):
            r = input_regs[k]
            for i in range(m):
                regs[r, i] = inputs[k, start + i]
        for j in range(code.shape[0]):
            op = code[j, 0]
            d = regs[code[j, 1]]
            a = regs[code[j, 2]]
            b = regs[code[j, 3]]
            c = regs[code[j, 4]]
            if op == 0:
                for i in range(m):
                    d[i] = a[i] + b[i]
            elif op == 1:
                for i in range(m):
                    d[i] = a[i] - b[i]
            elif op == 2:
                for i in range(m):
                    d[i] = a[i] * b[i]
            elif op == 3:
                for i in range(m):
                    d[i] = a[i] / b[i]
            elif op == 4:
                for i in range(m):
                    d[i] = a[i] ** b[i]
            elif op == 5:
                for i in range(m):
                    d[i] = np.maximum(a[i], b[i])
            elif op == 6:
                for i in range(m):
                    d[i] = np.minimum(a[i], b[i])
            elif op == 7:
                for i in range(m):
                    d[i] = -a[i]
            elif op == 8:
                for i in range(m):
                    d[i] = abs(a[i])
            elif op == 9:
                for i in range(m):
                    d[i] = np.sign(a[i])
            elif op == 10:
                for i in range(m):
                    d[i] = vmath.exp(a[i])
            elif op == 11:
                for i in range(m):
                    d[i] = np.exp2(a[i])
            elif op == 12:
                for i in range(m):
                    d[i] = vmath.expm1(a[i])
            elif op == 13:
                for i in range(m):
                    d[i] = vmath.log(a[i])
            elif op == 14:
                for i in range(m):
                    d[i] = np.log2(a[i])
            elif op == 15:
                for i in range(m):
                    d[i] = np.log10(a[i])
            elif op == 16:
                for i in range(m):
                    d[i] = vmath.log1p(a[i])
            elif op == 17:
                for i in range(m):
                    d[i] = np.sqrt(a[i])
            elif op == 18:
                for i in range(m):
                    d[i] = a[i] * a[i]
            elif op == 19:
                for i in range(m):
                    d[i] = np.sin(a[i])
            elif op == 20:
                for i in range(m):
                    d[i] = np.cos(a[i])
            elif op == 21:
                for i in range(m):
                    d[i] = np.tan(a[i])
            elif op == 22:
                for i in range(m):
                    d[i] = np.arcsin(a[i])
            elif op == 23:
                for i in range(m):
                    d[i] = np.arccos(a[i])
            elif op == 24:
                for i in range(m):
                    d[i] = np.arctan(a[i])
            elif op == 25:
                for i in range(m):
                    d[i] = np.sinh(a[i])
            elif op == 26:
                for i in range(m):
                    d[i] = np.cosh(a[i])
            elif op == 27:
                for i in range(m):
                    d[i] = vmath.tanh(a[i])
            elif op == 28:
                for i in range(m):
                    d[i] = vmath.sigmoid(a[i])
            elif op == 29:
                for i in range(m):
                    d[i] = vmath.softplus(a[i])
            elif op == 30:
                for i in range(m):
                    d[i] = np.floor(a[i])
            elif op == 31:
                for i in range(m):
                    d[i] = np.ceil(a[i])
            elif op == 32:
                for i in range(m):
                    d[i] = np.rint(a[i])
            elif op == 33:
                for i in range(m):
                    d[i] = one if a[i] == b[i] else zero
            elif op == 34:
                for i in range(m):
                    d[i] = one if a[i] != b[i] else zero
            elif op == 35:
                for i in range(m):
                    d[i] = one if a[i] < b[i] else zero
            elif op == 36:
                for i in range(m):
                    d[i] = one if a[i] > b[i] else zero
            elif op == 37:
                for i in range(m):
                    d[i] = one if a[i] <= b[i] else zero
            elif op == 38:
                for i in range(m):
                    d[i] = one if a[i] >= b[i] else zero
            elif op == 39:
                for i in range(m):
                    d[i] = b[i] if a[i] != zero else c[i]
            elif op == 40 or op == 46:
                for i in range(m):
                    d[i] = a[i]
            elif op == 41:
                for i in range(m):
                    d[i] = a[i] % b[i]
            elif op == 42:
                for i in range(m):
                    d[i] = a[i] // b[i]
            elif op == 43:
                for i in range(m):
                    d[i] = one if np.isnan(a[i]) else zero
            elif op == 44:
                for i in range(m):
                    d[i] = one if np.isinf(a[i]) else zero
            elif op == 45:
                for i in range(m):
                    d[i] = one if a[i] != zero else zero
        for k in range(output_regs.shape[0]):
            r = output_regs[k]
            for i in range(m):
                out[k, start + i] = regs[r, i]
    return out


def vm_source(fused, node, names, outs, register: str, loop_lines: list[str], loop_shape: str,
              program_names: tuple[str, ...]) -> list[str]:
    """Lines that stack the inputs, run the VM and unpack its rows into the outputs.
    ``program_names`` are the kernel-argument names holding the assembled program arrays."""
    code, n_regs, consts, const_regs, in_regs, out_regs = program_names
    uid = outs[0]
    lines = list(loop_lines)
    size = " * ".join(f"{d}" for d in loop_shape.strip("()").split(",") if d.strip()) or "1"
    lines.append(f"{uid}_stack = np.empty(({len(names)}, {size}), dtype=np.{register})")
    for k, name in enumerate(names):
        lines.append(f"elemvm.fill_row({uid}_stack, {k}, {name}, {loop_shape})")
    lines.append(f"{uid}_rows = elemvm.run({code}, {n_regs}, {consts}, {const_regs}, {uid}_stack, "
                 f"{in_regs}, {out_regs})")
    for m, (out, var) in enumerate(zip(outs, node.outputs)):
        row = f"{uid}_rows[{m}]"
        if var.dtype == "bool":
            row = f"({row} != 0)"
        lines.append(f"{out} = np.ascontiguousarray({row}).reshape({loop_shape})")
    return lines
