"""The playground's HTTP API: every endpoint, every validation error, the session cap (also under concurrency),
the body-size guard, JSON errors for every failure, idle reaping (also of a stream nobody reads), divergence, the
frames' numbers against scikit-learn, and a full training stream over a real socket. tests/test_web_server.py
attacks a real server in its own process."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from sklearn.metrics import accuracy_score, log_loss
from starlette.testclient import TestClient

import sigmoidlab as sl
from sigmoidlab import nn
from sigmoidlab.web import create_app, schema
from sigmoidlab.web.schema import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, RequestError
from sigmoidlab.web.sessions import GRID, Session, SessionManager

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

XOR = {"dataset": "xor", "hidden": [4], "activation": ["sigmoid"], "optimizer": "adam", "lr": 0.03}


@pytest.fixture
def client():
    with TestClient(create_app()) as c:
        yield c


def _session(client, config=XOR) -> str:
    r = client.post("/api/sessions", json=config)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _wait(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


# --- page, static files, headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/app.css", "/api/options", "/api/nope", "/nope"])
def test_security_headers_on_every_response(client, path):
    r = client.get(path)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"


STATIC = Path(schema.__file__).parent / "static"
MODULES = sorted(p.name for p in STATIC.glob("*.js"))


def test_page_loads_only_its_own_files(client):
    html = client.get("/").text
    assert re.findall(r"<script\b[^>]*>", html) == ['<script type="module" src="/static/app.js">']  # no inline script
    assert "style=" not in html and "<style" not in html
    for path in ("/", "/static/app.css", *(f"/static/{name}" for name in MODULES)):
        r = client.get(path)
        assert r.status_code == 200 and not re.search(r"https?://", r.text), f"{path} refers to another origin"
    # Every module the page imports is served (an ES module that fails to load stops the whole page).
    for name in MODULES:
        for imported in re.findall(r'from "\./([\w.]+)"', client.get(f"/static/{name}").text):
            assert imported in MODULES, f"{name} imports the missing {imported}"
        assert client.get(f"/static/{name}").headers["content-type"].startswith("text/javascript")


def test_the_page_takes_its_names_from_the_server(client):
    """Preset, initialiser, optimiser, loss and activation names live on the server (nn's registries): the page's
    scripts do not spell them ("sigmoid" is also a key of /api/sigmoid's answer, so it is left out)."""
    o = client.get("/api/options").json()
    assert o["inits"] == list(nn.INITIALIZERS.names()) and o["optimizers"] == list(nn.OPTIMIZERS.names())
    assert o["losses"] == list(nn.LOSSES.names()) and all(a in nn.ACTIVATIONS for a in o["activations"])
    names = [p["name"] for p in o["presets"]] + o["inits"] + o["optimizers"] + o["losses"] + o["activations"][1:]
    scripts = "".join((STATIC / name).read_text() for name in MODULES) + (STATIC / "index.html").read_text()
    assert [name for name in names if f'"{name}"' in scripts or f"'{name}'" in scripts] == []
    assert set(o["labels"]["optimizer"]) == set(o["optimizers"]) and set(o["labels"]["loss"]) == set(o["losses"])


def test_every_preset_is_a_valid_configuration(client):
    presets = client.get("/api/options").json()["presets"]
    assert [p["name"] for p in presets] == ["xor", "deep", "deep-bn", "deep-relu"]
    for preset in presets:
        r = client.post("/api/sessions", json=preset["config"])
        assert r.status_code == 201 and r.json()["config"]["hidden"] == preset["config"]["hidden"], r.text
        client.delete(f"/api/sessions/{r.json()['id']}")


def test_unknown_api_route_is_json_404(client):
    r = client.get("/api/nope")
    assert r.status_code == 404 and "error" in r.json()


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [("POST", "/api/options", 405, "GET"), ("DELETE", "/", 405, "GET"), ("PUT", "/api/sessions", 405, "POST"),
     ("GET", "/static/nope.js", 404, None), ("GET", "/static/../app.py", 404, None)],
)  # fmt: skip
def test_every_routing_error_is_json_with_the_security_headers(client, method, path, status, allow):
    r = client.request(method, path)
    assert r.status_code == status and r.headers["content-type"] == "application/json" and "error" in r.json()
    assert r.headers["x-frame-options"] == "DENY" and "default-src 'self'" in r.headers["content-security-policy"]
    if allow:
        assert allow in r.headers["allow"]


def test_an_unexpected_exception_is_a_json_500_without_its_traceback(client, monkeypatch, caplog):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(schema, "options", broken)
    with caplog.at_level(logging.ERROR, logger="sigmoidlab.web"):
        r = client.get("/api/options")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert "internal error" in r.json()["error"] and "secret" not in r.text and "Traceback" not in r.text
    assert r.headers["x-frame-options"] == "DENY" and "default-src 'self'" in r.headers["content-security-policy"]
    assert "secret internals" in caplog.text  # the traceback goes to the server's log


def test_options_list_enums_bounds_and_defaults(client):
    o = client.get("/api/options").json()
    assert o["activations"] == ["sigmoid", "tanh", "relu", "linear"]
    assert o["max_hidden_layers"] == 8 and o["max_units"] == 64
    assert {"xor", "moons", "circles", "spiral", "gaussians"} <= set(o["datasets"])
    assert o["max_upload_bytes"] == 1_000_000 and o["max_upload_rows"] == 5_000
    assert client.post("/api/sessions", json=o["defaults"]).status_code == 201  # the defaults are valid


# --- the sigmoid explorer -------------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [-40.0, -2.5, 0.0, 3.0, 40.0])
def test_sigmoid_values_come_from_the_function_family(client, x):
    v = client.get("/api/sigmoid", params={"x": x, "threshold": 0.01}).json()
    assert v["sigmoid"] == float(sl.sigmoid(x))
    assert v["sigmoid_grad"] == float(sl.sigmoid_grad(x))
    assert v["sigmoid_second_grad"] == float(sl.sigmoid_second_grad(x))
    assert v["sigmoid_grad"] > 0  # even at ±40, where y·(1−y) from the output flushes
    assert v["vanishing"] == (abs(x) > v["vanishing_edge"])
    assert len(v["curve"]["x"]) == len(v["curve"]["sigmoid"]) == len(v["curve"]["sigmoid_grad"]) == 201
    if x == 40.0:
        assert v["sigmoid_grad_from_output"] == 0.0


@pytest.mark.parametrize("t", [1e-4, 0.01, 0.1, 0.2])
def test_vanishing_edge_is_where_the_derivative_meets_the_threshold(client, t):
    edge = client.get("/api/sigmoid", params={"threshold": t}).json()["vanishing_edge"]
    assert math.isclose(float(sl.sigmoid_grad(edge)), t, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"x": "abc"}, "x='abc'"),
        ({"x": "inf"}, "finite"),
        ({"threshold": "0.3"}, "threshold"),
        ({"threshold": "0"}, ""),
    ],
)
def test_sigmoid_bad_query(client, params, fragment):
    r = client.get("/api/sigmoid", params=params)
    assert r.status_code == 422 and fragment in r.json()["error"]


