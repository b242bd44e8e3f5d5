"""fit / train_step, observation hooks, and save/load of sigmoidlab.nn models."""

import zipfile

import numpy as np
import pytest
from sklearn.datasets import make_moons

from sigmoidlab import nn

X_MOONS, Y_MOONS = make_moons(600, noise=0.2, random_state=0)


def small_fit(seed=0, **kw):
    # tanh: a sigmoid net this small sits on the linear plateau (~0.87) for the first ~2000 steps on moons
    model = nn.mlp(2, (8, 8), activation="tanh", dtype=np.float64, seed=seed)
    opt = nn.Adam(model.parameters(), lr=0.05)
    history = nn.fit(
        model, X_MOONS, Y_MOONS, optimizer=opt, epochs=kw.pop("epochs", 30), progress=False, seed=seed, **kw
    )
    return model, history


def test_fit_learns_moons_and_reports_history():
    model, history = small_fit(validation_split=0.25)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 30 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    assert history.history["val_accuracy"][-1] >= 0.95
    assert ((model.predict_proba(X_MOONS) > 0.5) == Y_MOONS).mean() >= 0.95


def test_same_seed_same_result_different_seed_different_result():
    m1, h1 = small_fit(seed=3, epochs=5)
    m2, h2 = small_fit(seed=3, epochs=5)
    m3, _ = small_fit(seed=4, epochs=5)
    assert h1.history == h2.history
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)
    assert not np.array_equal(m1.parameters()[0].value, m3.parameters()[0].value)


def test_validation_data_and_early_stopping():
    model = nn.mlp(2, (8,), dtype=np.float64, seed=0)
    # lr so small the validation loss barely moves: tol makes every epoch "no improvement" after the first
    history = nn.fit(
        model, X_MOONS, Y_MOONS, optimizer=nn.SGD(model.parameters(), lr=1e-6), epochs=50, progress=False,
        validation_data=(X_MOONS[:100], Y_MOONS[:100]), early_stopping=True, patience=3, tol=1e-3,
    )  # fmt: skip
    assert history.stopped_early and history.epochs == 4 and len(history.history["val_loss"]) == 4


def test_callbacks_are_called_and_can_stop():
    class Recorder(nn.Callback):
        def __init__(self):
            self.events = []

        def on_train_begin(self, model):
            self.events.append("begin")

        def on_step_end(self, model, epoch, step, loss):
            self.events.append(("step", epoch, step))

        def on_epoch_end(self, model, epoch, logs):
            self.events.append(("epoch", epoch, sorted(logs)))
            return epoch == 1

        def on_train_end(self, model, history):
            self.events.append(("end", history.epochs))

    rec = Recorder()
    model = nn.mlp(2, (4,), seed=0)
    nn.fit(model, X_MOONS[:129], Y_MOONS[:129], epochs=10, batch_size=64, progress=False, callbacks=[rec])
    # 129 samples, batch 64: batches of 64 and 65 (a last batch of one sample joins the previous one)
    assert rec.events == [
        "begin",
        ("step", 0, 0), ("step", 0, 1), ("epoch", 0, ["accuracy", "loss"]),
        ("step", 1, 0), ("step", 1, 1), ("epoch", 1, ["accuracy", "loss"]),
        ("end", 2),
    ]  # fmt: skip


def test_train_step_equals_manual_forward_backward_step():
    m1, m2 = (nn.mlp(2, (5,), dtype=np.float64, seed=9) for _ in range(2))
    o1, o2 = nn.SGD(m1.parameters(), lr=0.1), nn.SGD(m2.parameters(), lr=0.1)
    loss = nn.BCEWithLogits()
    value = nn.train_step(m1, loss, o1, X_MOONS[:32], Y_MOONS[:32])
    expected = loss.forward(m2.forward(X_MOONS[:32]), Y_MOONS[:32])
    m2.backward(loss.backward())
    o2.step()
    assert value == expected
    np.testing.assert_array_equal(o1.values, o2.values)


def test_divergence_raises_with_epoch_and_step_and_keeps_finite_parameters():
    model = nn.mlp(2, (8,), activation="relu", init="he_normal", dtype=np.float32, seed=0)
    X = X_MOONS * 1e3
    with pytest.raises(nn.DivergenceError, match=r"epoch \d+, step \d+") as info:
        nn.fit(model, X, Y_MOONS, optimizer=nn.SGD(model.parameters(), lr=1e30), epochs=5, progress=False)
    assert info.value.epoch >= 0 and info.value.step >= 0
    assert all(np.isfinite(p.value).all() for p in model.parameters())


