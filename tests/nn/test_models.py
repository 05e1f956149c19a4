"""Sequential: the fit/evaluate/predict/History contract, callbacks, verbose output, losses
against NumPy, bad input rejected before training, and the examples' accuracy floors.

Numba compiles cost seconds per distinct graph, so the compiled tests share one small binary
classifier (the structure of the Keras intro and admission examples, which therefore reuse its
kernels); the loss table runs in mode='python'.
"""

import io
import pickle
import re
import runpy
from pathlib import Path

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.nn import (
    SGD,
    Activation,
    Conv2D,
    Dense,
    Dropout,
    EarlyStopping,
    Flatten,
    History,
    LambdaCallback,
    Sequential,
    set_seed,
)
from symnet.nn.models import ProgressBar

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WEIGHTS = np.array([1.0, -2.0, 0.5, 1.5])


def example(name: str) -> dict:
    """The example's module namespace (its __main__ block does not run)."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")


def binary_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ WEIGHTS + 0.2 * rng.normal(size=n) > 0).astype("float32")
    return x, y


def binary_model(units=6, dtype="float32", seed=0):
    set_seed(seed)
    try:
        model = Sequential([Dense(units, activation="relu", input_dim=4),
                            Dense(1, activation="sigmoid")], dtype=dtype)
        model.build()
    finally:
        set_seed(None)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def numpy_forward(model, x):
    w1, b1, w2, b2 = (w.astype("float64") for w in model.get_weights())
    h = np.maximum(x @ w1 + b1, 0)
    return 1 / (1 + np.exp(-(h @ w2 + b2)))


@pytest.fixture(scope="module")
def trained():
    """A binary classifier after three epochs with validation (shared: compiled once)."""
    x, y = binary_data()
    model = binary_model()
    np.random.seed(0)
    history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0)
    return model, history, x, y


# --- the fit / History contract --------------------------------------------------------------------


def test_history_has_one_value_per_epoch_with_verbose_0(trained, capsys):
    model, history, _, _ = trained
    assert isinstance(history, History) and model.history is history
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(values) == 3 for values in history.history.values())
    assert all(isinstance(v, float) for values in history.history.values() for v in values)
    assert history.epoch == [0, 1, 2]
    assert history.params["epochs"] == 3 and history.params["steps"] == 8  # 240 samples / 32
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_fit_reuses_one_compiled_training_step(trained):
    model, _, x, y = trained
    before = model.make_train_function(1)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.make_train_function(1) is before
    assert before.source is not None and before.source.count("def kernel(") == 1


def test_nb_epoch_and_initial_epoch():
    x, y = binary_data(64)
    model = binary_model()
    assert len(model.fit(x, y, nb_epoch=2, verbose=0).history["loss"]) == 2
    history = model.fit(x, y, epochs=4, initial_epoch=1, verbose=0)
    assert history.epoch == [1, 2, 3] and len(history.history["accuracy"]) == 3


def test_evaluate_and_predict_match_numpy(trained):
    model, _, x, y = trained
    p = numpy_forward(model, x.astype("float64"))[:, 0]
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    accuracy = np.mean((p > 0.5) == (y == 1))
    got_loss, got_accuracy = model.evaluate(x, y)
    assert got_loss == pytest.approx(loss, rel=1e-5)
    assert got_accuracy == pytest.approx(accuracy, abs=1e-6)
    # batches of any size give the same averages
    assert model.evaluate(x, y, batch_size=7) == pytest.approx([got_loss, got_accuracy], rel=1e-6)
    predicted = model.predict(x)
    assert predicted.shape == (300, 1) and predicted.dtype == np.float32
    np.testing.assert_allclose(predicted[:, 0], p, rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, batch_size=5), predicted, rtol=1e-6)
    np.testing.assert_array_equal(model.predict_classes(x)[:, 0], (predicted[:, 0] > 0.5))
    assert model.predict(x[:0]).shape == (0, 1)


def test_predict_takes_lists_ints_and_float64(trained):
    model, _, x, _ = trained
    expected = model.predict(x[:3])
    np.testing.assert_allclose(model.predict(x[:3].tolist()), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x[:3].astype("float64")), expected, rtol=1e-6)
    assert model.predict(np.ones((2, 4), dtype="int64")).shape == (2, 1)


def test_train_on_batch_returns_the_loss_before_the_step(trained):
    x, y = binary_data(32, seed=5)
    model = binary_model()
    before = model.evaluate(x, y)
    weights = model.get_weights()
    loss, accuracy = model.train_on_batch(x, y)
    assert [loss, accuracy] == pytest.approx(before, rel=1e-5)
    assert any((a != b).any() for a, b in zip(weights, model.get_weights()))


def test_evaluate_returns_a_float_without_metrics():
    with sn.config.override(mode="python"):
        model = Sequential([Dense(1, input_dim=2)])
        model.compile("sgd", "mse")
        value = model.evaluate(np.ones((4, 2)), np.zeros(4))
    assert isinstance(value, float)


def test_model_dtype_float64_and_casting():
    with sn.config.override(mode="python"):
        model = binary_model(dtype="float64")
        assert all(w.dtype == np.float64 for w in model.get_weights())
        x, y = binary_data(40)
        model.fit(x, y.astype(int), epochs=1, verbose=0)  # float32 / int data cast to float64
        assert model.predict(x).dtype == np.float64
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        Sequential(dtype="int32")


def test_model_is_symbolic_too():
    model = binary_model()
    out = model(T.fmatrix("x"))
    assert out.ndim == 2 and out.dtype == "float32"
    assert len(model.params) == 4 and model.count_params() == 4 * 6 + 6 + 6 + 1


def test_summary():
    lines = []
    model = Sequential([Flatten(input_shape=(2, 3)), Dense(5, activation="relu", name="hidden"),
                        Dropout(0.5), Dense(2, activation="softmax")])
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert re.search(r"hidden \(Dense\)\s+\(None, 5\)\s+35", text)
    assert re.search(r"\(Flatten\)\s+\(None, 6\)\s+0", text)
    assert re.search(r"\(Dropout\)\s+\(None, 5\)\s+0", text)
    assert re.search(r"\(Dense\)\s+\(None, 2\)\s+12", text)
    assert "Total params: 47" in text and "Trainable params: 47" in text


# --- verbose output --------------------------------------------------------------------------------


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_verbose_output_is_one_line_per_epoch(trained, capsys, verbose):
    model, _, x, y = trained
    model.fit(x, y, epochs=2, batch_size=64, validation_data=(x[:50], y[:50]), verbose=verbose)
    out = capsys.readouterr().out
    if verbose == 0:
        assert out == ""
        return
    lines = out.splitlines()
    assert len(lines) == 2 and "\r" not in out
    for epoch, line in enumerate(lines, 1):
        assert line.startswith(f"Epoch {epoch}/2")
        assert re.search(r"loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - "
                         r"val_accuracy: \d\.\d{4}$", line)
        if verbose == 1:
            assert "5/5 [========================]" in line and "ms/step" in line


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_redraws_one_line_on_a_terminal(monkeypatch):
    stream = FakeTerminal()
    clock = iter(np.arange(0.0, 100.0, 0.05))
    monkeypatch.setattr("symnet.nn.models.time.perf_counter", lambda: float(next(clock)))
    bar = ProgressBar(epochs=2, steps=10, stream=stream)
    for epoch in range(2):
        start = 0.0
        for step in range(1, 11):
            bar.update(epoch, step, {"loss": 1.0 / step}, start)
        bar.finish(epoch, {"loss": 0.1, "val_loss": 0.2}, start)
    text = stream.getvalue()
    lines = text.split("\n")
    assert len(lines) == 3 and lines[-1] == ""  # one finished line per epoch
    assert 2 < lines[0].count("\r") <= 11  # redrawn, but not after every batch
    final = lines[0].split("\r")[-1]
    assert final.startswith("Epoch 1/2 10/10 [========================]")
    assert final.rstrip().endswith("loss: 0.1000 - val_loss: 0.2000")


# --- callbacks -------------------------------------------------------------------------------------


class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.weights = 0

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = weights


def run_early_stopping(values, **kwargs):
    """The epoch EarlyStopping stops at (None: never) and the fake model's final weights."""
    callback = EarlyStopping(**kwargs)
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        model.weights = epoch
        callback.on_epoch_end(epoch, {"val_loss": value, "val_accuracy": -value})
        if model.stop_training:
            return epoch, model.weights
    return None, model.weights