# --- configuration validation ---------------------------------------------------------------------------------

BAD_CONFIGS = [
    ({"hidden": [4] * 9, "activation": "sigmoid"}, "9 hidden layers"),
    ({"hidden": [0], "activation": ["sigmoid"]}, "hidden[0]=0"),
    ({"hidden": [4, 65], "activation": ["sigmoid"] * 2}, "hidden[1]=65"),
    ({"hidden": [4.5], "activation": ["sigmoid"]}, "not an integer"),
    ({"hidden": "4", "activation": ["sigmoid"]}, "list"),
    ({"hidden": [4], "activation": ["softmax"]}, "unknown activation 'softmax'"),
    ({"hidden": [4, 4], "activation": ["sigmoid"]}, "list of 2"),
    ({"batchnorm": "yes"}, "batchnorm"),
    ({"init": "zeros"}, "unknown init"),
    ({"optimizer": "lbfgs"}, "unknown optimizer"),
    ({"lr": 0}, "lr=0"),
    ({"lr": 11}, "lr=11"),
    ({"lr": "0.1"}, "not a finite number"),
    ({"lr": True}, "not a finite number"),
    ({"batch_size": 0}, "batch_size=0"),
    ({"batch_size": 1025}, "batch_size=1025"),
    ({"loss": "hinge"}, "unknown loss"),
    ({"seed": -1}, "seed=-1"),
    ({"dataset": "mnist"}, "unknown dataset"),
    ({"noise": -0.1}, "noise=-0.1"),
    ({"noise": 1.5}, "noise=1.5"),
    ({"n_samples": 10}, "n_samples=10"),
    ({"test_fraction": 0.05}, "test_fraction"),
    ({"test_fraction": 0.95}, "test_fraction"),
    ({"threshold": 0.3}, "threshold"),
    ({"colour": "red"}, "unknown configuration key 'colour'"),
    ({"dataset": "upload"}, "token"),
    ({"dataset": "xor", "upload": "abc"}, "only used with dataset 'upload'"),
    ({"speed": 11}, "speed=11"),
    ({"features": []}, "at least one"),
    ({"features": ["x", "x"]}, "twice"),
    ({"features": ["x", "tan_x"]}, "unknown features 'tan_x'"),
    ({"features": "x"}, "must be a list"),
    ({"regularization": "l3"}, "unknown regularization 'l3'"),
    ({"regularization_rate": -0.1}, "regularization_rate=-0.1"),
    ({"regularization_rate": 11.0}, "regularization_rate=11"),
    ({"problem": "ranking"}, "unknown problem"),
    ({"problem": "regression", "dataset": "circles"}, "not a regression data set"),
    ({"dataset": "reg_gauss"}, "not a classification data set"),
]


