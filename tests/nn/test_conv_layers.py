"""Conv2D, the pooling layers and Embedding against NumPy loops with the same weights, their
gradients, shapes, saving, and an accuracy floor on scikit-learn's digits.

The references below are written out with explicit loops over output positions (Keras's
conventions: channels-last, cross-correlation, 'same' padding with the odd zero after, max
pooling that ignores padding and average pooling that averages over the input values only).
Each case is compared in mode='python'; one numba function per family computes all cases at
once (a numba compile costs seconds, so cases share a kernel).
"""

import pathlib
import runpy

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.graph import clone_replace
from symnet.nn import (
    Adam,
    AveragePooling2D,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
    Sequential,
    load_model,
    set_seed,
)

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"

# --- NumPy references -------------------------------------------------------------------------------


def same_pads(n, size, stride):
    out = -(-n // stride)
    total = max((out - 1) * stride + size - n, 0)
    return total // 2, total - total // 2


def pad_input(x, size, strides, padding, value):
    """x (batch, rows, cols, channels) padded as Keras pads it for ``padding``."""
    if padding == "valid":
        return x
    (rb, ra), (cb, ca) = (same_pads(n, k, s) for n, k, s in zip(x.shape[1:3], size, strides))
    return np.pad(x, ((0, 0), (rb, ra), (cb, ca), (0, 0)), constant_values=value)


def windows(padded, size, strides):
    """Yield (i, j, window) for each window position of a padded input."""
    rows = (padded.shape[1] - size[0]) // strides[0] + 1
    cols = (padded.shape[2] - size[1]) // strides[1] + 1
    for i in range(rows):
        for j in range(cols):
            r, c = i * strides[0], j * strides[1]
            yield i, j, padded[:, r:r + size[0], c:c + size[1], :], rows, cols


def np_conv2d(x, kernel, bias, strides=(1, 1), padding="valid"):
    """Cross-correlation, channels-last: out[b, i, j, o] = sum window * kernel[..., o] + bias."""
    size = kernel.shape[:2]
    padded = pad_input(x, size, strides, padding, 0.0)
    out = None
    for i, j, window, rows, cols in windows(padded, size, strides):
        if out is None:
            out = np.zeros((x.shape[0], rows, cols, kernel.shape[3]))
        for o in range(kernel.shape[3]):
            out[:, i, j, o] = (window * kernel[:, :, :, o]).sum(axis=(1, 2, 3))
    return out + bias


def np_pool(x, size, strides, padding, mode):
    """Max ignores the padding; average divides by the number of input values in the window."""
    fill = -np.inf if mode == "max" else 0.0
    padded = pad_input(x, size, strides, padding, fill)
    inside = pad_input(np.ones_like(x[:1, :, :, :1]), size, strides, padding, 0.0)
    counts = {(i, j): w.sum() for i, j, w, _, _ in windows(inside, size, strides)}
    out = None
    for i, j, window, rows, cols in windows(padded, size, strides):
        if out is None:
            out = np.zeros((x.shape[0], rows, cols, x.shape[3]))
        if mode == "max":
            out[:, i, j, :] = window.max(axis=(1, 2))
        else:
            out[:, i, j, :] = window.sum(axis=(1, 2)) / counts[(i, j)]
    return out


def data(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def image4(shape):
    return T.tensor("float64", shape=(None, *shape), name="x")


# --- Conv2D ------------------------------------------------------------------------------------------

# (filters, kernel_size, strides, padding, sample shape)
CONV_CASES = [
    (3, 3, 1, "valid", (7, 6, 2)),
    (2, (2, 3), (2, 1), "valid", (7, 8, 3)),
    (3, 3, 1, "same", (5, 6, 2)),
    (2, 2, 1, "same", (5, 4, 2)),  # even kernel: no zero before, one after
    (2, 3, 2, "same", (7, 8, 1)),  # rows pad 1/1, cols pad 0/1
    (2, (4, 3), (2, 3), "same", (6, 7, 2)),
    (4, 1, 1, "valid", (3, 3, 2)),
]
CONV_IDS = [f"k{c[1]}-s{c[2]}-{c[3]}-{'x'.join(map(str, c[4]))}" for c in CONV_CASES]


def conv_layer(case, seed, activation=None):
    """A float64 Conv2D with random kernel and a nonzero bias."""
    filters, kernel_size, strides, padding, shape = case
    layer = Conv2D(filters, kernel_size, strides=strides, padding=padding, activation=activation,
                   input_shape=shape, dtype="float64")
    layer(image4(shape))
    rng = np.random.default_rng(seed)
    kernel, bias = layer.get_weights()
    layer.set_weights([rng.normal(size=kernel.shape), rng.normal(scale=0.5, size=bias.shape)])
    return layer


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_matches_numpy(case):
    layer = conv_layer(case, seed=1)
    x = image4(case[4])
    values = data((3, *case[4]))
    got = sn.function([x], layer(x), mode="python")(values)
    kernel, bias = layer.get_weights()
    expected = np_conv2d(values, kernel, bias, layer.strides, layer.padding)
    assert got.shape == (3, *layer.output_shape(case[4]))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_conv2d_every_case_compiled():
    """All cases (and relu) in one numba kernel, against NumPy."""
    xs = [image4(case[4]) for case in CONV_CASES]
    layers = [conv_layer(case, seed=i, activation="relu") for i, case in enumerate(CONV_CASES)]
    values = [data((2, *case[4]), seed=i) for i, case in enumerate(CONV_CASES)]
    outs = sn.function(xs, [layer(x) for layer, x in zip(layers, xs)], mode="numba")(*values)
    for layer, value, got, name in zip(layers, values, outs, CONV_IDS):
        kernel, bias = layer.get_weights()
        expected = np.maximum(np_conv2d(value, kernel, bias, layer.strides, layer.padding), 0)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)


def layer_function(layer, x0, out):
    """fn(x, *weights) -> the layer's output with the weights as inputs (for verify_grad)."""

    def fn(x, *weights):
        return clone_replace([out], {x0: x, **dict(zip(layer.params, weights))})[0]

    return fn


@pytest.mark.parametrize("case", [CONV_CASES[1], CONV_CASES[3], CONV_CASES[5]],
                         ids=[CONV_IDS[1], CONV_IDS[3], CONV_IDS[5]])
def test_conv2d_gradient(case):
    """verify_grad through the layer, with respect to the input, the kernel and the bias."""
    layer = conv_layer(case, seed=3, activation="tanh")
    x0 = image4(case[4])
    fn = layer_function(layer, x0, layer(x0))
    sn.verify_grad(fn, [data((2, *case[4]), seed=4), *layer.get_weights()], mode="python")


def test_conv2d_gradient_compiled():
    case = CONV_CASES[4]
    layer = conv_layer(case, seed=5, activation="tanh")
    x0 = image4(case[4])
    fn = layer_function(layer, x0, layer(x0))
    sn.verify_grad(fn, [data((2, *case[4]), seed=6), *layer.get_weights()], mode="numba")


def test_conv2d_params_and_shapes():
    layer = Conv2D(16, 3, activation="relu", input_shape=(8, 8, 1))
    x = T.tensor("float32", shape=(None, 8, 8, 1))
    out = layer(x)
    assert out.ndim == 4 and out.dtype == "float32"
    assert [p.name for p in layer.params] == [f"{layer.name}/kernel", f"{layer.name}/bias"]
    assert layer.kernel.get_value().shape == (3, 3, 1, 16)
    assert layer.count_params() == 3 * 3 * 16 + 16
    assert layer.output_shape((8, 8, 1)) == (6, 6, 16)
    assert Conv2D(4, 3, padding="same").output_shape((8, 7, 2)) == (8, 7, 4)
    assert Conv2D(4, 3, strides=2, padding="same").output_shape((8, 7, 2)) == (4, 4, 4)
    assert Conv2D(4, (3, 2), strides=(2, 3)).output_shape((8, 7, 2)) == (3, 2, 4)
    assert Conv2D(4, 3).output_shape((None, 7, 2)) == (None, 5, 4)
    no_bias = Conv2D(2, 2, use_bias=False, input_shape=(4, 4, 3))
    no_bias(T.tensor("float32", shape=(None, 4, 4, 3)))
    assert len(no_bias.params) == 1


def test_conv2d_errors():
    with pytest.raises(ValueError, match="filters must be positive"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match="kernel_size must be a positive int"):
        Conv2D(2, (3, 0))
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="channels"):
        Conv2D(2, 3)(T.tensor4("x"))
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        Conv2D(2, 3, input_shape=(5, 5, 1))(T.dmatrix("x"))
    with pytest.raises(ValueError, match="does not fit"):
        Conv2D(2, 5).output_shape((3, 8, 1))
    with pytest.raises(ValueError, match="needs the number of rows known"):
        Conv2D(2, 3, strides=2, padding="same")(T.tensor("float64", shape=(None, None, 5, 1)))