def test_fit_validates_its_input():
    model = nn.mlp(2, (4,), seed=0)
    with pytest.raises(ValueError, match="features"):
        nn.fit(model, np.zeros((10, 3)), np.zeros(10), progress=False)
    with pytest.raises(ValueError, match="shape"):
        nn.fit(model, np.zeros((10, 2)), np.zeros(9), progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.fit(model, np.zeros((10, 2)), np.full(10, 2.0), progress=False)
    with pytest.raises(ValueError, match="NaN"):
        nn.fit(model, np.full((10, 2), np.nan), np.zeros(10), progress=False)
    with pytest.raises(ValueError, match="not both"):
        nn.fit(model, X_MOONS, Y_MOONS, validation_split=0.2, validation_data=(X_MOONS, Y_MOONS), progress=False)


def test_float32_model_computes_in_float32():
    model = nn.mlp(2, (4,), dtype=np.float32, seed=0)
    assert model.forward(X_MOONS[:5]).dtype == np.float32  # float64 input is cast once
    assert model.predict_proba(X_MOONS[:5]).dtype == np.float32
    nn.fit(model, X_MOONS, Y_MOONS, epochs=1, progress=False)
    assert all(p.value.dtype == np.float32 for p in model.parameters())


@pytest.mark.parametrize("batchnorm", [False, True])
def test_stats_equal_direct_computation(batchnorm):
    model = nn.mlp(2, (6, 5), activation=["sigmoid", "tanh"], batchnorm=batchnorm, dtype=np.float64, seed=2)
    model.observe(True, threshold=0.15)
    x, y = X_MOONS[:50] * 3, Y_MOONS[:50]
    loss = nn.BCEWithLogits()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    stats = model.stats()
    dense = model.dense_layers()
    assert [s["activation"] for s in stats] == ["sigmoid", "tanh", "output"]
    assert [s["units"] for s in stats] == [6, 5, 1]
    # recompute the pre-activations and activations directly
    z0 = x @ dense[0].W.value + dense[0].b.value
    bn = (lambda z: (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)) if batchnorm else (lambda z: z)
    a0 = 1 / (1 + np.exp(-bn(z0)))
    z1 = bn(a0 @ dense[1].W.value + dense[1].b.value)
    a1 = np.tanh(z1)
    logits = a1 @ dense[2].W.value + dense[2].b.value
    for s, layer in zip(stats, dense, strict=True):
        assert s["weight_norm"] == np.linalg.norm(layer.W.value)
        assert s["weight_grad_norm"] == np.linalg.norm(layer.W.grad)
        assert s["bias_grad_norm"] == np.linalg.norm(layer.b.grad)
    for s, z, a in ((stats[0], bn(z0), a0), (stats[1], z1, a1)):
        assert s["preact_mean"] == pytest.approx(z.mean(), rel=1e-12, abs=1e-14)
        assert s["preact_std"] == pytest.approx(z.std(), rel=1e-12)
        assert s["act_mean"] == pytest.approx(a.mean(), rel=1e-12)
        assert s["act_std"] == pytest.approx(a.std(), rel=1e-12)
    assert stats[0]["saturation"] == np.mean(a0 * (1 - a0) < 0.15)
    assert stats[1]["saturation"] == np.mean(1 - a1**2 < 4 * 0.15)
    assert 0 < stats[0]["saturation"] < 1
    assert stats[2]["preact_mean"] == pytest.approx(logits.mean(), rel=1e-12)
    assert np.isnan(stats[2]["act_mean"]) and np.isnan(stats[2]["saturation"])


def test_relu_saturation_counts_nonpositive_preactivations():
    model = nn.mlp(2, (7,), activation="relu", dtype=np.float64, seed=0).observe(True)
    model.forward(X_MOONS)
    z = X_MOONS @ model.layers[0].W.value + model.layers[0].b.value
    assert model.stats()[0]["saturation"] == np.mean(z <= 0)


def test_hooks_off_store_nothing():
    model = nn.mlp(2, (4,), seed=0)
    nn.fit(model, X_MOONS, Y_MOONS, epochs=1, progress=False)
    assert model._records == {}
    assert all(np.isnan(s["act_mean"]) for s in model.stats())
    model.observe(True)
    model.forward(X_MOONS)
    assert model._records
    model.observe(False)
    assert model._records == {}


def test_predict_proba_does_not_overwrite_observations():
    model = nn.mlp(2, (4,), seed=0).observe(True)
    model.forward(X_MOONS[:10])
    before = model.stats()
    model.predict_proba(X_MOONS * 100)
    assert model.stats() == before
    assert model.training


# --- save / load ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip_gives_identical_predictions(tmp_path, dtype):
    model = nn.mlp(2, (6, 4), activation=["tanh", "leaky_relu"], batchnorm=True, dtype=dtype, seed=1)
    nn.fit(model, X_MOONS, Y_MOONS, epochs=2, progress=False)
    path = nn.save(model, tmp_path / "m.npz", metadata={"dataset": "moons", "features": ["x1", "x2"]})
    loaded, meta = nn.load(path)
    assert meta == {"dataset": "moons", "features": ["x1", "x2"]}
    assert loaded.dtype == dtype and not loaded.training
    np.testing.assert_array_equal(loaded.predict_proba(X_MOONS), model.predict_proba(X_MOONS))
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_load_refuses_truncated_tampered_and_foreign_files(tmp_path):
    path = nn.save(nn.mlp(2, (3,), seed=0), tmp_path / "m.npz")
    data = path.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    np.savez(tmp_path / "foreign.npz", a=np.arange(3))
    (tmp_path / "text.npz").write_text("hello")
    # tampered: same structure, one weight changed
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["0.W"] = arrays["0.W"] + 1
    np.savez(tmp_path / "tampered.npz", **arrays)
    for name, why in [
        ("truncated", "npz"),
        ("foreign", "no sigmoidlab header"),
        ("text", "npz"),
        ("tampered", "checksum"),
    ]:
        with pytest.raises(ValueError, match=f"{name}.npz.*{why}"):
            nn.load(tmp_path / f"{name}.npz")
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "missing.npz")


