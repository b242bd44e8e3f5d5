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
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .. import nn
from .grid import Architecture
from .records import LayerRow, RunRecord

# sup f′ by every spelling of an activation, from the engine's classes (sigmoidlab.torch's probe report reads it).
MAX_SLOPE = {name: nn.ACTIVATIONS.get(name).max_slope for name in nn.ACTIVATIONS.spellings()}
CHANCE_MARGIN = 0.1
HALF_GRADIENT_MEAN = (1 - math.sqrt(0.5)) / 2  # ȳ(1 − ȳ) = 1/8  ⇔  ȳ = (1 − √½)/2 ≈ 0.146


def geometric_mean(values: Iterable[float]) -> float:
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return float(np.exp(np.mean(np.log(values)))) if values else math.nan


def hidden_rows(record: RunRecord | Mapping, step: int) -> list[LayerRow] | list[Mapping]:
    """The per-layer rows of the hidden layers (output layer excluded) of one run at one step, input first.

    Also takes a record as JSON data (``{"layers": [row, …]}``, rows as dicts, which :func:`decay` reads): the
    PyTorch probe's test builds one from ``nn``'s statistics."""
    if isinstance(record, RunRecord):
        return record.hidden_rows(step)
    rows = [r for r in record["layers"] if r["step"] == step and r["activation"] != "output"]
    return sorted(rows, key=lambda r: r["layer"])


def decay(rows: Sequence[Mapping], activation: str, batchnorm: bool) -> dict:
    """:func:`decay_of_norms` for rows holding ``weight_grad_norm`` and ``weight_norm`` (the PyTorch probe's)."""
    return decay_of_norms(
        [r["weight_grad_norm"] for r in rows], [r["weight_norm"] for r in rows], activation, batchnorm
    )


def decay_of(rows: Sequence[LayerRow], activation: str, batchnorm: bool) -> dict:
    """:func:`decay_of_norms` for one run's hidden rows at one step."""
    return decay_of_norms([r.weight_grad_norm for r in rows], [r.weight_norm for r in rows], activation, batchnorm)


def decay_of_norms(
    grad_norms: Sequence[float | None], weight_norms: Sequence[float | None], activation: str, batchnorm: bool
) -> dict:
    """Per-layer ratio r (fitted), g_input/g_top, spread in decades and the σ'-bound, for one network's layers
    (input first): ``grad_norms`` g_l = ‖∂L/∂W_l‖_F, ``weight_norms`` ‖W_l‖_F."""
    g = np.array([v or 0.0 for v in grad_norms], dtype=float)
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
            out["bound"] = nn.ACTIVATIONS.get(activation).max_slope * geometric_mean(weight_norms[1:])
    return out


def architecture_of(record: RunRecord) -> Architecture:
    return record.config.architecture


def select(
    records: Iterable[RunRecord],
    architecture: Architecture | None = None,
    depth: int | None = None,
    seed: int | None = None,
) -> list[RunRecord]:
    """The finished ("ok") runs whose own configuration matches every field given: runs are always picked by
    what they are, never by where they sit in a list."""
    return [
        r
        for r in records
        if r.ok
        and (architecture is None or r.config.architecture == architecture)
        and (depth is None or r.config.depth == depth)
        and (seed is None or r.config.seed == seed)
    ]


def configuration_of(runs: Sequence[RunRecord]) -> tuple[Architecture, int]:
    """The architecture and depth every run of ``runs`` shares (its seeds may differ); ValueError otherwise, so
    that runs of different networks are never averaged together."""
    keys = {(r.config.architecture, r.config.depth) for r in runs}
    if len(keys) != 1:
        found = ", ".join(sorted(f"{a.label} at depth {d}" for a, d in keys)) or "no runs"
        raise ValueError(f"expected the runs of one architecture at one depth, got {found}")
    return keys.pop()