# --- pooling -----------------------------------------------------------------------------------------

# (layer class, pool_size, strides, padding, sample shape)
POOL_CASES = [
    (MaxPooling2D, 2, None, "valid", (6, 6, 2)),
    (MaxPooling2D, 2, None, "valid", (7, 5, 1)),  # the last row and col are dropped
    (MaxPooling2D, (3, 2), (1, 2), "valid", (5, 6, 2)),
    (MaxPooling2D, 2, None, "same", (7, 5, 2)),  # one pad after
    (MaxPooling2D, 3, 1, "same", (4, 5, 1)),  # symmetric pads
    (AveragePooling2D, 2, None, "valid", (6, 7, 2)),
    (AveragePooling2D, (2, 3), (2, 1), "valid", (5, 6, 1)),
    (AveragePooling2D, 2, None, "same", (5, 5, 2)),
    (AveragePooling2D, 3, 2, "same", (6, 7, 1)),
]
POOL_IDS = [f"{c[0].__name__[:3]}-p{c[1]}-s{c[2]}-{c[3]}-{'x'.join(map(str, c[4]))}"
            for c in POOL_CASES]


def pool_reference(layer, values):
    mode = "max" if isinstance(layer, MaxPooling2D) else "average"
    return np_pool(values, layer.pool_size, layer.strides, layer.padding, mode)


