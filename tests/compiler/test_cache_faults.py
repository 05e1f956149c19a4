"""The kernel cache under faults: damaged entries (the generated module, Numba's index and data
files), read-only, missing or impossible cache directories, processes compiling the same graph
at once, and a changed version key. Every case must end in a correct result.

Each process below gets its own cache directory (``SYMNET_CACHE_DIR``) and a fixed version key,
so the tests do not depend on the symnet sources being unchanged between two processes.
(tests/compiler/test_numba_backend.py covers the plain second-process hit, a corrupt module
rewritten with garbage text, and clear_cache.)
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.compiler import cache
from symnet.runtime import cache_root

ROOT = pathlib.Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, sys, time
    import numpy as np
    from symnet.compiler import cache
    from symnet.runtime import cache_root
    cache_root._version_key = os.environ.get("TEST_VERSION_KEY", "faults")
    import symnet as sn, symnet.tensor as T
    sn.config.set(compile="wait")  # the whole-graph kernel's cache is what these tests damage
    start = float(os.environ.get("TEST_START_AT", "0"))
    while time.time() < start:
        time.sleep(0.005)
    x = T.dmatrix("x")
    v = np.linspace(-1, 1, 12).reshape(3, 4)
    out = {}
    for name in sys.argv[1:]:
        fn = getattr(T, name)
        f = sn.function([x], fn(x) * 2.5 + T.sqr(x) - 0.75)
        got = f(v)
        want = getattr(np, name)(v) * 2.5 + v * v - 0.75
        stats = f.kernel.dispatcher.stats
        out[name] = {
            "ok": bool(np.allclose(got, want, rtol=1e-12)),
            "digest": hashlib.sha256(f.source.encode()).hexdigest()[:24],
            "numba_hits": sum(stats.cache_hits.values()),
            "numba_misses": sum(stats.cache_misses.values()),
        }
    out["stats"] = dict(cache.stats)
    print("RESULT " + json.dumps(out))
    """
)


def _command(read_only: bool) -> list[str]:
    command = [sys.executable, "-c", SCRIPT]
    if read_only and os.geteuid() == 0:
        # root writes anywhere: drop the capability that lets it ignore permissions
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a directory read-only")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    return command


