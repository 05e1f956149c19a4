"""save_model / load_model: one .npz-format file (any file name) holding the architecture
(JSON), the weights, the layers' generator states and the compile state (optimizer with its
step counter and slots, loss, metrics).

The file is written to a temporary file in the target's directory, flushed to disk and renamed
into place, so a crash never leaves a half-written model and an existing file is replaced
whole or not at all. Loading reads and checks everything before it returns a model; a
truncated or foreign file raises ValueError.
"""

from __future__ import annotations

import io
import json
import os
import tempfile

import numpy as np

FORMAT = "symnet-model-1"


def _default_mode() -> int:
    """Permissions a newly created file gets under the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def save_model(model, path) -> None:
    """Write ``model`` to ``path`` atomically (see the module docstring)."""
    path = os.fspath(path)
    if not model.built:
        model.build()
    meta = {"format": FORMAT, "config": model.get_config()}
    arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    states = [v.get_value() for layer in model.layers for v in layer.states]
    arrays.update({f"state_{i}": v for i, v in enumerate(states)})
    if getattr(model, "compiled", False):
        model.optimizer.build(model._training_params())
        meta["compile"] = {
            "optimizer": model.optimizer.get_config(),
            "loss": model.loss_name,
            "metrics": list(model.metric_names),
        }
        for i, value in enumerate(model.optimizer.get_state()):
            arrays[f"optimizer_{i}"] = value
    _write(path, meta, arrays)


def _write(path: str, meta: dict, arrays: dict) -> None:
    """``arrays`` and ``meta`` (as JSON) in one .npz archive at ``path``, written to a
    temporary file in the same directory and renamed over ``path``: atomic."""
    arrays = {**arrays, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else _default_mode()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".symnet")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


WEIGHTS_FORMAT = "symnet-weights-1"


def save_weights(model, path) -> None:
    """Write ``model``'s weights and layer states (not its architecture or optimizer) to
    ``path`` atomically; :func:`load_weights` reads them into a model of the same layers."""
    path = os.fspath(path)
    if not model.built:
        model.build()
    states = [v.get_value() for layer in model.layers for v in layer.states]
    arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"state_{i}": v for i, v in enumerate(states)})
    _write(path, {"format": WEIGHTS_FORMAT}, arrays)


def load_weights(model, path) -> None:
    """Set ``model``'s weights and layer states from a file of :func:`save_weights`."""
    path = os.fspath(path)
    meta, arrays = read_model(path, WEIGHTS_FORMAT)
    if not model.built:
        model.build()
    model.set_weights(numbered_arrays(arrays, "weight_"))
    variables = [v for layer in model.layers for v in layer.states]
    states = numbered_arrays(arrays, "state_")
    if len(states) != len(variables):
        raise ValueError(f"load_weights: {path!r} has {len(states)} layer states, the model "
                         f"{len(variables)}")
    for var, value in zip(variables, states):
        var.set_value(value)


def read_model(path: str, expected: str = FORMAT) -> tuple[dict, dict]:
    """(meta, arrays) of a saved model; ValueError for anything that is not one."""
    with open(path, "rb") as f:  # a missing file is an OSError, as for any open()
        data = f.read()
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise ValueError("a single array, not an archive")
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except Exception as exc:  # zip, zlib, npy-header and JSON errors all mean "not a model"
        raise ValueError(f"load_model: {path!r} is not a readable symnet model file "
                         f"(truncated or another format): {type(exc).__name__}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != expected:
        found = meta.get("format") if isinstance(meta, dict) else None
        what = "model" if expected == FORMAT else "weights file"
        raise ValueError(f"load_model: {path!r} is not a symnet {what} (format {found!r}, "
                         f"expected {expected!r})")
    return meta, arrays


def numbered_arrays(arrays: dict, prefix: str) -> list[np.ndarray]:
    count = sum(1 for k in arrays if k.startswith(prefix))
    try:
        return [arrays[f"{prefix}{i}"] for i in range(count)]
    except KeyError as exc:
        raise ValueError(f"load_model: the file lacks the array {exc.args[0]!r}") from None