def test_early_stopping_patience():
    values = [1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.76, 0.77]
    assert run_early_stopping(values)[0] == 2  # patience 0: the first epoch without improvement
    assert run_early_stopping(values, patience=1)[0] == 2
    assert run_early_stopping(values, patience=2)[0] == 3
    assert run_early_stopping(values, patience=3)[0] == 7
    assert run_early_stopping(values, patience=4)[0] is None
    assert run_early_stopping(values, min_delta=0.15)[0] == 2  # 0.8 beats 1.0 by more than 0.15
    assert run_early_stopping(values, monitor="val_accuracy", patience=2)[0] == 3  # mode max
    assert run_early_stopping(values, patience=3, restore_best_weights=True) == (7, 4)


def test_early_stopping_ends_fit_and_warns_on_a_missing_value(trained):
    model, _, x, y = trained
    stopper = EarlyStopping(monitor="loss", min_delta=10.0)
    history = model.fit(x, y, epochs=6, callbacks=[stopper], verbose=0)
    assert len(history.history["loss"]) == 2 and stopper.stopped_epoch == 1
    with pytest.warns(RuntimeWarning, match="'val_loss' is not among"):
        model.fit(x, y, epochs=1, callbacks=[EarlyStopping()], verbose=0)


def test_lambda_callback_hooks(trained):
    model, _, x, y = trained
    seen = {"epochs": [], "batches": 0, "begin": None, "end": None}
    hook = LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen["epochs"].append((epoch, sorted(logs))),
        on_batch_end=lambda batch, logs: seen.__setitem__("batches", seen["batches"] + 1),
        on_train_begin=lambda logs: seen.__setitem__("begin", logs),
        on_train_end=lambda logs: seen.__setitem__("end", logs))
    model.fit(x, y, epochs=2, batch_size=100, callbacks=[hook], verbose=0)
    assert seen["epochs"] == [(0, ["accuracy", "loss"]), (1, ["accuracy", "loss"])]
    assert seen["batches"] == 6 and seen["begin"] == {} and "loss" in seen["end"]
    with pytest.raises(TypeError, match="must be callable"):
        LambdaCallback(on_epoch_end=3)


