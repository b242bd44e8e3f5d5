"""The output folder of ``demo`` and ``vanish``, and the check that it can be written before anything runs.

Layout::

    OUT/runs/<run_id>.json       one record per run (written by :mod:`.execute`)
    OUT/report.html, report.md   the report
    OUT/results.json             the analysis, the experiments and one row per run
    OUT/{layers,curves,runs}.{csv,json,parquet}   tidy tables
    OUT/figures/fig*.{png,svg}   the figures
"""

from __future__ import annotations

import os
from pathlib import Path

from .grid import Experiment

FIGURES = {
    "sigmoid": "fig1_sigmoid",
    "derivatives": "fig2_derivatives",
    "boundaries": "fig3_boundaries",
    "gradient_flow": "fig4_gradient_flow",
    "saturation": "fig5_saturation",
    "training": "fig6_training",
}
REPORT_FILES = ("report.html", "report.md", "results.json")
TABLES = ("layers", "curves", "runs")


def check_output(out: str | os.PathLike, experiments: tuple[Experiment, ...] = ()) -> None:
    """Refuse, before anything runs, an output folder the sweep and the report could not be written to: ``out``
    or a folder in it (``runs/``, ``figures/``) that is not a folder, a file it writes that is a folder (or a
    device, a socket…), or a folder this user cannot write. Raises ValueError naming the path."""
    out = Path(out)
    folders = [out, out / "runs", out / "figures"]
    files = [out / name for name in REPORT_FILES]
    files += [out / f"{t}.{ext}" for t in TABLES for ext in ("csv", "json", "parquet")]
    files += [out / "figures" / f"{name}.{ext}" for name in FIGURES.values() for ext in ("png", "svg")]
    files += [out / "runs" / f"{c.run_id}.json" for e in experiments for c in e.runs()]
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} exists and is not a folder; the report needs a folder there")
    for file in files:
        if file.exists() and not file.is_file():
            kind = "a folder" if file.is_dir() else "not a regular file"
            raise ValueError(f"{file} is {kind}, where the report writes a file; move it away or choose another --out")
    # The folders written into: the existing ones, or the nearest existing one above a new ``out``.
    written = [f for f in folders if f.is_dir()] or [next((p for p in out.parents if p.exists()), Path("."))]
    for folder in written:
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder, so {out} cannot be created in it")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"{folder}: this user may not write there")
