"""symnet/runtime/cache_root.py: the version key hashes every source file of the package (the
runtime's included, so an edit to a helper that cached kernels call never reuses them), and
write_module rewrites only what changed."""

import os
import pathlib
import shutil
import subprocess
import sys

from symnet.runtime import cache_root

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEY = "from symnet.runtime import cache_root; print(cache_root.version_key())"


def test_version_key_covers_the_runtime_sources(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "symnet", copy / "symnet",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(copy), SYMNET_CACHE_DIR=str(tmp_path / "cache"))

    def key() -> str:
        # run from tmp_path: ``python -c`` puts the working directory first on sys.path
        out = subprocess.run([sys.executable, "-c", KEY], env=env, cwd=tmp_path,
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    before = key()
    with open(copy / "symnet" / "runtime" / "vmath.py", "a") as f:
        f.write("\n# an edit\n")
    assert key() != before


def test_write_module_writes_only_new_text(tmp_path):
    path = str(tmp_path / "deeper" / "m.py")
    assert cache_root.write_module(path, "x = 1\n")
    assert not cache_root.write_module(path, "x = 1\n")
    pathlib.Path(path).write_text("x = (")  # a damaged entry is rewritten
    assert cache_root.write_module(path, "x = 1\n")
    assert cache_root.import_file("symnet_test_write_module", path).x == 1
    assert not [p for p in os.listdir(tmp_path / "deeper") if p.startswith(".tmp-")]