@pytest.mark.parametrize(("config", "fragment"), BAD_CONFIGS)
def test_bad_configuration_is_422_naming_the_field(client, config, fragment):
    r = client.post("/api/sessions", json=config)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["error"]
    assert r.json()["field"] in {*config, "upload"}  # the field the error is about, for the page to point at
    assert client.app.state.manager.sessions == {}  # nothing was created


@pytest.mark.parametrize(
    ("config", "hidden", "activation"),
    [({}, [4, 4], ["tanh", "tanh"]), ({"activation": "relu"}, [4, 4], ["relu", "relu"]),
     ({"hidden": [3]}, [3], ["sigmoid"]), ({"hidden": [], "activation": "tanh"}, [], [])],
)  # fmt: skip
def test_missing_keys_take_the_defaults(client, config, hidden, activation):
    r = client.post("/api/sessions", json=config)
    assert r.status_code == 201 and r.json()["config"]["hidden"] == hidden
    assert r.json()["config"]["activation"] == activation


@pytest.mark.parametrize(
    "key", ["noise", "n_samples", "test_fraction", "lr", "batch_size", "seed", "threshold", "regularization_rate"]
)
def test_a_value_past_its_limit_names_the_field_and_both_limits(client, key):
    options = client.get("/api/options").json()
    lo, hi = options[key]  # the limits the page's controls are built with
    limits = [f"{v:g}" if isinstance(v, float) else str(v) for v in (lo, hi)]
    just_below = [] if key in options["integers"] else [lo - 1e-9 * max(1, abs(lo))]
    for value in (lo - 1, hi + 1, *just_below):
        r = client.post("/api/sessions", json={key: value})
        assert r.status_code == 422 and r.json()["field"] == key, r.text
        assert r.json()["error"].endswith(f"out of range: expected {limits[0]} ≤ {key} ≤ {limits[1]}")
    assert client.post("/api/sessions", json={key: lo}).status_code == 201  # both limits are allowed
    assert client.post("/api/sessions", json={key: hi}).status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "field", "fragment"),
    [
        ({"action": "speed"}, 422, "speed", "from 1 to 10"),
        ({"action": "speed", "speed": 2.5}, 422, "speed", "speed=2.5 is not an integer"),
        ({"action": "speed", "speed": 11}, 422, "speed", "expected 1 ≤ speed ≤ 10"),
        ({}, 422, "action", "action is missing"),
        ({"action": 1}, 422, "action", "unknown action 1: expected one of 'play'"),
        ([1], 400, None, "JSON object"),
    ],
)
def test_bad_control_request(client, body, status, field, fragment):
    sid = _session(client)
    r = client.post(f"/api/sessions/{sid}/control", json=body)
    assert r.status_code == status and r.json().get("field") == field and fragment in r.json()["error"], r.text
    assert client.get(f"/api/sessions/{sid}").json()["speed"] == 6  # nothing changed


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b"x" * 70_000, 413, "65,536 bytes"),
        (b"[" * 60_000, 400, "nested too deeply"),  # was a RecursionError: 500 text/plain
        (b"1" * 5_001, 400, "not valid JSON"),  # was Python's int() digit limit: 500
        (b'{"lr": 1' + b"0" * 400 + b"}", 422, "lr=1"),  # was an OverflowError in math.isfinite: 500
        (b'{"speed": 1' + b"0" * 4000 + b"}", 422, "speed=1"),
        (b'{"hidden": ' + b"[" * 900 + b"]" * 900 + b"}", 422, "hidden[0]"),
        (json.dumps({"dataset": "d" * 60_000}).encode(), 422, "unknown dataset"),
        (b"\xff\xfe{}", 400, "not valid JSON"),
    ],
)
def test_malformed_body(client, body, status, fragment):
    r = client.post("/api/sessions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    assert fragment in r.json()["error"] and len(r.json()["error"]) < 300  # short, whatever the input's size
    assert r.headers["x-frame-options"] == "DENY" and "default-src 'self'" in r.headers["content-security-policy"]


def test_malformed_control_body(client):
    sid = _session(client)
    for body in (b"[" * 60_000, b"1" * 5_001):
        assert client.post(f"/api/sessions/{sid}/control", content=body).status_code == 400
    r = client.post(f"/api/sessions/{sid}/control", json={"action": "a" * 50_000})
    assert r.status_code == 422 and len(r.json()["error"]) < 300


# --- the body-size guard, at the ASGI level: how much of an endless body is read -------------------------------


CHUNK = b"1,2,0\n" * 10_923  # 64 KiB of CSV rows
MULTIPART_HEAD = b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\na,b,y\n'


def _post_endless_body(path: str, content_type: bytes, headers=()) -> tuple[int, list[dict]]:
    """POST a body of 64 KiB messages (256 of them, 16 MiB) to the app; (messages read, messages sent)."""
    app = create_app()
    read, sent = 0, []

    async def receive():
        nonlocal read
        read += 1
        first = MULTIPART_HEAD if read == 1 and path == "/api/uploads" else b""
        return {"type": "http.request", "body": first + CHUNK, "more_body": read < 256}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": [(b"content-type", content_type), *headers],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return read, sent


@pytest.mark.parametrize(
    ("path", "content_type", "limit"),
    [("/api/sessions", b"application/json", 64 * 1024),
     ("/api/uploads", b"multipart/form-data; boundary=XX", MAX_UPLOAD_BYTES + 16 * 1024)],
)  # fmt: skip
def test_a_chunked_body_is_cut_off_at_the_limit(path, content_type, limit):
    read, sent = _post_endless_body(path, content_type)
    assert limit // len(CHUNK) <= read <= limit // len(CHUNK) + 1  # the one that passed the limit was the last read
    start = sent[0]
    headers = dict(start["headers"])
    assert start["status"] == 413 and headers[b"content-type"] == b"application/json"
    assert headers[b"connection"] == b"close" and headers[b"x-frame-options"] == b"DENY"
    assert "bytes" in json.loads(b"".join(m.get("body", b"") for m in sent[1:]))["error"]


def test_a_declared_oversized_body_is_refused_unread():
    read, sent = _post_endless_body("/api/sessions", b"application/json", [(b"content-length", b"70000")])
    assert read == 0 and sent[0]["status"] == 413


def test_zero_hidden_layers_is_logistic_regression(client):
    sid = _session(client, {"dataset": "gaussians", "hidden": [], "activation": []})
    client.post(f"/api/sessions/{sid}/control", json={"action": "step"})
    frame = json.loads(client.app.state.manager.sessions[sid].frame_json)
    assert [layer["activation"] for layer in frame["layers"]] == ["output"]


def _stepped_session(client, config, steps):
    sid = _session(client, config)
    session = client.app.state.manager.sessions[sid]
    session._advance(steps, math.inf)
    return session, json.loads(session.frame_json)


def test_feature_crosses_reach_the_model_and_solve_circles(client):
    """x² and y² with no hidden layer separate the circles (test accuracy ≥ 0.95); x and y cannot (< 0.75)."""
    base = {"dataset": "circles", "noise": 0.1, "hidden": [], "activation": [], "lr": 0.1, "batch_size": 16}
    squares, frame = _stepped_session(client, {**base, "features": ["x_squared", "y_squared"]}, 600)
    assert squares.model.dense_layers()[0].W.value.shape == (2, 1)
    assert frame["test_accuracy"] >= 0.95 and frame["config"]["features"] == ["x_squared", "y_squared"]
    _, linear = _stepped_session(client, {**base, "features": ["x", "y"]}, 600)
    assert linear["test_accuracy"] < 0.75
    all_nine, _ = _stepped_session(client, {**base, "features": schema.options()["features"]}, 1)
    assert all_nine.model.dense_layers()[0].W.value.shape == (9, 1)


@pytest.mark.parametrize(("kind", "option"), [("l1", "l1"), ("l2", "weight_decay")])
def test_regularization_goes_to_the_engine_optimiser_for_the_weights_only(client, kind, option):
    config = {**XOR, "regularization": kind, "regularization_rate": 0.03}
    session, _ = _stepped_session(client, config, 1)
    opt = session.optimizer
    assert getattr(opt, option) == 0.03 and getattr(opt, "weight_decay" if kind == "l1" else "l1") == 0
    strength = opt._l1 if kind == "l1" else opt._decay  # per element: the rate on weights, 0 on biases
    weights = sum(d.W.value.size for d in session.model.dense_layers())
    assert np.count_nonzero(strength) == weights and set(np.unique(strength)) == {0.0, 0.03}


def test_l1_shrinks_the_weights(client):
    norms = []
    for rate in (0.0, 0.1):
        config = {**XOR, "regularization": "l1", "regularization_rate": rate}
        session, _ = _stepped_session(client, config, 300)
        norms.append(sum(np.abs(d.W.value).sum() for d in session.model.dense_layers()))
    assert norms[1] < 0.6 * norms[0]


@pytest.mark.parametrize(("dataset", "explained"), [("reg_plane", 0.9), ("reg_gauss", 0.3)])
def test_regression_fits_the_raw_output_by_squared_error(client, dataset, explained):
    config = {"problem": "regression", "dataset": dataset, "hidden": [8], "activation": "tanh", "noise": 0.0}
    session, frame = _stepped_session(client, config, 400)
    data, model = session.data, session.model
    for split in ("train", "test"):
        X, t = getattr(data, f"X_{split}"), getattr(data, f"y_{split}")
        z = model.predict_logits(data.standardize(X)).ravel()
        assert frame[f"{split}_loss"] == pytest.approx(np.mean((z - t) ** 2), rel=1e-5)  # no sigmoid on z
        assert frame[f"{split}_accuracy"] is None
    assert frame["test_loss"] < (1 - explained) * np.var(data.y_test)  # it learnt (a plane is easier than bumps)
    assert np.min(frame["grid"]) >= 0.0 and np.max(frame["grid"]) <= 1.0
    points = data.points()
    assert isinstance(points["train"]["y"][0], float) and max(map(abs, points["train"]["y"])) <= 1.3


def test_regression_without_a_dataset_takes_reg_plane(client):
    r = client.post("/api/sessions", json={"problem": "regression"})
    assert r.status_code == 201 and r.json()["config"]["dataset"] == "reg_plane"


# --- session lifecycle ----------------------------------------------------------------------------------------


def test_session_lifecycle(client):
    sid = _session(client)
    info = client.get(f"/api/sessions/{sid}").json()
    assert info["status"] == "paused" and info["step"] == 0 and info["config"]["hidden"] == [4]
    for _ in range(3):
        info = client.post(f"/api/sessions/{sid}/control", json={"action": "step"}).json()
    assert info["step"] == 3
    assert client.post(f"/api/sessions/{sid}/control", json={"action": "speed", "speed": 3}).json()["speed"] == 3
    assert client.post(f"/api/sessions/{sid}/control", json={"action": "play"}).json()["status"] == "running"
    _wait(lambda: client.get(f"/api/sessions/{sid}").json()["step"] > 3)  # the play loop has trained
    info = client.post(f"/api/sessions/{sid}/control", json={"action": "pause"}).json()
    assert info["status"] == "paused" and info["step"] > 3
    frame = json.loads(client.app.state.manager.sessions[sid].frame_json)
    assert frame["status"] == "paused" and frame["step"] == info["step"]
    assert len(frame["grid"]) == len(frame["grid"][0]) == 40
    assert len(frame["layers"]) == len(frame["weights"]) == 2
    assert client.post(f"/api/sessions/{sid}/control", json={"action": "reset"}).json()["step"] == 0
    r = client.put(f"/api/sessions/{sid}", json={**XOR, "hidden": [8, 8], "activation": "tanh"})
    assert r.status_code == 200 and r.json()["config"]["activation"] == ["tanh", "tanh"]
    assert client.put(f"/api/sessions/{sid}", json={"lr": 100}).status_code == 422
    assert client.post(f"/api/sessions/{sid}/control", json={"action": "jump"}).status_code == 422
    assert client.post(f"/api/sessions/{sid}/control", json={"action": "speed", "speed": 0}).status_code == 422
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    assert client.get(f"/api/sessions/{sid}").status_code == 404


@pytest.mark.parametrize("batchnorm", [False, True])
def test_frame_numbers_agree_with_scikit_learn(client, batchnorm):
    """A frame's losses, accuracies and boundary grid, against scikit-learn's metrics on the model's own
    predictions (the frame takes them from two stacked passes; with batch norm, the training set joins the
    evaluation-mode pass)."""
    config = {"dataset": "moons", "hidden": [8, 8], "activation": "tanh", "batchnorm": batchnorm, "noise": 0.3}
    sid = _session(client, config)
    for _ in range(5):
        client.post(f"/api/sessions/{sid}/control", json={"action": "step"})
    session = client.app.state.manager.sessions[sid]
    frame, model, data = json.loads(session.frame_json), session.model, session.data
    for split in ("train", "test"):
        X, y = getattr(data, f"X_{split}"), getattr(data, f"y_{split}")
        p = model.predict_proba(data.standardize(X))
        assert frame[f"{split}_loss"] == pytest.approx(log_loss(y, p, labels=[0, 1]), rel=1e-5)
        assert frame[f"{split}_accuracy"] == round(accuracy_score(y, p > 0.5), 4)
    x0, x1, y0, y1 = data.extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID))  # row i: the i-th y from the bottom
    expected = model.predict_proba(data.standardize(np.column_stack([gx.ravel(), gy.ravel()]))).reshape(GRID, GRID)
    assert np.abs(np.array(frame["grid"]) - expected).max() <= 5e-4 + 1e-12  # rounded to 3 decimals
    assert frame["config"] == session.config.to_json() and frame["step"] == 5


