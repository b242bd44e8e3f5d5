"""The report: the story of the sigmoid told with this package's own numbers, as HTML, Markdown and JSON.

``report.html`` is one self-contained file: figures are inlined as base64 PNG, maths is MathML (rendered by
the browser itself), styles are inline; it loads nothing from the network. Every sentence that states a
result is generated from the measured numbers (see :func:`sigmoidlab.lab.analysis.hypotheses`).
"""

from __future__ import annotations

import base64
import csv
import html
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from .. import _jsonio, nn
from .. import functions as F
from .._atomic import atomic_output
from . import figures as figs
from .analysis import analyse
from .execute import run_experiment
from .grid import Experiment
from .layout import FIGURES, check_output

SECTIONS = (
    "The logistic sigmoid",
    "Its derivative, derived",
    "A worked example",
    "Where the gradient vanishes",
    "Binary classification and the hidden layer",
    "Backpropagation multiplies by σ'",
    "The depth sweep",
    "Saturation",
    "The remedies, measured",
    "Reproducing this report",
)


# --- data -----------------------------------------------------------------------------------------------------


def boundary_panels(seed: int = 0, n_samples: int = 400) -> list[dict]:
    """Logistic regression and a one-hidden-layer sigmoid MLP fitted on xor, moons and circles."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from .. import datasets
    from ..estimators import LogisticRegression, MLPClassifier

    panels = []
    for col, name in enumerate(("xor", "moons", "circles")):
        X, y = datasets.load(name, n_samples=n_samples, random_state=seed)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
        models = (
            ("logistic regression", LogisticRegression(random_state=seed)),
            (
                "MLP, 16 sigmoid units",
                MLPClassifier((16,), "logistic", learning_rate_init=0.05, max_iter=400, random_state=seed),
            ),
        )
        for row, (model, estimator) in enumerate(models):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                estimator.fit(X_train, y_train)
            panels.append(
                {
                    "row": row,
                    "col": col,
                    "model": model,
                    "dataset": name,
                    "estimator": estimator,
                    "X_train": X_train,
                    "y_train": y_train,
                    "X_test": X_test,
                    "y_test": y_test,
                    "accuracy": float(estimator.score(X_test, y_test)),
                }
            )
    return panels


def tidy_tables(experiments: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """One row per run × layer × step (``layers``), per run × epoch (``curves``), per run (``runs``), from the
    records of each experiment (keyed by the experiment's name)."""
    layers, curves, runs = [], [], []
    for name, r in ((name, r) for name, records in experiments.items() for r in records):
        c = r["config"]
        key = {
            "experiment": name,
            "run_id": r["run_id"],
            "activation": c["architecture"]["activation"],
            "batchnorm": c["architecture"]["batchnorm"],
            "init": c["architecture"]["init"],
            "depth": c["depth"],
            "seed": c["seed"],
        }
        final = r.get("final") or {}
        runs.append({**key, "status": r["status"], "error": r.get("error"), "seconds": r.get("seconds"), **final})
        if r["status"] != "ok":
            continue
        layers.extend({**key, **row} for row in r["layers"])
        cv = r["curves"]
        curves.extend({**key, **{k: cv[k][i] for k in cv}} for i in range(len(cv["epoch"])))
    return {"layers": layers, "curves": curves, "runs": runs}


def _atomic(path: Path, write) -> None:
    with atomic_output(path) as tmp:
        write(tmp)


def write_tables(out: Path, tables: dict[str, list[dict]]) -> list[Path]:
    """Each table as CSV and JSON (and Parquet when pyarrow is installed)."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        pyarrow = None
    written = []
    for name, rows in tables.items():
        columns = list(dict.fromkeys(k for row in rows for k in row))

        def write_csv(tmp: str, rows=rows, columns=columns) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)

        _atomic(out / f"{name}.csv", write_csv)
        _jsonio.write_json(out / f"{name}.json", rows)
        written += [out / f"{name}.csv", out / f"{name}.json"]
        if pyarrow is not None:
            _atomic(
                out / f"{name}.parquet",
                lambda tmp, rows=rows: pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), tmp),
            )
            written.append(out / f"{name}.parquet")
    return written


# --- figures --------------------------------------------------------------------------------------------------


def make_figures(
    experiment: Experiment,
    records: list[dict],
    panels: list[dict] | None,
    out: Path,
    saturation: list[dict] | None = None,
    dpi: int = figs.DPI,
    boundary_resolution: int = 200,
) -> dict[str, Path]:
    """Draw every figure the data allow (:func:`.figures.figure_inputs`); write PNG and SVG under
    ``out/figures``; return the PNG paths."""
    drawers = {
        "sigmoid": lambda: figs.sigmoid_figure(experiment.threshold),
        "derivatives": lambda: figs.derivatives_figure(experiment.threshold),
    }
    if panels:
        drawers["boundaries"] = lambda: figs.boundary_figure(panels, boundary_resolution)
    draw_data = {
        "gradient_flow": figs.gradient_flow_figure,
        "training": figs.training_figure,
        "saturation": figs.saturation_figure,
    }
    for key, kwargs in figs.figure_inputs(experiment, records, saturation).items():
        drawers[key] = lambda draw=draw_data[key], kwargs=kwargs: draw(**kwargs)
    # One figure at a time: drawn, written, released.
    return {key: figs.save_png_and_svg(draw(), out / "figures" / FIGURES[key], dpi) for key, draw in drawers.items()}


# --- the document ---------------------------------------------------------------------------------------------


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def document(
    experiment: Experiment,
    records: list[dict],
    analysis: dict,
    panels: list[dict] | None,
    figures: dict[str, Path],
    elapsed: float | None,
    saturation: Experiment | None = None,
) -> list[tuple]:
    """The report as a list of blocks: ("h2", text), ("p", text), ("table", header, rows), ("figure", key,
    caption), ("derivations",), ("verdict", word, claim, evidence),
    ("code", text). Both renderers walk the same list."""
    t = experiment.threshold
    edge = figs.vanishing_edge(t)
    doc: list[tuple] = [("h1", "The logistic sigmoid and the vanishing gradient, measured")]
    ok = [r for r in records if r["status"] == "ok"]
    failed = [r for r in records if r["status"] != "ok"]
    doc.append(
        (
            "p",
            f"This report was generated by sigmoidlab from {len(ok)} training runs of its own "
            f"{experiment.name} ({len(failed)} failed)"
            + (" and of a separate saturation experiment" if saturation is not None else "")
            + ". Every number in it was computed, not copied.",
        )
    )

    doc.append(("h2", SECTIONS[0]))
    big = np.array([-40.0, 40.0])
    s_big = F.sigmoid(big)
    doc.append(
        (
            "p",
            "The logistic sigmoid σ(x) = 1 / (1 + e^(−x)) maps the real line onto (0, 1), increasing "
            "everywhere. It is symmetric about (0, 1/2): σ(−x) = 1 − σ(x). Its inverse is the logit, "
            "log(p / (1 − p)), which is why σ turns a score into a probability and back. It saturates: "
            f"σ(−40) = {s_big[0]:.6g} and 1 − σ(40) = {F.sigmoid(-40.0):.6g} (computed here in float64).",
        )
    )
    doc.append(("h2", SECTIONS[1]))
    doc.append(
        (
            "p",
            "Each step below was checked by SymPy: a step is printed only if SymPy proves it equal to "
            "the one before (`sigmoidlab derive`).",
        )
    )
    doc.append(("derivations",))
    doc.append(("h2", SECTIONS[2]))
    xs = np.array([0.0, 2.0])
    ys, ds = F.sigmoid(xs), F.sigmoid_grad(xs)
    doc.append(
        (
            "table",
            ("x", "σ(x)", "σ'(x) = σ(x)(1 − σ(x))", "σ'(x) / σ'(0)"),
            [(f"{x:g}", f"{y:.10f}", f"{d:.10f}", f"{d / 0.25:.1%}") for x, y, d in zip(xs, ys, ds, strict=True)],
        )
    )
    doc.append(
        (
            "p",
            f"At x = 0 the sigmoid is exactly 1/2 and its slope is at its maximum, 1/4. At x = 2, "
            f"σ(2) = {ys[1]:.6f} and σ'(2) = {ys[1]:.6f} × {1 - ys[1]:.6f} = {ds[1]:.6f}: already only "
            f"{ds[1] / 0.25:.0%} of the maximum.",
        )
    )

    doc.append(("h2", SECTIONS[3]))
    doc.append(
        (
            "p",
            f"σ'(x) falls below {t:g} when |x| > {edge:.3f}: in that (shaded) region a unit passes back "
            f"less than {t / 0.25:.0%} of the gradient it receives. The same threshold is used by "
            "`sigmoidlab eval` and for the saturation fractions below.",
        )
    )
    doc.append(("figure", "sigmoid", "Figure 1. σ and σ'. Shaded: the vanishing region."))
    doc.append(
        (
            "p",
            "tanh' reaches 1 at the origin and ReLU' is 1 for every positive input, so neither caps the "
            "gradient at 1/4 the way σ' does.",
        )
    )
    doc.append(("figure", "derivatives", "Figure 2. The derivatives of σ, tanh and ReLU on one scale."))

    if panels:
        doc.append(("h2", SECTIONS[4]))
        acc = {(p["model"], p["dataset"]): p["accuracy"] for p in panels}
        models = list(dict.fromkeys(p["model"] for p in panels))
        names = list(dict.fromkeys(p["dataset"] for p in panels))
        doc.append(
            (
                "p",
                "Logistic regression is a single sigmoid unit: its decision boundary σ(w·x + b) = 1/2 is "
                "the straight line w·x + b = 0. A hidden layer of sigmoid units bends it. Test accuracy "
                "(30% of 400 points held out):",
            )
        )
        doc.append(("table", ("model", *names), [(m, *(f"{acc[(m, n)]:.3f}" for n in names)) for m in models]))
        doc.append(("figure", "boundaries", "Figure 3. Decision boundaries (black line: P = 0.5) and test points."))

    doc.append(("h2", SECTIONS[5]))
    depth = max(experiment.depths)
    doc.append(
        (
            "p",
            "For a network h_l = f(z_l), z_l = W_l h_(l−1) + b_l, the chain rule gives the error signal "
            "of layer l from the one above: δ_l = f'(z_l) ⊙ (W_(l+1)ᵀ δ_(l+1)), and ∂L/∂W_l = δ_l "
            "h_(l−1)ᵀ. Every layer multiplies by f'(z), and for the sigmoid f' ≤ 1/4, so "
            f"‖δ_l‖ ≤ (1/4)·‖W_(l+1)‖·‖δ_(l+1)‖. Through {depth} sigmoid layers the factor (1/4)^{depth} "
            f"alone is {0.25**depth:.2e}; unless the weights grow to compensate, the layers near the "
            "input receive almost nothing.",
        )
    )

    doc.append(("h2", SECTIONS[6]))
    e = experiment
    doc.append(
        (
            "p",
            f"Grid: {len(e.architectures)} architectures × depths {', '.join(map(str, e.depths))} × "
            f"{len(e.seeds)} seed(s); {e.width} units per hidden layer; data set {e.dataset} "
            f"({e.n_samples} points, noise {e.noise:g}, {e.test_fraction:.0%} held out, standardised); "
            f"{e.optimizer.upper()} lr {e.lr:g}"
            + (f" momentum {e.momentum:g}" if nn.OPTIMIZERS.get(e.optimizer).cls is nn.SGD else "")
            + f", {e.epochs} epochs, batch {e.batch_size}, {e.dtype}. Gradient norms are measured on a fixed "
            f"probe batch of {e.probe_size} training points at initialisation and at {e.checkpoints} "
            "log-spaced steps. Per-layer ratio: 10^(−slope) of a least-squares fit of log₁₀‖∂L/∂W_l‖ "
            "against l over the hidden layers, geometric mean over seeds.",
        )
    )
    header = (
        "architecture",
        "depth",
        "test acc.",
        "chance",
        "trains?",
        "ratio/layer (init)",
        "bound σ'max·‖W‖",
        "input/top (init)",
        "spread, decades (init → trained)",
    )
    rows = []
    for c in analysis["configurations"]:
        for r in c["by_depth"]:
            if r.get("trained") is None:
                rows.append((c["label"], r["depth"], "failed runs", "", "", "", "", "", ""))
                continue
            rows.append(
                (
                    c["label"],
                    r["depth"],
                    f"{r['test_accuracy']:.3f}",
                    f"{r['chance']:.3f}",
                    "yes" if r["trained"] else "no",
                    _fmt(r["init"]["ratio_per_layer"]),
                    _fmt(r["init"]["bound"]),
                    _fmt(r["init"]["input_over_top"]),
                    f"{_fmt(r['init']['spread_decades'], 2)} → {_fmt(r['final']['spread_decades'], 2)}",
                )
            )
    doc.append(("table", header, rows))
    if "gradient_flow" in figures:
        doc.append(
            (
                "figure",
                "gradient_flow",
                f"Figure 4. Weight-gradient norm per layer, {figs.flow_depth(records)} hidden layers; "
                "dotted: a factor 1/4 per layer from the top.",
            )
        )
    if "training" in figures:
        doc.append(
            (
                "figure",
                "training",
                "Figure 6. Test accuracy over training for each depth, and final test accuracy against depth.",
            )
        )
    fails = [(c["label"], c["failure_depth"]) for c in analysis["configurations"]]
    doc.append(
        (
            "p",
            "Failure depth (mean test accuracy within "
            f"{analysis['margin']:g} of chance): "
            + "; ".join(
                f"{label}: {'from ' + str(d) + ' hidden layers' if d else 'none in this sweep'}" for label, d in fails
            )
            + ".",
        )
    )

    verdicts = {h["id"]: h for h in analysis["hypotheses"]}
    doc.append(("h2", SECTIONS[7]))
    if saturation is not None:
        s = saturation
        doc.append(
            (
                "p",
                "Glorot & Bengio (2010, their Figure 2) followed the mean and spread of each hidden layer's "
                "activations while a 4-layer sigmoid network with the standard init U[−1/√n, 1/√n] learned with "
                "plain SGD, and saw the top hidden layer sink towards 0 early, while the layers below stayed near "
                "1/2. Its output then carries almost no signal and its slope is small, so little gradient "
                "reaches the layers below. A separate experiment repeats that measurement, scaled down: "
                f"{len(s.architectures)} architectures ({'; '.join(a.label for a in s.architectures)}) × depth "
                f"{', '.join(map(str, s.depths))} × {len(s.seeds)} seed(s); {s.width} units per hidden layer; "
                f"data set {s.dataset} (64 pixels, digits 0–4 against 5–9, standardised, {s.test_fraction:.0%} "
                f"held out); plain SGD (no momentum, as they used) with learning rate {s.lr:g} on mini-batches of "
                f"{s.batch_size} (their size) for {s.epochs} epochs; activations on a fixed probe of "
                f"{s.probe_size} training images. Why this setting: on the depth sweep's 2-D moons the first "
                "layer's features are informative from the start, and momentum SGD at a small rate barely moved "
                "the top layer (its mean stayed near 1/2), so that sweep cannot show the effect; pixels seen "
                "through random weights are closer to their image tasks. The rate was chosen among 0.1, 0.3, 0.5 "
                "and 1 while designing this experiment (those trials are not part of this report): at 0.1 the top "
                "layer drifts the same way but too slowly for a few thousand steps; 0.3 is the smallest of these "
                "at which it reaches the saturating band within them. Their runs were much longer, with rates "
                "tuned for the final error.",
            )
        )
    if "saturation" in figures:
        doc.append(
            (
                "figure",
                "saturation",
                "Figure 5. Mean activation of each hidden layer over training with its 2nd–98th percentile band "
                "(seeds averaged), one panel per configuration; below, the fraction of the top hidden layer's "
                "units whose slope is below half its maximum.",
            )
        )
    doc.append(_verdict_block(verdicts["saturation"]))
    doc.append(("h2", SECTIONS[8]))
    doc.append(_verdict_block(verdicts["decay"]))
    doc.append(_verdict_block(verdicts["remedies"]))

    doc.append(("h2", SECTIONS[9]))
    took = f" It took {elapsed:.0f} s" if elapsed is not None else ""
    doc.append(
        (
            "p",
            f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python "
            f"{platform.python_version()}, NumPy {np.__version__}.{took}. Tidy results: layers.csv "
            "(one row per run × layer × step), curves.csv (per epoch), runs.csv (per run), results.json.",
        )
    )
    doc.append(
        (
            "code",
            "sigmoidlab demo --out demo-output\n"
            "sigmoidlab vanish --depths 1,2,4,8,16 --activations sigmoid,tanh,relu --batchnorm off,on "
            "--inits standard,glorot,he --out sweep\n"
            "sigmoidlab vanish ... --scheduler tcp://SCHEDULER:8786   # on a Dask cluster",
        )
    )
    return doc


def _verdict_block(h: dict) -> tuple:
    return ("verdict", h["verdict"].capitalize(), h["claim"], h["evidence"])


# --- renderers ------------------------------------------------------------------------------------------------


def to_markdown(doc: list[tuple], figures: dict[str, Path], out: Path) -> str:
    from ..derive import render

    lines: list[str] = []
    for block in doc:
        kind = block[0]
        if kind == "h1":
            lines.append(f"# {block[1]}\n")
        elif kind == "h2":
            lines.append(f"## {block[1]}\n")
        elif kind == "p":
            lines.append(f"{block[1]}\n")
        elif kind == "code":
            lines.append(f"```\n{block[1]}\n```\n")
        elif kind == "table":
            header, rows = block[1], block[2]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines.extend("| " + " | ".join(map(str, row)) + " |" for row in rows)
            lines.append("")
        elif kind == "figure":
            if block[1] in figures:
                lines.append(f"![{block[2]}]({figures[block[1]].relative_to(out).as_posix()})\n\n*{block[2]}*\n")
        elif kind == "derivations":
            lines.append(render("markdown") + "\n")
        elif kind == "verdict":
            lines.append(f"**{block[1]}.** *{block[2]}* {block[3]}\n")
    return "\n".join(lines)


CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;
color:#111;background:#fff}
h1,h2{font-family:Helvetica,Arial,sans-serif}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;
text-align:right}th{background:#eee}td:first-child,th:first-child{text-align:left}
figure{margin:1.2rem 0}figure img{max-width:100%;height:auto}figcaption{font-size:.9rem;color:#333}
pre{background:#f4f4f4;padding:.8rem;overflow-x:auto}.verdict{border-left:4px solid #0072B2;padding:.3rem .8rem;
margin:1rem 0;background:#f7f9fc}.verdict.partly{border-color:#E69F00}.verdict.no{border-color:#000}
.step{margin:.3rem 0 .3rem 1.5rem}
math{font-size:1.1rem}
@media print{body{max-width:none}figure{break-inside:avoid}}
"""


def _mathml(expr) -> str:
    import sympy as sp

    body = sp.mathml(expr, printer="presentation").replace("&ExponentialE;", "e")
    return f'<math display="block">{body}</math>'


def to_html(doc: list[tuple], figures: dict[str, Path]) -> str:
    esc = html.escape
    parts = []
    title = next(b[1] for b in doc if b[0] == "h1")
    for block in doc:
        kind = block[0]
        if kind in ("h1", "h2"):
            anchor = "".join(ch if ch.isalnum() else "-" for ch in block[1].lower()).strip("-")
            parts.append(f'<{kind} id="{esc(anchor)}">{esc(block[1])}</{kind}>')
        elif kind == "p":
            parts.append(f"<p>{esc(block[1])}</p>")
        elif kind == "code":
            parts.append(f"<pre><code>{esc(block[1])}</code></pre>")
        elif kind == "table":
            head = "".join(f"<th>{esc(h)}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in block[2])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "figure":
            if block[1] in figures:
                data = base64.b64encode(figures[block[1]].read_bytes()).decode("ascii")
                parts.append(
                    f'<figure id="{FIGURES[block[1]]}"><img alt="{esc(block[2])}" '
                    f'src="data:image/png;base64,{data}"><figcaption>{esc(block[2])}</figcaption></figure>'
                )
        elif kind == "derivations":
            from ..derive import derivations

            for d in derivations():
                steps = "".join(
                    f'<div class="step">({i}) {esc(s.reason)} ✓{_mathml(s.expr)}</div>'
                    for i, s in enumerate(d.steps, 1)
                )
                parts.append(f"<h3>{esc(d.title)}</h3>{_mathml(d.lhs)}{steps}")
        elif kind == "verdict":
            cls = {"Supported": "verdict", "Partly supported": "verdict partly"}.get(block[1], "verdict no")
            parts.append(
                f'<div class="{cls}"><p><strong>{esc(block[1])}.</strong> <em>{esc(block[2])}</em></p>'
                f"<p>{esc(block[3])}</p></div>"
            )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


# --- the whole job --------------------------------------------------------------------------------------------


def build_report(
    experiment: Experiment,
    records: list[dict],
    out: str | os.PathLike,
    *,
    panels: list[dict] | None = None,
    saturation: tuple[Experiment, list[dict]] | None = None,
    elapsed: float | None = None,
    dpi: int = figs.DPI,
    boundary_resolution: int = 200,
) -> dict:
    """Analyse ``records`` (and the saturation experiment's, if given), draw the figures, write tidy tables,
    report.md, report.html and results.json. ``dpi`` and ``boundary_resolution`` set the PNGs' detail."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sat_experiment, sat_records = saturation if saturation is not None else (None, None)
    analysis = analyse(records, sat_records)
    figures = make_figures(experiment, records, panels, out, sat_records, dpi, boundary_resolution)
    experiments = {experiment.name: records, **({sat_experiment.name: sat_records} if sat_experiment else {})}
    tables = tidy_tables(experiments)
    write_tables(out, tables)
    doc = document(experiment, records, analysis, panels, figures, elapsed, sat_experiment)
    _atomic(out / "report.md", lambda tmp: Path(tmp).write_text(to_markdown(doc, figures, out), encoding="utf-8"))
    _atomic(out / "report.html", lambda tmp: Path(tmp).write_text(to_html(doc, figures), encoding="utf-8"))
    results = {
        "experiment": experiment.to_dict(),
        "saturation_experiment": sat_experiment.to_dict() if sat_experiment else None,
        "analysis": analysis,
        "boundaries": [{k: p[k] for k in ("model", "dataset", "accuracy")} for p in panels or []],
        "runs": tables["runs"],
        "figures": {k: str(v.relative_to(out)) for k, v in figures.items()},
        "elapsed_seconds": elapsed,
    }
    _jsonio.write_json(out / "results.json", results)
    return results


def run(
    experiment: Experiment,
    out: str | os.PathLike,
    *,
    saturation: Experiment | None = None,
    boundaries: bool = True,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = True,
    progress: bool = True,
    dpi: int = figs.DPI,
    boundary_resolution: int = 200,
) -> dict:
    """Run the sweep and the saturation experiment (resuming), fit the boundary examples, and write the report:
    what ``demo`` and ``vanish`` do."""
    check_output(out, (experiment,) if saturation is None else (experiment, saturation))
    started = time.perf_counter()
    kwargs = {"workers": workers, "scheduler": scheduler, "resume": resume, "progress": progress}
    records = run_experiment(experiment, out, **kwargs)
    sat = (saturation, run_experiment(saturation, out, **kwargs)) if saturation is not None else None
    panels = boundary_panels() if boundaries else None
    return build_report(
        experiment,
        records,
        out,
        panels=panels,
        saturation=sat,
        elapsed=time.perf_counter() - started,
        dpi=dpi,
        boundary_resolution=boundary_resolution,
    )
