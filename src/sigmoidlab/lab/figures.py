"""The six figures of the report, drawn with matplotlib's object API (no pyplot state, no display needed).

Line colours come from the Okabe–Ito palette, which stays distinguishable with the common colour-vision
deficiencies, without its vermilion: red is kept for one meaning only, the vanishing region (where σ' is small).
Every line also has its own dash pattern and marker, so the figures read in grey print too.

Speed: a figure is laid out once (constrained layout) at the PNG's resolution, written as PNG, then frozen and
written as SVG without laying it out again.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .. import functions as F
from .._atomic import atomic_output
from .analysis import configuration_of, geometric_mean, saturation_panels, select
from .grid import Experiment
from .records import RunRecord

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000")
VANISHING_RED = "#d62728"  # shading, at alpha ≈ 0.15
VANISHING_RED_TEXT = "#8c1515"  # labels of the shaded region: the same hue, dark enough to read
VANISHING_ALPHA = 0.15
DASHES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P")
DPI = 150
STYLE = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text in the SVG: smaller, searchable, sharp at any size
    "svg.hashsalt": "sigmoidlab",  # stable ids, so the same figure gives the same file
}


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def style(i: int) -> dict:
    """Colour, dash and marker of the i-th line of a figure."""
    n = len(OKABE_ITO)
    return {"color": OKABE_ITO[i % n], "linestyle": DASHES[i % n], "marker": MARKERS[i % n]}


@contextlib.contextmanager
def styled() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def vanishing_edge(threshold: float) -> float:
    """x* > 0 with σ'(±x*) = threshold: σ(x*) = (1 + √(1 − 4t))/2, so x* = logit of that."""
    return float(F.logit((1 + math.sqrt(1 - 4 * threshold)) / 2))


def save(fig, path: str | os.PathLike, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix: .png or .svg, PNG at ``dpi``), atomically."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"{path}: the file name must end in .png or .svg")
    with atomic_output(path) as tmp, styled():
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
    return path


def save_png_and_svg(fig, stem: str | os.PathLike, dpi: int = DPI) -> Path:
    """Write ``stem.png`` then ``stem.svg``; the layout computed for the PNG is kept for the SVG (positions are
    fractions of the figure, so they hold at any resolution). Returns the PNG's path."""
    stem = Path(stem)
    png = save(fig, stem.with_suffix(".png"), dpi)
    fig.set_layout_engine("none")
    save(fig, stem.with_suffix(".svg"), dpi)
    return png


# --- what the data figures are drawn from --------------------------------------------------------------------


def figure_inputs(
    experiment: Experiment, records: Sequence[RunRecord], saturation: Sequence[RunRecord] | None = None
) -> dict:
    """What each data figure is drawn from, as the keyword arguments of its drawing function; a figure the data
    do not allow is absent. Every group of runs is selected by the runs' own configuration
    (:func:`~.analysis.select`), never by position.

    Figure 4 is drawn at the deepest depth at which a run finished. Figure 5 shows ``saturation`` (the runs of the
    saturation experiment), or the sweep's own runs at depth ≥ 2 without batch norm when there is none: one panel
    per architecture, at its deepest such depth.
    """
    inputs: dict[str, dict] = {}
    ok = select(records)
    if ok:
        deepest = flow_depth(ok)
        depths = sorted(experiment.depths)
        inputs["gradient_flow"] = {
            "lines": [(a.label, select(ok, a, deepest)) for a in experiment.architectures],
            "depth": deepest,
        }
        inputs["training"] = {
            "panels": [(a.label, {d: select(ok, a, d) for d in depths}) for a in experiment.architectures],
            "depths": depths,
            "chance": float(np.mean([r.final.chance_accuracy for r in ok])),
        }
    panels = saturation_panels(records if saturation is None else saturation)
    if panels:
        inputs["saturation"] = {"panels": [(arch.label, runs) for arch, _, runs in panels]}
    return inputs


def flow_depth(records: Sequence[RunRecord]) -> int:
    """Figure 4's depth: the deepest of the sweep at which a run finished."""
    return max(r.config.depth for r in select(records))


# --- 1, 2: the function and its derivative --------------------------------------------------------------------


