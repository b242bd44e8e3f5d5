r"""What the runs of a sweep show, as numbers: gradient decay per layer, failure depth, top-layer saturation.

**Decay rate.** For one network at one step, with g_l the Frobenius norm of ∂L/∂W_l of hidden layer l
(l = 0 at the input), fit log₁₀ g_l = a + b·l by least squares; the per-layer ratio r = 10^(−b) is the factor by
which the gradient norm changes from one layer to the one below it (r < 1: it shrinks towards the input).
Backpropagation multiplies the signal by Wᵀ and by f'(z) once per layer, so ‖δ_l‖ ≤ max f' · ‖W_{l+1}‖₂ · ‖δ_{l+1}‖;
with σ' ≤ 1/4 the bound per layer is ‖W‖/4 (we use the Frobenius norm, which is ≥ the spectral norm, so the
bound stays a bound). Batch norm rescales the signal between the two, so no such bound is given for it.

**Failure depth.** A configuration fails to train at a depth when its mean test accuracy over seeds is within
``margin`` of chance (the majority-class rate of the test set); the failure depth is the smallest such depth.

**Saturation of the top hidden layer** (Glorot & Bengio 2010). For sigmoid layers, the mean activation ȳ of the
top hidden layer is followed over training; a layer whose typical unit sits where σ' = ȳ(1 − ȳ) ≤ 1/8 (half the
maximum, ȳ ≤ 0.146 or ≥ 0.854) passes back at most half of what a unit at σ = 1/2 would: it is saturating.
The fraction of units with σ'(z) below the vanishing threshold is reported beside it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from .grid import Architecture

MAX_SLOPE = {"sigmoid": 0.25, "logistic": 0.25, "tanh": 1.0, "relu": 1.0, "leaky_relu": 1.0, "identity": 1.0}
CHANCE_MARGIN = 0.1
HALF_GRADIENT_MEAN = (1 - math.sqrt(0.5)) / 2  # ȳ(1 − ȳ) = 1/8  ⇔  ȳ = (1 − √½)/2 ≈ 0.146


def geometric_mean(values: Iterable[float]) -> float:
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return float(np.exp(np.mean(np.log(values)))) if values else math.nan


def hidden_rows(record: dict, step: int) -> list[dict]:
    """The per-layer rows of the hidden layers (output layer excluded) of one run at one step, input first."""
    rows = [r for r in record["layers"] if r["step"] == step and r["activation"] != "output"]
    return sorted(rows, key=lambda r: r["layer"])


def decay(rows: Sequence[dict], activation: str, batchnorm: bool) -> dict:
    """Per-layer ratio r (fitted), g_input/g_top, spread in decades and the σ'-bound, for one network's rows."""
    g = np.array([r["weight_grad_norm"] or 0.0 for r in rows], dtype=float)
    out = {"ratio_per_layer": math.nan, "input_over_top": math.nan, "spread_decades": math.nan, "bound": math.nan}
    if len(g) == 0 or not np.all(g > 0):
        return out
    log_g = np.log10(g)
    out["input_over_top"] = float(g[0] / g[-1])
    out["spread_decades"] = float(log_g.max() - log_g.min())
    if len(g) >= 2:
        slope = np.polyfit(np.arange(len(g)), log_g, 1)[0]
        out["ratio_per_layer"] = float(10.0 ** (-slope))
        if not batchnorm:
            # The signal reaching layer l has crossed W_{l+1}: the weights of every hidden layer above the first.
            out["bound"] = MAX_SLOPE[activation] * geometric_mean(r["weight_norm"] for r in rows[1:])
    return out


def layer_traces(runs: Sequence[dict]) -> dict[str, np.ndarray]:
    """Per checkpoint and hidden layer, averaged over the seeds of one configuration: mean activation, its 2nd
    and 98th percentiles and the half-slope fraction. Arrays of shape (steps, layers), plus ``steps``."""
    steps = sorted({r["step"] for r in runs[0]["layers"]})
    depth = runs[0]["config"]["depth"]
    keys = ("act_mean", "act_p02", "act_p98", "half_slope", "saturation")
    out = {k: np.full((len(runs), len(steps), depth), np.nan) for k in keys}
    for i, run in enumerate(runs):
        for r in run["layers"]:
            if r["activation"] != "output" and r["step"] in steps:
                for k in keys:
                    out[k][i, steps.index(r["step"]), r["layer"]] = np.nan if r.get(k) is None else r[k]
    return {"steps": np.array(steps), **{k: np.nanmean(v, axis=0) for k, v in out.items()}}


def top_saturation(runs: Sequence[dict]) -> dict | None:
    """How the top hidden sigmoid layer's mean activation moves over training, averaged over seeds.

    It is saturating when its mean ȳ is within HALF_GRADIENT_MEAN of 0 or 1 (σ'(ȳ) ≤ 1/8); ``entered`` is the
    first checkpoint where that holds, as a fraction of training, or None.
    """
    if runs[0]["config"]["architecture"]["activation"] not in ("sigmoid", "logistic"):
        return None
    t = layer_traces(runs)
    means = t["act_mean"]
    if np.isnan(means).any():
        return None
    distance = np.minimum(means, 1 - means)  # from the nearest asymptote, per step and layer
    top = distance[:, -1]
    k = int(np.argmin(top))
    inside = np.flatnonzero(top <= HALF_GRADIENT_MEAN)
    total = max(int(t["steps"][-1]), 1)
    entered = int(inside[0]) if inside.size else None
    return {
        "act_mean_init": float(means[0, -1]),
        "act_mean_extreme": float(means[k, -1]),
        "extreme_fraction_of_training": float(t["steps"][k] / total),
        "act_mean_final": float(means[-1, -1]),
        "entered_fraction_of_training": None if entered is None else float(t["steps"][entered] / total),
        # Where the lower layers were when the top one entered (or at its extreme): are they saturating too?
        "lower_means": [float(m) for m in means[entered if entered is not None else k, :-1]],
        "lower_saturated": bool(np.any(distance[entered if entered is not None else k, :-1] <= HALF_GRADIENT_MEAN)),
        "half_slope_final": float(t["half_slope"][-1, -1]),
        "vanishing_fraction_max": float(np.nanmax(t["saturation"][:, -1])),
    }


def _group(records: Sequence[dict]) -> tuple[list[Architecture], dict[tuple, list[dict]]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    order: list[Architecture] = []
    for record in records:
        arch = Architecture(**record["config"]["architecture"])
        if arch not in order:
            order.append(arch)
        groups[(arch, record["config"]["depth"])].append(record)
    return order, groups


def analyse(records: Sequence[dict], saturation: Sequence[dict] | None = None, margin: float = CHANCE_MARGIN) -> dict:
    """Summaries per architecture and depth (averaged over seeds), and the verdict on each hypothesis.

    ``saturation`` holds the runs of a dedicated saturation experiment (:func:`~.grid.saturation_experiment`);
    without it, the saturation claim is judged on the sweep's own sigmoid runs.
    """
    order, groups = _group(records)
    configurations = []
    for arch in order:
        depths = sorted(d for a, d in groups if a == arch)
        by_depth = [_summarise(arch, depth, groups[(arch, depth)], margin) for depth in depths]
        failing = [row["depth"] for row in by_depth if row["trained"] is False]
        configurations.append(
            {
                "label": arch.label,
                "architecture": {"activation": arch.activation, "batchnorm": arch.batchnorm, "init": arch.init},
                "by_depth": by_depth,
                "failure_depth": min(failing) if failing else None,
                "failing_depths": failing,
            }
        )
    analysis = {"margin": margin, "configurations": configurations}
    analysis["saturation"] = saturation_summary(records if saturation is None else saturation)
    analysis["hypotheses"] = hypotheses(analysis)
    return analysis


def saturation_summary(records: Sequence[dict]) -> list[dict]:
    """Per architecture and depth ≥ 2 without batch norm: the top layer's course (sigmoid) and test accuracy."""
    order, groups = _group([r for r in records if r["status"] == "ok"])
    out = []
    for (arch, depth), runs in groups.items():
        if depth < 2 or arch.batchnorm:
            continue
        t = layer_traces(runs)
        out.append(
            {
                "label": arch.label,
                "architecture": {"activation": arch.activation, "batchnorm": arch.batchnorm, "init": arch.init},
                "depth": depth,
                "runs": len(runs),
                "test_accuracy": float(np.mean([r["final"]["test_accuracy"] for r in runs])),
                "chance": float(np.mean([r["final"]["chance_accuracy"] for r in runs])),
                "top_layer": top_saturation(runs),
                "half_slope_final": [float(v) for v in t["half_slope"][-1]],
            }
        )
    out.sort(key=lambda c: (order.index(Architecture(**c["architecture"])), c["depth"]))
    return out


def _summarise(arch: Architecture, depth: int, runs: list[dict], margin: float) -> dict:
    ok = [r for r in runs if r["status"] == "ok"]
    row: dict = {"depth": depth, "runs": len(runs), "failed_runs": len(runs) - len(ok)}
    if not ok:
        return {**row, "trained": None}
    accuracy = [r["final"]["test_accuracy"] for r in ok]
    chance = float(np.mean([r["final"]["chance_accuracy"] for r in ok]))
    row.update(
        test_accuracy=float(np.mean(accuracy)),
        test_accuracy_min=float(min(accuracy)),
        test_accuracy_max=float(max(accuracy)),
        chance=chance,
        trained=bool(np.mean(accuracy) > chance + margin),
        diverged_runs=sum(bool(r["final"]["diverged"]) for r in ok),
    )
    for when in ("init", "final"):
        fits = [
            decay(hidden_rows(r, 0 if when == "init" else r["final"]["steps"]), arch.activation, arch.batchnorm)
            for r in ok
        ]
        # Ratios multiply along the network, so seeds are averaged geometrically.
        row[when] = {
            "ratio_per_layer": geometric_mean(f["ratio_per_layer"] for f in fits),
            "input_over_top": geometric_mean(f["input_over_top"] for f in fits),
            "spread_decades": float(np.nanmean([f["spread_decades"] for f in fits])),
            "bound": geometric_mean(f["bound"] for f in fits),
        }
    return row


def _find(analysis: dict, activation: str, batchnorm: bool, init: str | None = None) -> dict | None:
    for c in analysis["configurations"]:
        a = c["architecture"]
        if a["activation"] == activation and a["batchnorm"] == batchnorm and (init is None or a["init"] == init):
            return c
    return None


def _deepest(config: dict) -> dict | None:
    rows = [r for r in config["by_depth"] if r.get("trained") is not None]
    return rows[-1] if rows else None


def hypotheses(analysis: dict) -> list[dict]:
    """Each claim of the literature this sweep can test, with the verdict and the numbers behind it.

    A claim whose configurations are not in the sweep gets ``supported: None`` (not tested).
    """
    out = []

    base = _find(analysis, "sigmoid", False, "standard")
    deep = _deepest(base) if base else None
    if deep is None or deep["depth"] < 2:
        out.append(_verdict("decay", None, "needs sigmoid with the standard init at depth ≥ 2"))
    else:
        init = deep["init"]
        decays = init["ratio_per_layer"] < 1 and init["input_over_top"] < 0.01
        fails = deep["trained"] is False
        out.append(
            _verdict(
                "decay",
                decays and fails,
                f"sigmoid, standard init, {deep['depth']} hidden layers, at initialisation: the weight-gradient norm "
                f"changes by a factor {init['ratio_per_layer']:.3g} per layer towards the input (bound σ'max·‖W‖ = "
                f"{init['bound']:.3g}); input layer / top hidden layer = {init['input_over_top']:.2e}. Test accuracy "
                f"{deep['test_accuracy']:.3f} against chance {deep['chance']:.3f}"
                + (
                    f"; training fails from depth {base['failure_depth']}." if base["failure_depth"] else "; it trains."
                ),
            )
        )

    remedies = [
        c for c in (_find(analysis, "sigmoid", True), _find(analysis, "relu", False, "he")) if c and _deepest(c)
    ]
    if not remedies:
        out.append(_verdict("remedies", None, "needs sigmoid + batch norm or ReLU with He init in the sweep"))
    else:
        parts, good = [], True
        for c in remedies:
            d = _deepest(c)
            within = d["init"]["spread_decades"] <= 1 and d["final"]["spread_decades"] <= 1
            good = good and within and bool(d["trained"])
            parts.append(
                f"{c['label']}, {d['depth']} hidden layers: gradient norms span {d['init']['spread_decades']:.2f} "
                f"decades across layers at initialisation (factor {d['init']['ratio_per_layer']:.3g} per layer "
                f"towards the input) and {d['final']['spread_decades']:.2f} after training; test accuracy "
                f"{d['test_accuracy']:.3f} ({'within' if within else 'more than'} an order of magnitude, "
                f"{'trains' if d['trained'] else 'fails to train'})"
            )
        out.append(_verdict("remedies", good, "; ".join(parts) + "."))

    sigmoid_rows = [
        (c, r)
        for c in analysis["configurations"]
        if c["architecture"]["activation"] == "sigmoid" and not c["architecture"]["batchnorm"]
        for r in c["by_depth"]
        if "top_layer" in r and r["depth"] >= 2
    ]
    if not sigmoid_rows:
        out.append(_verdict("saturation", None, "needs sigmoid networks without batch norm at depth ≥ 2"))
    else:
        c, r = min(
            sigmoid_rows,
            key=lambda cr: min(cr[1]["top_layer"]["act_mean_extreme"], 1 - cr[1]["top_layer"]["act_mean_extreme"]),
        )
        t = r["top_layer"]
        early = t["extreme_fraction_of_training"] <= 0.5
        saturated = min(t["act_mean_extreme"], 1 - t["act_mean_extreme"]) <= HALF_GRADIENT_MEAN
        out.append(
            _verdict(
                "saturation",
                saturated and early,
                f"most extreme case, {c['label']}, {r['depth']} hidden layers: the top hidden layer's mean activation "
                f"went from {t['act_mean_init']:.2f} at initialisation to {t['act_mean_extreme']:.2f} at "
                f"{100 * t['extreme_fraction_of_training']:.0f}% of training and ended at {t['act_mean_final']:.2f} "
                f"(saturating means ≤ {HALF_GRADIENT_MEAN:.3f} or ≥ {1 - HALF_GRADIENT_MEAN:.3f}, reached in the first "
                f"half of training); at most {100 * t['vanishing_fraction_max']:.1f}% of its units had σ' below the "
                f"vanishing threshold.",
            )
        )
    return out


CLAIMS = {
    "decay": "With sigmoid units and the standard init, the gradient norm falls geometrically towards the input "
    "layers, and deep networks fail to train (Hochreiter 1991; Glorot & Bengio 2010).",
    "remedies": "Batch norm, and ReLU with He init, keep the gradient norms within an order of magnitude across "
    "depth, and the networks train (Ioffe & Szegedy 2015; He et al. 2015).",
    "saturation": "The top hidden sigmoid layer saturates early in training (Glorot & Bengio 2010).",
}


def _verdict(key: str, supported: bool | None, evidence: str) -> dict:
    return {"id": key, "claim": CLAIMS[key], "supported": supported, "evidence": evidence}