def test_history_stays_in_step_with_its_serialised_copy(client):
    sid = _session(client)
    session = client.app.state.manager.sessions[sid]
    for _ in range(450):  # past HISTORY_POINTS = 400: the history is halved once
        session._advance(1, math.inf)
    history = json.loads(session.frame_json)["history"]
    assert history == json.loads(json.dumps(session.history)) and 200 <= len(history) <= 400
    steps = [row[0] for row in history]
    assert steps == sorted(set(steps)) and steps[-1] == session.step == 450


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/control"), ("GET", "/stream")]
)
def test_unknown_session_is_404(client, method, suffix):
    r = client.request(method, f"/api/sessions/nope{suffix}", json={"action": "play"} if method != "GET" else None)
    assert r.status_code == 404 and "nope" in r.json()["error"]


def test_ninth_session_is_refused_until_one_closes(client):
    ids = [_session(client) for _ in range(8)]
    r = client.post("/api/sessions", json=XOR)
    assert r.status_code == 429 and "limit of 8" in r.json()["error"]
    client.delete(f"/api/sessions/{ids[0]}")
    assert client.post("/api/sessions", json=XOR).status_code == 201


def test_idle_sessions_are_reaped():
    with TestClient(create_app(idle_timeout=0.2, reap_interval=0.05)) as client:
        assert client.get("/api/options").json()["idle_timeout"] == 0.2  # the page's heartbeat uses it
        sid = _session(client)
        _wait(lambda: client.app.state.manager.sessions == {}, timeout=5)
        assert client.get(f"/api/sessions/{sid}").status_code == 404