def _env(cache_dir, **extra) -> dict:
    env = dict(os.environ, SYMNET_CACHE_DIR=str(cache_dir), **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _parse(stdout: str) -> dict:
    (line,) = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    return json.loads(line[len("RESULT "):])


def run(cache_dir, *graphs, read_only=False, **env) -> dict:
    proc = subprocess.run(_command(read_only) + list(graphs), env=_env(cache_dir, **env), cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = _parse(proc.stdout)
    for name in graphs:
        assert result[name]["ok"], (name, result)
    return result


def entry(cache_dir, result, name, key="faults") -> pathlib.Path:
    return pathlib.Path(cache_dir) / key / f"k_{result[name]['digest']}.py"


# --- damaged entries ---------------------------------------------------------------------------

MODULE_DAMAGE = {
    "sin": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated
    "cos": lambda p: p.write_bytes(b"\xff\xfe\x00garbage\x80"),  # not UTF-8
    "exp": lambda p: p.write_bytes(b""),  # empty
    "arctan": lambda p: (p.unlink(), p.mkdir()),  # a directory where the module should be
}


@pytest.mark.slow
def test_damaged_generated_modules_are_rebuilt(tmp_path):
    graphs = list(MODULE_DAMAGE)
    first = run(tmp_path, *graphs)
    sources = {}
    for name, damage in MODULE_DAMAGE.items():
        path = entry(tmp_path, first, name)
        sources[name] = path.read_text()
        damage(path)
    second = run(tmp_path, *graphs)  # every result correct (checked in run)
    assert second["stats"]["hits_disk"] == 0
    for name in ("sin", "cos", "exp"):
        assert entry(tmp_path, second, name).read_text() == sources[name]  # rewritten in place
    assert entry(tmp_path, second, "arctan").is_dir()  # served from a private directory instead
    third = run(tmp_path, *graphs)
    assert third["stats"]["hits_disk"] == 3


NUMBA_DAMAGE = {
    "sin": ("nbi", lambda p: p.write_bytes(p.read_bytes()[:10])),
    "cos": ("nbi", lambda p: p.write_bytes(b"garbage\n")),
    "exp": ("nbc", lambda p: p.write_bytes(p.read_bytes()[:100])),
    "arctan": ("nbc", lambda p: p.write_bytes(os.urandom(300))),
}


@pytest.mark.slow
def test_damaged_numba_cache_files_are_recompiled(tmp_path):
    graphs = list(NUMBA_DAMAGE)
    first = run(tmp_path, *graphs)
    pycache = tmp_path / "faults" / "__pycache__"
    for name, (suffix, damage) in NUMBA_DAMAGE.items():
        files = sorted(pycache.glob(f"k_{first[name]['digest']}.*.{suffix}"))
        assert files, (name, list(pycache.iterdir()))
        for path in files:
            damage(path)
    second = run(tmp_path, *graphs)
    for name in graphs:
        assert second[name]["numba_misses"] == 1, (name, second)  # compiled again, correct
    third = run(tmp_path, *graphs)
    for name in graphs:
        assert third[name]["numba_hits"] == 1, (name, third)  # and the repaired entry serves


@pytest.mark.slow
def test_damaged_helper_cache_files_are_recompiled(tmp_path):
    """The library helpers' machine code lives under <cache>/<version>/numba: garbage there is
    a miss too (every helper file damaged at once)."""
    run(tmp_path, "tanh")
    helper_files = [p for p in tmp_path.rglob("numba/**/*") if p.suffix in (".nbi", ".nbc")]
    assert helper_files
    for path in helper_files:
        path.write_bytes(b"garbage\n" if path.suffix == ".nbi" else os.urandom(200))
    # a new graph: its kernel is compiled, loading the (damaged) helpers it calls
    run(tmp_path, "sinh")  # correct (checked in run) after recompiling the helpers


# --- the directory itself ------------------------------------------------------------------------


def test_read_only_empty_cache_directory(tmp_path):
    cache_dir = tmp_path / "ro"
    (cache_dir / "faults").mkdir(parents=True)
    os.chmod(cache_dir / "faults", 0o500)
    os.chmod(cache_dir, 0o500)
    try:
        run(cache_dir, "sin", read_only=True)  # correct (checked in run)
    finally:
        os.chmod(cache_dir, 0o700)
        os.chmod(cache_dir / "faults", 0o700)
    assert not list((cache_dir / "faults").iterdir())  # nothing written there


@pytest.mark.slow
def test_read_only_filled_cache_directory_still_serves(tmp_path):
    first = run(tmp_path, "sin", "cos")
    for path in [tmp_path, *tmp_path.rglob("*")]:
        os.chmod(path, 0o500 if path.is_dir() else 0o400)
    try:
        second = run(tmp_path, "sin", "cos", read_only=True)
        third = run(tmp_path, "sin", "tanh", read_only=True)  # a new graph cannot be stored
    finally:
        for path in [tmp_path, *tmp_path.rglob("*")]:
            os.chmod(path, 0o700 if path.is_dir() else 0o600)
    assert second["stats"] == {"hits_memory": 0, "hits_disk": 2, "writes": 0}
    # (Numba cannot use a read-only __pycache__: it compiles and caches in its user-wide
    # directory instead, which is its documented fallback)
    assert third["stats"]["hits_disk"] == 1
    assert first["sin"]["digest"] == third["sin"]["digest"]
    assert not entry(tmp_path, third, "tanh").exists()


def test_missing_cache_directory_is_created(tmp_path):
    cache_dir = tmp_path / "not" / "yet" / "there"
    result = run(cache_dir, "sin")
    assert entry(cache_dir, result, "sin").read_text().startswith("# Generated by symnet")


def test_cache_directory_that_cannot_exist(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run(blocker / "cache", "sin", "cos")  # falls back to a private directory
    assert result["stats"]["writes"] == 2
    assert blocker.read_text() == "not a directory"


@pytest.mark.slow
def test_processes_compiling_the_same_graphs_at_once(tmp_path):
    graphs = ["sin", "cos", "tanh", "exp"]
    start = str(time.time() + 4.0)  # after every process has imported symnet and numba
    procs = [
        subprocess.Popen(_command(False) + graphs[i:] + graphs[:i],
                         env=_env(tmp_path, TEST_START_AT=start), cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(3)
    ]
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        result = _parse(stdout)
        assert all(result[name]["ok"] for name in graphs), result
    after = run(tmp_path, *graphs)
    assert after["stats"] == {"hits_memory": 0, "hits_disk": 4, "writes": 0}
    assert not list((tmp_path / "faults").glob(".tmp-*"))  # no temporary file left behind


def test_changed_version_key_never_reuses_an_old_kernel(tmp_path):
    old = run(tmp_path, "sin", TEST_VERSION_KEY="old")
    old_files = sorted(p.name for p in (tmp_path / "old").rglob("*"))
    new = run(tmp_path, "sin", TEST_VERSION_KEY="new")
    assert new["stats"] == {"hits_memory": 0, "hits_disk": 0, "writes": 1}
    assert new["sin"]["numba_misses"] == 1 and new["sin"]["numba_hits"] == 0
    assert entry(tmp_path, new, "sin", key="new").exists()
    assert sorted(p.name for p in (tmp_path / "old").rglob("*")) == old_files
    assert old["sin"]["digest"] == new["sin"]["digest"]  # same graph, a separate entry


def test_version_key_change_in_process(tmp_path, monkeypatch):
    """Monkeypatched in this process: a new key means a new directory and a new kernel."""
    monkeypatch.setattr(cache, "_loaded", {})
    monkeypatch.setattr(cache_root, "_version_key", "first")
    x = T.dvector("x")
    v = np.linspace(-1, 1, 5)
    with sn.config.override(cache_dir=str(tmp_path), compile="wait"):
        f1 = sn.function([x], T.sinh(x) * 3.25)
        monkeypatch.setattr(cache_root, "_version_key", "second")
        f2 = sn.function([x], T.sinh(x) * 3.25)
    assert f1.kernel.dispatcher is not f2.kernel.dispatcher
    np.testing.assert_array_equal(f1(v), f2(v))
    assert len(list((tmp_path / "first").glob("k_*.py"))) == 1
    assert len(list((tmp_path / "second").glob("k_*.py"))) == 1


def test_numba_optimisation_level_is_part_of_the_version_key():
    """Machine code built at NUMBA_OPT=1 (the test suite's level) is never loaded at level 3."""
    code = "from symnet.runtime import cache_root; print(cache_root.version_key())"
    keys = {}
    for level in ("1", "3"):
        env = dict(os.environ, NUMBA_OPT=level)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        keys[level] = out.stdout.strip()
    assert keys["1"] != keys["3"] and all(len(k) == 16 for k in keys.values()), keys
    import numba

    level = str(int(numba.core.config.OPT))
    if level in keys:
        assert cache_root.version_key() == keys[level]
