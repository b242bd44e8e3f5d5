"""End to end in headless Chromium: build XOR with one hidden sigmoid layer through the page's controls, train
it to test accuracy ≥ 0.9, and check the gradient-flow meter, the URL state, that nothing leaves localhost and
that the console stays clean (a CSP violation would show there); the network diagram's thumbnails, their hover
texts and the derivative view, read back from the canvas's pixels. Saves the README's screenshots."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
import pytest
from scipy.special import expit

from sigmoidlab.web import create_app
from sigmoidlab.web.thumbnails import SIZE
from test_web_api import running_server
from test_web_thumbnails import SATURATED, SATURATING_STEPS, reference

expect = pytest.importorskip("playwright.sync_api").expect

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (make test does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            headless=True,
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A page whose requests may only go to 127.0.0.1, with its console errors collected."""
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    page.outside, page.errors = [], []

    def route(route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


# The page marks on <body> what it has done; the tests wait on those markers (with Playwright's ``expect``, which
# polls the DOM without eval, so the page's CSP holds), never a fixed time:
#   data-ready         the page has built its controls and started its session
#   data-applied       the configuration the server last acknowledged, as the query string the URL starts with
#   data-frame-config  the configuration of the frame on screen
#   data-heartbeats    how many times the page has told the server it is still shown


def _applied(page) -> None:
    """Wait until the server has the configuration the URL shows (changes are sent 200 ms after the last one)."""
    expect(page).to_have_url(re.compile(r"\?"))
    query = urlparse(page.url).query.split("&speed=")[0]
    expect(page.locator("body")).to_have_attribute("data-applied", query)


def _shows(page, step: int) -> None:
    """Wait until the page shows the frame after ``step`` optimiser steps of the configuration in the URL."""
    _applied(page)
    query = page.get_attribute("body", "data-applied")
    expect(page.locator("body")).to_have_attribute("data-frame-config", query)
    expect(page.locator("#step-count")).to_have_text(str(step))


def _open(page, base: str | None) -> None:
    """Load the page (``base`` None: reload it) and wait until it is ready, its session paused."""
    page.goto(base + "/") if base else page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.locator("#status")).to_have_text("paused")


def _screenshot(page, name: str) -> None:
    """The whole page as test-artifacts/NAME, in 256 colours when Pillow is there (a third of the size)."""
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / name), full_page=True)
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(out / name) as image:
        image.convert("RGB").quantize(256).save(out / name, optimize=True)


def _grad_norms(page) -> list[float]:
    return [float(t.split(" ")[0]) for t in page.locator("#grad-meter .meter-value").all_inner_texts()]


def test_xor_trains_in_the_browser(page):
    with running_server() as base:
        _open(page, base)
        # The default network is not the one we want: build it with the controls.
        page.select_option("#dataset", "xor")
        while page.inner_text("#n-layers") != "1":
            page.click("#remove-layer" if int(page.inner_text("#n-layers")) > 1 else "#add-layer")
        page.fill("#layers input.units", "4")
        page.dispatch_event("#layers input.units", "change")
        page.select_option("#layers select.activation", "sigmoid")
        expect(page).to_have_url(re.compile("hidden=4&activation=sigmoid"))
        _shows(page, 0)

        page.click("#play")
        accuracy_at_least_09 = re.compile(r"^(0\.9\d\d|1\.000)$")
        expect(page.locator("#test-accuracy")).to_have_text(accuracy_at_least_09, timeout=60_000)
        # One bar per weight layer: the hidden layer and the output layer.
        assert page.locator("#grad-meter .meter-row").count() == 2
        assert page.get_attribute("#grad-meter", "data-bars") == "2"
        assert "sigmoid" in page.inner_text("#grad-meter") and "output" in page.inner_text("#grad-meter")
        assert all(g > 0 for g in _grad_norms(page))
        page.click("#play")  # pause
        expect(page.locator("#status")).to_have_text("paused")

        expect(page.locator("#network")).to_have_attribute("data-thumbnails", "activation")  # on by default
        _screenshot(page, "playground.png")
        # docs/playground.png in the README is a copy of this artifact, refreshed by hand so tests leave git clean.

        # The URL holds the whole configuration: reloading it rebuilds the same controls.
        _open(page, None)
        assert page.input_value("#dataset") == "xor" and page.inner_text("#n-layers") == "1"
        assert page.input_value("#layers select.activation") == "sigmoid"

    assert page.outside == [], "the page tried to reach another host"
    assert page.errors == []


