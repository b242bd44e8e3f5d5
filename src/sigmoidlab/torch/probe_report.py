r"""What a :class:`~sigmoidlab.torch.probe.GradientProbe` found: the findings, the tables, the history, the files.

**Findings** (``report.findings``, a list; empty means healthy). Each is a dict ``{"kind", "layers",
"evidence", "message", "remedy"}``; ``layers`` names parameterised layers (module paths) or activation sites
(``"module/function"``). Medians are over samples ("late": the last half of them). The thresholds are
:data:`LIMITS` (override with ``GradientProbe(limits=...)``).

- ``vanishing`` — over the layers with weight matrices in forward order, the output layer excluded (the lab's
  hidden layers; at least :data:`MIN_FIT_LAYERS` of them, taken as a chain: parallel branches are not told
  apart), fit log₁₀ g_l = a + b·l per sample and take the per-layer gain r = 10^(−b) and g_first/g_top,
  with :func:`sigmoidlab.lab.analysis.decay` (the same function the lab's sweeps use). Found when the median r
  < 1 and the median g_first/g_top < ``vanishing_input_over_top`` (0.01: the lab's decay criterion). Evidence
  also gives the lab's bound σ'max·(geometric mean of ‖W‖ above the first layer) (none with batch norm).
- ``exploding`` — the mirror image (median r > 1 and g_first/g_top > ``exploding_input_over_top``), or a
  non-finite gradient norm, or a total gradient norm that grew ``exploding_growth`` times over training.
- ``saturation`` — a σ or tanh site whose late median fraction of unit·sample pairs in the vanishing band (exact
  derivative at the pre-activation; :mod:`._probe_sites`) exceeds ``saturation_fraction``.
- ``dead_units`` — a ReLU site whose late median fraction of units never positive over ``window`` samples exceeds
  ``dead_fraction``.
- ``rounding_flush`` — a site where at least ``flush_fraction`` of the pairs checked have an autograd derivative
  that is 0 (or off by more than half) while the exact derivative rounded to the stored dtype is not.
- ``update_ratio`` — a layer whose median log₁₀(‖ΔW‖/‖W‖) is outside [log₁₀ ``update_ratio_low``, log₁₀
  ``update_ratio_high``] (CS231n's rule of thumb: about 1e−3).

**JSON** (``save_json``; ``schema_version`` 1; non-finite numbers are ``null``)::

    schema            "sigmoidlab.gradient_probe"
    schema_version    1
    created           ISO 8601 time (UTC); versions {"sigmoidlab", "torch"}
    model             {"class", "parameters", "trainable", "frozen": [names], "batchnorm": bool}
    settings          {"every", "threshold", "window", "limits": {...}}
    steps             optimiser steps seen
    healthy           findings == []
    findings          [{"kind", "layers", "evidence": {...}, "message", "remedy"}]
    layers            [{"name", "in_depth_fit", "parameters": [{"name", "shape", "dtype"}], "shared_with",
                        "grad_norm", "weight_norm", "update_ratio_log10"}]   (last sample; ratio: median)
    sites             [{"name", "module", "kind", "dtype", "band_fraction", "dead_fraction", "flush_count",
                        "flush_fraction"}]   (band, dead: late median; flush: totals)
    flow              {"layers": [names in the fit], "activation", "first": {...}, "last": {...}, "median": {...}}
                      each {"ratio_per_layer", "input_over_top", "spread_decades", "bound"}
    history           {"steps": [s...], "grad_norm": {layer: [...]}, "weight_norm": {layer: [...]},
                       "update_ratio_log10": {layer: [...]}, "band_fraction": {site: [...]},
                       "dead_fraction": {site: [...]}, "flush_count": {site: [...]},
                       "ratio_per_layer": [...], "input_over_top": [...]}   (one entry per sample, null if absent)

``history.grad_norm`` is the layer × step heatmap and ``flow``/``layers[].grad_norm`` the gradient-flow meter of
the playground; ``history.band_fraction`` is the saturation per step.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from typing import Any

import numpy as np

from .._atomic import write_text
from ..lab.analysis import MAX_SLOPE, decay

SCHEMA = "sigmoidlab.gradient_probe"
SCHEMA_VERSION = 1
LIMITS: dict[str, float] = {
    "vanishing_input_over_top": 0.01,
    "exploding_input_over_top": 100.0,
    "exploding_growth": 1e3,
    "saturation_fraction": 0.5,
    "dead_fraction": 0.5,
    "flush_fraction": 1e-3,
    "update_ratio_low": 1e-4,
    "update_ratio_high": 1e-2,
}
MIN_FIT_LAYERS = 3  # hidden layers the depth fit needs: two points are a ratio, not a trend
KINDS = ("vanishing", "exploding", "saturation", "dead_units", "rounding_flush", "update_ratio")
_FLUSHABLE = ("sigmoid", "tanh", "silu", "gelu", "log_sigmoid")


class GradientFlowError(AssertionError):
    """Raised by ``GradientProbe.assert_healthy()``: one line per finding, with its layers and evidence."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.findings = report.findings
        lines = [f"- {f['message']} Remedy: {f['remedy']}" for f in self.findings]
        super().__init__(f"gradient flow is not healthy ({len(lines)} finding(s)):\n" + "\n".join(lines))