def test_concurrent_creations_cannot_all_pass_the_cap():
    """60 creations at once on one event loop: before the fix every one passed the check before any was counted."""

    async def scenario():
        manager = SessionManager(max_sessions=8)
        config = schema.parse_config(XOR)
        try:
            results = await asyncio.gather(*(manager.create(config) for _ in range(60)), return_exceptions=True)
            return results, len(manager.sessions)
        finally:
            await manager.shutdown()

    results, live = asyncio.run(scenario())
    assert sum(isinstance(r, Session) for r in results) == live == 8
    assert sum(isinstance(r, RequestError) and r.status == 429 for r in results) == 52


def _watch_stream(app, sid: str, reads: bool):
    """Call the app's stream endpoint as a client that reads everything, or one that never reads (its first
    body message never completes, as when the connection's buffers are full). Returns the task."""

    async def receive():
        await asyncio.Event().wait()  # the client never disconnects

    async def send(message):
        if not reads and message["type"] == "http.response.body":
            await asyncio.Event().wait()

    path = f"/api/sessions/{sid}/stream"
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
    return asyncio.get_running_loop().create_task(app(scope, receive, send))


def test_a_running_session_whose_stream_is_not_read_is_closed():
    async def scenario():
        app = create_app(idle_timeout=0.4, reap_interval=0.05)
        async with app.router.lifespan_context(app):
            manager = app.state.manager
            read, unread = [await manager.create(schema.parse_config(XOR)) for _ in range(2)]
            for session in (read, unread):
                await session.play()
            tasks = [_watch_stream(app, read.id, reads=True), _watch_stream(app, unread.id, reads=False)]
            await asyncio.sleep(2.0)  # 5 idle timeouts without a request
            alive = set(manager.sessions)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return read.id in alive, unread.id in alive, unread.closed

    read_alive, unread_alive, unread_closed = asyncio.run(scenario())
    assert read_alive  # its frames are taken: it is in use
    assert not unread_alive and unread_closed  # a subscriber that never reads does not hold a slot


