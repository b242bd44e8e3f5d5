"""The network diagram's per-unit thumbnails (sigmoidlab/web/thumbnails.py), through the API: each hidden unit's
activation, or its derivative with the vanishing region, on a 16 × 16 grid of the input plane, decoded from the
frame and compared with the model's own forward pass at those points, computed here from the model's layers (a
prefix of them, in evaluation mode) rather than the web's code path, and with the derivatives and the vanishing
rule written out from their definitions (σ′ = σ(1 − σ) with SciPy's expit; tanh′ = 1 − tanh²; ReLU: z ≤ 0)."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
from scipy.special import expit
from starlette.testclient import TestClient

from sigmoidlab import nn
from sigmoidlab.nn.features import FeatureMap
from sigmoidlab.web import create_app
from sigmoidlab.web.sessions import DIAGRAM_UNITS
from sigmoidlab.web.thumbnails import SIZE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Units that saturate over part of the plane and not over the rest: x² and y² as inputs, and after
# SATURATING_STEPS steps of plain SGD at a large learning rate, large weights (σ' < 0.01 on 1% to 50% of the plane).
SATURATED = {"dataset": "circles", "features": ["x", "y", "x_squared", "y_squared"], "hidden": [6],
             "activation": "sigmoid", "optimizer": "sgd", "lr": 3.0, "seed": 0}  # fmt: skip
SATURATING_STEPS = 20
RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}  # bounded activations; the others: the unit's own extremes
MAX_SLOPE = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "identity": 1.0}


@pytest.fixture
def client():
    with TestClient(create_app()) as c:
        yield c


def _session(client, config, steps=0, thumbnails=None):
    body = {**config, **({"thumbnails": thumbnails} if thumbnails else {})}
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    session = client.app.state.manager.sessions[r.json()["id"]]
    for _ in range(steps):
        client.post(f"/api/sessions/{session.id}/control", json={"action": "step"})
    return session, json.loads(session.frame_json)


def grid_points(extent) -> np.ndarray:
    """The SIZE × SIZE points of the plane, row i·SIZE + j at (x_j, y_i), y from the bottom."""
    gx, gy = np.meshgrid(np.linspace(extent[0], extent[1], SIZE), np.linspace(extent[2], extent[3], SIZE))
    return np.column_stack([gx.ravel(), gy.ravel()])


def reference(session, layer: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(z, a, activation name) of hidden layer ``layer`` at the grid points: the model's first layers, up to that
    layer's activation, as a model of their own, predicting in evaluation mode."""
    model, data = session.model, session.data
    X = FeatureMap(session.config.features)(data.scaler.transform(grid_points(data.extent)))
    acts = [i for i, lyr in enumerate(model.layers) if isinstance(lyr, nn.Activation)]
    upto = acts[layer]
    z = nn.Sequential(model.layers[:upto]).predict_logits(X)
    a = nn.Sequential(model.layers[: upto + 1]).predict_logits(X)
    return z, a, model.layers[upto].kind


def decode(entry) -> np.ndarray:
    """A layer's bytes as (units, SIZE·SIZE), row i·SIZE + j as the grid points."""
    raw = np.frombuffer(base64.b64decode(entry["data"]), dtype=np.uint8)
    assert raw.size == entry["units"] * SIZE * SIZE
    return raw.reshape(entry["units"], SIZE * SIZE)


@pytest.mark.parametrize(
    ("activation", "batchnorm"),
    [("sigmoid", False), ("tanh", False), ("relu", False), ("linear", False), ("tanh", True)],
)
def test_activation_thumbnails_match_the_models_forward_pass(client, activation, batchnorm):
    config = {"dataset": "moons", "hidden": [5, 20], "activation": activation, "batchnorm": batchnorm, "seed": 3}
    session, frame = _session(client, config, steps=5)
    thumbs = frame["thumbnails"]
    assert thumbs["mode"] == "activation" and thumbs["size"] == SIZE == 16
    assert [t["layer"] for t in thumbs["layers"]] == [0, 1]
    assert [t["units"] for t in thumbs["layers"]] == [5, DIAGRAM_UNITS]  # the diagram draws 16 of the 20
    for k, entry in enumerate(thumbs["layers"]):
        _, a, kind = reference(session, k)
        a = a[:, : entry["units"]].T  # (units, points)
        lo, hi = np.array(entry["lo"]), np.array(entry["hi"])
        if kind in RANGES:
            assert np.all(lo == RANGES[kind][0]) and np.all(hi == RANGES[kind][1])
        else:  # ReLU [0, the unit's max], identity [min, max], each rounded to 4 significant digits
            expected_lo = 0.0 if kind == "relu" else a.min(axis=1)
            np.testing.assert_allclose(lo, expected_lo, rtol=1e-3, atol=1e-12)
            np.testing.assert_allclose(hi, a.max(axis=1), rtol=1e-3)
        span = (hi - lo)[:, None]
        shown = lo[:, None] + decode(entry) / 255 * span
        assert np.all(np.abs(shown - a) <= span * (0.5 / 255 + 1e-3)), f"layer {k} ({kind})"