def _median(values: list) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(vals)) if vals else None


def _late(values: list) -> list:
    return values[len(values) // 2 :]


def _norm(parts: list) -> float | None:
    vals = [v for v in parts if v is not None]
    return math.sqrt(sum(v * v for v in vals)) if vals else None


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


# ------------------------------------------------------------------------------------------------ history


def _layer_history(layers: list[dict], samples: list[dict]) -> dict:
    hist: dict[str, dict] = {"grad_norm": {}, "weight_norm": {}, "update_ratio_log10": {}}
    for layer in layers:
        idx = layer["weights"]
        g = [_norm([s["grad"][i] for i in idx]) for s in samples]
        w = [_norm([s["weight"][i] for i in idx]) for s in samples]
        u = [_norm([s["update"][i] for i in idx]) for s in samples]
        hist["grad_norm"][layer["name"]] = g
        hist["weight_norm"][layer["name"]] = w
        hist["update_ratio_log10"][layer["name"]] = [
            math.log10(ui / wi) if ui and wi and math.isfinite(ui / wi) else None for ui, wi in zip(u, w, strict=True)
        ]
    return hist


def _site_history(sites: list[dict], samples: list[dict]) -> dict:
    hist: dict[str, dict] = {"band_fraction": {}, "dead_fraction": {}, "flush_count": {}, "flush_checked": {}}
    for site in sites:
        rows = [s["sites"].get(site["name"]) for s in samples]
        name = site["name"]
        hist["band_fraction"][name] = [r["band"] / r["pairs"] if r and r["pairs"] else None for r in rows]
        hist["flush_count"][name] = [r["flush"] if r else None for r in rows]
        hist["flush_checked"][name] = [r["checked"] if r else None for r in rows]
        if site["kind"] in ("relu", "leaky_relu"):
            hist["dead_fraction"][name] = [r.get("dead") if r else None for r in rows]
    return hist


def _activation(sites: list[dict]) -> str | None:
    """The activation most sites use, when the lab's bound knows its maximum slope."""
    kinds = [s["kind"] for s in sites if s["kind"] in MAX_SLOPE]
    return max(set(kinds), key=kinds.count) if kinds else None


def _flow(desc: dict, grad: dict, weight: dict, n: int) -> dict:
    """Per sample, the lab's decay fit over the hidden layers (layers with weight matrices, the last excluded)."""
    names = [layer["name"] for layer in desc["layers"] if layer["in_depth_fit"]][:-1]
    act = _activation(desc["sites"])
    bn = desc["model"]["batchnorm"]
    fits = []
    for k in range(n):
        rows = [{"weight_grad_norm": grad[m][k], "weight_norm": weight[m][k]} for m in names]
        ok = len(rows) >= MIN_FIT_LAYERS and all(r["weight_grad_norm"] is not None and r["weight_norm"] for r in rows)
        fits.append(decay(rows, act or "identity", bn or act is None) if ok else None)
    keys = ("ratio_per_layer", "input_over_top", "spread_decades", "bound")
    valid = [f for f in fits if f is not None]
    flow = {"layers": names, "activation": act, "fits": fits}
    flow["first"] = valid[0] if valid else None
    flow["last"] = valid[-1] if valid else None
    flow["median"] = {k: _median([f[k] for f in valid]) for k in keys} if valid else None
    return flow


# ----------------------------------------------------------------------------------------------- findings


def _finding(kind: str, layers: list[str], evidence: dict, message: str, remedy: str) -> dict:
    return {"kind": kind, "layers": layers, "evidence": _clean(evidence), "message": message, "remedy": remedy}


def _gradient_findings(flow: dict, hist: dict, limits: dict) -> list[dict]:
    out = []
    med, grad = flow["median"], hist["grad_norm"]
    names = flow["layers"]
    if med and med["ratio_per_layer"] is not None and med["input_over_top"] is not None:
        r, q = med["ratio_per_layer"], med["input_over_top"]
        top = _median(grad[names[-1]])
        evidence = {
            "ratio_per_layer_median": r,
            "ratio_per_layer_first": flow["first"]["ratio_per_layer"],
            "input_over_top_median": q,
            "bound_first": flow["first"]["bound"],
            "bound_median": med["bound"],
            "activation": flow["activation"],
            "layers_in_fit": names,
            "samples": sum(f is not None for f in flow["fits"]),
        }
        if r < 1 and q < limits["vanishing_input_over_top"]:
            low = [m for m in names[:-1] if (_median(grad[m]) or 0) < 0.1 * (top or 0)]
            act = flow["activation"] or "the activation"
            remedy = (
                f"replace {act} by ReLU with He init, or put batch norm before each activation; with sigmoid or tanh "
                "keep at least Glorot (normalised) init"
            )
            msg = (
                f"vanishing: the gradient norm changes by ×{r:.3g} per layer towards the input (median of "
                f"{evidence['samples']} samples; first layer / top hidden layer = {q:.2e}; lab bound σ'max·‖W‖ = "
                f"{_fmt(evidence['bound_first'])} at the first sample) in {', '.join(low or names)}."
            )
            out.append(_finding("vanishing", low or names, evidence, msg, remedy))
        elif r > 1 and q > limits["exploding_input_over_top"]:
            high = [m for m in names[:-1] if (_median(grad[m]) or 0) > 10 * (top or math.inf)]
            msg = f"exploding: the gradient norm grows ×{r:.3g} per layer towards the input (first / top = {q:.2e})."
            out.append(_finding("exploding", high or names, evidence, msg, _EXPLODING_REMEDY))
    out += _growth_findings(grad, limits)
    return out


_EXPLODING_REMEDY = (
    "lower the learning rate, clip the gradient norm (torch.nn.utils.clip_grad_norm_), use Glorot/He init "
    "rather than a larger scale, or add batch norm"
)


def _growth_findings(grad: dict, limits: dict) -> list[dict]:
    bad = [m for m, g in grad.items() if any(v is not None and not math.isfinite(v) for v in g)]
    if bad:
        msg = f"exploding: non-finite gradient norms in {', '.join(bad)}."
        return [_finding("exploding", bad, {"non_finite": True}, msg, _EXPLODING_REMEDY)]
    totals = [_norm([g[k] for g in grad.values()]) for k in range(len(next(iter(grad.values()), [])))]
    if len(totals) < 4:
        return []
    start = _median(totals[:3])
    peak = max((t for t in totals if t is not None), default=None)
    if start and peak and peak / start > limits["exploding_growth"]:
        evidence = {"total_grad_norm_start": start, "total_grad_norm_peak": peak, "growth": peak / start}
        msg = f"exploding: the total gradient norm grew ×{peak / start:.3g} during training (from {start:.3g})."
        return [_finding("exploding", list(grad), evidence, msg, _EXPLODING_REMEDY)]
    return []


def _site_findings(sites: list[dict], hist: dict, limits: dict, threshold: float) -> list[dict]:
    out = []
    sat = {
        s["name"]: f
        for s in sites
        if s["kind"] in ("sigmoid", "tanh")
        and (f := _median(_late(hist["band_fraction"][s["name"]]))) is not None
        and f > limits["saturation_fraction"]
    }
    if sat:
        msg = "saturation: " + ", ".join(f"{k} has {100 * v:.0f}% of its unit·sample pairs" for k, v in sat.items())
        msg += f" in the vanishing band (σ' < {threshold:g}, tanh' < {4 * threshold:g}, exact derivative)."
        remedy = "Glorot (normalised) init, batch norm before the activation, a smaller learning rate, or ReLU"
        out.append(_finding("saturation", list(sat), {"band_fraction": sat, "threshold": threshold}, msg, remedy))
    dead = {
        name: f
        for name, values in hist["dead_fraction"].items()
        if (f := _median(_late(values))) is not None and f > limits["dead_fraction"]
    }
    if dead:
        msg = "dead_units: " + ", ".join(f"{100 * v:.0f}% of the units of {k}" for k, v in dead.items())
        msg += " were never positive over the last samples."
        remedy = "He init, a smaller learning rate, biases that start at 0 (or slightly positive), or leaky ReLU"
        out.append(
            _finding("dead_units", list(dead), {"dead_fraction": dead, "window": limits.get("window")}, msg, remedy)
        )
    out += _flush_findings(sites, hist, limits)
    return out


def _flush_findings(sites: list[dict], hist: dict, limits: dict) -> list[dict]:
    flushed = {}
    for s in sites:
        if s["kind"] not in _FLUSHABLE:
            continue
        count = sum(v for v in hist["flush_count"][s["name"]] if v)
        checked = sum(v for v in hist["flush_checked"][s["name"]] if v)
        if count and checked and count / checked >= limits["flush_fraction"]:
            flushed[s["name"]] = {"count": count, "checked": checked, "fraction": count / checked, "dtype": s["dtype"]}
    if not flushed:
        return []
    msg = "rounding_flush: " + ", ".join(
        f"{k} ({v['dtype']}): {v['count']} of {v['checked']} derivatives are 0 or off by more than half in autograd "
        "while the exact one is not"
        for k, v in flushed.items()
    )
    remedy = (
        "run the forward inside sigmoidlab.torch.exact_gradients() (or use sigmoidlab.torch.sigmoid / tanh and "
        "sigmoidlab.torch.nn modules): the exact backward is never 0 where the true derivative is representable"
    )
    return [_finding("rounding_flush", list(flushed), {"sites": flushed}, msg + ".", remedy)]


def _update_findings(hist: dict, limits: dict) -> list[dict]:
    low, high = math.log10(limits["update_ratio_low"]), math.log10(limits["update_ratio_high"])
    medians = {m: _median(v) for m, v in hist["update_ratio_log10"].items()}
    out = []
    for side, bad, remedy in (
        ("small", {m: v for m, v in medians.items() if v is not None and v < low}, _SMALL_UPDATE),
        ("large", {m: v for m, v in medians.items() if v is not None and v > high}, "lower the learning rate"),
    ):
        if bad:
            cells = ", ".join(f"{m} {v:.2f}" for m, v in bad.items())
            msg = f"update_ratio: log₁₀(‖ΔW‖/‖W‖) too {side} (median; aim near −3): {cells}."
            evidence = {"update_ratio_log10": bad, "low": low, "high": high, "side": side}
            out.append(_finding("update_ratio", list(bad), evidence, msg, remedy))
    return out


_SMALL_UPDATE = "raise the learning rate; if a vanishing gradient is found too, fix that first"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3g}"