def sigmoid_figure(threshold: float):
    """σ and σ' on one axis, the region where σ' < threshold shaded, σ'(0) = 1/4 marked."""
    with styled():
        fig = _figure(figsize=(7.0, 4.0))
        ax = fig.add_subplot()
        x = np.linspace(-10, 10, 801)
        edge = vanishing_edge(threshold)
        for side in (-1, 1):
            ax.axvspan(side * edge, side * 10, color=VANISHING_RED, alpha=VANISHING_ALPHA, lw=0)
        ax.plot(x, F.sigmoid(x), color=OKABE_ITO[0], lw=2.2, label="σ(x) = 1 / (1 + e^(−x))")
        ax.plot(x, F.sigmoid_grad(x), color=OKABE_ITO[5], lw=2.2, ls="--", label="σ'(x) = σ(x)(1 − σ(x))")
        ax.plot([0], [0.25], "o", color=OKABE_ITO[5], ms=6)
        ax.annotate(
            "σ'(0) = 1/4: the most a sigmoid\nlayer passes back",
            (0, 0.25),
            (1.3, 0.36),
            fontsize=9,
            arrowprops={"arrowstyle": "->", "lw": 0.8},
        )
        ax.axhline(0.5, color="0.5", lw=0.6, ls=":")
        ax.text(
            -9.7,
            0.85,
            f"vanishing region\nσ'(x) < {threshold:g}\n|x| > {edge:.2f}",
            color=VANISHING_RED_TEXT,
            fontsize=9,
            va="top",
        )
        ax.set(
            xlim=(-10, 10),
            ylim=(-0.02, 1.05),
            xlabel="x",
            ylabel="value",
            title="The logistic sigmoid and its derivative",
        )
        ax.legend(loc="center right", framealpha=0.95)
    return fig


def derivatives_figure(threshold: float):
    """σ', tanh' and ReLU' on one scale: only σ' is capped at 1/4."""
    with styled():
        fig = _figure(figsize=(7.0, 3.8))
        ax = fig.add_subplot()
        x = np.linspace(-6, 6, 1201)
        curves = (
            ("σ'(x), max 1/4", F.sigmoid_grad(x)),
            ("tanh'(x) = 1 − tanh²(x), max 1", 1 - np.tanh(x) ** 2),
            ("ReLU'(x) = 1 for x > 0, else 0", (x > 0).astype(float)),
        )
        for i, (label, y) in enumerate(curves):
            s = style(i)
            ax.plot(x, y, color=s["color"], ls=s["linestyle"], lw=2.2, label=label)
        ax.axhline(0.25, color="0.4", lw=0.8, ls=":")
        ax.text(-5.9, 0.27, "1/4", fontsize=9, color="0.3")
        edge = vanishing_edge(threshold)
        for side in (-1, 1):
            ax.axvspan(side * edge, side * 6, color=VANISHING_RED, alpha=VANISHING_ALPHA, lw=0)
        ax.set(
            xlim=(-6, 6),
            ylim=(-0.03, 1.12),
            xlabel="x",
            ylabel="derivative",
            title=f"Derivatives of three activations (shaded: σ'(x) < {threshold:g})",
        )
        ax.legend(loc="upper left", framealpha=0.95)
    return fig


# --- 3: decision boundaries -----------------------------------------------------------------------------------


def boundary_figure(panels: Sequence[dict], resolution: int = 200):
    """Probability maps of fitted classifiers. Each panel: ``{"row", "col", "model", "dataset", "estimator",
    "X_train", "y_train", "X_test", "y_test", "accuracy"}``; rows are models, columns data sets. The map is
    evaluated on a ``resolution`` × ``resolution`` grid."""
    rows = sorted({p["row"] for p in panels})
    cols = sorted({p["col"] for p in panels})
    with styled():
        fig = _figure(figsize=(3.1 * len(cols) + 0.8, 3.0 * len(rows)))
        axes = fig.subplots(len(rows), len(cols), squeeze=False)
        image = None
        for p in panels:
            ax = axes[rows.index(p["row"]), cols.index(p["col"])]
            X = np.vstack([p["X_train"], p["X_test"]])
            lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
            gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
            proba = p["estimator"].predict_proba(np.column_stack([gx.ravel(), gy.ravel()]))[:, 1].reshape(gx.shape)
            # A regular grid: an image (one raster) rather than a mesh of quadrilaterals, much cheaper to draw.
            image = ax.imshow(
                proba,
                origin="lower",
                extent=(lo[0], hi[0], lo[1], hi[1]),
                aspect="auto",
                cmap="PuOr_r",
                vmin=0,
                vmax=1,
                interpolation="bilinear",
            )
            ax.contour(gx, gy, proba, levels=[0.5], colors="k", linewidths=1.2)
            for label, marker, colour in ((0, "o", "#FFFFFF"), (1, "^", "#000000")):
                pts = p["X_test"][p["y_test"] == label]
                ax.scatter(pts[:, 0], pts[:, 1], s=14, marker=marker, c=colour, edgecolors="0.2", linewidths=0.5)
            ax.set_title(f"{p['model']} on {p['dataset']}\ntest accuracy {p['accuracy']:.3f}")
            ax.set(xticks=[], yticks=[], xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))
            ax.grid(False)
        fig.colorbar(image, ax=axes, shrink=0.8, label="P(class 1)  (line: 0.5)")
    return fig


