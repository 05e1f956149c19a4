"""The vector machine (symnet/runtime/elemvm.py), whose opcodes are rendered from the scalar
rules of symnet/ops/elemwise.py: every opcode against the fused loop, bit for bit, and its
machine code cached on disk for the next process. (tests/compiler/test_numba_backend.py runs a
long chain and its gradient on it, against the reference backend.)"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.ops import elemwise
from symnet.runtime import elemvm


def _operands(dtype, n: int = 600):
    """Three operand rows with the values where scalar code differs: signed zeros, infinities,
    NaN, tiny and huge values, integers (exact floor/round/mod cases), and a spread between."""
    rng = np.random.default_rng(7)
    special = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 3.0, np.inf, -np.inf, np.nan, 1e-30,
                        -1e-30, 80.0, -80.0, 1e30, -1e30, 0.75, 10.0, -3.0])
    rows = []
    for _ in range(3):
        row = rng.uniform(-4, 4, n)
        row[: special.size] = rng.permutation(special)
        rows.append(row.astype(dtype))
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("register", ["float64", "float32"])
def test_every_opcode_computes_what_the_fused_loop_computes(register):
    """One program applying every rule the machine runs to the same operands, run by the
    machine and compiled as a fused loop (it is shorter than VM_MIN_STEPS): equal bit for bit,
    booleans as 1.0/0.0."""
    rules = elemwise.VM_RULES[register]
    program = []
    for rule in rules:
        operands = tuple(("in", k) for k in range(rule.nin))
        program.append((rule, operands, rule.out_dtype((register,) * rule.nin)))
    fused = elemwise.FusedElemwise(3, tuple(program), tuple(range(len(program))))
    inputs = [T.vector(name, dtype=register) for name in "abc"]
    assert len(program) < elemwise.VM_MIN_STEPS
    f = sn.function(inputs, fused(*inputs), mode="numba")
    assert "vm_run" not in f.source and "for " in f.source  # the loop
    values = _operands(register)
    expected = f(*values)

    code, n_regs, consts, const_regs, in_regs, out_regs = elemwise._vm_program(fused, register)
    run = getattr(elemwise, f"vm_run_{register}")
    rows = run(code, n_regs, consts, const_regs, np.stack(values), in_regs, out_regs)
    for rule, (_, _, dtype), row, want in zip(rules, program, rows, expected):
        if dtype == "bool":
            assert set(np.unique(row)) <= {0.0, 1.0}, rule.name
            np.testing.assert_array_equal(row != 0, want, err_msg=rule.name)
        else:
            assert want.dtype == row.dtype, rule.name
            np.testing.assert_array_equal(row.view(f"u{row.itemsize}"),
                                          want.view(f"u{want.itemsize}"), err_msg=rule.name)


def test_opcodes_follow_the_rule_table():
    """Every row of the table defined on floats is an opcode of both machines (casts only to
    bool and to the register's own dtype); the bitwise rules are not."""
    for register, rules in elemwise.VM_RULES.items():
        names = [rule.name for rule in rules]
        assert names[-2:] == ["cast_bool", f"cast_{register}"]
        assert {"add", "exp", "sigmoid", "switch", "isnan", "ge"} <= set(names)
        assert not {"and", "or", "xor", "invert"} & set(names)
        assert elemwise.VM_OPCODES[register] == {name: k for k, name in enumerate(names)}
        assert f"def run_{register}(" in elemwise.VM_SOURCE
    assert elemwise.VM_SOURCE.count("if op == 0:") == 2


def test_machine_source_renders_the_table():
    source = elemvm.machine_source({"float64": [("(a[i] + b[i])", False),
                                                ("(a[i] < b[i])", True)]})
    assert "            if op == 0:\n                for i in range(m):\n" \
           "                    d[i] = (a[i] + b[i])\n" in source
    assert "            elif op == 1:\n" in source
    assert "d[i] = one if (a[i] < b[i]) else zero" in source
    compile(source, "<machine>", "exec")  # valid Python


SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from symnet.ops import elemwise
    add = elemwise.VM_OPCODES["float64"]["add"]
    rows = elemwise.vm_run_float64(np.array([[add, 1, 0, 0, 0]]), 2, np.zeros(0),
                                   np.zeros(0, np.int64), np.ones((1, 3)), np.array([0]),
                                   np.array([1]))
    assert rows.tolist() == [[2.0, 2.0, 2.0]]
    stats = elemwise.vm_run_float64.stats
    print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
    """
)


@pytest.mark.slow
def test_machine_is_compiled_once_and_loaded_from_disk(tmp_path):
    env = dict(os.environ, SYMNET_CACHE_DIR=str(tmp_path))

    def run():
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                             text=True, check=True)
        return [int(v) for v in out.stdout.split()]

    assert run() == [0, 1]  # compiled in the first process
    assert run() == [1, 0]  # its machine code loaded by the second
    assert len(list(tmp_path.rglob("vm_*.py"))) == 1
