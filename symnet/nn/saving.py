"""save_model / load_model: one .npz-format file holding the architecture (JSON), the weights
and the compile state. Written to a temporary file and renamed into place, so a crash never
leaves a half-written model; loading validates everything before touching any model."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "symnet-model-1"


def save_model(model, path) -> None:
    path = os.fspath(path)
    if not model.built:
        model.build()
    meta = {"format": FORMAT, "config": model.get_config()}
    arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    if hasattr(model, "optimizer"):
        meta["compile"] = {
            "optimizer": model.optimizer.get_config(),
            "loss": model.loss_name,
            "metrics": list(model.metric_names),
            "train_y_ndim": next((k[1] for k in model._functions if k[0] == "train"), None),
        }
        for i, value in enumerate(model.optimizer.get_state()):
            arrays[f"optimizer_{i}"] = value
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".symnet")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_model(path):
    """Rebuild a model saved with ``model.save(path)``, compiled as it was, so ``fit`` can go
    on where it stopped (optimizer slots included)."""
    from symnet.nn.layers import LAYERS
    from symnet.nn.models import Sequential
    from symnet.nn import optimizers

    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError,
            UnicodeDecodeError) as exc:
        raise ValueError(f"load_model: {path!r} is not a readable symnet model ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"load_model: {path!r} is not a symnet model (format {meta.get('format')!r})")
    config = meta["config"]
    layers = []
    for spec in config["layers"]:
        cls = LAYERS.get(spec["class_name"])
        if cls is None:
            raise ValueError(f"load_model: unknown layer class {spec['class_name']!r}")
        layers.append(cls(**spec["config"]))
    model = Sequential(layers, name=config["name"], dtype=config["dtype"])
    model.build()
    n_weights = sum(1 for k in arrays if k.startswith("weight_"))
    model.set_weights([arrays[f"weight_{i}"] for i in range(n_weights)])
    compiled = meta.get("compile")
    if compiled:
        optimizer = optimizers.from_config(compiled["optimizer"])
        model.compile(optimizer=optimizer, loss=compiled["loss"], metrics=compiled["metrics"])
        state = [arrays[f"optimizer_{i}"] for i in range(sum(1 for k in arrays if k.startswith("optimizer_")))]
        if len(state) > 1:
            # make the slots exist (they are created with the training function), then fill them
            y_ndim = compiled.get("train_y_ndim")
            if y_ndim is None:
                y_ndim = 1 if compiled["loss"] == "sparse_categorical_crossentropy" else 2
            model._train_function(y_ndim)
            optimizer.set_state(state)
        elif state:
            optimizer.iterations.set_value(state[0])
    return model
