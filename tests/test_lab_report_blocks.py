"""The report package without running a sweep: blocks, both renderers, and prose computed from its inputs."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from sigmoidlab.derive import derivations, mathml
from sigmoidlab.lab import quick_experiment, saturation_experiment
from sigmoidlab.lab.report import blocks as B
from sigmoidlab.lab.report import render, sections
from sigmoidlab.lab.report.sections import ReportInputs


def _inputs(**changes) -> ReportInputs:
    analysis = {
        "margin": 0.1,
        "configurations": [],
        "hypotheses": [
            {"id": k, "claim": f"claim {k}", "verdict": v, "evidence": f"evidence {k}"}
            for k, v in (("decay", "supported"), ("remedies", "partly supported"), ("saturation", "not tested"))
        ],
    }
    base = ReportInputs(quick_experiment(), [], analysis, None, {}, None)
    return dataclasses.replace(base, **changes)


def test_every_block_type_has_a_markdown_and_an_html_case():
    html_macros = (Path(render.__file__).parent / "templates" / "blocks.html.j2").read_text()
    for block_type in B.Block.__args__:
        assert block_type in render._md.registry, block_type
        assert f"macro {block_type.kind}(" in html_macros, block_type


@pytest.mark.parametrize(
    ("word", "css"),
    [("supported", "supported"), ("partly supported", "partly"), ("not supported", "no"), ("not tested", "untested")],
)
def test_verdict_class_comes_from_the_enum_and_the_label_from_its_value(word, css):
    verdict = B.Verdict(B.VerdictKind(word), "a <claim>", "evidence & more")
    page = render.to_html([B.Heading("T", level=1), verdict], {})
    assert f'<div class="verdict {css}">' in page
    assert f"<strong>{word.capitalize()}.</strong>" in page
    assert "a &lt;claim&gt;" in page and "evidence &amp; more" in page  # autoescaped
    assert f"**{word.capitalize()}.** *a <claim>* evidence & more" in render.to_markdown([verdict], {}, Path("."))


def test_unknown_verdict_word_is_an_error_not_a_default_style():
    with pytest.raises(ValueError, match="'maybe'"):
        B.VerdictKind("maybe")


def test_table_and_heading_render_in_both_formats():
    doc = [B.Heading("Title & more", level=1), B.Table(("a", "b<"), (("1", "2"),)), B.Code("x < y")]
    md = render.to_markdown(doc, {}, Path("."))
    assert md.splitlines()[:5] == ["# Title & more", "", "| a | b< |", "|---|---|", "| 1 | 2 |"]
    page = render.to_html(doc, {})
    assert '<h1 id="title---more">Title &amp; more</h1>' in page
    assert "<th>b&lt;</th>" in page and "<td>2</td>" in page and "<pre><code>x &lt; y</code></pre>" in page


def test_figure_is_inlined_and_numbered_by_its_place_in_the_layout(tmp_path):
    png = tmp_path / "figures" / "fig3_boundaries.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG fake")
    block = B.Figure("boundaries", "Boundaries.")
    page = render.to_html([B.Heading("T", level=1), block], {"boundaries": png})
    assert '<figure id="fig3_boundaries"><img alt="Figure 3. Boundaries."' in page
    assert 'src="data:image/png;base64,iVBORyBmYWtl"' in page
    assert "![Figure 3. Boundaries.](figures/fig3_boundaries.png)" in render.to_markdown(
        [block], {"boundaries": png}, tmp_path
    )


def test_held_out_share_is_computed_from_the_panels():
    def panel(model, dataset, n_test, n):
        return {
            "model": model,
            "dataset": dataset,
            "accuracy": 0.5,
            "X_test": np.zeros(n_test),
            "X_train": np.zeros(n - n_test),
        }

    panels = [panel(m, d, 50, 200) for m in ("lr", "mlp") for d in ("xor", "moons")]
    text = sections.classification(_inputs(panels=panels))[0].text
    assert "(25% of 200 points held out)" in text and "400" not in text


def test_saturation_prose_follows_the_experiment_parameters():
    designed = saturation_experiment(quick=True)
    text = sections.saturation(_inputs(saturation=designed))[0].text
    assert "mini-batches of 10 (their size)" in text and "plain SGD (no momentum, as they used)" in text
    assert "0.3 is the smallest of these" in text and "(64 pixels," in text
    changed = dataclasses.replace(designed, lr=0.5, batch_size=32)
    text = sections.saturation(_inputs(saturation=changed))[0].text
    assert "mini-batches of 32 for" in text and "their size" not in text
    assert "learning rate 0.5" in text and "This run's rate, 0.5, is not the 0.3 chosen" in text


def test_sections_without_their_data_are_left_out_with_their_heading():
    doc = sections.document(_inputs())
    headings = [b.text for b in doc if isinstance(b, B.Heading)]
    assert "Binary classification and the hidden layer" not in headings  # no boundary panels
    assert headings[1:] == [t for t in sections.SECTIONS if t != "Binary classification and the hidden layer"]
    assert [b.verdict for b in doc if isinstance(b, B.Verdict)] == [
        B.VerdictKind.NOT_TESTED,
        B.VerdictKind.SUPPORTED,
        B.VerdictKind.PARTLY,
    ]
    assert not any(isinstance(b, B.Figure) for b in doc)  # no figure was drawn


def test_every_derivation_step_is_well_formed_mathml_without_sympy_internals():
    for d in derivations():
        for expr in (d.lhs, *(s.expr for s in d.steps)):
            m = mathml(expr)
            root = ET.fromstring(m)
            assert root.tag == "math" and root.get("display") == "block"
            assert "unevaluatedexpr" not in m.lower()
            assert not re.search(r"&(?!#\d+;|amp;|lt;|gt;)", m), m  # no HTML-only named entity
