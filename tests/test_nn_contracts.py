"""The engine's contracts: doctests, Loss and Activation bases, input_grad, stable parameter references,
evaluating/observing without side effects, the standardiser, and the JSON writer every artefact goes through."""

import doctest
import importlib
import json
import pkgutil

import mpmath
import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from sigmoidlab import _jsonio, nn

RNG = np.random.default_rng(42)
X = RNG.standard_normal((24, 3))
Y = (X[:, 0] + X[:, 1] > 0).astype(float)

# --- doctests --------------------------------------------------------------------------------------------------

NN_MODULES = ["sigmoidlab.nn"] + [f"sigmoidlab.nn.{m.name}" for m in pkgutil.iter_modules(nn.__path__)]


@pytest.mark.parametrize("name", [*NN_MODULES, "sigmoidlab._jsonio"])
def test_doctests_pass(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0


def test_the_documented_modules_have_examples():
    attempted = {n: doctest.testmod(importlib.import_module(n), report=False).attempted for n in NN_MODULES}
    for name in ("sigmoidlab.nn", "sigmoidlab.nn.registry", "sigmoidlab.nn.sequential", "sigmoidlab.nn.optim"):
        assert attempted[name] > 0, name


# --- losses ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", nn.LOSSES.names())
def test_every_loss_keeps_the_loss_contract(name):
    loss = nn.make_loss(name)
    assert isinstance(loss, nn.Loss) and type(loss).name == name
    with pytest.raises(RuntimeError, match="before forward"):
        loss.backward()
    for dtype in (np.float32, np.float64):
        logits = RNG.standard_normal((10, 1)).astype(dtype)
        value = loss.forward(logits, RNG.integers(0, 2, 10))
        assert type(value) is float
        assert loss.backward().shape == logits.shape and loss.backward().dtype == dtype
    assert loss(logits, np.zeros(10)) == loss.forward(logits, np.zeros(10))


@pytest.mark.parametrize(("name", "reference"), [("bce", torch.nn.BCEWithLogitsLoss()), ("mse", None)])
def test_losses_against_torch(name, reference):
    z = torch.tensor(RNG.standard_normal((12, 1)) * 3, requires_grad=True)
    t = torch.tensor(RNG.random((12, 1)))
    expected = reference(z, t) if reference else torch.mean((torch.sigmoid(z) - t) ** 2)
    expected.backward()
    loss = nn.make_loss(name)
    assert loss.forward(z.detach().numpy().copy(), t.numpy()) == pytest.approx(expected.item(), rel=1e-13)
    np.testing.assert_allclose(loss.backward(), z.grad.numpy(), rtol=1e-12, atol=1e-16)


# --- activations -----------------------------------------------------------------------------------------------


def _exact_derivative(name, z):
    """f'(z) with mpmath at 50 digits, rounded once to float64: the reference."""
    mpmath.mp.dps = 50
    exact = {
        "sigmoid": lambda v: mpmath.exp(-v) / (1 + mpmath.exp(-v)) ** 2,
        "tanh": lambda v: mpmath.sech(v) ** 2,
        "relu": lambda v: mpmath.mpf(v > 0),
        "leaky_relu": lambda v: mpmath.mpf(1 if v > 0 else 0.01),
        "identity": lambda v: mpmath.mpf(1),
    }[name]
    return np.array([float(exact(mpmath.mpf(float(v)))) for v in np.ravel(z)]).reshape(np.shape(z))


@pytest.mark.parametrize("name", nn.ACTIVATIONS.names())
def test_activation_derivatives_equal_the_exact_derivative(name):
    layer = nn.make_activation(name)
    assert isinstance(layer, nn.Activation)
    z = np.concatenate([np.linspace(-30, 30, 601), [-4.5, 0.3, 4.5]])
    z = z[np.abs(z) > 1e-9]  # the kink of (leaky) ReLU
    expected = _exact_derivative(name, z)
    np.testing.assert_allclose(layer.derivative(z), expected, rtol=4e-16 * 8, atol=0)  # a few ULP, tails included
    y = layer.forward(z.reshape(1, -1)).ravel()
    moderate = np.abs(z) < 15  # from the output the derivative loses its tails (see Sigmoid's docstring)
    np.testing.assert_allclose(layer.derivative_from_output(y)[moderate], expected[moderate], rtol=1e-9, atol=1e-15)
    assert layer.max_slope == _exact_derivative(name, np.array([-1.0, 0.0, 1.0, 5.0])).max()
    assert layer.saturating == (name in ("sigmoid", "tanh"))


@pytest.mark.parametrize("name", nn.ACTIVATIONS.names())
def test_vanishing_region_matches_the_derivative_threshold(name):
    layer = nn.make_activation(name)
    z = np.linspace(-8, 8, 1600).reshape(40, -1)
    y = layer.forward(z)
    threshold = 0.01
    mask = layer.vanishing(z, y, threshold)
    if name in ("sigmoid", "tanh"):
        # The same point on both curves: f'(z) below threshold·(max slope / σ's max slope of 1/4).
        bound = threshold * layer.max_slope / 0.25
        slope = _exact_derivative(name, z)
        decided = np.abs(slope - bound) > 1e-12  # the saved output's rounding may go either way at the edge
        assert np.array_equal(mask[decided], (slope < bound)[decided]) and decided.mean() > 0.99
        assert mask.any() and not mask.all()
    else:
        assert np.array_equal(mask, z <= 0 if name != "identity" else np.zeros_like(z, bool))


# --- input_grad on every layer ---------------------------------------------------------------------------------

LAYERS = {
    "Dense": lambda: nn.Dense(3, 4, dtype=np.float64, seed=0),
    "BatchNorm1d": lambda: nn.BatchNorm1d(3),
    "Dropout": lambda: nn.Dropout(0.3, seed=0),
    **{name: (lambda name=name: nn.make_activation(name)) for name in nn.ACTIVATIONS.names()},
    "Sequential": lambda: nn.mlp(3, (4,), batchnorm=True, dtype=np.float64, seed=0),
}


@pytest.mark.parametrize("name", LAYERS)
def test_backward_without_input_grad_returns_none_and_the_same_parameter_gradients(name):
    layer = LAYERS[name]()
    out = layer.forward(X)
    g = np.random.default_rng(1).standard_normal(out.shape)
    full = layer.backward(g.copy(), input_grad=True)
    grads = [p.grad.copy() for p in layer.parameters()]
    assert full is not None and full.shape == X.shape
    assert layer.backward(g.copy(), input_grad=False) is None
    for p, before in zip(layer.parameters(), grads, strict=True):
        np.testing.assert_array_equal(p.grad, before)


# --- parameter references stay valid ---------------------------------------------------------------------------


def test_references_taken_after_the_model_is_built_stay_valid_whatever_optimisers_follow():
    model = nn.mlp(3, (4, 2), dtype=np.float64, seed=0)
    W0, W_last = model.dense_layers()[0].W.value, model.dense_layers()[-1].W.value
    assert all(p.packed for p in model.parameters())
    whole = nn.SGD(model.parameters(), lr=0.1)
    last = nn.SGD(model.parameters()[-2:], lr=0.1)  # the output layer only: a run of the model's buffer
    assert np.shares_memory(last.values, whole.values)
    for p in model.parameters():
        p.grad = np.ones(p.shape)
    before = W_last.copy()
    whole.step()
    last.step()
    np.testing.assert_array_equal(W_last, before - 0.2)  # both optimisers moved the array the layer uses
    assert model.dense_layers()[0].W.value is W0 and model.dense_layers()[-1].W.value is W_last


def test_an_optimiser_that_would_move_packed_parameters_is_refused():
    model = nn.mlp(3, (4, 2), dtype=np.float64, seed=0)
    W = model.dense_layers()[0].W.value
    weights = [layer.W for layer in model.dense_layers()]  # not consecutive: the biases lie between them
    for params, why in [
        (weights, "not consecutive"),
        (model.parameters()[::-1], "out of order"),
        (model.parameters() + nn.mlp(3, (2,), dtype=np.float64).parameters(), "several models"),
        ([*model.parameters(), nn.Parameter(np.zeros(3))], "some are packed"),
    ]:
        with pytest.raises(ValueError, match=f"Adam\\(\\): .*stale.*{why}"):
            nn.Adam(params)
    assert model.dense_layers()[0].W.value is W
    nn.SGD(model.parameters(), lr=0.1, weight_decay=0.1, decay=weights)  # the way to single out the weights


def test_layers_shared_with_a_submodel_stay_in_the_model_buffer():
    model = nn.mlp(3, (4,), dtype=np.float64, seed=0)
    opt = nn.SGD(model.parameters(), lr=1.0)
    head = nn.Sequential(model.layers[:2])  # e.g. to look at the hidden layer
    for p in model.parameters():
        p.grad = np.ones(p.shape)
    opt.step()
    np.testing.assert_array_equal(head.forward(X), model.layers[1].forward(model.layers[0].forward(X)))


def test_a_loose_parameter_is_moved_once():
    p = nn.Parameter(np.arange(3.0))
    early = p.value
    assert not p.packed
    values, _ = nn.parameter.pack([p])
    assert p.packed and p.value is not early and np.shares_memory(p.value, values)
    late = p.value
    nn.SGD([p], lr=0.1)
    assert p.value is late


# --- looking without touching ----------------------------------------------------------------------------------


def _bn_model():
    model = nn.mlp(3, (5, 4), activation=["sigmoid", "tanh"], batchnorm=True, dtype=np.float64, seed=1)
    nn.fit(model, X, Y, epochs=2, batch_size=8, progress=False)
    return model


def _snapshot(model):
    return {k: v.copy() for k, v in model.state_arrays().items()}


def test_evaluating_in_eval_mode_uses_running_statistics_and_changes_nothing():
    model = _bn_model().observe(True)
    model.forward(X[:6])
    records, before = model.stats(), _snapshot(model)
    with nn.evaluating(model) as m:
        assert not m.training and all(not layer.training for layer in m.layers)
        logits = model.forward(X)
    assert model.training and model.stats() == records
    assert all(np.array_equal(before[k], v) for k, v in model.state_arrays().items())
    # Reference: evaluation mode by hand, layer by layer.
    x = X
    for layer in model.layers:
        x = layer.eval().forward(x)
    np.testing.assert_array_equal(logits, x)
    np.testing.assert_array_equal(model.predict_logits(X), x)


def test_evaluating_in_training_mode_restores_running_statistics_and_dropout_state():
    model = nn.Sequential([nn.Dense(3, 4, dtype=np.float64, seed=0), nn.BatchNorm1d(4), nn.Dropout(0.5, seed=3)])
    before, rng_state = _snapshot(model), model.layers[2].rng.bit_generator.state
    model.eval()
    model.layers[0].train()  # a mixed setting comes back as it was
    with nn.evaluating(model, mode="train"):
        assert model.training and all(layer.training for layer in model.layers)
        first = model.forward(X)
        assert not np.array_equal(model.layers[1].running_mean, before["1.running_mean"])  # it did move inside
    assert [model.training, *(layer.training for layer in model.layers)] == [False, True, False, False]
    assert all(np.array_equal(before[k], v) for k, v in model.state_arrays().items())
    assert model.layers[2].rng.bit_generator.state == rng_state
    with nn.evaluating(model, mode="train"):
        np.testing.assert_array_equal(model.forward(X), first)  # same mask again: nothing was consumed
    with pytest.raises(ValueError, match="mode must be"), nn.evaluating(model, mode="test"):
        pass


def test_observing_outputs_are_the_arrays_a_layer_by_layer_pass_computes():
    model = _bn_model()
    with nn.evaluating(model, mode="train"), nn.observing(model, threshold=0.05, outputs=True):
        model.forward(X)
        outputs, stats = model.outputs(), model.stats()
    assert model.outputs() == [] and not model._observing  # off again: nothing kept
    # Reference: the lab's way before the hook, running the layers by hand in training mode.
    x, by_hand = X, []
    with nn.evaluating(model, mode="train"):
        for layer in model.layers:
            before, x = x, layer.forward(x)
            if layer.kind:
                by_hand.append((before, x))
    assert [o.activation for o in outputs] == ["sigmoid", "tanh", "output"]
    for o, (z, y) in zip(outputs, by_hand, strict=False):
        np.testing.assert_array_equal(o.preact, z)
        np.testing.assert_array_equal(o.act, y)
    np.testing.assert_array_equal(outputs[-1].preact, x)
    assert outputs[-1].act is None
    for o, s in zip(outputs[:2], stats, strict=False):
        assert s["act_mean"] == float(o.act.mean())
        mask = o.function.vanishing(o.preact, o.act, 0.05)
        assert s["saturation"] == np.count_nonzero(mask) / mask.size
        np.testing.assert_array_equal(o.unit_saturation, mask.mean(axis=0))
    assert outputs[-1].unit_saturation is None


def test_state_arrays_are_what_a_model_file_holds(tmp_path):
    model = _bn_model()
    path = nn.save(model, tmp_path / "m.npz")
    with np.load(path) as archive:
        assert [n for n in archive.files if n != "__sigmoidlab__"] == list(model.state_arrays())
        for name, a in model.state_arrays().items():
            np.testing.assert_array_equal(archive[name], a)


# --- the standardiser ------------------------------------------------------------------------------------------


def _columns(rng, n):
    """Columns with every difficulty: large offsets, tiny spreads, exact and inexact constants."""
    return np.column_stack(
        [
            rng.standard_normal(n),
            1e4 + 1e-3 * rng.standard_normal(n),
            np.full(n, 3.3),  # constant, not exactly representable: numpy's std is ~1e-16, not 0
            np.zeros(n),
            rng.integers(0, 17, n).astype(float),
        ]
    )


@pytest.mark.parametrize("n", [1, 2, 7, 300, 4000])
def test_standardizer_equals_scikit_learns_standard_scaler_bit_for_bit(n):
    X = _columns(np.random.default_rng(n), n)
    ours, theirs = nn.Standardizer.fit(X), StandardScaler().fit(X)
    np.testing.assert_array_equal(ours.mean, theirs.mean_)
    np.testing.assert_array_equal(ours.scale, theirs.scale_)
    X_new = _columns(np.random.default_rng(n + 1), 50)
    np.testing.assert_array_equal(ours.transform(X_new), theirs.transform(X_new))
    # constant columns: scale 1, so they stay within rounding of 0 (numpy's std of the 3.3s is noise, ~1e-15)
    assert (ours.scale[2:4] == 1).all() and (np.abs(ours.transform(X)[:, 2:4]) < 1e-12).all()


def test_standardizer_equals_the_mean_std_formula_on_the_generated_data_sets():
    from sigmoidlab import datasets

    for name in ("xor", "moons", "circles", "spiral", "gaussians"):
        X, _ = datasets.load(name, n_samples=400, noise=0.2, random_state=0)
        mean, std = X.mean(axis=0), X.std(axis=0)  # how lab/runner.py and web/sessions.py standardised
        np.testing.assert_array_equal(nn.Standardizer.fit(X).transform(X), (X - mean) / std)


def test_standardizer_json_round_trip_and_errors():
    s = nn.Standardizer.fit(_columns(np.random.default_rng(0), 20))
    data = json.loads(json.dumps(s.to_json()))
    assert nn.Standardizer.from_json(data, n_features=5) == s
    assert nn.Standardizer.from_json(None) is None  # "standardize": null, a model trained on raw features
    row = [[1.0, 2.0, 3.0, 4.0, 5.0]]
    np.testing.assert_allclose(nn.Standardizer.from_json(data).inverse_transform(s.transform(row)), row, rtol=1e-12)
    for bad, message in [
        ([1, 2], "'standardize' must be null or an object with 'mean' and 'scale'"),
        ({"mean": [0.0] * 5, "scale": [1.0] * 4 + [0.0]}, "'standardize.scale' must be a list of 5 finite numbers > 0"),
        ({"mean": [0.0] * 4, "scale": [1.0] * 5}, "'standardize.mean' must be a list of 5 finite numbers"),
        ({"mean": [0.0] * 4 + [True], "scale": [1.0] * 5}, "'standardize.mean'"),
    ]:
        with pytest.raises(ValueError, match=message.replace("(", "\\(")):
            nn.Standardizer.from_json(bad, n_features=5)
    with pytest.raises(ValueError, match="NaN"):
        nn.Standardizer.fit([[1.0], [np.nan]])
    with pytest.raises(ValueError, match=r"shape \(n, 5\)"):
        s.transform(np.zeros((2, 3)))


# --- the JSON writer -------------------------------------------------------------------------------------------


def test_json_writer_turns_non_finite_into_null_and_numpy_into_plain_json():
    value = {
        "nan": float("nan"),
        "inf": np.float32(np.inf),
        "rows": [{"x": np.float64(0.1), "n": np.int64(3), "ok": np.bool_(True)}],
        "array": np.array([[1.0, np.nan], [-np.inf, 2.5]]),
        "ints": np.arange(3),
        "tuple": (1, None),
        1: "key",
    }
    text = _jsonio.dumps(value, compact=True)
    assert json.loads(text) == {
        "nan": None,
        "inf": None,
        "rows": [{"x": 0.1, "n": 3, "ok": True}],
        "array": [[1.0, None], [None, 2.5]],
        "ints": [0, 1, 2],
        "tuple": [1, None],
        "1": "key",
    }
    assert "NaN" not in text and "Infinity" not in text and ", " not in text
    plain = {"a": [1, 2.5, None, True, "x"], "b": {"c": (1, 2)}, 3: 0.1}  # json.dumps takes it as it is
    assert (
        _jsonio.dumps(plain, indent=2) == json.dumps(plain, indent=2) == json.dumps(_jsonio.jsonable(plain), indent=2)
    )
    with pytest.raises(TypeError, match="cannot write a object as JSON"):
        _jsonio.dumps({"x": object()})


def test_json_writer_is_atomic(tmp_path):
    path = tmp_path / "run.json"
    _jsonio.write_json(path, {"loss": [0.5, float("nan")]}, indent=2, newline=True)
    assert json.loads(path.read_text()) == {"loss": [0.5, None]} and path.read_text().endswith("}\n")
    with pytest.raises(TypeError):
        _jsonio.write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"loss": [0.5, None]}  # the old file, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left behind
    assert _jsonio.finite(1 / 3, digits=4) == 0.3333 and _jsonio.array([0.12345, np.nan], decimals=2) == [0.12, None]


def test_the_base_classes_refuse_a_subclass_that_leaves_out_part_of_the_contract():
    class NoBackward(nn.Layer):
        def forward(self, x):
            return x

    class NoVanishing(nn.Activation):
        def forward(self, x):
            return x

        def backward(self, g, input_grad=True):
            return g

        def derivative(self, z):
            return np.ones_like(z)

        def derivative_from_output(self, y):
            return np.ones_like(y)

    class NoForward(nn.Loss):
        pass

    for cls, missing in ((NoBackward, "backward"), (NoVanishing, "vanishing"), (NoForward, "forward")):
        with pytest.raises(TypeError, match=missing):
            cls()
