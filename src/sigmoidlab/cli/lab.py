"""``sigmoidlab demo``, ``sigmoidlab vanish`` and ``sigmoidlab plot``: the vanishing-gradient lab at the terminal."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import nn
from ..functions import VANISHING_THRESHOLD
from ._app import app, console, err_console, fail, interrupted

OutDir = Annotated[Path, typer.Option("--out", help="Folder for report.html, report.md, results.json, figures/.")]
Workers = Annotated[int | None, typer.Option(help="Local worker processes (default: all cores).")]
Scheduler = Annotated[
    str | None, typer.Option(help="Address of a running Dask scheduler, e.g. tcp://host:8786 (runs go there).")
]
Resume = Annotated[bool, typer.Option("--resume/--no-resume", help="Skip runs already finished in --out.")]


def _split(text: str, option: str, convert=str) -> list:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        fail(f"{option}={text!r}: give a comma-separated list")
    out = []
    for item in items:
        try:
            out.append(convert(item))
        except ValueError:
            fail(f"{option}={text!r}: {item!r} is not valid")
    return out


def _on_off(item: str) -> bool:
    table = {"off": False, "no": False, "false": False, "on": True, "yes": True, "true": True}
    if item.lower() not in table:
        raise ValueError(item)
    return table[item.lower()]


def _run(ctx, experiment, out: Path, *, boundaries: bool, workers, scheduler, resume: bool, **report) -> None:
    """Check everything the sweep needs before the first run, run it, write the report, and say what happened:
    exit 1 when a run failed, 130/143 with what was kept when interrupted."""
    from sigmoidlab import lab
    from sigmoidlab.lab.execute import check_scheduler
    from sigmoidlab.lab.layout import check_output

    experiments = (experiment,) if report.get("saturation") is None else (experiment, report["saturation"])
    if workers is not None and workers < 1:
        fail(f"--workers={workers}: must be ≥ 1")
    try:
        if scheduler is not None:
            check_scheduler(scheduler)
        check_output(out, experiments)
    except ValueError as exc:
        fail(f"--{exc}" if str(exc).startswith("scheduler=") else f"--out={out}: {exc}")
    try:
        results = lab.run(
            experiment, out, boundaries=boundaries, workers=workers, scheduler=scheduler, resume=resume, **report
        )
    except ConnectionError as exc:
        fail(f"--{exc}")
    except KeyboardInterrupt:
        interrupted(_kept(ctx, experiments, out))
        raise
    _summary(results)
    console.print(f"report: {out / 'report.html'}  (also report.md, results.json, figures/, layers.csv)")
    _exit_if_failed(results["runs"], out)


def _kept(ctx: typer.Context, experiments, out: Path) -> str:
    """The line an interrupted sweep ends with: what is saved, and the command that resumes it."""
    from sigmoidlab.lab.execute import count_finished

    done = sum(count_finished(e, out) for e in experiments)
    total = sum(len(e.runs()) for e in experiments)
    return (
        f"interrupted: {done} of {total} runs finished and saved in {out / 'runs'}; resume with: {_resume_command(ctx)}"
    )


def _resume_command(ctx: typer.Context) -> str:
    """This command as the user typed it (the options given, in the command's order), resuming: --no-resume is
    dropped, as resuming is the default."""
    import shlex

    words = ctx.command_path.split()
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if param.name == "resume" or getattr(source, "name", None) not in ("COMMANDLINE", "ENVIRONMENT"):
            continue
        value = ctx.params[param.name]
        if getattr(param, "is_flag", False):
            words.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            words += [param.opts[0], str(getattr(value, "value", value))]
    return shlex.join(words)


def _exit_if_failed(runs: list[dict], out: Path) -> None:
    """After the report is written: exit 1 with one line naming the runs that failed, if any did."""
    failed = [r for r in runs if r["status"] != "ok"]
    if not failed:
        return
    named = "; ".join(f"{r['run_id']} ({r['error']})" for r in failed[:3])
    more = f"; and {len(failed) - 3} more (see {out / 'runs.csv'})" if len(failed) > 3 else ""
    err_console.print(
        f"[bold red]error:[/] {len(failed)} of {len(runs)} runs failed: {named}{more}. The report covers the "
        "others; the same command runs the failed ones again.",
        highlight=False,
        soft_wrap=True,
    )
    raise SystemExit(1)


def _summary(results: dict) -> None:
    from rich.table import Table

    analysis = results["analysis"]
    depths = sorted({r["depth"] for c in analysis["configurations"] for r in c["by_depth"]})
    table = Table(title="Depth sweep: final test accuracy (mean over seeds); gradient ratio per layer at init")
    table.add_column("architecture")
    for d in depths:
        table.add_column(f"{d}", justify="right")
    table.add_column("ratio/layer", justify="right")
    table.add_column("input/top", justify="right")
    table.add_column("fails from", justify="right")
    for c in analysis["configurations"]:
        by = {r["depth"]: r for r in c["by_depth"]}
        cells = []
        for d in depths:
            r = by.get(d)
            if r is None or r.get("trained") is None:
                cells.append("–")
            else:
                colour = "green" if r["trained"] else "red"
                cells.append(f"[{colour}]{r['test_accuracy']:.3f}[/]")
        deep = next((r for r in reversed(c["by_depth"]) if r.get("trained") is not None), None)
        ratio = _number(deep["init"]["ratio_per_layer"] if deep else None, ".3g")
        ratio_io = _number(deep["init"]["input_over_top"] if deep else None, ".2e")
        fails = str(c["failure_depth"]) if c["failure_depth"] else "–"
        table.add_row(c["label"], *cells, ratio, ratio_io, fails)
    console.print(table)
    for h in analysis["hypotheses"]:
        colour = {"supported": "green", "partly supported": "yellow", "not supported": "red"}.get(h["verdict"])
        word = f"[{colour}]{h['verdict']}[/]" if colour else h["verdict"]
        console.print(f"• {h['claim']} → {word}", highlight=False)


def _number(value: float | None, spec: str) -> str:
    import math

    return "–" if value is None or not math.isfinite(value) else format(value, spec)


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    out: OutDir = Path("demo-output"),
    quick: Annotated[
        bool, typer.Option(help="A small sweep (3 depths, 1 seed, 12 epochs) and saturation run, in seconds.")
    ] = False,
    workers: Workers = None,
    scheduler: Scheduler = None,
    resume: Resume = True,
) -> None:
    """The main job: the sigmoid's story, with a depth sweep measured on built-in data, as one report.

    Trains sigmoid (standard and Glorot init), sigmoid + batch norm, tanh and ReLU networks of 1 to 16 hidden
    layers on 2-D moons, records per-layer gradient norms and saturation, repeats Glorot & Bengio's saturation
    measurement (4 hidden layers, plain SGD, 64-pixel digits), and writes DIR/report.html (one
    self-contained file), DIR/report.md, DIR/results.json, tidy CSV/JSON tables and DIR/figures/.
    """
    from sigmoidlab import lab

    experiment = lab.quick_experiment() if quick else lab.Experiment()
    # --quick is for tests and a first look: coarser PNGs and boundary maps, the same figures and SVGs.
    detail = {"dpi": 100, "boundary_resolution": 100} if quick else {}
    _run(
        ctx,
        experiment,
        out,
        boundaries=True,
        workers=workers,
        scheduler=scheduler,
        resume=resume,
        saturation=lab.saturation_experiment(quick),
        **detail,
    )


@app.command("vanish")
def vanish_command(
    ctx: typer.Context,
    depths: Annotated[str, typer.Option(help="Hidden-layer counts, comma-separated.")] = "1,2,4,8,16",
    activations: Annotated[
        str, typer.Option(help=f"Comma-separated: {', '.join(nn.ACTIVATIONS.spellings())}.")
    ] = "sigmoid,tanh,relu",
    batchnorm: Annotated[str, typer.Option(help="off, on, or off,on.")] = "off,on",
    inits: Annotated[
        str, typer.Option(help=f"Comma-separated: {', '.join(nn.INITIALIZERS.spellings())}.")
    ] = "standard",
    width: Annotated[int, typer.Option(help="Units per hidden layer.")] = 32,
    dataset: Annotated[str, typer.Option(help="xor, moons, circles, spiral, gaussians, linear.")] = "moons",
    epochs: Annotated[int, typer.Option(help="Passes over the training data.")] = 50,
    seeds: Annotated[str, typer.Option(help="Seeds, comma-separated (data, split and weights).")] = "0,1,2",
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 0.03,
    optimizer: Annotated[str, typer.Option(help="sgd (momentum 0.9) or adam.")] = "sgd",
    out: OutDir = Path("vanish-output"),
    workers: Workers = None,
    scheduler: Scheduler = None,
    resume: Resume = True,
) -> None:
    """Run a custom grid (every activation × batch norm × init × depth × seed) and write its report.

    Finished runs are written at once to OUT/runs/ and skipped when the same command runs again, so an
    interrupted sweep resumes where it stopped; with --scheduler the runs go to a Dask cluster.
    """
    from sigmoidlab import lab

    try:
        experiment = lab.Experiment.product(
            _split(activations, "--activations"),
            _split(batchnorm, "--batchnorm", _on_off),
            _split(inits, "--inits"),
            depths=tuple(_split(depths, "--depths", int)),
            seeds=tuple(_split(seeds, "--seeds", int)),
            width=width,
            dataset=dataset,
            epochs=epochs,
            lr=lr,
            optimizer=optimizer,
            name="custom sweep",
        )
    except ValueError as exc:
        # Name the flag where the grid's message names one of this command's options (lr=inf → --lr=inf).
        flag = str(exc).partition("=")[0]
        fail(f"--{exc}" if flag in ("depths", "seeds", "width", "dataset", "epochs", "lr", "optimizer") else str(exc))
    _run(ctx, experiment, out, boundaries=False, workers=workers, scheduler=scheduler, resume=resume)


class PlotKind(str, Enum):
    sigmoid = "sigmoid"
    derivatives = "derivatives"
    boundary = "boundary"


@app.command("plot")
def plot_command(
    kind: Annotated[
        PlotKind,
        typer.Argument(
            help="sigmoid: σ and σ'; derivatives: σ', tanh', ReLU'; boundary: "
            "logistic regression vs a sigmoid MLP on xor, moons, circles."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output file; .png or .svg.")],
    threshold: Annotated[float, typer.Option(help="σ' below this is shaded as vanishing.")] = VANISHING_THRESHOLD,
    seed: Annotated[int, typer.Option(help="Seed of the data and the models (boundary).")] = 0,
) -> None:
    """Draw one figure of the report to a PNG or SVG file."""
    from sigmoidlab.lab import boundary_panels
    from sigmoidlab.lab import figures as figs

    if out.suffix.lower() not in (".png", ".svg"):
        fail(f"--out={out}: the file name must end in .png or .svg")
    if not 0 < threshold <= 0.25:
        fail(f"--threshold={threshold} must lie in (0, 0.25], the range of σ'")
    if not 0 <= seed < 2**32:
        fail(f"--seed={seed}: must be in [0, 2**32 − 1]")
    if out.exists() and not out.is_file():
        fail(f"--out={out}: is {'a folder' if out.is_dir() else 'not a regular file'}; give the path of a file")
    if not out.parent.is_dir():
        fail(f"--out={out}: folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        fail(f"--out={out}: this user may not write in {out.parent}")
    if kind is PlotKind.sigmoid:
        fig = figs.sigmoid_figure(threshold)
    elif kind is PlotKind.derivatives:
        fig = figs.derivatives_figure(threshold)
    else:
        fig = figs.boundary_figure(boundary_panels(seed=seed))
    figs.save(fig, out)
    console.print(f"wrote {out}")