def test_divergence_is_reported_and_the_server_keeps_serving(client):
    # Eight linear layers of 64 units, He init, plain SGD at lr 10: the logits blow up within a few steps.
    diverging = {"dataset": "moons", "hidden": [64] * 8, "activation": "linear", "init": "he_normal",
                 "optimizer": "sgd", "lr": 10.0}  # fmt: skip
    sid = _session(client, diverging)
    healthy = _session(client)
    client.post(f"/api/sessions/{healthy}/control", json={"action": "play"})
    client.post(f"/api/sessions/{sid}/control", json={"action": "play"})
    session = client.app.state.manager.sessions[sid]
    frame = _wait(lambda: (f := json.loads(session.frame_json))["status"] == "diverged" and f)
    assert frame["grid"][0][0] is not None and frame["train_loss"] is not None  # the last finite network is shown
    info = client.get(f"/api/sessions/{sid}").json()
    assert info["status"] == "diverged" and "learning rate 10" in info["message"]
    r = client.post(f"/api/sessions/{sid}/control", json={"action": "play"})
    assert r.status_code == 409 and "reset" in r.json()["error"]
    assert client.post(f"/api/sessions/{sid}/control", json={"action": "step"}).status_code == 409
    # The other session keeps training and the server keeps answering.
    assert client.get("/api/options").status_code == 200
    step = client.get(f"/api/sessions/{healthy}").json()["step"]
    _wait(lambda: client.get(f"/api/sessions/{healthy}").json()["step"] > step)
    assert client.post(f"/api/sessions/{sid}/control", json={"action": "reset"}).json()["status"] == "paused"


