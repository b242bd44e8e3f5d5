"""The playground's view of a saved gradient-probe report: ``sigmoidlab serve --report`` refusing a bad file in one
line, ``/api/report`` (and its JSON errors and headers), and in Chromium the meter and the layer × step heatmap of
a real report drawn from a real probe run (screenshot in test-artifacts/report.png)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sigmoidlab.cli import main
from sigmoidlab.cli.serve import _load_report
from sigmoidlab.web import create_app
from sigmoidlab.web.app import SECURITY_HEADERS

torch = pytest.importorskip("torch")

import test_web_browser  # noqa: E402
from test_torch_probe import chain, train  # noqa: E402
from test_web_api import running_server  # noqa: E402

# The Chromium fixtures of the playground's browser tests: a headless browser, and a page held to localhost.
browser, page, expect = test_web_browser.browser, test_web_browser.page, test_web_browser.expect

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    """A deep sigmoid MLP's report (vanishing): 4 sampled steps, 7 parameterised layers."""
    report = train(chain(16, 6, torch.nn.Sigmoid), steps=20, every=5)
    path = tmp_path_factory.mktemp("report") / "flow.json"
    report.save_json(path)
    return path


def _headers_ok(response) -> None:
    for name, value in SECURITY_HEADERS:
        assert response.headers[name.decode()] == value.decode()


def test_api_serves_the_loaded_report_as_saved(report_file):
    data = json.loads(report_file.read_text())
    with TestClient(create_app(report=_load_report(report_file))) as client:
        r = client.get("/api/report")
        assert r.status_code == 200
        assert r.json() == data
        _headers_ok(r)
        assert client.get("/api/options").json()["report"] is True
        page = client.get("/report")
        assert page.status_code == 200 and "/static/report.js" in page.text
        _headers_ok(page)
        assert "http" not in client.get("/static/report.js").text  # no external URL in the viewer


def test_without_a_report_the_api_is_a_json_404(report_file):
    with TestClient(create_app()) as client:
        r = client.get("/api/report")
        assert r.status_code == 404
        assert "--report" in r.json()["error"]
        _headers_ok(r)
        assert client.get("/api/options").json()["report"] is False
        r = client.post("/api/report", content=b"x" * 100_000)
        assert r.status_code in (405, 413) and "error" in r.json()  # no writes; a body never gets past the limit
        _headers_ok(r)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "not valid JSON"),
        ('{"schema": "other"}', "not a gradient-probe report"),
        ('{"schema": "sigmoidlab.gradient_probe", "schema_version": 9}', "schema_version 9"),
        ('{"schema": "sigmoidlab.gradient_probe", "schema_version": 1, "layers": []}', "'findings'"),
        ("[" * 100_000 + "]" * 100_000, "not"),
    ],
)
def test_serve_refuses_a_bad_report_in_one_line(tmp_path, capsys, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["serve", "--report", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_serve_refuses_a_report_with_nan(tmp_path, capsys, report_file):
    data = json.loads(report_file.read_text())
    data["layers"][0]["grad_norm"] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(data))  # json.dumps writes NaN, which strict JSON (the page's) refuses
    assert main(["serve", "--report", str(path), "--port", "0"]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_serve_refuses_a_missing_report(tmp_path, capsys):
    assert main(["serve", "--report", str(tmp_path / "nope.json"), "--port", "0"]) == 2
    assert "nope.json" in capsys.readouterr().err


# --- in Chromium ----------------------------------------------------------------------------------------------


def _drawn(page, report_file: Path) -> None:
    """The page marked the heatmap drawn with the report's layers × samples, and the meter has a bar per layer."""
    data = json.loads(report_file.read_text())
    shape = f"{len(data['history']['grad_norm'])}x{len(data['history']['steps'])}"
    expect(page.locator("body")).to_have_attribute("data-report", shape)
    expect(page.locator("#grad-meter")).to_have_attribute("data-bars", str(len(data["layers"])))
    expect(page.locator("#verdict")).to_contain_text("vanishing")
    expect(page.locator("#findings li").first).to_contain_text("Remedy")
    assert page.locator("#error").is_hidden()


@pytest.mark.browser
def test_the_report_page_draws_the_meter_and_the_heatmap(page, report_file):
    with running_server(report=_load_report(report_file)) as base:
        page.goto(base + "/")
        expect(page.locator("#report-link")).to_be_visible()
        page.click("#report-link a")
        _drawn(page, report_file)
        widths = page.locator("#grad-meter .meter-bar").evaluate_all("bars => bars.map(b => b.style.width)")
        assert len(set(widths)) > 1  # vanishing: the input layer's bar is shorter than the top's
        # The heatmap's canvas is not blank: its pixels take more than the background's one colour.
        colours = page.locator("#heatmap").evaluate(
            "c => new Set(Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)).size"
        )
        assert colours > 10
        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / "report.png"), full_page=True)
    assert not page.outside and not page.errors, (page.outside, page.errors)


@pytest.mark.browser
def test_a_report_opened_in_the_page_is_drawn_and_a_bad_one_explained(page, report_file, tmp_path):
    with running_server() as base:
        page.goto(base + "/report")
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        expect(page.locator("#verdict")).to_have_text("No report loaded")
        bad = tmp_path / "bad.json"
        bad.write_text('{"schema": "other"}')
        page.set_input_files("#report-file", str(bad))
        expect(page.locator("#error")).to_contain_text("not a gradient-probe report")
        page.set_input_files("#report-file", str(report_file))
        _drawn(page, report_file)
    assert not page.outside and not page.errors, (page.outside, page.errors)