# ------------------------------------------------------------------------------------------------- report


def build_report(desc: dict, samples: list[dict]) -> Report:
    """The report of a probe's description (:meth:`GradientProbe._describe`) and its samples."""
    import torch

    from .. import __version__

    layers, sites = desc["layers"], desc["sites"]
    lh, sh = _layer_history(layers, samples), _site_history(sites, samples)
    flow = _flow(desc, lh["grad_norm"], lh["weight_norm"], len(samples))
    limits = {**desc["settings"]["limits"], "window": desc["settings"]["window"]}
    findings = _gradient_findings(flow, lh, limits) if samples else []
    if samples:
        findings += _site_findings(sites, sh, limits, desc["settings"]["threshold"]) + _update_findings(lh, limits)
    history = {"steps": [s["step"] for s in samples], **lh, **sh}
    history["ratio_per_layer"] = [f["ratio_per_layer"] if f else None for f in flow["fits"]]
    history["input_over_top"] = [f["input_over_top"] if f else None for f in flow["fits"]]
    data = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"sigmoidlab": __version__, "torch": torch.__version__},
        "model": desc["model"],
        "settings": desc["settings"],
        "steps": desc["steps"],
        "samples": len(samples),
        "healthy": not findings,
        "findings": findings,
        "layers": [_layer_row(layer, lh) for layer in layers],
        "sites": [_site_row(site, sh) for site in sites],
        "flow": {k: v for k, v in flow.items() if k != "fits"},
        "history": history,
    }
    return Report(_clean(data))