def test_callback_can_stop_training(trained):
    model, _, x, y = trained

    def stop(epoch, logs):
        model.stop_training = True

    history = model.fit(x, y, epochs=5, callbacks=[LambdaCallback(on_epoch_end=stop)], verbose=0)
    assert history.epoch == [0]


# --- losses and metrics against NumPy (mode='python': no compile) ----------------------------------


def np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


LOSS_CASES = [
    # loss, last activation, outputs, targets(n, rng), numpy loss(p, y), metric, numpy metric
    ("mse", "linear", 2, lambda n, r: r.normal(size=(n, 2)),
     lambda p, y: np.mean((p - y) ** 2), "mae", lambda p, y: np.mean(np.abs(p - y))),
    ("mae", "tanh", 1, lambda n, r: r.normal(size=n),
     lambda p, y: np.mean(np.abs(p[:, 0] - y)), "mse", lambda p, y: np.mean((p[:, 0] - y) ** 2)),
    ("binary_crossentropy", "sigmoid", 1, lambda n, r: r.integers(0, 2, (n, 1)),
     lambda p, y: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)),
     "accuracy", lambda p, y: np.mean((p > 0.5) == y)),
    ("categorical_crossentropy", "softmax", 3, lambda n, r: np.eye(3)[r.integers(0, 3, n)],
     lambda p, y: -np.mean(np.sum(y * np.log(p), axis=1)),
     "accuracy", lambda p, y: np.mean(p.argmax(1) == y.argmax(1))),
    ("sparse_categorical_crossentropy", "softmax", 3, lambda n, r: r.integers(0, 3, n),
     lambda p, y: -np.mean(np.log(p[np.arange(len(y)), y])),
     "acc", lambda p, y: np.mean(p.argmax(1) == y)),
]