def test_batch_norm_brings_back_the_vanishing_gradients(page):
    with running_server() as base:
        _open(page, base)
        presets = {p["name"]: p for p in httpx.get(base + "/api/options").json()["presets"]}
        # The page's preset buttons are the server's presets.
        assert page.locator("[data-preset]").evaluate_all("bs => bs.map(b => b.dataset.preset)") == list(presets)
        norms = {}
        for preset in ("deep", "deep-bn"):
            page.click(f"[data-preset='{preset}']")
            expect(page).to_have_url(re.compile(f"batchnorm={int(presets[preset]['config']['batchnorm'])}"))
            _shows(page, 0)
            expect(page.locator("#grad-meter .meter-row")).to_have_count(7)
            page.click("#step")
            _shows(page, 1)
            norms[preset] = _grad_norms(page)
        deep, bn = norms["deep"], norms["deep-bn"]
        # Six sigmoid layers with the standard init: the meter's bars shrink towards the input...
        assert deep[0] < deep[3] < deep[6] and deep[6] / deep[0] > 1e3
        # ...and with batch norm the first layer's gradient is orders of magnitude larger.
        assert bn[0] / deep[0] > 100
    assert page.outside == [] and page.errors == []


def test_a_shown_page_keeps_its_paused_session(page):
    # The server closes sessions idle for 1 s; the page, paused and shown, asks about its session now and then
    # (every idle_timeout/3). Ten answered heartbeats: over 3 s, three idle timeouts.
    with running_server(idle_timeout=1.0, reap_interval=0.1) as base:
        _open(page, base)
        expect(page.locator("body")).to_have_attribute("data-heartbeats", re.compile(r"^\d{2,}$"), timeout=20_000)
        assert page.inner_text("#status") == "paused"  # not "closed"
        page.click("#step")
        _shows(page, 1)
    assert page.outside == [] and page.errors == []


def test_feature_crosses_solve_circles_without_a_hidden_layer(page):
    """TF Playground's exercise: x₁² and x₂² as the only inputs, no hidden layer, and the circles are separated
    (test accuracy ≥ 0.95); the choice round-trips through the URL."""
    with running_server() as base:
        _open(page, base)
        page.select_option("#dataset", "circles")
        while page.inner_text("#n-layers") != "0":
            page.click("#remove-layer")
        page.check("[data-feature='x_squared']")
        page.check("[data-feature='y_squared']")
        page.uncheck("[data-feature='x']")
        page.uncheck("[data-feature='y']")
        expect(page).to_have_url(re.compile("features=x_squared%2Cy_squared&hidden=&"))
        _shows(page, 0)
        page.click("#play")
        expect(page.locator("#test-accuracy")).to_have_text(re.compile(r"^(0\.9[5-9]\d|1\.000)$"), timeout=60_000)
        page.click("#play")
        expect(page.locator("#status")).to_have_text("paused")
        _open(page, None)
        assert page.is_checked("[data-feature='x_squared']") and not page.is_checked("[data-feature='x']")
    assert page.outside == [] and page.errors == []


def test_regression_regularisation_and_view_options_round_trip(page):
    with running_server() as base:
        _open(page, base)
        page.select_option("#problem", "regression")
        expect(page.locator("#dataset option")).to_have_count(2)  # reg_plane and reg_gauss only
        page.select_option("#dataset", "reg_gauss")
        page.select_option("#regularization", "l2")
        page.select_option("#regularization_rate", "0.003")
        page.uncheck("#show_test")
        page.check("#discretize")
        expect(page).to_have_url(re.compile("problem=regression&dataset=reg_gauss"))
        expect(page).to_have_url(re.compile("regularization=l2&regularization_rate=0.003"))
        expect(page).to_have_url(re.compile("show_test=0&discretize=1"))
        _shows(page, 0)
        page.click("#step")
        _shows(page, 1)
        assert page.inner_text("#test-accuracy") == "–" and page.inner_text("#boundary-title").startswith("Output")
        assert page.is_disabled("#loss")
        expect(page.locator("#boundary")).to_have_attribute("data-test-shown", "false")
        expect(page.locator("#boundary")).to_have_attribute("data-discretized", "true")
        _open(page, None)
        assert page.input_value("#problem") == "regression" and page.input_value("#dataset") == "reg_gauss"
        assert page.input_value("#regularization") == "l2" and page.input_value("#regularization_rate") == "0.003"
        assert not page.is_checked("#show_test") and page.is_checked("#discretize")
    assert page.outside == [] and page.errors == []