def _layer_row(layer: dict, lh: dict) -> dict:
    name = layer["name"]
    last = {k: (lh[k][name][-1] if lh[k][name] else None) for k in ("grad_norm", "weight_norm")}
    row = {k: layer[k] for k in ("name", "in_depth_fit", "parameters", "shared_with")}
    return {**row, **last, "update_ratio_log10": _median(lh["update_ratio_log10"][name])}


def _site_row(site: dict, sh: dict) -> dict:
    name = site["name"]
    count = sum(v for v in sh["flush_count"][name] if v)
    checked = sum(v for v in sh["flush_checked"][name] if v)
    dead = sh["dead_fraction"].get(name)
    return {
        **site,
        "band_fraction": _median(_late(sh["band_fraction"][name])),
        "dead_fraction": _median(_late(dead)) if dead else None,
        "flush_count": count,
        "flush_fraction": count / checked if checked else None,
    }


def _check_shape(path: Any, data: dict) -> None:
    """The keys the viewers read, with their types: a hand-edited or truncated file fails here, in one line."""
    wanted = {"findings": list, "layers": list, "sites": list, "history": dict, "steps": int, "samples": int}
    for key, kind in wanted.items():
        if not isinstance(data.get(key), kind):
            raise ValueError(f"{path}: the report's {key!r} is missing or not a {kind.__name__}")
    history = data["history"]
    if not isinstance(history.get("steps"), list) or not isinstance(history.get("grad_norm"), dict):
        raise ValueError(f"{path}: the report's history has no 'steps' list or 'grad_norm' table")
    if not all(isinstance(row, dict) and isinstance(row.get("name"), str) for row in data["layers"]):
        raise ValueError(f"{path}: every entry of the report's 'layers' needs a 'name'")


