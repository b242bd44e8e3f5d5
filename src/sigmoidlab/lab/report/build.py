"""Running the report's experiments and writing everything it consists of: the boundary examples, the tidy tables,
the figures, then report.md, report.html and results.json (the prose itself is in :mod:`.sections`)."""

from __future__ import annotations

import csv
import os
import time
import warnings
from pathlib import Path

from ... import _jsonio
from ..._atomic import atomic_output
from .. import figures as figs
from ..analysis import analyse
from ..execute import run_experiment
from ..grid import Experiment
from ..layout import FIGURES, check_output
from ..records import RunRecord
from .render import to_html, to_markdown
from .sections import ReportInputs, document


def boundary_panels(seed: int = 0, n_samples: int = 400, test_fraction: float = 0.3) -> list[dict]:
    """Logistic regression and a one-hidden-layer sigmoid MLP fitted on xor, moons and circles, each with
    ``test_fraction`` of its ``n_samples`` points held out."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from ... import datasets
    from ...estimators import LogisticRegression, MLPClassifier

    panels = []
    for col, name in enumerate(("xor", "moons", "circles")):
        X, y = datasets.load(name, n_samples=n_samples, random_state=seed)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_fraction, stratify=y, random_state=seed
        )
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


def tidy_tables(experiments: dict[str, list[RunRecord]]) -> dict[str, list[dict]]:
    """One row per run × layer × step (``layers``), per run × epoch (``curves``), per run (``runs``), from the
    records of each experiment (keyed by the experiment's name)."""
    layers, curves, runs = [], [], []
    for name, r in ((name, r) for name, records in experiments.items() for r in records):
        c, a = r.config, r.config.architecture
        key = {
            "experiment": name,
            "run_id": r.run_id,
            "activation": a.activation,
            "batchnorm": a.batchnorm,
            "init": a.init,
            "depth": c.depth,
            "seed": c.seed,
        }
        final = r.final.to_json() if r.final is not None else {}
        runs.append({**key, "status": r.status, "error": r.error, "seconds": r.seconds, **final})
        if not r.ok:
            continue
        layers.extend({**key, **row.to_json()} for row in r.layers)
        cv = r.curves.to_json()
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
    records: list[RunRecord],
    panels: list[dict] | None,
    out: Path,
    saturation: list[RunRecord] | None = None,
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


# --- the whole job --------------------------------------------------------------------------------------------


def build_report(
    experiment: Experiment,
    records: list[RunRecord],
    out: str | os.PathLike,
    *,
    panels: list[dict] | None = None,
    saturation: tuple[Experiment, list[RunRecord]] | None = None,
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
    blocks = document(ReportInputs(experiment, records, analysis, panels, figures, elapsed, sat_experiment))
    _atomic(out / "report.md", lambda tmp: Path(tmp).write_text(to_markdown(blocks, figures, out), encoding="utf-8"))
    _atomic(out / "report.html", lambda tmp: Path(tmp).write_text(to_html(blocks, figures), encoding="utf-8"))
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
