"""Running a sweep: runs in parallel (local processes or a Dask cluster), each written to disk as it finishes.

Layout of the output folder::

    OUT/runs/<run_id>.json     one record per run, written atomically the moment the run finishes

Re-running the same experiment into the same folder skips every run whose file holds a finished ("ok")
record of the same configuration, so an interrupted sweep loses at most the runs that were in flight. A file
that does not parse (a run killed while a file system without atomic rename wrote it, or edited by hand) and
a failed run are run again. A record is a :class:`.records.RunRecord` (schema in :mod:`.records`); files of the
previous format (2, same layout) are read too, so a sweep started before the schema was typed resumes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .. import _jsonio
from .grid import Experiment, RunConfig
from .records import RunRecord
from .runner import run_one


def save_record(path: Path, record: RunRecord) -> None:
    """Write one run's record to ``path`` atomically (never half a file); NaN and infinity become null."""
    _jsonio.write_json(path, record.to_json())


def load_finished(path: Path, config: RunConfig) -> RunRecord | None:
    """The record in ``path`` if it is a finished run of ``config``; None if missing, unreadable or failed."""
    try:
        record = RunRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):  # missing, not JSON, or not a record of a readable format: run it again
        return None
    return record if record.ok and record.config == config else None


def count_finished(experiment: Experiment, out: str | os.PathLike) -> int:
    """How many runs of ``experiment`` are finished and saved in ``out`` (what a resumed sweep will skip)."""
    runs_dir = Path(out) / "runs"
    return sum(load_finished(runs_dir / f"{c.run_id}.json", c) is not None for c in experiment.runs())


def run_experiment(
    experiment: Experiment,
    out: str | os.PathLike,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = True,
    progress: bool = True,
) -> list[RunRecord]:
    """Run every run of ``experiment`` not already finished in ``out``; return all records in grid order.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default: all cores; 1 runs in this process). Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``"tcp://host:8786"``); the runs are submitted to its workers,
        which must have sigmoidlab installed.
    resume : bool
        Skip runs already finished in ``out`` (default). False runs everything again.
    progress : bool
        Show a Rich progress bar on stderr.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers={workers}: must be ≥ 1")
    runs_dir = Path(out) / "runs"
    configs = experiment.runs()
    records: dict[str, RunRecord] = {}
    if resume:
        for config in configs:
            if (record := load_finished(runs_dir / f"{config.run_id}.json", config)) is not None:
                records[config.run_id] = record
    todo = [c for c in configs if c.run_id not in records]
    # Connect first: a scheduler that cannot be reached is reported before anything is created or shown.
    client = _connect(scheduler) if todo and scheduler is not None else None
    with client or contextlib.nullcontext(), _Progress(progress, len(configs), len(records)) as bar:
        runs_dir.mkdir(parents=True, exist_ok=True)

        def finished(record: RunRecord) -> None:
            save_record(runs_dir / f"{record.run_id}.json", record)
            records[record.run_id] = record
            bar.advance(record)

        n_workers = min(workers or os.cpu_count() or 1, len(todo))
        if client is not None:
            _run_dask(todo, client, finished)
        elif n_workers == 1:
            for config in todo:
                finished(run_one(config))
        elif todo:
            _run_pool(todo, n_workers, finished)
    return [records[c.run_id] for c in configs]


def _lost(config: RunConfig, exc: BaseException) -> RunRecord:
    """The record of a run whose worker died or could not be reached (run_one itself never raises)."""
    return RunRecord(config.run_id, config, "failed", error=f"{type(exc).__name__}: {exc}")


def _worker_signals() -> None:
    """In each pool worker: Ctrl-C at a terminal signals the whole process group, but it is the parent that
    decides (it kills the workers), so workers ignore SIGINT; SIGTERM kills them outright (a forked worker would
    otherwise inherit the CLI's SIGTERM handler, which raises)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once: queued runs cancelled, running ones killed (they write nothing themselves: the parent
    saves each record), every worker reaped so none is left behind."""
    workers = list((pool._processes or {}).values())  # the executor has no public way to kill its workers
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        with contextlib.suppress(OSError, ValueError):
            process.kill()
    for process in workers:
        with contextlib.suppress(OSError, ValueError):
            process.join(timeout=5)


def _run_pool(todo: list[RunConfig], workers: int, finished: Callable[[RunRecord], None]) -> None:
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_signals)
    try:
        futures = {pool.submit(run_one, config): config for config in todo}
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as exc:  # e.g. BrokenProcessPool: a worker was killed
                record = _lost(futures[future], exc)
            finished(record)
    except BaseException:  # Ctrl-C, SIGTERM, or a record that could not be written: stop every worker now
        _stop_pool(pool)
        raise
    pool.shutdown()


def check_scheduler(address: str) -> None:
    """Refuse, with one line, an address that cannot name a Dask scheduler (or a missing ``distributed``)."""
    try:
        from distributed.comm import parse_address, parse_host_port
    except ImportError:
        raise ValueError(
            f"scheduler={address!r}: running on a Dask cluster needs distributed: pip install 'sigmoidlab[dask]'"
        ) from None
    usage = f"scheduler={address!r}: not a scheduler address; expected tcp://HOST:PORT"
    try:
        scheme, location = parse_address(address, strict=True)
        if scheme == "inproc":  # a scheduler in this very process (LocalCluster(processes=False), tests)
            host, port = location, 1
        else:
            host, port = parse_host_port(location)
    except (ValueError, TypeError):
        raise ValueError(usage) from None
    if scheme not in ("tcp", "tls", "ws", "wss", "ucx", "inproc") or not host or not 0 < int(port) < 65536:
        raise ValueError(usage)


def _connect(scheduler: str):
    """A Dask client of the scheduler at this address; ConnectionError (one line) if it cannot be reached."""
    check_scheduler(scheduler)
    from distributed import Client

    try:
        return Client(scheduler, timeout="10s")
    except (OSError, ValueError) as exc:
        raise ConnectionError(f"scheduler={scheduler!r}: cannot connect ({exc})") from None


def _run_dask(todo: list[RunConfig], client, finished: Callable[[RunRecord], None]) -> None:
    from distributed import as_completed

    # pure=False: two runs never share a result, even if Dask thinks their inputs hash alike.
    futures = {client.submit(run_one, config, pure=False): config for config in todo}
    try:
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as exc:  # a worker lost mid-run
                record = _lost(futures[future], exc)
            finished(record)
    except BaseException:  # interrupted: take back what has not started (a started task runs to its end)
        with contextlib.suppress(Exception):
            client.cancel(list(futures), force=True)
        raise


class _Progress:
    """A Rich progress bar over the runs of a sweep (counting the ones resumed), or nothing."""

    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self.bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[last]}"),
                console=Console(stderr=True),
            )
            resumed = f" ({done} resumed)" if done else ""
            self.task = self.bar.add_task(f"runs{resumed}", total=total, completed=done, last="")

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, record: RunRecord) -> None:
        if self.bar is None:
            return
        status = "" if record.ok else " [red]failed[/]"
        self.bar.update(self.task, advance=1, last=f"{record.run_id}{status}")