@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_pooling_matches_numpy(case):
    cls, pool_size, strides, padding, shape = case
    layer = cls(pool_size, strides=strides, padding=padding, input_shape=shape)
    x = image4(shape)
    values = data((3, *shape), seed=2)
    got = sn.function([x], layer(x), mode="python")(values)
    assert got.shape == (3, *layer.output_shape(shape))
    np.testing.assert_allclose(got, pool_reference(layer, values), rtol=1e-12, atol=1e-14)


def test_pooling_every_case_compiled():
    xs = [image4(case[4]) for case in POOL_CASES]
    layers = [cls(p, strides=s, padding=pad, input_shape=shape)
              for cls, p, s, pad, shape in POOL_CASES]
    values = [data((2, *case[4]), seed=i) for i, case in enumerate(POOL_CASES)]
    outs = sn.function(xs, [layer(x) for layer, x in zip(layers, xs)], mode="numba")(*values)
    for layer, value, got, name in zip(layers, values, outs, POOL_IDS):
        np.testing.assert_allclose(got, pool_reference(layer, value), rtol=1e-12, atol=1e-14,
                                   err_msg=name)


@pytest.mark.parametrize("case", [POOL_CASES[2], POOL_CASES[3], POOL_CASES[6], POOL_CASES[8]],
                         ids=[POOL_IDS[2], POOL_IDS[3], POOL_IDS[6], POOL_IDS[8]])
def test_pooling_gradient(case):
    """Random normal inputs have no ties, so the maximum is differentiable at the points."""
    cls, pool_size, strides, padding, shape = case
    layer = cls(pool_size, strides=strides, padding=padding, input_shape=shape)
    sn.verify_grad(lambda x: layer(x), [data((2, *shape), seed=3)], mode="python")


def test_global_pooling_matches_numpy(mode):
    x = image4((4, 5, 3))
    values = data((2, 4, 5, 3), seed=4)
    average, maximum = GlobalAveragePooling2D(), GlobalMaxPooling2D()
    got = sn.function([x], [average(x), maximum(x)], mode=mode)(values)
    np.testing.assert_allclose(got[0], values.mean(axis=(1, 2)), rtol=1e-12)
    np.testing.assert_allclose(got[1], values.max(axis=(1, 2)), rtol=1e-12)
    assert average.output_shape((4, 5, 3)) == maximum.output_shape((4, 5, 3)) == (3,)
    sn.verify_grad(lambda v: average(v), [values], mode="python")
    sn.verify_grad(lambda v: maximum(v), [values], mode="python")