def test_load_never_unpickles(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "evil.npz", "w") as z:
        z.write(tmp_path / "obj.npy", "__sigmoidlab__.npy")
    with pytest.raises(ValueError, match=r"evil\.npz"):
        nn.load(tmp_path / "evil.npz")


def test_save_is_atomic_on_bad_metadata(tmp_path):
    model = nn.mlp(2, (3,), seed=0)
    target = nn.save(model, tmp_path / "m.npz")
    before = target.read_bytes()
    with pytest.raises(ValueError, match="JSON"):
        nn.save(model, target, metadata={"x": object()})
    assert target.read_bytes() == before and list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize(
    "name", ["standard", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal"]
)
def test_initialisers_have_their_documented_variance(name):
    fan_in, fan_out = 400, 300
    W = nn.init.get(name)(fan_in, fan_out, np.random.default_rng(0), np.float64)
    expected = {
        "standard": 1 / (3 * fan_in),
        "glorot_uniform": 2 / (fan_in + fan_out),
        "glorot_normal": 2 / (fan_in + fan_out),
        "he_uniform": 2 / fan_in,
        "he_normal": 2 / fan_in,
        "lecun_normal": 1 / fan_in,
    }[name]
    assert W.var() == pytest.approx(expected, rel=0.02)
    assert nn.init.get("normal(0.5)")(fan_in, fan_out, np.random.default_rng(0), np.float64).std() == pytest.approx(
        0.5, rel=0.02
    )
    with pytest.raises(ValueError, match="unknown init"):
        nn.init.get("bogus")


# --- runs that end worse than they started -------------------------------------------------


def test_diverging_run_without_overflow_is_flagged_and_warned():
    """lr = 1e9 drives the logits to ~1e9·x: the loss stays finite (no DivergenceError) but ends far above
    where it started, at chance accuracy; ``fit`` flags it on the history and warns once."""
    model = nn.mlp(2, (8,), activation="sigmoid", dtype=np.float64, seed=0)
    with pytest.warns(nn.train.TrainingWarning, match="ended worse than it started") as record:
        history = nn.fit(model, X_MOONS, Y_MOONS, optimizer=nn.Adam(model.parameters(), lr=1e9), epochs=5,
                         progress=False)  # fmt: skip
    assert len(record) == 1
    assert history.ended_worse
    assert np.isfinite(history.history["loss"][-1]) and history.history["loss"][-1] > 100 * history.initial_loss
    # the initial loss is the first mini-batch's, before any update: recompute it from a fresh copy of the model
    fresh = nn.mlp(2, (8,), activation="sigmoid", dtype=np.float64, seed=0)
    first = np.random.default_rng(0).permutation(len(X_MOONS))[:64]
    expected = nn.BCEWithLogits().forward(fresh.forward(X_MOONS[first]), Y_MOONS[first].reshape(-1, 1))
    assert history.initial_loss == pytest.approx(expected, rel=1e-12)


def test_ordinary_runs_are_not_flagged(recwarn):
    _, history = small_fit(epochs=5)
    assert not history.ended_worse and history.initial_loss > history.history["loss"][-1]
    # A run that barely moves is not "worse" either.
    model = nn.mlp(2, (4,), seed=1)
    history = nn.fit(model, X_MOONS, Y_MOONS, optimizer=nn.SGD(model.parameters(), lr=1e-9), epochs=2, progress=False)
    assert not history.ended_worse
    assert not [w for w in recwarn if issubclass(w.category, nn.train.TrainingWarning)]


def test_ended_worse_rule():
    assert nn.train.ended_worse(0.69, 5e70) and nn.train.ended_worse(0.5, 1.2)
    assert not nn.train.ended_worse(0.69, 0.69) and not nn.train.ended_worse(0.01, 0.1)  # margin for tiny losses