class Report:
    """A probe's report: ``findings`` (empty: healthy), ``layers``, ``sites``, ``history``; printable and savable.

    ``Report.load(path)`` reads a saved JSON report back (refusing another schema or a newer version).
    """

    def __init__(self, data: dict) -> None:
        self.data = data

    findings = property(lambda self: self.data["findings"])
    layers = property(lambda self: self.data["layers"])
    sites = property(lambda self: self.data["sites"])
    history = property(lambda self: self.data["history"])
    healthy = property(lambda self: not self.data["findings"])
    kinds = property(lambda self: sorted({f["kind"] for f in self.data["findings"]}))

    def __repr__(self) -> str:
        verdict = "healthy" if self.healthy else ", ".join(self.kinds)
        return f"<gradient-flow Report: {self.data['samples']} samples over {self.data['steps']} steps, {verdict}>"

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self.data))

    def save_json(self, path: str | os.PathLike) -> None:
        write_text(path, json.dumps(self.data, allow_nan=False, indent=1))

    def save_html(self, path: str | os.PathLike) -> None:
        from .probe_html import render

        write_text(path, render(self.data))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Report:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"{path}: not a gradient-probe report (schema {SCHEMA!r} expected)")
        if not isinstance(data.get("schema_version"), int) or data["schema_version"] > SCHEMA_VERSION:
            raise ValueError(f"{path}: schema_version {data.get('schema_version')!r}; this sigmoidlab reads ≤ 1")
        _check_shape(path, data)
        return cls(data)

    def print(self, console: Any = None) -> None:
        """The verdict, the findings, and the per-layer and per-site tables, with Rich."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        d = self.data
        console.print(
            f"[bold]Gradient flow[/]: {d['samples']} samples over {d['steps']} steps — "
            + ("[green]healthy[/]" if self.healthy else f"[red]{', '.join(self.kinds)}[/]")
        )
        for f in self.findings:
            console.print(f"• [bold]{f['kind']}[/] {f['message']}\n  [dim]remedy:[/] {f['remedy']}", highlight=False)
        table = Table("layer", "‖g‖ (last)", "‖W‖ (last)", "log₁₀ ‖ΔW‖/‖W‖", title="layers")
        for row in d["layers"]:
            table.add_row(
                row["name"], _fmt(row["grad_norm"]), _fmt(row["weight_norm"]), _fmt(row["update_ratio_log10"])
            )
        console.print(table)
        if d["sites"]:
            table = Table("site", "dtype", "vanishing band", "dead units", "flush", title="activation sites")
            for s in d["sites"]:
                table.add_row(
                    s["name"], s["dtype"], _pct(s["band_fraction"]), _pct(s["dead_fraction"]), str(s["flush_count"])
                )
            console.print(table)