def test_derivative_view_marks_the_vanishing_region(client):
    session, frame = _session(client, SATURATED, SATURATING_STEPS, thumbnails="derivative")
    entry = frame["thumbnails"]["layers"][0]
    assert frame["thumbnails"]["mode"] == "derivative" and entry["hi"] == [0.25] * 6 and entry["lo"] == [0.0] * 6
    z, _, _ = reference(session, 0)
    d = expit(z) * (1 - expit(z))  # σ'(z)
    threshold = session.config.threshold
    q = decode(entry).T.astype(int)  # (points, units)
    clear = np.abs(d - threshold) > 1e-9 * threshold  # not on the edge, where rounding may decide
    assert np.array_equal((q == 0)[clear], (d < threshold)[clear])
    assert np.all(np.abs(q[d >= threshold] - (1 + np.rint(254 * d[d >= threshold] / 0.25))) <= 1)
    red = (q == 0).mean(axis=0)
    assert red.max() > 0.3 and red.min() < 0.1  # the test is about something: red regions, and clear ones


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_derivative_view_for_other_activations(client, activation):
    config = {**SATURATED, "activation": activation}
    session, frame = _session(client, config, SATURATING_STEPS, thumbnails="derivative")
    z, _, kind = reference(session, 0)
    t = session.config.threshold
    if kind == "tanh":
        d, vanishing = 1 - np.tanh(z) ** 2, 1 - np.tanh(z) ** 2 < 4 * t  # tanh′(z) = 4σ′(2z): the same point
    else:
        d, vanishing = (z > 0).astype(float), z <= 0
    q = decode(frame["thumbnails"]["layers"][0]).T.astype(int)
    clear = np.abs(d - 4 * t) > 1e-9 if kind == "tanh" else np.ones_like(vanishing)
    assert np.array_equal((q == 0)[clear], vanishing[clear]) and vanishing.any() and not vanishing.all()
    assert np.all(np.abs(q[~vanishing] - (1 + np.rint(254 * d[~vanishing] / MAX_SLOPE[kind]))) <= 1)


def test_unit_saturation_is_the_meters_per_unit(client):
    """Per unit, the fraction of the training set in the vanishing region (training mode, as the meter): its mean
    over the units is the meter's layer saturation; each one is checked against the model's own forward."""
    session, frame = _session(client, SATURATED, steps=3)
    layer = frame["layers"][0]
    assert len(layer["unit_saturation"]) == 6 and frame["layers"][-1]["unit_saturation"] is None
    assert np.mean(layer["unit_saturation"]) == pytest.approx(layer["saturation"], abs=1e-3)
    model, data = session.model, session.data
    X = FeatureMap(session.config.features)(data.standardize(data.X_train))
    z = nn.Sequential(model.layers[:1]).predict_logits(X)  # no batch norm: both modes compute the same z
    d = expit(z) * (1 - expit(z))
    np.testing.assert_allclose(layer["unit_saturation"], (d < session.config.threshold).mean(axis=0), atol=6e-4)


def test_thumbnails_setting_through_the_api(client):
    session, frame = _session(client, SATURATED, steps=2, thumbnails="off")
    assert frame["thumbnails"] is None and client.get(f"/api/sessions/{session.id}").json()["thumbnails"] == "off"
    plain = len(session.frame_json)
    r = client.post(f"/api/sessions/{session.id}/control", json={"action": "thumbnails", "thumbnails": "derivative"})
    assert r.status_code == 200 and r.json()["thumbnails"] == "derivative"
    frame = json.loads(session.frame_json)  # a paused session sends a new frame of the same step at once
    assert frame["step"] == 2 and frame["thumbnails"]["mode"] == "derivative"
    # 6 units × 256 bytes in base64 (2,048 characters), and a little JSON around them.
    assert 2048 < len(session.frame_json) - plain < 2300
    bad = [
        ({"action": "thumbnails"}, "needs thumbnails, one of activation, derivative, off"),
        ({"action": "thumbnails", "thumbnails": "heat"}, "unknown thumbnails 'heat'"),
    ]
    for body, fragment in bad:
        r = client.post(f"/api/sessions/{session.id}/control", json=body)
        assert r.status_code == 422 and fragment in r.json()["error"] and r.json()["field"] == "thumbnails"
    r = client.post("/api/sessions", json={**SATURATED, "thumbnails": True})
    assert r.status_code == 422 and r.json()["field"] == "thumbnails"
    options = client.get("/api/options").json()
    assert options["thumbnails"] == ["activation", "derivative", "off"]
    assert options["default_thumbnails"] == "activation"


def test_a_playing_session_reuses_its_thumbnails_every_other_frame(client):
    """While playing, the thumbnails are recomputed every other frame: a frame that is not fresh repeats the last
    ones, unless the view changed; every frame taken while paused (a step, a switch of view) is fresh."""
    session, first = _session(client, SATURATED, steps=1)
    session._train(5, math.inf)
    repeated = json.loads(session._snapshot(fresh_units=False))
    assert repeated["step"] == 6 and repeated["thumbnails"] == first["thumbnails"]
    assert json.loads(session._snapshot())["thumbnails"] != first["thumbnails"]  # fresh: the weights moved
    session.thumbnails = "derivative"
    assert json.loads(session._snapshot(fresh_units=False))["thumbnails"]["mode"] == "derivative"
    session.thumbnails = "off"
    assert json.loads(session._snapshot(fresh_units=False))["thumbnails"] is None
