"""save / load_model: exact round trips, training that continues exactly as if uninterrupted,
atomic writes, and clear errors for truncated or foreign files."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import symnet as sn
from symnet.nn import SGD, Dense, Dropout, Sequential, load_model, save_model, set_seed
from symnet.nn import saving

WEIGHTS = np.array([1.0, -2.0, 0.5, 1.5])


def binary_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ WEIGHTS + 0.2 * rng.normal(size=n) > 0).astype("float32")
    return x, y


def binary_model(seed=0):
    """The same structure as test_models' classifier, so the compiled kernels are shared."""
    set_seed(seed)
    try:
        model = Sequential([Dense(6, activation="relu", input_dim=4),
                            Dense(1, activation="sigmoid")])
        model.build()
    finally:
        set_seed(None)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def assert_same_arrays(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A classifier trained for two epochs and saved: (model, path, data)."""
    x, y = binary_data()
    model = binary_model()
    np.random.seed(1)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("models") / "classifier.symnet"
    model.save(path)
    return model, path, x, y


def test_round_trip_is_exact(saved):
    model, path, x, y = saved
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    assert_same_arrays(loaded.get_weights(), model.get_weights())
    assert loaded.compiled and loaded.loss_name == "binary_crossentropy"
    assert loaded.metric_names == ["accuracy"]
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert_same_arrays(loaded.optimizer.get_state(), model.optimizer.get_state())
    assert int(loaded.optimizer.iterations.get_value()) == 2 * 7  # 200 samples / 32, two epochs
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, y) == model.evaluate(x, y)


def test_continued_training_matches_uninterrupted_training(tmp_path):
    x, y = binary_data()
    np.random.seed(7)
    first = binary_model()
    first.fit(x, y, epochs=2, batch_size=32, verbose=0)
    first.save(tmp_path / "half.symnet")
    resumed = load_model(tmp_path / "half.symnet")  # leaves NumPy's random state alone
    resumed.fit(x, y, epochs=2, batch_size=32, verbose=0)

    np.random.seed(7)
    uninterrupted = binary_model()
    history = uninterrupted.fit(x, y, epochs=4, batch_size=32, verbose=0)
    assert_same_arrays(resumed.get_weights(), uninterrupted.get_weights())
    assert_same_arrays(resumed.optimizer.get_state(), uninterrupted.optimizer.get_state())
    assert resumed.history.history["loss"] == history.history["loss"][2:]


def test_continued_training_with_dropout_and_momentum(tmp_path):
    """The dropout generator state and the velocities are saved too (mode='python')."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, 60)

    def make():
        set_seed(4)
        try:
            model = Sequential([Dense(8, activation="relu", input_dim=5), Dropout(0.3),
                                Dense(3, activation="softmax")], dtype="float64")
            model.build()
        finally:
            set_seed(None)
        model.compile(SGD(0.05, momentum=0.9, nesterov=True), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    with sn.config.override(mode="python"):
        np.random.seed(2)
        first = make()
        first.fit(x, y, epochs=2, batch_size=16, verbose=0)
        save_model(first, tmp_path / "dropout.symnet")
        resumed = load_model(tmp_path / "dropout.symnet")
        resumed.fit(x, y, epochs=2, batch_size=16, verbose=0)
        np.random.seed(2)
        uninterrupted = make()
        uninterrupted.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert len(resumed.optimizer.slots) == 4  # a velocity per kernel and bias
    assert_same_arrays(resumed.get_weights(), uninterrupted.get_weights())
    np.testing.assert_array_equal(resumed.layers[1].states[0].get_value(),
                                  uninterrupted.layers[1].states[0].get_value())


def test_uncompiled_and_untrained_models(tmp_path):
    with sn.config.override(mode="python"):
        plain = Sequential([Dense(3, activation="tanh", input_dim=2)], name="plain")
        plain.save(tmp_path / "plain")
        loaded = load_model(tmp_path / "plain")
        assert not loaded.compiled and loaded.name == "plain"
        assert_same_arrays(loaded.get_weights(), plain.get_weights())
        with pytest.raises(RuntimeError, match="call compile"):
            loaded.fit(np.zeros((2, 2)), np.zeros((2, 3)), verbose=0)

        fresh = Sequential([Dense(1, input_dim=2)])
        fresh.compile("rmsprop", "mse")  # compiled but never trained: zero slots, step 0
        fresh.save(tmp_path / "fresh")
        loaded = load_model(tmp_path / "fresh")
        assert int(loaded.optimizer.iterations.get_value()) == 0
        assert [s.get_value().tolist() for s in loaded.optimizer.slots] == [[[0.0], [0.0]], [0.0]]
        loaded.fit(np.ones((4, 2)), np.ones(4), verbose=0)
        assert int(loaded.optimizer.iterations.get_value()) == 1


@pytest.mark.parametrize("name", ["model.symnet", "model", "weights.h5", "a.npz", "dir.x/m.bin"])
def test_any_file_name_is_used_as_given(saved, tmp_path, name):
    model, _, x, _ = saved
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    model.save(str(path))
    assert sorted(os.listdir(path.parent)) == [path.name]  # no suffix added, no temp file left
    np.testing.assert_array_equal(load_model(str(path)).predict(x[:5]), model.predict(x[:5]))


def test_save_is_atomic(saved, tmp_path, monkeypatch):
    model, _, _, _ = saved
    path = tmp_path / "model.symnet"
    path.write_bytes(b"the previous model")

    def failing_savez(f, **arrays):
        f.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(saving.np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == b"the previous model"
    assert os.listdir(tmp_path) == ["model.symnet"]


def test_saved_file_gets_ordinary_permissions(saved, tmp_path):
    model, _, _, _ = saved
    path = tmp_path / "m.symnet"
    model.save(path)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    os.chmod(path, 0o600)
    model.save(path)  # replacing a file keeps its permissions
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file_raises_and_is_left_alone(saved, tmp_path, fraction):
    _, path, _, _ = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.symnet"
    cut.write_bytes(data[: int(len(data) * fraction)])
    before = cut.read_bytes()
    with pytest.raises(ValueError, match="is not a readable symnet model file"):
        load_model(cut)
    assert cut.read_bytes() == before


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def meta_array(meta) -> np.ndarray:
    return np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


FOREIGN = [
    ("text", b"hello, I am not a model\n", "not a readable symnet model"),
    ("json", json.dumps({"format": "symnet-model-1"}).encode(), "not a readable symnet model"),
    ("npy", None, "not a readable symnet model"),
    ("npz_without_meta", npz_bytes(a=np.zeros(3)), "not a readable symnet model"),
    ("npz_other_format", npz_bytes(meta=meta_array({"format": "keras"})),
     "is not a symnet model \\(format 'keras'"),
    ("meta_not_json", npz_bytes(meta=np.frombuffer(b"\xff\xfe", dtype=np.uint8)),
     "not a readable symnet model"),
    ("pickled", None, "not a readable symnet model"),
]


@pytest.mark.parametrize("case", FOREIGN, ids=[c[0] for c in FOREIGN])
def test_foreign_file_raises(tmp_path, case):
    name, data, message = case
    path = tmp_path / "foreign"
    if name == "npy":
        np.save(open(path, "wb"), np.arange(5))
    elif name == "pickled":
        np.save(open(path, "wb"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_inconsistent_files_raise(saved, tmp_path):
    _, path, _, _ = saved
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["meta"].tobytes())

    def write(name, **changes):
        target = tmp_path / name
        target.write_bytes(npz_bytes(**{**arrays, **changes}))
        return target

    missing = dict(arrays)
    del missing["weight_3"]
    (tmp_path / "missing").write_bytes(npz_bytes(**missing))
    with pytest.raises(ValueError, match="inconsistent model: .*expected 4 weight arrays, got 3"):
        load_model(tmp_path / "missing")
    with pytest.raises(ValueError, match="inconsistent model: .*has shape"):
        load_model(write("shape", weight_0=np.zeros((5, 6), dtype="float32")))
    unknown = json.loads(json.dumps(meta))
    unknown["config"]["layers"][0]["class_name"] = "Conv7D"
    with pytest.raises(ValueError, match="unknown layer class 'Conv7D'"):
        load_model(write("unknown", meta=meta_array(unknown)))
    no_layers = {k: v for k, v in meta.items() if k != "config"}
    with pytest.raises(ValueError, match="missing entry 'config'"):
        load_model(write("noconfig", meta=meta_array(no_layers)))
    bad_state = dict(arrays)
    bad_state["optimizer_1"] = np.zeros(2, dtype="float32")
    (tmp_path / "state").write_bytes(npz_bytes(**bad_state))
    with pytest.raises(ValueError, match="inconsistent model: adam: .* has shape"):
        load_model(tmp_path / "state")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nothing-here")


def test_load_leaves_numpy_random_state_alone(saved):
    _, path, _, _ = saved
    np.random.seed(5)
    expected = np.random.rand(3)
    np.random.seed(5)
    load_model(path)
    np.testing.assert_array_equal(np.random.rand(3), expected)


def test_saved_file_is_an_npz_archive(saved):
    """The format is documented: an .npz (zip) archive with a JSON 'meta' entry."""
    _, path, _, _ = saved
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
    assert "meta.npy" in names and "weight_0.npy" in names and "optimizer_0.npy" in names