# --- 4: gradient flow -----------------------------------------------------------------------------------------


def _mean_profile(runs: Sequence[RunRecord], final: bool) -> np.ndarray:
    """Per hidden layer, the geometric mean over seeds of the weight-gradient norm."""
    profiles = [[r.weight_grad_norm for r in run.hidden_rows(run.final.steps if final else 0)] for run in runs]
    return np.array([geometric_mean(col) for col in zip(*profiles, strict=True)])


def gradient_flow_figure(lines: Sequence[tuple[str, Sequence[RunRecord]]], depth: int):
    """Weight-gradient norm per layer (log scale) at initialisation and after training, one line per
    architecture: ``lines`` holds ``(label, runs)``, the runs of that architecture at ``depth`` hidden layers (a
    line without runs is left out, keeping its style for the others); the slope 4^(−L) of σ' ≤ 1/4 drawn from the
    top layer."""
    for _, runs in lines:
        if runs and configuration_of(runs)[1] != depth:
            raise ValueError(f"gradient_flow_figure: runs at depth {configuration_of(runs)[1]}, expected {depth}")
    with styled():
        fig = _figure(figsize=(10.5, 4.3))
        axes = fig.subplots(1, 2, sharey=True)
        for ax, final in zip(axes, (False, True), strict=True):
            tops = []
            for i, (label, runs) in enumerate(lines):
                if not runs:
                    continue
                g = _mean_profile(runs, final)
                layers = np.arange(1, len(g) + 1)
                ax.plot(layers, g, lw=1.8, ms=4, label=label, **style(i))
                tops.append(g[-1])
            if tops:
                layers = np.arange(1, depth + 1)
                anchor = float(np.exp(np.mean(np.log(tops))))
                ax.plot(
                    layers,
                    anchor * 4.0 ** (layers - depth),
                    color="0.35",
                    lw=1.2,
                    ls=(0, (1, 2)),
                    label="×1/4 per layer (σ' ≤ 1/4 alone)",
                )
            ax.set_yscale("log")
            ax.set(
                xlabel="hidden layer (1 = next to the input)",
                title=f"{'after training' if final else 'at initialisation'}, {depth} hidden layers",
            )
            ax.set_xticks(_layer_ticks(depth))
        axes[0].set_ylabel("‖∂L/∂W‖ (Frobenius, geometric mean over seeds)")
        axes[1].legend(loc="lower right", framealpha=0.95)
    return fig