def test_pooling_shapes_and_errors():
    assert MaxPooling2D().output_shape((28, 28, 32)) == (14, 14, 32)
    assert MaxPooling2D(3, strides=2).output_shape((7, 8, 1)) == (3, 3, 1)
    assert AveragePooling2D(3, strides=2, padding="same").output_shape((7, 8, 1)) == (4, 4, 1)
    assert MaxPooling2D().params == [] and MaxPooling2D().count_params() == 0
    with pytest.raises(ValueError, match="pool_size must be a positive int"):
        MaxPooling2D(0)
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        AveragePooling2D(padding="full")
    with pytest.raises(ValueError, match="expects samples of shape"):
        GlobalMaxPooling2D()(T.dmatrix("x"))
    with pytest.raises(ValueError, match="expects inputs"):
        GlobalMaxPooling2D(input_shape=(3, 3, 2))(T.dtensor3("x"))


# --- Embedding --------------------------------------------------------------------------------------


def embedding_layer(seed=0, input_dim=7, output_dim=3):
    layer = Embedding(input_dim, output_dim, dtype="float64")
    layer(T.lmatrix("i"))
    layer.set_weights([data((input_dim, output_dim), seed=seed)])
    return layer


INDICES = np.array([[0, 3, 3, 6], [2, 3, 0, 0]])


def test_embedding_matches_numpy(mode):
    layer = embedding_layer()
    i = T.lmatrix("i")
    (table,) = layer.get_weights()
    got = sn.function([i], layer(i), mode=mode)(INDICES)
    np.testing.assert_array_equal(got, table[INDICES])
    assert layer.output_shape((4,)) == (4, 3)
    # other integer types and ranks
    j = T.ivector("j")
    got = sn.function([j], layer(j), mode="python")(INDICES[0].astype("int32"))
    np.testing.assert_array_equal(got, table[INDICES[0]])


def test_embedding_gradient_accumulates_repeated_indices(mode):
    layer = embedding_layer(seed=1)
    i = T.lmatrix("i")
    weights = T.dtensor3("weights")
    cost = T.sum(layer(i) * weights)
    grad = sn.grad(cost, layer.embeddings)
    w = data((2, 4, 3), seed=2)
    got = sn.function([i, weights], grad, mode=mode)(INDICES, w)
    expected = np.zeros((7, 3))
    for b in range(2):
        for t in range(4):
            expected[INDICES[b, t]] += w[b, t]
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    assert not np.any(expected[[1, 4, 5]]) and np.allclose(expected[3], w[0, 1] + w[0, 2] + w[1, 1])


def test_embedding_verify_grad():
    layer = embedding_layer(seed=3)
    i = T.lmatrix("i")
    out = layer(i)

    def fn(table):
        return clone_replace([out], {i: T.constant(INDICES), layer.embeddings: table})[0]

    sn.verify_grad(fn, [layer.get_weights()[0]], mode="python")


@pytest.mark.parametrize("bad", [7, 100, -1, -8])
def test_embedding_index_out_of_range_raises(mode, bad):
    layer = embedding_layer()
    i = T.lmatrix("i")
    f = sn.function([i], layer(i), mode=mode)
    indices = INDICES.copy()
    indices[1, 2] = bad
    with pytest.raises(IndexError, match="out of bounds"):
        f(indices)


def test_embedding_errors_and_config():
    with pytest.raises(ValueError, match="must be positive"):
        Embedding(0, 3)
    with pytest.raises(TypeError, match="expects integer indices"):
        Embedding(5, 2)(T.dmatrix("x"))
    layer = Embedding(50, 8, input_length=10)
    assert layer.input_shape == (10,)
    config = layer.get_config()
    assert config["input_dim"] == 50 and config["output_dim"] == 8
    assert type(layer)(**config).get_config() == config