@pytest.mark.parametrize("case", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_losses_and_metrics_match_numpy(case):
    loss, activation, outputs, targets, np_loss, metric, np_metric = case
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 3))
    y = targets(20, rng)
    kernel, bias = rng.normal(size=(3, outputs)), rng.normal(size=outputs)
    z = x @ kernel + bias
    p = {"linear": z, "tanh": np.tanh(z), "sigmoid": 1 / (1 + np.exp(-z)),
         "softmax": np_softmax(z)}[activation]
    with sn.config.override(mode="python"):
        model = Sequential([Dense(outputs, activation=activation, input_dim=3)], dtype="float64")
        model.build()
        model.set_weights([kernel, bias])
        model.compile("sgd", loss, metrics=[metric])
        got_loss, got_metric = model.evaluate(x, y)
        history = model.fit(x, y, epochs=1, batch_size=20, shuffle=False, verbose=0)
    assert got_loss == pytest.approx(np_loss(p, y), rel=1e-10)
    assert got_metric == pytest.approx(np_metric(p, y), rel=1e-10)
    # one batch: the logged training loss is the loss before the step
    assert sorted(history.history) == sorted(["loss", metric])
    assert history.history["loss"][0] == pytest.approx(got_loss, rel=1e-12)


def test_cross_entropy_from_logits_is_stable():
    """Saturated outputs: the loss comes from the logits (finite, exact), not from log(0)."""
    x = np.array([[50.0], [-50.0], [30.0]])
    with sn.config.override(mode="python"):
        binary = Sequential([Dense(1, activation="sigmoid", input_dim=1)], dtype="float64")
        binary.build()
        binary.set_weights([np.ones((1, 1)), np.zeros(1)])
        binary.compile("sgd", "binary_crossentropy")
        loss = binary.evaluate(x, np.array([0.0, 1.0, 1.0]))
        softmax = Sequential([Dense(2, input_dim=1), Activation("softmax")], dtype="float64")
        softmax.build()
        softmax.set_weights([np.array([[1.0, -1.0]]), np.zeros(2)])
        softmax.compile("sgd", "sparse_categorical_crossentropy")
        sparse_loss = softmax.evaluate(x, np.array([1, 0, 0]))
    assert loss == pytest.approx((50 + 50 + np.log1p(np.exp(-30))) / 3, rel=1e-12)
    assert sparse_loss == pytest.approx((100 + 100 + np.log1p(np.exp(-60))) / 3, rel=1e-12)


def test_unknown_loss_and_metric():
    model = Sequential([Dense(1, input_dim=2)])
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        model.compile("sgd", "hinge")
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        model.compile("sgd", "mse", metrics=["auc"])
    with pytest.raises(ValueError, match="a loss is required"):
        model.compile("sgd")


# --- bad input: a clear error before training starts -----------------------------------------------


