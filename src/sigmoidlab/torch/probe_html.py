"""A gradient-probe report as one self-contained HTML page: inline CSS, figures as inline SVG, no external URL.

Figures: the gradient-flow meter (log₁₀ ‖g‖ per layer at the first and the last sample), the layer × step heatmap
of log₁₀ ‖g‖, and the vanishing-band fraction of each activation site per step.
"""

from __future__ import annotations

import html
import json
import math

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border-bottom:1px solid #ddd;padding:.2em .7em;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#1a7f37}.bad{color:#b42318}
.finding{border-left:4px solid #b42318;padding:.3em .8em;margin:.6em 0;background:#fff5f5}
svg text{font:11px system-ui,sans-serif}
"""
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _log(v: float | None) -> float | None:
    return math.log10(v) if v is not None and v > 0 and math.isfinite(v) else None


def _meter(data: dict) -> str:
    """Horizontal bars of log₁₀ ‖g‖ per layer: first sample (light) and last sample (dark)."""
    rows = [
        (name, _log(g[0]) if g else None, _log(g[-1]) if g else None)
        for name, g in data["history"]["grad_norm"].items()
    ]
    values = [v for _, a, b in rows for v in (a, b) if v is not None]
    if not values:
        return "<p>No gradient was sampled.</p>"
    lo, hi = math.floor(min(values)), math.ceil(max(values))
    hi = hi if hi > lo else lo + 1
    width, left, bar = 640, 170, 9
    scale = (width - left - 20) / (hi - lo)
    parts = [f'<svg width="{width}" height="{len(rows) * 24 + 30}" role="img">']
    for i, (name, first, last) in enumerate(rows):
        y = 10 + i * 24
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{_e(name)}</text>')
        for k, (v, color) in enumerate(((first, "#9ecae1"), (last, "#08519c"))):
            if v is not None:
                w = max(1.0, (v - lo) * scale)
                parts.append(
                    f'<rect x="{left}" y="{y + k * bar}" width="{w:.1f}" height="{bar - 1}" fill="{color}">'
                    f"<title>{_e(name)}: 10^{v:.2f}</title></rect>"
                )
    y = len(rows) * 24 + 22
    for t in range(lo, hi + 1):
        parts.append(f'<text x="{left + (t - lo) * scale:.1f}" y="{y}" text-anchor="middle">1e{t}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _heatmap(data: dict) -> str:
    """Layers (rows) × samples (columns), colour = log₁₀ ‖g‖ from light (small) to dark (large)."""
    grad, steps = data["history"]["grad_norm"], data["history"]["steps"]
    if not steps or not grad:
        return ""
    logs = {name: [_log(v) for v in g] for name, g in grad.items()}
    values = [v for row in logs.values() for v in row if v is not None]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    left, cell_h = 170, 16
    cell_w = max(2.0, min(24.0, 460 / len(steps)))
    parts = [f'<svg width="{left + cell_w * len(steps) + 20:.0f}" height="{len(logs) * cell_h + 30}" role="img">']
    for i, (name, row) in enumerate(logs.items()):
        y = 4 + i * cell_h
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{_e(name)}</text>')
        for j, v in enumerate(row):
            shade = "#eee" if v is None else f"hsl(215,70%,{92 - 70 * (v - lo) / span:.0f}%)"
            tip = "none" if v is None else f"10^{v:.2f}"
            parts.append(
                f'<rect x="{left + j * cell_w:.1f}" y="{y}" width="{cell_w:.1f}" height="{cell_h - 1}" '
                f'fill="{shade}"><title>{_e(name)}, step {steps[j]}: {tip}</title></rect>'
            )
    y = len(logs) * cell_h + 20
    parts.append(f'<text x="{left}" y="{y}">step {steps[0]}</text>')
    parts.append(f'<text x="{left + cell_w * len(steps):.0f}" y="{y}" text-anchor="end">step {steps[-1]}</text>')
    parts.append(f'<text x="4" y="{y}">log₁₀‖g‖ {lo:.1f} … {hi:.1f}</text></svg>')
    return "".join(parts)


def _bands(data: dict) -> str:
    """Vanishing-band fraction per site against step, one line per site (at most 8)."""
    steps, bands = data["history"]["steps"], list(data["history"]["band_fraction"].items())[:8]
    if not steps or not bands:
        return "<p>No activation site was observed.</p>"
    width, height, left = 640, 200, 40

    def x_of(s: int) -> float:
        return left + (width - left - 150) * (s - steps[0]) / max(1, steps[-1] - steps[0])

    parts = [
        f'<svg width="{width}" height="{height + 20}" role="img">',
        f'<line x1="{left}" y1="{height}" x2="{width - 150}" y2="{height}" stroke="#999"/>',
        f'<text x="4" y="14">100%</text><text x="4" y="{height}">0%</text>',
    ]
    for k, (name, values) in enumerate(bands):
        color = _COLORS[k % len(_COLORS)]
        points = " ".join(
            f"{x_of(s):.1f},{height - (height - 10) * v:.1f}"
            for s, v in zip(steps, values, strict=True)
            if v is not None
        )
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        parts.append(f'<text x="{width - 145}" y="{16 + 14 * k}" fill="{color}">{_e(name)}</text>')
    parts.append(f'<text x="{left}" y="{height + 16}">step {steps[0]}</text>')
    parts.append(f'<text x="{width - 150}" y="{height + 16}" text-anchor="end">step {steps[-1]}</text></svg>')
    return "".join(parts)


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _num(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.1f}%" if pct else f"{v:.3g}"


def render(data: dict) -> str:
    """The page for a report's data (:attr:`Report.data`)."""
    verdict = (
        '<p class="ok">Healthy: no finding.</p>'
        if data["healthy"]
        else "".join(
            f'<div class="finding"><b>{_e(f["kind"])}</b> — {_e(f["message"])}'
            f"<br><i>Remedy:</i> {_e(f['remedy'])}</div>"
            for f in data["findings"]
        )
    )
    layers = _table(
        ["layer", "‖g‖ (last)", "‖W‖ (last)", "log₁₀ ‖ΔW‖/‖W‖ (median)"],
        [
            [r["name"], _num(r["grad_norm"]), _num(r["weight_norm"]), _num(r["update_ratio_log10"])]
            for r in data["layers"]
        ],
    )
    sites = _table(
        ["site", "dtype", "vanishing band", "dead units", "rounding flush"],
        [
            [s["name"], s["dtype"], _num(s["band_fraction"], True), _num(s["dead_fraction"], True), s["flush_count"]]
            for s in data["sites"]
        ],
    )
    title = f"Gradient flow of {data['model']['class']}"
    embedded = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>"
        f"<p>{data['samples']} samples (every {data['settings']['every']} steps) over {data['steps']} optimiser steps; "
        f"vanishing threshold σ' &lt; {data['settings']['threshold']:g}. "
        f"sigmoidlab {_e(data['versions']['sigmoidlab'])}, "
        f"torch {_e(data['versions']['torch'])}, {_e(data['created'])}.</p>"
        f"<h2>Verdict</h2>{verdict}"
        "<h2>Gradient-flow meter</h2>"
        "<p>log₁₀ ‖∂L/∂W‖ per layer, input side first: first sample (light), last (dark).</p>"
        f"{_meter(data)}<h2>Gradient norm per layer and step</h2>{_heatmap(data)}"
        f"<h2>Vanishing band per activation site</h2>{_bands(data)}"
        f"<h2>Layers</h2>{layers}<h2>Activation sites</h2>{sites}"
        f'<script type="application/json" id="report">{embedded}</script></body></html>'
    )