@pytest.mark.slow  # compiles a training step
def test_embedding_model_takes_integer_inputs():
    """fit/predict keep indices integers; the data is checked before anything runs."""
    set_seed(0)
    model = Sequential([Embedding(12, 4, input_length=3), Flatten(),
                        Dense(1, activation="sigmoid")])
    set_seed(None)
    model.compile(optimizer=Adam(learning_rate=0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, size=(96, 3))
    y = (x[:, 0] >= 6).astype("float32")
    np.random.seed(0)
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] >= 0.95
    assert model._symbolic_input().dtype == "int64"
    predicted = model.predict(x.astype("int32"))
    np.testing.assert_array_equal(model.predict(x.astype("float64")), predicted)
    with pytest.raises(IndexError, match="out of range"):
        model.predict(np.array([[0, 12, 1]]))
    with pytest.raises(IndexError, match="out of range"):
        model.fit(np.array([[0, -1, 1]]), np.array([1.0]), verbose=0)
    with pytest.raises(ValueError, match="integer indices"):
        model.predict(np.array([[0.5, 1, 1]]))


# --- models: summary, saving, accuracy ---------------------------------------------------------------


def small_cnn():
    return Sequential([
        Conv2D(4, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
        MaxPooling2D(2),
        Conv2D(6, 2, strides=2, activation="tanh"),
        AveragePooling2D(2, strides=1, padding="same"),
        GlobalMaxPooling2D(),
        Dense(3, activation="softmax"),
    ])


def test_summary_shapes():
    model = small_cnn()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for shape, params in (("(None, 8, 8, 4)", 40), ("(None, 4, 4, 4)", 0),
                          ("(None, 2, 2, 6)", 102), ("(None, 2, 2, 6)", 0), ("(None, 6)", 0),
                          ("(None, 3)", 21)):
        assert any(shape in line and line.rstrip().endswith(f" {params}") for line in lines), text
    assert "Total params: 163" in text
    digits = Sequential([Conv2D(16, 3, activation="relu", input_shape=(8, 8, 1)), MaxPooling2D(2),
                         Flatten(), Dense(10, activation="softmax")])
    lines = []
    digits.summary(print_fn=lines.append)
    assert "(None, 6, 6, 16)" in lines[4] and "(None, 3, 3, 16)" in lines[6]
    assert "(None, 144)" in lines[8] and "1,450" in lines[10]


def digits_example():
    return runpy.run_path(str(EXAMPLES / "digits_cnn.py"), run_name="example_digits_cnn")


def test_save_load_round_trip_of_every_layer(tmp_path):
    """Architecture and weights of a model using each layer come back exactly."""
    set_seed(1)
    model = small_cnn()
    model.build()
    set_seed(None)
    path = tmp_path / "cnn.symnet"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # compiles a CNN training step (shared with the digits test below)
def test_save_load_then_train_on(tmp_path):
    """A trained CNN saved and loaded predicts the same and trains on identically."""
    example = digits_example()
    (x_train, y_train), _ = example["load_digits_split"]()
    x, y = x_train[:200], y_train[:200]
    model = example["build_model"]()
    np.random.seed(0)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "digits.symnet"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.random.seed(1)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    np.random.seed(1)
    loaded.fit(x, y, epochs=1, batch_size=32, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_embedding_model_save_load(tmp_path):
    model = Sequential([Embedding(9, 2, input_length=3), Flatten(),
                        Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    path = tmp_path / "words.symnet"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    x = np.array([[0, 8, 3], [1, 1, 1]])
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_layer_config_round_trip():
    for layer in (Conv2D(3, (2, 3), strides=2, padding="same", activation="relu",
                         input_shape=(8, 8, 1), use_bias=False),
                  MaxPooling2D((2, 3), strides=1, padding="same"), AveragePooling2D(),
                  GlobalAveragePooling2D(), GlobalMaxPooling2D(), Embedding(4, 2)):
        config = layer.get_config()
        clone = type(layer)(**config)
        assert clone.get_config() == config


@pytest.mark.slow  # compiles a CNN training step (an epoch then takes a few ms)
def test_digits_cnn_reaches_95_percent():
    """The example's network: Conv2D(16, 3, relu) + MaxPooling2D(2) + Flatten + Dense(10),
    adam, 20 epochs on the 8x8 digits; held-out accuracy at least 0.95."""
    example = digits_example()
    (x_train, y_train), (x_test, y_test) = example["load_digits_split"]()
    assert x_train.shape[1:] == (8, 8, 1)
    model = example["build_model"]()
    np.random.seed(0)
    model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test)
    assert accuracy >= 0.95
