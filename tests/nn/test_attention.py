"""Attention and MultiHeadAttention against Keras's formulas written with NumPy einsum:
values on both backends, masks (explicit and causal), scores, gradients, and a Sequential
model with self-attention that trains, saves and loads."""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.nn import (Adam, Attention, Dense, Flatten, MultiHeadAttention, Sequential,
                       load_model, set_seed)

RNG = np.random.default_rng(11)
QUERY = RNG.normal(size=(2, 3, 4))
VALUE = RNG.normal(size=(2, 5, 4))
KEY = RNG.normal(size=(2, 5, 4))


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _mha_numpy(layer, query, value, key, mask=None, causal=False):
    w = dict(zip(["qk", "qb", "kk", "kb", "vk", "vb", "ok", "ob"], layer.get_weights()))
    q = np.einsum("bsd,dhk->bhsk", query, w["qk"]) + w["qb"][None, :, None, :]
    k = np.einsum("bsd,dhk->bhsk", key, w["kk"]) + w["kb"][None, :, None, :]
    v = np.einsum("bsd,dhk->bhsk", value, w["vk"]) + w["vb"][None, :, None, :]
    scores = np.einsum("bhqk,bhtk->bhqt", q / np.sqrt(layer.key_dim), k)
    allowed = np.ones(scores.shape, dtype=bool)
    if mask is not None:
        allowed &= mask[:, None]
    if causal:
        allowed &= np.tril(np.ones(scores.shape[-2:], dtype=bool))
    weights = _softmax(np.where(allowed, scores, -1e9))
    context = np.einsum("bhqt,bhtv->bqhv", weights, v)
    return np.einsum("bqhv,hvd->bqd", context, w["ok"]) + w["ob"], weights


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_multi_head_attention_matches_numpy(mode):
    set_seed(0)
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2)
    m = T.tensor("bool", shape=(None, None, None), name="m")
    q4, v4, k4 = (T.tensor("float64", shape=(None, None, 4), name=n) for n in "qvk")
    out, scores = layer(q4, v4, key=k4, attention_mask=m, return_attention_scores=True)
    causal = layer(q4, v4, key=k4, use_causal_mask=True)
    f = sn.function([q4, v4, k4, m], [out, scores, causal], mode=mode)
    mask = RNG.random((2, 3, 5)) > 0.3
    mask[:, :, 0] = True  # every query sees at least one key
    got, got_scores, got_causal = f(QUERY, VALUE, KEY, mask)
    expected, expected_scores = _mha_numpy(layer, QUERY, VALUE, KEY, mask=mask)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_scores, expected_scores, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_causal, _mha_numpy(layer, QUERY, VALUE, KEY, causal=True)[0],
                               rtol=1e-10, atol=1e-12)
    assert got.shape == (2, 3, 4)


@pytest.mark.parametrize("score_mode", ["dot", "concat"])
def test_attention_matches_numpy(score_mode):
    set_seed(0)
    layer = Attention(use_scale=True, score_mode=score_mode)
    q = T.tensor("float64", shape=(None, None, 4), name="q")
    v = T.tensor("float64", shape=(None, None, 4), name="v")
    k = T.tensor("float64", shape=(None, None, 4), name="k")
    vmask = T.tensor("bool", shape=(None, None), name="vmask")
    out, weights = layer([q, v, k], mask=vmask, return_attention_scores=True)
    f = sn.function([q, v, k, vmask], [out, weights], mode="python")
    mask = np.array([[True, True, False, True, False], [True, False, True, True, True]])
    if score_mode == "dot":
        scores = np.einsum("bqd,btd->bqt", QUERY, KEY)
    else:
        scores = np.tanh(QUERY[:, :, None, :] + KEY[:, None, :, :]).sum(axis=-1)
    expected_weights = _softmax(np.where(mask[:, None, :], scores, -1e9))
    got, got_weights = f(QUERY, VALUE, KEY, mask)
    np.testing.assert_allclose(got_weights, expected_weights, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got, expected_weights @ VALUE, rtol=1e-12, atol=1e-12)


def test_gradients_match_finite_differences():
    set_seed(1)
    layer = MultiHeadAttention(num_heads=2, key_dim=2)
    q = RNG.normal(size=(1, 3, 4))
    v = RNG.normal(size=(1, 4, 4))
    layer.build_for(4, 4, 4)
    sn.verify_grad(lambda a, b: layer(a, b, use_causal_mask=False), [q, v], rng=0)
    dot = Attention()
    sn.verify_grad(lambda a, b: dot([a, b]), [q, v], rng=0)


def test_self_attention_in_a_sequential_trains_and_saves(tmp_path):
    set_seed(3)
    x = RNG.normal(size=(32, 6, 4)).astype("float32")
    y = x[:, ::-1].sum(axis=(1, 2))[:, None].astype("float32")  # needs to mix positions
    model = Sequential([MultiHeadAttention(num_heads=2, key_dim=4, input_shape=(6, 4)),
                        Flatten(), Dense(1)])
    model.compile(optimizer=Adam(learning_rate=0.02), loss="mse")
    before = model.evaluate(x, y)
    model.fit(x, y, epochs=40, batch_size=8, verbose=0)
    assert model.evaluate(x, y) < 0.1 * before
    model.save(tmp_path / "mha.symnet")
    loaded = load_model(tmp_path / "mha.symnet")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_bad_inputs_name_the_layer_and_shapes():
    layer = MultiHeadAttention(num_heads=2, key_dim=2, name="mha")
    with pytest.raises(ValueError, match=r"mha: query must be 3-d"):
        layer(T.dmatrix("q"), T.dtensor3("v"))
    layer.build_for(4, 4, 4)
    with pytest.raises(ValueError, match="mha: the value has 3 features, the layer was built for 4"):
        layer(T.tensor("float64", shape=(None, None, 4)), T.tensor("float64", shape=(None, None, 3)),
              key=T.tensor("float64", shape=(None, None, 4)))
    with pytest.raises(ValueError, match="score_mode must be"):
        Attention(score_mode="general")