def _thumbnail_pixels(page, layer: int, unit: int) -> np.ndarray:
    """The colour drawn at the centre of each cell of a unit's thumbnail, (SIZE·SIZE, 3), in the grid's order
    (row i·SIZE + j: the i-th y from the bottom, the j-th x), read back from the canvas."""
    script = """([layer, unit, n]) => {
      const canvas = document.getElementById("network");
      const [, , x, y, size] = JSON.parse(canvas.dataset.boxes).find((b) => b[0] === layer && b[1] === unit);
      const ctx = canvas.getContext("2d");
      const out = [];
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        const px = Math.floor(x + ((j + 0.5) * size) / n), py = Math.floor(y + ((n - 1 - i + 0.5) * size) / n);
        out.push(Array.from(ctx.getImageData(px, py, 1, 1).data.slice(0, 3)));
      }
      return out;
    }"""
    return np.array(page.evaluate(script, [layer, unit, SIZE]))


def _red(rgb: np.ndarray) -> np.ndarray:
    return (rgb[:, 0] > 150) & (rgb[:, 1] < 100) & (rgb[:, 2] < 100)


def test_derivative_view_paints_the_vanishing_region_red(page):
    """Six sigmoid units after 20 steps of SGD at learning rate 3 (large weights): in the derivative view each
    thumbnail is red where σ'(z) is well below the meter's threshold, and nowhere where it is well above (z from
    the model's own forward at the grid points); the activation view has no red. Hover texts name the unit and its
    saturation, and a link's weight. The view round-trips through the URL."""
    app = create_app()
    with running_server(app) as base:
        query = "&".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in SATURATED.items())
        page.goto(f"{base}/?{query}&thumbnails=derivative")
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        sid = next(iter(app.state.manager.sessions))
        for _ in range(SATURATING_STEPS):
            httpx.post(f"{base}/api/sessions/{sid}/control", json={"action": "step"})
        _shows(page, SATURATING_STEPS)
        expect(page.locator("#network")).to_have_attribute("data-thumbnails", "derivative")
        assert page.input_value("#thumbnails") == "derivative"
        session = app.state.manager.sessions[sid]
        z, _, _ = reference(session, 0)
        d, t = expit(z) * (1 - expit(z)), session.config.threshold
        deep, clear = d < t / 2, d > 2 * t  # well inside the vanishing region, well outside it
        assert deep.sum() > 100 and clear.sum() > 100
        for unit in range(6):
            red = _red(_thumbnail_pixels(page, 0, unit))
            assert red[deep[:, unit]].all() and not red[clear[:, unit]].any(), f"unit {unit + 1}"
        _screenshot(page, "playground_derivative.png")

        canvas = page.locator("#network").bounding_box()
        boxes = json.loads(page.get_attribute("#network", "data-boxes"))
        _, _, x, y, size = boxes[2]  # layer 1, unit 3
        page.mouse.move(canvas["x"] + x + size / 2, canvas["y"] + y + size / 2)
        tip = page.locator("#network-tip")
        expect(tip).to_contain_text("layer 1, unit 3 (sigmoid): ")
        saturation = json.loads(session.frame_json)["layers"][0]["unit_saturation"][2]
        assert f"{saturation * 100:.0f}% of the training set in the vanishing region" in tip.inner_text()
        # Just right of the first input's node every link leaves it: the nearest is one of input 1's weights.
        height = float(page.get_attribute("#network", "height"))
        page.mouse.move(canvas["x"] + 70 + 12, canvas["y"] + 26 + (height - 44) / 8)
        expect(tip).to_have_text(re.compile(r"^w = -?\d+\.\d{3}, layer 1, unit 1 → unit [1-6]$"))
        j = int(tip.inner_text()[-1]) - 1
        assert tip.inner_text().startswith(f"w = {session.model.dense_layers()[0].W.value[0, j]:.3f},")

        page.select_option("#thumbnails", "activation")
        expect(page).to_have_url(re.compile("thumbnails=activation"))
        expect(page.locator("#network")).to_have_attribute("data-thumbnails", "activation")
        assert not any(_red(_thumbnail_pixels(page, 0, u)).any() for u in range(6))
        _open(page, None)
        assert page.input_value("#thumbnails") == "activation"
    assert page.outside == [] and page.errors == []