def _mean_over_runs(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0 ignoring NaN (as np.nanmean), NaN where no run has a value, without a warning."""
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(np.where(present, values, 0.0), axis=0) / np.sum(present, axis=0)


def layer_traces(runs: Sequence[RunRecord]) -> dict[str, np.ndarray]:
    """Per checkpoint and hidden layer, averaged over the seeds of one configuration (one architecture at one
    depth: anything else is refused): mean activation, its 2nd and 98th percentiles and the half-slope fraction.
    Arrays of shape (steps, depth), plus ``steps`` (every checkpoint any of the runs recorded)."""
    _, depth = configuration_of(runs)
    steps = sorted({r.step for run in runs for r in run.layers})
    column = {step: i for i, step in enumerate(steps)}
    keys = ("act_mean", "act_p02", "act_p98", "half_slope", "saturation")
    out = {k: np.full((len(runs), len(steps), depth), np.nan) for k in keys}
    for i, run in enumerate(runs):
        for r in run.layers:
            if r.hidden:
                for k in keys:
                    value = getattr(r, k)
                    out[k][i, column[r.step], r.layer] = np.nan if value is None else value
    return {"steps": np.array(steps), **{k: _mean_over_runs(v) for k, v in out.items()}}


def top_saturation(runs: Sequence[RunRecord]) -> dict | None:
    """How the top hidden sigmoid layer's mean activation moves over training, averaged over seeds.

    It is saturating when its mean ȳ is within HALF_GRADIENT_MEAN of 0 or 1 (σ'(ȳ) ≤ 1/8); ``entered`` is the
    first checkpoint where that holds, as a fraction of training, or None.
    """
    if nn.ACTIVATIONS.canonical(configuration_of(runs)[0].activation) != "sigmoid":
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


def _group(records: Sequence[RunRecord]) -> tuple[list[Architecture], dict[tuple, list[RunRecord]]]:
    """The architectures in order of first appearance, and the runs of each (architecture, depth)."""
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    order: list[Architecture] = []
    for record in records:
        arch = record.config.architecture
        if arch not in order:
            order.append(arch)
        groups[(arch, record.config.depth)].append(record)
    return order, groups


def saturation_groups(records: Sequence[RunRecord]) -> list[tuple[Architecture, int, list[RunRecord]]]:
    """Every configuration the saturation measurement applies to (no batch norm, depth ≥ 2) with its finished
    runs: ``(architecture, depth, runs)``, architectures in order of first appearance, then by depth."""
    order, groups = _group(select(records))
    return [
        (arch, depth, groups[(arch, depth)])
        for arch in order
        if not arch.batchnorm
        for depth in sorted(d for a, d in groups if a == arch)
        if depth >= 2
    ]


def saturation_panels(records: Sequence[RunRecord]) -> list[tuple[Architecture, int, list[RunRecord]]]:
    """Figure 5's panels: of :func:`saturation_groups`, each architecture's deepest configuration."""
    deepest: dict[Architecture, tuple] = {}
    for arch, depth, runs in saturation_groups(records):
        deepest[arch] = (arch, depth, runs)  # ascending depths: the last one is the deepest
    return list(deepest.values())


def analyse(
    records: Sequence[RunRecord], saturation: Sequence[RunRecord] | None = None, margin: float = CHANCE_MARGIN
) -> dict:
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


def saturation_summary(records: Sequence[RunRecord]) -> list[dict]:
    """Per architecture and depth ≥ 2 without batch norm: the top layer's course (sigmoid) and test accuracy."""
    out = []
    for arch, depth, runs in saturation_groups(records):
        t = layer_traces(runs)
        out.append(
            {
                "label": arch.label,
                "architecture": {"activation": arch.activation, "batchnorm": arch.batchnorm, "init": arch.init},
                "depth": depth,
                "runs": len(runs),
                "run_ids": [r.run_id for r in runs],
                "test_accuracy": float(np.mean([r.final.test_accuracy for r in runs])),
                "chance": float(np.mean([r.final.chance_accuracy for r in runs])),
                "top_layer": top_saturation(runs),
                "half_slope_final": [float(v) for v in t["half_slope"][-1]],
            }
        )
    return out


def _summarise(arch: Architecture, depth: int, runs: list[RunRecord], margin: float) -> dict:
    ok = [r for r in runs if r.ok]
    row: dict = {
        "depth": depth,
        "runs": len(runs),
        "failed_runs": len(runs) - len(ok),
        "run_ids": [r.run_id for r in ok],
    }
    if not ok:
        return {**row, "trained": None}
    accuracy = [r.final.test_accuracy for r in ok]
    chance = float(np.mean([r.final.chance_accuracy for r in ok]))
    row.update(
        test_accuracy=float(np.mean(accuracy)),
        test_accuracy_min=float(min(accuracy)),
        test_accuracy_max=float(max(accuracy)),
        chance=chance,
        trained=bool(np.mean(accuracy) > chance + margin),
        diverged_runs=sum(bool(r.final.diverged) for r in ok),
    )
    for when in ("init", "final"):
        fits = [
            decay_of(r.hidden_rows(0 if when == "init" else r.final.steps), arch.activation, arch.batchnorm) for r in ok
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
    """The configuration with this activation, batch norm and init; with any init, the one whose init comes first
    in the engine's order (``nn.INITIALIZERS``: canonical names, then spelling), so the order of the grid's lists
    never changes a verdict."""
    matches = [
        c
        for c in analysis["configurations"]
        if (c["architecture"]["activation"], c["architecture"]["batchnorm"]) == (activation, batchnorm)
        and (init is None or c["architecture"]["init"] == init)
    ]
    names, spellings = nn.INITIALIZERS.names(), nn.INITIALIZERS.spellings()

    def rank(c: dict) -> tuple[int, int]:
        init = c["architecture"]["init"]
        return names.index(nn.INITIALIZERS.canonical(init)), spellings.index(init)

    return min(matches, key=rank, default=None)


def _deepest(config: dict) -> dict | None:
    rows = [r for r in config["by_depth"] if r.get("trained") is not None]
    return rows[-1] if rows else None


def hypotheses(analysis: dict) -> list[dict]:
    """Each claim of the literature this sweep can test, with the verdict and the numbers behind it.

    A verdict is "supported", "partly supported", "not supported", or "not tested" when the configurations it
    needs are not in the sweep.
    """
    return [_decay_verdict(analysis), _remedies_verdict(analysis), _saturation_verdict(analysis)]


def _decay_verdict(analysis: dict) -> dict:
    base = _find(analysis, "sigmoid", False, "standard")
    deep = _deepest(base) if base else None
    if deep is None or deep["depth"] < 2:
        return _verdict("decay", None, "needs sigmoid with the standard init at depth ≥ 2")
    init = deep["init"]
    decays = init["ratio_per_layer"] < 1 and init["input_over_top"] < 0.01
    fails = deep["trained"] is False
    return _verdict(
        "decay",
        "supported" if decays and fails else "partly supported" if decays or fails else "not supported",
        f"sigmoid, standard init, {deep['depth']} hidden layers, at initialisation: the weight-gradient norm "
        f"changes by a factor {init['ratio_per_layer']:.3g} per layer towards the input (bound σ'max·‖W‖ = "
        f"{init['bound']:.3g}); input layer / top hidden layer = {init['input_over_top']:.2e}. Test accuracy "
        f"{deep['test_accuracy']:.3f} against chance {deep['chance']:.3f}"
        + (f"; training fails from depth {base['failure_depth']}." if base["failure_depth"] else "; it trains."),
    )


def remedy_verdict(config: dict) -> tuple[str, str]:
    """One remedy across the depths ≥ 2 of the sweep: its verdict and the per-depth numbers.

    Supported: it trains at every depth and the gradient norms span at most one decade across the layers both
    at initialisation and after training. Not supported: it fails to train at the deepest depth, or spans more
    than a decade there both at initialisation and after training. Partly supported: anything in between.
    """
    rows = [r for r in config["by_depth"] if r.get("trained") is not None and r["depth"] >= 2]
    cells, problems = [], []
    for r in rows:
        init, final = r["init"]["spread_decades"], r["final"]["spread_decades"]
        cells.append(
            f"{r['depth']} layers {init:.2f} → {final:.2f} decades, test accuracy {r['test_accuracy']:.3f}"
            + ("" if r["trained"] else " (fails)")
        )
        if not r["trained"]:
            problems.append(f"fails to train at depth {r['depth']}")
        for when, value in (("at initialisation", init), ("after training", final)):
            if value > 1:
                problems.append(f"{value:.2f} decades {when} at depth {r['depth']}")
    deep = rows[-1]
    if not problems:
        word = "supported"
    elif not deep["trained"] or min(deep["init"]["spread_decades"], deep["final"]["spread_decades"]) > 1:
        word = "not supported"
    else:
        word = "partly supported"
    text = f"{config['label']}: {word}" + (f" ({', '.join(problems)})" if problems else "")
    text += "; spread of the gradient norms across layers at initialisation → after training: " + "; ".join(cells)
    grows = config["architecture"]["batchnorm"] and deep["init"]["ratio_per_layer"] > 1
    if grows and deep["init"]["spread_decades"] > 1:
        text += (
            f". At initialisation the gradient grows towards the input (×{deep['init']['ratio_per_layer']:.3g} per "
            "layer at the deepest depth): batch norm divides each layer's signal by its batch spread, which at a "
            "random init amplifies the backward pass a little per layer (the gradient explosion of batch-normalised "
            "nets at initialisation, Yang et al. 2019)"
            + ("; training removes it" if deep["final"]["spread_decades"] <= 1 else "")
        )
    return word, text


def _remedies_verdict(analysis: dict) -> dict:
    remedies = [
        c for c in (_find(analysis, "sigmoid", True), _find(analysis, "relu", False, "he")) if c and _deepest(c)
    ]
    remedies = [c for c in remedies if any(r["depth"] >= 2 for r in c["by_depth"] if r.get("trained") is not None)]
    if not remedies:
        return _verdict("remedies", None, "needs sigmoid + batch norm or ReLU with He init at depth ≥ 2")
    words, parts = [], []
    for c in remedies:
        word, text = remedy_verdict(c)
        words.append(word)
        parts.append(text)
    overall = words[0] if len(set(words)) == 1 else "partly supported"
    return _verdict("remedies", overall, ". ".join(parts) + ".")


def _saturation_verdict(analysis: dict) -> dict:
    candidates = [
        c
        for c in analysis["saturation"]
        if c["architecture"] == {"activation": "sigmoid", "batchnorm": False, "init": "standard"}
    ]
    base = max(candidates, key=lambda c: c["depth"], default=None)  # the deepest sigmoid net with the standard init
    if base is None or base["top_layer"] is None:
        return _verdict("saturation", None, "needs sigmoid networks with the standard init at depth ≥ 2")
    t = base["top_layer"]
    entered = t["entered_fraction_of_training"]
    early = entered is not None and entered <= 0.5
    word = (
        "supported"
        if early and not t["lower_saturated"]
        else "partly supported"
        if entered is not None
        else "not supported"
    )
    lower = ", ".join(f"{m:.2f}" for m in t["lower_means"])
    text = (
        f"{base['label']}, {base['depth']} hidden layers ({base['runs']} seed(s)): the top hidden layer's mean "
        f"activation went from {t['act_mean_init']:.2f} "
        + (
            f"to {t['act_mean_final']:.2f} at the end; "
            if t["extreme_fraction_of_training"] == 1
            else f"to {t['act_mean_extreme']:.2f} (at {100 * t['extreme_fraction_of_training']:.0f}% of training) "
            f"and ended at {t['act_mean_final']:.2f}; "
        )
        + (
            f"it entered the saturating band (mean ≤ {HALF_GRADIENT_MEAN:.3f} or ≥ {1 - HALF_GRADIENT_MEAN:.3f}, "
            f"σ' at the mean ≤ 1/8) at {100 * entered:.0f}% of training, when the layers below had means {lower}"
            if entered is not None
            else f"it never entered the saturating band (mean ≤ {HALF_GRADIENT_MEAN:.3f} or ≥ "
            f"{1 - HALF_GRADIENT_MEAN:.3f}); the layers below were at {lower}"
        )
        + f". At the end {100 * t['half_slope_final']:.0f}% of its unit·sample pairs had σ' < 1/8 and at most "
        f"{100 * t['vanishing_fraction_max']:.1f}% had σ' below the vanishing threshold; test accuracy "
        f"{base['test_accuracy']:.3f} (chance {base['chance']:.3f})."
    )
    others = []
    for c in analysis["saturation"]:
        if c is base or c["depth"] != base["depth"]:
            continue
        if c["top_layer"] is not None:
            o = c["top_layer"]
            others.append(
                f"{c['label']}: top-layer mean {o['act_mean_init']:.2f} → {o['act_mean_extreme']:.2f} → "
                f"{o['act_mean_final']:.2f}, test accuracy {c['test_accuracy']:.3f}"
            )
        else:
            others.append(
                f"{c['label']}: {100 * c['half_slope_final'][-1]:.0f}% of the top layer's unit·sample pairs with "
                f"slope below half its maximum at the end, test accuracy {c['test_accuracy']:.3f}"
            )
    if others:
        text += " For comparison, " + "; ".join(others) + "."
    return _verdict("saturation", word, text)


CLAIMS = {
    "decay": "With sigmoid units and the standard init, the gradient norm falls geometrically towards the input "
    "layers, and deep networks fail to train (Hochreiter 1991; Glorot & Bengio 2010).",
    "remedies": "Batch norm, and ReLU with He init, keep the gradient norms within an order of magnitude across "
    "depth, and the networks train (Ioffe & Szegedy 2015; He et al. 2015).",
    "saturation": "With the standard init, the top hidden sigmoid layer saturates early in training while the "
    "layers below do not (Glorot & Bengio 2010).",
}


def _verdict(key: str, verdict: str | None, evidence: str) -> dict:
    return {"id": key, "claim": CLAIMS[key], "verdict": verdict or "not tested", "evidence": evidence}