def fresh_sparse_model():
    model = Sequential([Dense(5, activation="relu", input_dim=4), Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def with_nan(a, row=3):
    a = np.array(a, dtype="float64")
    a.reshape(len(a), -1)[row, 0] = np.nan
    return a


X = np.random.default_rng(0).normal(size=(10, 4))
LABELS = np.arange(10) % 3
BAD_INPUTS = [
    ("rows", lambda: (X, LABELS[:9]), ValueError, r"x has 10 samples \(rows\) but y has 9"),
    ("features", lambda: (X[:, :3], LABELS), ValueError,
     r"expects x of shape \(n, 4\) but got \(10, 3\)"),
    ("rank", lambda: (X[:, 0], LABELS), ValueError, r"expects x of shape \(n, 4\)"),
    ("nan_x", lambda: (with_nan(X), LABELS), ValueError, r"x contains NaN .*first in row 3"),
    ("inf_x", lambda: (np.where(np.arange(40).reshape(10, 4) == 9, -np.inf, X), LABELS),
     ValueError, r"x contains infinite values \(1 entries in 1 rows, the first in row 2\)"),
    ("too_big_for_float32", lambda: (X * 1e300, LABELS), ValueError, "infinite"),
    ("label_high", lambda: (X, np.where(LABELS == 2, 3, LABELS)), ValueError,
     r"labels must be in \[0, 3\).*out of range \(e.g. 3\)"),
    ("label_negative", lambda: (X, LABELS - 1), ValueError, r"labels must be in \[0, 3\)"),
    ("label_fraction", lambda: (X, LABELS + 0.5), ValueError, "integer class labels"),
    ("label_nan", lambda: (X, with_nan(LABELS)), ValueError, "y contains NaN"),
    ("one_hot_for_sparse", lambda: (X, np.eye(3)[LABELS]), ValueError,
     r"integer labels of shape \(n,\) or \(n, 1\)"),
    ("strings", lambda: (X.astype(str), LABELS), TypeError, "expected numbers"),
    ("no_y", lambda: (X, None), ValueError, "y: no data given"),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_fails_before_training(case):
    _, make, error, message = case
    model = fresh_sparse_model()
    x, y = make()
    model.build()
    weights = model.get_weights()
    with pytest.raises(error, match=message):
        model.fit(x, y, epochs=1, verbose=0)
    assert model._functions == {}  # nothing was compiled, nothing ran
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_more_bad_input():
    model = fresh_sparse_model()
    with pytest.raises(ValueError, match="fit: validation_data: x has 10 samples"):
        model.fit(X, LABELS, validation_data=(X, LABELS[:9]), verbose=0)
    with pytest.raises(ValueError, match="validation_data must be a pair"):
        model.fit(X, LABELS, validation_data=(X,), verbose=0)
    with pytest.raises(ValueError, match="validation_split must be in"):
        model.fit(X, LABELS, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="leaves no training or no validation samples"):
        model.fit(X[:1], LABELS[:1], validation_split=0.5, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        model.fit(X, LABELS, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
        model.fit(X, LABELS, verbose=3)
    with pytest.raises(ValueError, match=r"evaluate: labels must be in \[0, 3\)"):
        model.evaluate(X, LABELS + 5)
    with pytest.raises(ValueError, match=r"predict: the model expects x of shape \(n, 4\)"):
        model.predict(X[:, :2])
    categorical = Sequential([Dense(3, activation="softmax", input_dim=4)])
    categorical.compile("sgd", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"outputs have shape \(n, 3\) but y has shape \(10, 4\)"):
        categorical.fit(X, np.zeros((10, 4)), verbose=0)
    binary = Sequential([Dense(1, activation="sigmoid", input_dim=4)])
    binary.compile("sgd", "binary_crossentropy")
    with pytest.raises(ValueError, match=r"needs targets in \[0, 1\]"):
        binary.fit(X, LABELS, verbose=0)
    with pytest.raises(ValueError, match=r"outputs have shape \(n, 1\) but y has shape \(10, 2\)"):
        binary.fit(X, np.zeros((10, 2)), verbose=0)
    uncompiled = Sequential([Dense(1, input_dim=4)])
    with pytest.raises(RuntimeError, match="call compile"):
        uncompiled.fit(X, LABELS, verbose=0)
    with pytest.raises(ValueError, match="input shape is unknown"):
        Sequential([Dense(1)]).summary()
    with pytest.raises(TypeError, match="expects a layer"):
        Sequential([np.zeros(3)])


def test_one_feature_may_be_a_vector():
    with sn.config.override(mode="python"):
        model = Sequential([Dense(1, input_dim=1)], dtype="float64")
        model.compile(SGD(0.1), "mse")
        model.fit(np.linspace(0, 1, 10), np.linspace(0, 1, 10), verbose=0)
        assert model.predict(np.array([0.5])).shape == (1, 1)


def test_pickled_model_predicts_the_same(trained):
    model, _, x, _ = trained
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict(x[:10]), model.predict(x[:10]))


# --- the examples and their accuracy floors --------------------------------------------------------


def test_digits_mlp_reaches_95_percent(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    history, accuracy = example("digits_mlp")["main"](epochs=20, plot=True, verbose=0)
    assert accuracy >= 0.95
    assert len(history.history["val_accuracy"]) == 20
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy)
    assert "held-out loss" in capsys.readouterr().out
    assert (tmp_path / "digits_mlp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gaussian_fit_reaches_1e_4(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    mse = example("gaussian_fit")["main"](epochs=1500, plot=True)
    assert mse < 1e-4
    out = capsys.readouterr().out
    assert "mse on a 501-point grid" in out
    assert (tmp_path / "gaussian_fit.png").stat().st_size > 0


def test_admission_example(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    result = example("admission")["main"](epochs=30, plot=True, verbose=0)
    assert result["accuracy"] >= result["bayes"] - 0.03  # near the best any classifier can do
    assert result["accuracy"] >= result["majority"] + 0.1
    out = capsys.readouterr().out
    assert re.search(r"test accuracy 0\.\d{4} \(best possible 0\.\d{4}", out)
    assert "GRE 780, GPA 3.9, rank 1: admission probability" in out
    assert result["plotted"] and (tmp_path / "admission.png").stat().st_size > 0


def test_admission_data():
    admission = example("admission")
    gre, gpa, rank, admitted = admission["make_applicants"](1000, seed=1)
    assert gre.min() >= 200 and gre.max() <= 800 and np.all(gre % 10 == 0)
    assert gpa.min() >= 2.0 and gpa.max() <= 4.0
    assert set(np.unique(rank)) == {1, 2, 3, 4}
    assert 0.25 < admitted.mean() < 0.55
    x, mean, std = admission["features"](gre, gpa, rank)
    assert x.shape == (1000, 5) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, :2].mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(x[:, :2].std(axis=0), 1, rtol=1e-5)
    np.testing.assert_array_equal(x[:, 2:].sum(axis=1), rank != 1)


def test_keras_intro_example(capsys):
    history, accuracy = example("keras_intro")["main"](epochs=40, verbose=0)
    assert accuracy >= 0.9
    out = capsys.readouterr().out
    assert "Total params: 37" in out and "test accuracy" in out


@pytest.mark.parametrize("batch_size", [7, 20, 32])
def test_evaluate_averages_scalar_and_per_sample_metrics_over_unequal_batches(batch_size):
    # a metric may return one value per batch (Keras' guide: a mean) or one per sample; both
    # average over all samples, whatever the batch sizes (20 samples: 7 + 7 + 6 at size 7)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 3))
    kernel, bias = rng.normal(size=(3, 1)), rng.normal(size=1)
    p = 1 / (1 + np.exp(-(x @ kernel + bias)))
    y = (rng.random(20) > 0.5).astype("float64")

    def mean_prediction(y_true, y_pred):
        return T.mean(y_pred)

    def squared_prediction(y_true, y_pred):
        return T.sum(y_pred ** 2, axis=-1)

    def per_element(y_true, y_pred):
        return y_pred * 2.0

    with sn.config.override(mode="python"):
        model = Sequential([Dense(1, activation="sigmoid", input_dim=3)], dtype="float64")
        model.set_weights([kernel, bias])
        model.compile("sgd", "mse", metrics=[mean_prediction, squared_prediction, per_element])
        _, mean_pred, squared, doubled = model.evaluate(x, y, batch_size=batch_size)
    assert mean_pred == pytest.approx(p.mean(), rel=1e-12)
    assert squared == pytest.approx((p ** 2).mean(), rel=1e-12)
    assert doubled == pytest.approx(2 * p.mean(), rel=1e-12)


def test_count_params_of_a_model_built_as_layers_are_added():
    # Keras builds a model whose input shape is known as layers are added
    model = Sequential()
    model.add(Dense(32, input_shape=(784,)))
    assert model.count_params() == 784 * 32 + 32 == 25_120
    model.add(Dense(10, activation="softmax"))
    assert model.count_params() == 25_120 + 32 * 10 + 10
    assert [w.shape for w in model.get_weights()] == [(784, 32), (32,), (32, 10), (10,)]
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 25,450" in lines
    # a layer that does not fit the model's output is refused when added, as in Keras
    with pytest.raises(ValueError, match="Conv2D: expects samples of shape"):
        model.add(Conv2D(4, 3))
    assert len(model.layers) == 2
    # without an input shape nothing is built until the data (or build) says it
    lazy = Sequential([Dense(4)])
    assert lazy.count_params() == 0 and not lazy.built
    lazy.build((5,))
    assert lazy.count_params() == 5 * 4 + 4
