"""``sigmoidlab demo --quick``, ``vanish`` and ``plot``: a self-contained report with every section and figure."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser

import pytest

from sigmoidlab.cli import main
from sigmoidlab.lab.report import FIGURES, SECTIONS


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()
        self.images: dict[str, str] = {}
        self.headings: list[str] = []
        self.styles: list[str] = []
        self._tag = None
        self._figure = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [v for k, v in attrs.items() if k in ("src", "href", "srcset", "data", "action") and v]
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "figure":
            self._figure = attrs.get("id")
        if tag == "img" and self._figure:
            self.images[self._figure] = attrs["src"]
        self._tag = tag

    def handle_data(self, data):
        if self._tag in ("h1", "h2"):
            self.headings.append(data.strip())
        if self._tag == "style":
            self.styles.append(data)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(out), "--workers", "2"]) == 0
    return out


def test_demo_report_is_self_contained_with_every_section_and_figure(demo):
    text = (demo / "report.html").read_text(encoding="utf-8")
    page = _Collect()
    page.feed(text)
    page.close()
    assert not [u for u in page.urls if not u.startswith(("data:", "#"))], "report references a file or URL"
    assert "@import" not in "".join(page.styles) and "url(" not in "".join(page.styles)
    for section in SECTIONS:
        assert section in page.headings, section
    for name in FIGURES.values():
        assert page.images.get(name, "").startswith("data:image/png;base64,"), name
    assert text.count("<math") >= 3  # the derivation, as MathML the browser renders itself


def test_demo_writes_markdown_json_tables_and_figures(demo):
    md = (demo / "report.md").read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f"## {section}" in md
    for name in FIGURES.values():
        assert f"figures/{name}.png" in md
        for suffix in (".png", ".svg"):
            assert (demo / "figures" / f"{name}{suffix}").stat().st_size > 1000
    results = json.loads((demo / "results.json").read_text(), parse_constant=pytest.fail)  # strict JSON: no NaN
    hypotheses = results["analysis"]["hypotheses"]
    assert {h["id"] for h in hypotheses} == {"decay", "remedies", "saturation"}
    assert {h["verdict"] for h in hypotheses} <= {"supported", "partly supported", "not supported", "not tested"}
    assert all(h["verdict"].capitalize() in md for h in hypotheses)
    # The depth sweep (5 architectures × 3 depths) and the saturation experiment (3 architectures at depth 4).
    runs = results["runs"]
    assert all(r["status"] == "ok" for r in runs)
    assert sorted({r["experiment"] for r in runs}) == ["quick sweep", "saturation experiment"]
    assert sum(r["experiment"] == "quick sweep" for r in runs) == 15
    assert sorted(r["depth"] for r in runs if r["experiment"] == "saturation experiment") == [4, 4, 4]
    assert results["saturation_experiment"]["dataset"] == "digits_binary"
    with open(demo / "layers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {
        "run_id",
        "depth",
        "layer",
        "step",
        "weight_grad_norm",
        "saturation",
        "act_mean",
        "act_p02",
        "act_p98",
    } <= set(rows[0])
    # One row per run × layer × step.
    keys = [(r["run_id"], r["layer"], r["step"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert not list(demo.rglob(".*.tmp"))


def test_vanish_runs_a_custom_grid(tmp_path, capsys):
    args = [
        "vanish",
        "--depths",
        "1,3",
        "--activations",
        "sigmoid",
        "--batchnorm",
        "off,on",
        "--inits",
        "standard",
        "--seeds",
        "0",
        "--epochs",
        "2",
        "--workers",
        "1",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    assert len(list((tmp_path / "runs").glob("*.json"))) == 4
    assert (tmp_path / "report.html").exists() and not (tmp_path / "figures" / "fig3_boundaries.png").exists()
    assert "sigmoid + BN, standard init" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vanish", "--depths", "1,x"], "--depths='1,x': 'x' is not valid"),
        (["vanish", "--batchnorm", "maybe"], "--batchnorm='maybe'"),
        (["vanish", "--activations", "softmax"], "activation='softmax'"),
        (["vanish", "--dataset", "mnist"], "dataset='mnist'"),
        (["plot", "sigmoid", "--out", "x.pdf"], "must end in .png or .svg"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["sigmoid", "derivatives"])
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_writes_the_format_of_the_suffix(tmp_path, kind, suffix):
    out = tmp_path / f"f{suffix}"
    assert main(["plot", kind, "--out", str(out)]) == 0
    head = out.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in head or b"<?xml" in head
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_demo_derivation_is_mathml_a_browser_renders(demo):
    """SymPy's printer has no MathML for an unevaluated product: it used to write the word "unevaluatedexpr"."""
    import xml.etree.ElementTree as ET

    text = (demo / "report.html").read_text(encoding="utf-8")
    assert "unevaluatedexpr" not in text.lower()
    maths = re.findall(r"<math\b.*?</math>", text, flags=re.S)
    assert len(maths) >= 17  # three derivations: 3 left-hand sides and 14 steps
    for m in maths:
        root = ET.fromstring(m)  # well-formed XML: no HTML-only entities such as &InvisibleTimes;
        assert root.tag == "math"
        assert root.find(".//mfrac") is not None or root.find(".//mi") is not None
    # σ'(x) = σ(x)(1 − σ(x)): the last step of the quotient route, as identifiers and operators.
    assert "".join(ET.fromstring(maths[6]).itertext()) == "σ(x)⁢(1−σ(x))"
