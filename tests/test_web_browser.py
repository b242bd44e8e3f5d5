"""End to end in headless Chromium: build XOR with one hidden sigmoid layer through the page's controls, train
it to test accuracy ≥ 0.9, and check the gradient-flow meter, the URL state, that nothing leaves localhost and
that the console stays clean (a CSP violation would show there). Saves the README's screenshot."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

from test_web_api import running_server

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


def _until(page, condition, timeout: float = 10.0) -> None:
    """Poll ``condition()`` from Python: the page's CSP (no 'unsafe-eval') rules out ``page.wait_for_function``."""
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"condition not met within {timeout} s")


def _paused(page) -> bool:
    return page.inner_text("#status") == "paused"


def _grad_norms(page) -> list[float]:
    return [float(t.split(" ")[0]) for t in page.locator("#grad-meter .meter-value").all_inner_texts()]


def test_xor_trains_in_the_browser(page):
    with running_server() as base:
        page.goto(base + "/")
        _until(page, lambda: _paused(page))
        # The default network is not the one we want: build it with the controls.
        page.select_option("#dataset", "xor")
        while page.inner_text("#n-layers") != "1":
            page.click("#remove-layer" if int(page.inner_text("#n-layers")) > 1 else "#add-layer")
        page.fill("#layers input.units", "4")
        page.dispatch_event("#layers input.units", "change")
        page.select_option("#layers select.activation", "sigmoid")
        _until(page, lambda: "hidden=4&activation=sigmoid" in page.url)
        page.wait_for_timeout(600)  # the configuration is sent 200 ms after the last change
        assert page.inner_text("#step-count") == "0"

        page.click("#play")
        _until(page, lambda: float(page.inner_text("#test-accuracy").replace("–", "0")) >= 0.9, timeout=60)
        # One bar per weight layer: the hidden layer and the output layer.
        assert page.locator("#grad-meter .meter-row").count() == 2
        assert page.get_attribute("#grad-meter", "data-bars") == "2"
        assert "sigmoid" in page.inner_text("#grad-meter") and "output" in page.inner_text("#grad-meter")
        assert all(g > 0 for g in _grad_norms(page))
        page.click("#play")  # pause
        _until(page, lambda: _paused(page))

        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / "playground.png"), full_page=True)
        # docs/playground.png in the README is a copy of this artifact, refreshed by hand so tests leave git clean.

        # The URL holds the whole configuration: reloading it rebuilds the same controls.
        page.reload()
        _until(page, lambda: _paused(page))
        assert page.input_value("#dataset") == "xor" and page.inner_text("#n-layers") == "1"
        assert page.input_value("#layers select.activation") == "sigmoid"

    assert page.outside == [], "the page tried to reach another host"
    assert page.errors == []


def test_batch_norm_brings_back_the_vanishing_gradients(page):
    with running_server() as base:
        page.goto(base + "/")
        _until(page, lambda: _paused(page))
        norms = {}
        for preset in ("deep", "deep-bn"):
            page.click(f"[data-preset='{preset}']")
            flag = f"batchnorm={int(preset == 'deep-bn')}"
            _until(page, lambda flag=flag: flag in page.url)
            _until(page, lambda: page.locator("#grad-meter .meter-row").count() == 7)
            page.wait_for_timeout(600)  # the configuration is sent 200 ms after the last change
            page.click("#step")
            _until(page, lambda: page.inner_text("#step-count") == "1")
            norms[preset] = _grad_norms(page)
        deep, bn = norms["deep"], norms["deep-bn"]
        # Six sigmoid layers with the standard init: the meter's bars shrink towards the input...
        assert deep[0] < deep[3] < deep[6] and deep[6] / deep[0] > 1e3
        # ...and with batch norm the first layer's gradient is orders of magnitude larger.
        assert bn[0] / deep[0] > 100
    assert page.outside == [] and page.errors == []


def test_a_shown_page_keeps_its_paused_session(page):
    # The server closes sessions idle for 1 s; the page, paused and shown, asks about its session now and then.
    with running_server(idle_timeout=1.0, reap_interval=0.1) as base:
        page.goto(base + "/")
        _until(page, lambda: _paused(page))
        page.wait_for_timeout(4000)
        assert page.inner_text("#status") == "paused"  # not "closed"
        page.click("#step")
        _until(page, lambda: page.inner_text("#step-count") == "1")
    assert page.outside == [] and page.errors == []