# --- uploads --------------------------------------------------------------------------------------------------


def _csv(rows, header="a,b,label") -> bytes:
    return (header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n").encode()


def _upload(client, content: bytes, **data):
    return client.post("/api/uploads", files={"file": ("mine.csv", content, "text/csv")}, data=data)


def test_upload_then_train_on_it(client):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)) * [10, 0.01] + [100, 5]  # far from unit scale: the model sees it standardised
    y = (X[:, 0] > 100).astype(int)
    rows = [(f"{a:.5f}", f"{b:.5f}", "yes" if t else "no") for (a, b), t in zip(X, y, strict=True)]
    r = _upload(client, _csv(rows))
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 200 and r.json()["features"] == ["a", "b"]
    sid = _session(client, {"dataset": "upload", "upload": r.json()["upload"], "hidden": [], "activation": []})
    for _ in range(40):
        info = client.post(f"/api/sessions/{sid}/control", json={"action": "step"}).json()
    frame = json.loads(client.app.state.manager.sessions[sid].frame_json)
    assert info["step"] == 40 and frame["train_accuracy"] > 0.9


def test_upload_with_named_target_column(client):
    r = _upload(client, _csv([(0, 1, 5), (1, 0, 6), (1, 1, 7), (0, 0, 8)], header="t,x1,x2"), target="t")
    assert r.status_code == 201 and r.json()["features"] == ["x1", "x2"]