def _layer_ticks(depth: int) -> list[int]:
    step = max(1, depth // 8)
    # Start the multiples at 2·step when step > 1, so that "1" and "step" do not crowd each other.
    return sorted({1, depth, *range(2 * step if step > 1 else 1, depth + 1, step)})


# --- 5: saturation --------------------------------------------------------------------------------------------


def saturation_figure(panels: Sequence[tuple[str, Sequence[RunRecord]]]):
    """Glorot & Bengio's Figure 2, one panel per ``(label, runs)`` (the runs of one architecture at one depth,
    :func:`~.analysis.saturation_panels`): each hidden layer's mean activation over training (line) and its
    2nd–98th percentile band, seeds averaged; the saturating band (slope below half its maximum) shaded.
    Bottom: the fraction of the top hidden layer's unit·sample pairs in that band, one line per panel."""
    from .analysis import HALF_GRADIENT_MEAN, layer_traces

    with styled():
        fig = _figure(figsize=(max(9.0, 3.6 * len(panels)), 6.6))
        top, bottom = fig.subfigures(2, 1, height_ratios=(1.35, 1))
        axes = top.subplots(1, len(panels), squeeze=False)[0]
        traces = []
        for ax, (label, runs) in zip(axes, panels, strict=True):
            t = layer_traces(runs)  # refuses runs of more than one architecture or depth
            traces.append((label, t))
            arch, depth = configuration_of(runs)
            tanh = arch.activation == "tanh"
            # Where the slope is below half its maximum: σ ∉ [0.146, 0.854]; |tanh| > 1/√2.
            edge, low = (1 / math.sqrt(2), -1.0) if tanh else (1 - HALF_GRADIENT_MEAN, 0.0)
            ax.axhspan(low, -edge if tanh else HALF_GRADIENT_MEAN, color=VANISHING_RED, alpha=VANISHING_ALPHA, lw=0)
            ax.axhspan(edge, 1, color=VANISHING_RED, alpha=VANISHING_ALPHA, lw=0)
            for layer in range(depth):
                # The top layer in black: it is the one the claim is about.
                colour = "#000000" if layer == depth - 1 else OKABE_ITO[layer % (len(OKABE_ITO) - 1)]
                dash = DASHES[layer % len(DASHES)]
                steps, p02, p98 = t["steps"], t["act_p02"][:, layer], t["act_p98"][:, layer]
                ax.fill_between(steps, p02, p98, color=colour, alpha=0.08, lw=0)
                for edge_line in (p02, p98):
                    ax.plot(steps, edge_line, color=colour, ls=dash, lw=0.7)
                ax.plot(steps, t["act_mean"][:, layer], color=colour, ls=dash, lw=2.0, label=f"layer {layer + 1}")
            accuracy = np.mean([r.final.test_accuracy for r in runs])
            ax.set(
                xlim=(0, t["steps"][-1]),
                ylim=(low, 1),
                xlabel="optimiser step",
                title=f"{label}\n{depth} hidden layers, test accuracy {accuracy:.3f}",
            )
            ax.set_ylabel("tanh(z)" if tanh else "σ(z)")
        handles, names = axes[0].get_legend_handles_labels()
        top.legend(
            handles,
            names,
            title="hidden layer: mean (thick) and 2–98% band (thin)",
            loc="outside lower center",
            ncols=len(names),
            fontsize=8.5,
            title_fontsize=8.5,
        )
        top.suptitle(
            "Activations of each hidden layer over training (shaded red: slope below half its maximum)", fontsize=10.5
        )

        ax = bottom.subplots()
        for i, (label, t) in enumerate(traces):
            ax.plot(t["steps"], t["half_slope"][:, -1], lw=1.8, ms=4, label=label, **style(i))
        ax.set(
            ylim=(-0.02, 1.02),
            xlabel="optimiser step",
            ylabel="fraction of units",
            title="Top hidden layer: fraction of unit·sample pairs with slope below half its maximum "
            "(σ' < 1/8, tanh' < 1/2)",
        )
        ax.legend(loc="center right", framealpha=0.95)
    return fig


# --- 6: training ----------------------------------------------------------------------------------------------


def training_figure(panels: Sequence[tuple[str, dict[int, Sequence[RunRecord]]]], depths: Sequence[int], chance: float):
    """One architecture per ``(label, {depth: runs})``. Top: test accuracy over epochs for every depth, one panel
    per architecture (the run with the smallest seed). Bottom: final test accuracy against depth per architecture
    (mean over seeds, bars from min to max)."""
    from matplotlib import colormaps

    for _, by_depth in panels:
        for depth, runs in by_depth.items():
            if runs and configuration_of(runs)[1] != depth:
                raise ValueError(f"training_figure: runs at depth {configuration_of(runs)[1]} filed under {depth}")
    with styled():
        fig = _figure(figsize=(max(10.5, 2.6 * len(panels)), 7.0))
        top, bottom = fig.subfigures(2, 1, height_ratios=(1, 1.15))
        axes = top.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        colours = colormaps["viridis"](np.linspace(0, 0.9, len(depths)))
        for ax, (label, by_depth) in zip(axes, panels, strict=True):
            for colour, depth in zip(colours, depths, strict=True):
                runs = by_depth.get(depth)
                if runs:
                    c = min(runs, key=lambda r: r.config.seed).curves
                    ax.plot(c.epoch, c.test_accuracy, color=colour, lw=1.6, label=f"{depth}")
            ax.axhline(chance, color="0.4", lw=0.8, ls=":")
            ax.set_title(label, fontsize=9.5)
            ax.set_xlabel("epoch")
        axes[0].set_ylabel("test accuracy")
        axes[0].set_ylim(0.3, 1.02)
        axes[-1].legend(title="hidden layers", loc="lower right", fontsize=8, title_fontsize=8, ncols=2)

        ax = bottom.subplots()
        for i, (label, by_depth) in enumerate(panels):
            xs, mean, lo, hi = [], [], [], []
            for depth in depths:
                acc = [r.final.test_accuracy for r in by_depth.get(depth, ())]
                if acc:
                    xs.append(depth)
                    mean.append(np.mean(acc))
                    lo.append(np.mean(acc) - min(acc))
                    hi.append(max(acc) - np.mean(acc))
            s = style(i)
            ax.errorbar(xs, mean, yerr=[lo, hi], lw=1.8, ms=6, capsize=3, label=label, **s)
        ax.axhline(chance, color="0.4", lw=1, ls=":", label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(depths), [str(d) for d in depths])
        ax.minorticks_off()
        ax.set(
            xlabel="hidden layers",
            ylabel="final test accuracy",
            ylim=(0.3, 1.02),
            title="Final test accuracy against depth (mean over seeds; bars: min to max)",
        )
        ax.legend(loc="lower left", framealpha=0.95, ncols=2)
    return fig
