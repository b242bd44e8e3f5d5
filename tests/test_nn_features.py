"""Input feature crosses (sigmoidlab.nn.features), the regression data sets and loss, L1/L2 through the optimisers."""

import numpy as np
import pytest

from sigmoidlab import datasets, nn
from sigmoidlab.nn.features import FEATURES, FeatureMap
from sigmoidlab.nn.losses import SquaredError


def test_every_feature_against_its_formula():
    X = np.array([[0.5, -2.0], [3.0, 0.25]])
    x, y = X[:, 0], X[:, 1]
    expected = {
        "x": x, "y": y, "x_times_y": x * y, "x_squared": x**2, "y_squared": y**2,
        "sin_x": np.sin(x), "cos_x": np.cos(x), "sin_y": np.sin(y), "cos_y": np.cos(y),
    }  # fmt: skip
    assert set(expected) == set(FEATURES)
    out = FeatureMap(list(expected))(X)
    np.testing.assert_allclose(out, np.column_stack(list(expected.values())), rtol=1e-15)


@pytest.mark.parametrize(
    ("names", "message"), [([], "at least one"), (["x", "z"], "unknown feature 'z'"), (["x", "x"], "twice")]
)
def test_bad_feature_lists(names, message):
    with pytest.raises(ValueError, match=message):
        FeatureMap(names)


def test_wrong_input_shape():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        FeatureMap(["x"])(np.zeros((3, 3)))


def _circles_test_accuracy(features: list[str]) -> float:
    """Logistic regression (no hidden layer) on the given crosses of standardised circles, test accuracy."""
    X, y = datasets.circles(n_samples=600, noise=0.1, random_state=0)
    X_train, y_train, X_test, y_test = X[:400], y[:400], X[400:], y[400:]
    scaler = nn.Standardizer.fit(X_train)
    fm = FeatureMap(features)
    model = nn.mlp(fm.n_outputs, hidden=(), dtype=np.float64, seed=0)
    opt = nn.Adam(model.parameters(), lr=0.05)
    nn.fit(model, fm(scaler.transform(X_train)), y_train, optimizer=opt, epochs=150, progress=False, seed=0)
    return float(np.mean((model.predict_proba(fm(scaler.transform(X_test))).ravel() > 0.5) == y_test))


def test_squares_solve_circles_without_hidden_layer():
    assert _circles_test_accuracy(["x_squared", "y_squared"]) >= 0.95


def test_linear_model_on_coordinates_cannot_solve_circles():
    assert _circles_test_accuracy(["x", "y"]) < 0.75


def test_reg_plane_matches_tensorflow_playground_formula():
    X, t = datasets.reg_plane(500, noise=0.0, random_state=1)
    assert X.shape == (500, 2) and np.all(np.abs(X) <= 6)
    np.testing.assert_allclose(t, (X[:, 0] + X[:, 1]) / 10)


def test_reg_gauss_values_at_known_points():
    # Reference values worked by hand from TensorFlow Playground's definition: sign·clamp(1 − d/2, 0, 1) of the
    # bump largest in magnitude; bumps at (±4, ±2.5) and (0, ±2.5) with signs +,−,+ (top) and −,+,− (bottom).
    X, t = datasets.reg_gauss(2000, noise=0.0, random_state=2)
    for (px, py), want in [((-4, 2.5), 1.0), ((0, 2.5), -1.0), ((4, -2.5), -1.0), ((0, 0), 0.0), ((1, 2.5), -0.5)]:
        i = np.argmin(np.hypot(X[:, 0] - px, X[:, 1] - py))
        d = np.hypot(X[i, 0] - px, X[i, 1] - py)
        assert abs(t[i] - want) <= d / 2 + 1e-12  # the target is 1/2-Lipschitz near a bump
    assert t.min() >= -1 and t.max() <= 1


def test_regression_noise_is_checked():
    with pytest.raises(ValueError, match="noise"):
        datasets.reg_plane(10, noise=2.0)


def test_squared_error_against_numerical_gradient():
    z = np.array([[0.3], [-1.2], [2.0]])
    t = np.array([0.5, -1.0, 1.0])
    loss = SquaredError()
    value = loss.forward(z, t)
    assert value == pytest.approx(np.mean((z.ravel() - t) ** 2))
    grad = loss.backward().copy()
    eps = 1e-6
    for i in range(3):
        zp, zm = z.copy(), z.copy()
        zp[i] += eps
        zm[i] -= eps
        numeric = (SquaredError().forward(zp, t) - SquaredError().forward(zm, t)) / (2 * eps)
        assert grad[i, 0] == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("penalty", ["l1", "weight_decay"])
def test_penalty_shrinks_weights(penalty):
    """With a strong penalty on the weights, they end far smaller than without."""
    X, y = datasets.gaussians(n_samples=200, noise=0.5, random_state=0)
    norms = []
    for rate in (0.0, 0.3):
        model = nn.mlp(2, hidden=(), dtype=np.float64, seed=0)
        W = model.dense_layers()[0].W
        opt = nn.SGD(model.parameters(), lr=0.5, **{penalty: rate}, decay=[W])
        nn.fit(model, X, y, optimizer=opt, epochs=100, progress=False, seed=0)
        norms.append(float(np.abs(W.value).sum()))
    assert norms[1] < 0.5 * norms[0]


def test_penalty_on_weights_leaves_biases():
    """The playground penalises ``decay=[W]``: a step with zero loss gradient moves W and not b."""
    model = nn.mlp(2, hidden=(), dtype=np.float64, seed=0)
    dense = model.dense_layers()[0]
    dense.b.value[:] = 1.0
    W0, b0 = dense.W.value.copy(), dense.b.value.copy()
    opt = nn.SGD(model.parameters(), lr=0.1, weight_decay=0.5, decay=[dense.W])
    for p in model.parameters():
        p.grad[...] = 0.0
    opt.step()
    np.testing.assert_allclose(dense.W.value, W0 * (1 - 0.1 * 0.5))
    np.testing.assert_array_equal(dense.b.value, b0)