@pytest.mark.parametrize(
    ("content", "status", "fragments"),
    [
        (b"a,b,label\n" + b"1,2,0\n" * (MAX_UPLOAD_BYTES // 6), 413, ["1,000,000 bytes"]),
        (_csv([(i, i, i % 2) for i in range(MAX_UPLOAD_ROWS + 1)]), 422, ["5,001 rows"]),
        (_csv([(1, 2, 0), (3, 4, 1), (5, "abc", 0)]), 422, ["mine.csv", "row 3", "'b'"]),
        (_csv([(1, 2, 0), (3, 4)]), 422, ["mine.csv", "row 2"]),
        (_csv([(1, 2, 3, 0), (3, 4, 5, 1)], header="a,b,c,label"), 422, ["3 feature columns"]),
        (_csv([(1, 2, 0), (3, 4, 0)]), 422, ["class"]),
        (b"", 422, ["empty"]),
        (b"a,b\rc,y\n1,2,0\n3,4,1\n", 422, ["mine.csv"]),  # a bare carriage return in the header: was a 500
    ],
)
def test_bad_upload(client, content, status, fragments):
    r = _upload(client, content)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    for fragment in fragments:
        assert fragment in error, error
    assert "/tmp" not in error  # the user's file name, not the server's temporary path


def test_upload_request_shape(client):
    assert client.post("/api/uploads", content=b"a,b\n1,2", headers={"content-type": "text/csv"}).status_code == 415
    assert client.post("/api/uploads", data={"other": "x"}, files={"x": ("f", b"1")}).status_code == 400
    r = client.post("/api/sessions", json={"dataset": "upload", "upload": "expired-token"})
    assert r.status_code == 404 and "upload the file again" in r.json()["error"]


# --- the stream, over a real socket ---------------------------------------------------------------------------


@contextmanager
def running_server(app=None, **kwargs):
    """A real server on a free port, in a thread: ``app`` (so a test can look at its sessions) or a new one."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app or create_app(**kwargs), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _wait(lambda: server.started)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def _events(response):
    """(event, data) pairs of a Server-Sent Events response."""
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


def test_training_stream_until_accuracy_rises():
    with running_server() as base, httpx.Client(base_url=base, timeout=30) as http:
        sid = http.post("/api/sessions", json=XOR).json()["id"]
        with http.stream("GET", f"/api/sessions/{sid}/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-frame-options"] == "DENY"
            events = _events(response)
            kind, data = next(events)
            assert kind == "data" and len(data["train"]["x"]) == 280 and len(data["test"]["y"]) == 120
            kind, first = next(events)
            assert kind == "frame" and first["step"] == 0 and first["status"] == "paused"
            http.post(f"/api/sessions/{sid}/control", json={"action": "play"})
            deadline = time.monotonic() + 20
            for kind, frame in events:
                assert kind == "frame" and time.monotonic() < deadline, "accuracy did not rise in 20 s"
                if frame["test_accuracy"] >= 0.95:
                    break
        assert frame["status"] == "running" and frame["step"] > 0
        assert frame["train_loss"] < first["train_loss"]
        assert [row[0] for row in frame["history"]] == sorted({row[0] for row in frame["history"]})
        assert [layer["activation"] for layer in frame["layers"]] == ["sigmoid", "output"]
        assert all(layer["grad_norm"] > 0 for layer in frame["layers"])
        http.delete(f"/api/sessions/{sid}")


def test_stream_ends_with_closed_event_when_session_is_deleted():
    with running_server() as base, httpx.Client(base_url=base, timeout=30) as http:
        sid = http.post("/api/sessions", json=XOR).json()["id"]
        with http.stream("GET", f"/api/sessions/{sid}/stream") as response:
            events = _events(response)
            assert next(events)[0] == "data" and next(events)[0] == "frame"
            # The delete goes over its own connection and is joined, so it never outlives the server.
            deleter = threading.Timer(0.2, httpx.delete, args=(f"{base}/api/sessions/{sid}",))
            deleter.start()
            kind, data = next(events)
            deleter.join()
            assert kind == "closed" and "closed" in data["error"]
