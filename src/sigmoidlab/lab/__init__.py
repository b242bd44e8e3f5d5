"""The vanishing-gradient lab: sweeps over depth × activation × batch norm × initialisation, measured.

>>> from sigmoidlab import lab
>>> experiment = lab.Experiment(depths=(1, 4), seeds=(0,), epochs=5)      # doctest: +SKIP
>>> results = lab.run(experiment, "out")       # runs in parallel, resumes, writes out/report.html  # doctest: +SKIP

:class:`Experiment` (a grid) expands into :class:`RunConfig` s; :func:`run_experiment` trains them (local process
pool or a Dask cluster) and writes one record per run (:class:`RunRecord`, schema in :mod:`.records`);
:func:`saturation_experiment` is the dedicated Glorot & Bengio measurement the demo runs beside its sweep;
:func:`analyse` turns records into the numbers the report states; :func:`build_report` draws the figures and
writes report.html, report.md, results.json and tidy tables.
"""

from .analysis import analyse
from .execute import run_experiment
from .grid import VANISHING_THRESHOLD, Architecture, Experiment, RunConfig, quick_experiment, saturation_experiment
from .records import RunRecord
from .report import boundary_panels, build_report, run
from .runner import run_one

__all__ = [
    "VANISHING_THRESHOLD",
    "Architecture",
    "Experiment",
    "RunConfig",
    "RunRecord",
    "analyse",
    "boundary_panels",
    "build_report",
    "quick_experiment",
    "run",
    "run_experiment",
    "run_one",
    "saturation_experiment",
]
