"""``sigmoidlab vanish``, ``demo`` and ``plot`` as a careless or hostile user drives them: grids in any order,
bad flags and output paths, failed runs, Ctrl-C and SIGTERM (with real processes)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from sigmoidlab.cli import main
from sigmoidlab.lab import runner

SIGMOIDLAB = Path(sys.executable).with_name("sigmoidlab")
SMALL = ["--epochs", "1", "--seeds", "0", "--width", "4", "--workers", "1"]


@pytest.mark.parametrize(
    "grid",
    [
        ["--depths", "2,4", "--activations", "sigmoid", "--batchnorm", "off"],  # crashed: IndexError, no report
        ["--depths", "4,2", "--activations", "sigmoid,relu", "--batchnorm", "off,on"],  # averaged depths 2 and 4
    ],
)
def test_vanish_reports_grids_whose_first_depth_is_not_the_deepest(tmp_path, capsys, grid):
    assert main(["vanish", *grid, *SMALL, "--out", str(tmp_path)]) == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "results.json").read_text())
    runs = {r["run_id"]: r for r in results["runs"]}
    saturation = results["analysis"]["saturation"]
    activations = grid[grid.index("--activations") + 1].split(",")
    assert sorted((c["label"], c["depth"]) for c in saturation) == sorted(
        (f"{a}, standard init", d) for a in activations for d in (2, 4)
    )
    for c in saturation:
        assert len(c["half_slope_final"]) == c["depth"]
        assert {runs[i]["depth"] for i in c["run_ids"]} == {c["depth"]}
    # Figure 5 shows each architecture at its deepest depth, 4, and nothing of the depth-2 runs.
    svg = (tmp_path / "figures" / "fig5_saturation.svg").read_text()
    assert "4 hidden layers, test accuracy" in svg and "2 hidden layers" not in svg
    assert "layer 4" in svg and "layer 5" not in svg


def _wait_for_first_run(process: subprocess.Popen, runs: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not list(runs.glob("*.json")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no run finished"
        time.sleep(0.05)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_sweep_stops_its_workers_at_once_keeps_its_runs_and_resumes(tmp_path, signum, status):
    out = tmp_path / "sweep out"  # a space: the resume command must quote it
    args = ["--depths", "1,2,3", "--activations", "sigmoid", "--batchnorm", "off", "--seeds", "0,1"]
    args += ["--epochs", "12", "--workers", "2", "--no-resume", "--out", str(out)]
    process = subprocess.Popen(
        [str(SIGMOIDLAB), "vanish", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_first_run(process, out / "runs")
        workers = psutil.Process(process.pid).children(recursive=True)
        assert len(workers) >= 2 and all(w.is_running() for w in workers)
        sent = time.monotonic()
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        process.kill()
    assert process.returncode == status, err
    assert took < 10  # the runs in flight are not waited for
    assert "Traceback" not in err
    assert not [w.pid for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    kept = sorted(p.name for p in (out / "runs").glob("*.json"))
    line = err.strip().splitlines()[-1]
    match = re.fullmatch(r"interrupted: (\d+) of 6 runs finished and saved in (.+); resume with: (.+)", line)
    assert match, err
    assert int(match[1]) == len(kept) >= 1 and match[2] == str(out / "runs")
    resume = shlex.split(match[3])
    assert resume[:2] == ["sigmoidlab", "vanish"] and "--no-resume" not in resume
    assert resume[resume.index("--out") + 1] == str(out) and resume[resume.index("--epochs") + 1] == "12"
    if signum == signal.SIGTERM:
        return
    before = {name: (out / "runs" / name).read_bytes() for name in kept}
    done = subprocess.run([str(SIGMOIDLAB), *resume[1:]], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"({len(kept)} resumed)" in done.stderr
    assert {name: (out / "runs" / name).read_bytes() for name in kept} == before  # not run again
    assert len(list((out / "runs").glob("*.json"))) == 6 and (out / "report.html").exists()


def test_interrupted_demo_names_both_experiments_runs_and_how_to_resume(tmp_path, monkeypatch, capsys):
    from sigmoidlab import lab

    def interrupted_run(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lab, "run", interrupted_run)
    assert main(["demo", "--quick", "--no-resume", "--out", str(tmp_path)]) == 130
    line = capsys.readouterr().err.strip().splitlines()[-1]
    # 5 architectures × 3 depths of the sweep and 3 runs of the saturation experiment.
    assert line == f"interrupted: 0 of 18 runs finished and saved in {tmp_path / 'runs'}; resume with: " + shlex.join(
        ["sigmoidlab", "demo", "--out", str(tmp_path), "--quick"]
    )


def _break(monkeypatch, victims) -> None:
    real = runner._train

    def train(config):
        if victims is all or config.depth in victims:
            raise RuntimeError(f"injected failure at depth {config.depth}")
        return real(config)

    monkeypatch.setattr(runner, "_train", train)


@pytest.mark.filterwarnings("error")  # a report of partly failed sweeps draws nothing empty
@pytest.mark.parametrize("victims", [{3}, all])
def test_vanish_exits_1_naming_the_failed_runs_after_writing_the_report(tmp_path, monkeypatch, capsys, victims):
    _break(monkeypatch, victims)
    args = ["vanish", "--depths", "1,3", "--activations", "sigmoid", "--batchnorm", "off", *SMALL]
    assert main([*args, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    results = json.loads((tmp_path / "results.json").read_text())
    failed = [r["run_id"] for r in results["runs"] if r["status"] == "failed"]
    assert len(failed) == (1 if victims == {3} else 2)
    assert f"error: {len(failed)} of 2 runs failed: " in err
    assert all(run_id in err for run_id in failed) and "RuntimeError: injected failure at depth 3" in err
    assert "Traceback" not in err and (tmp_path / "report.html").exists()
    # The same command, once the cause is gone, runs only the failed runs again and succeeds.
    monkeypatch.undo()
    assert main([*args, "--out", str(tmp_path)]) == 0


@pytest.fixture
def blocked(tmp_path):
    """Output folders in the way: OUT/runs a file, OUT/report.html and OUT/figures/fig1_sigmoid.svg folders."""
    (tmp_path / "runs_file").mkdir()
    (tmp_path / "runs_file" / "runs").write_text("not a folder")
    (tmp_path / "html_dir" / "report.html").mkdir(parents=True)
    (tmp_path / "svg_dir" / "figures" / "fig1_sigmoid.svg").mkdir(parents=True)
    (tmp_path / "a.png").mkdir()
    (tmp_path / "file").write_text("")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vanish", "--lr", "inf"], "--lr=inf: must be finite and > 0"),
        (["vanish", "--lr", "nan"], "--lr=nan: must be finite and > 0"),
        (["vanish", "--lr", "0"], "--lr=0.0: must be finite and > 0"),
        (["vanish", "--lr", "-0.1"], "--lr=-0.1: must be finite and > 0"),
        (["vanish", "--epochs", "0"], "--epochs=0: must be in [1, 1000000]"),
        (["vanish", "--epochs", "-5"], "--epochs=-5"),
        (["vanish", "--epochs", "99999999999"], "--epochs=99999999999"),
        (["vanish", "--depths", ","], "--depths=',': give a comma-separated list"),
        (["vanish", "--depths", "0,2"], "--depths=[0, 2]: every depth must be ≥ 1"),
        (["vanish", "--depths", "5000"], "--depths=[5000]: at most 1000 hidden layers"),
        (["vanish", "--seeds", "-1"], "--seeds=[-1]"),
        (["vanish", "--seeds", "4294967296"], "--seeds=[4294967296]: seeds must be in [0, 2**32 − 1]"),
        (["vanish", "--width", "0"], "--width=0: must be ≥ 1"),
        (["vanish", "--width", "1000000"], "--width=1000000, depth 16: about 1.5e+13 weights"),
        (["vanish", "--inits", "bogus"], "init='bogus'"),
        (["vanish", "--optimizer", "rmsprop"], "--optimizer='rmsprop'"),
        (["vanish", "--workers", "0"], "--workers=0: must be ≥ 1"),
        (["demo", "--workers", "-2"], "--workers=-2: must be ≥ 1"),
        (["vanish", "--scheduler", "bogus"], "--scheduler='bogus': not a scheduler address; expected tcp://HOST:PORT"),
        (["vanish", "--scheduler", "http://host:8786"], "--scheduler='http://host:8786': not a scheduler address"),
        (["vanish", "--scheduler", "tcp://host:99999"], "--scheduler='tcp://host:99999': not a scheduler address"),
        (["vanish", "--out", "{}/runs_file"], "{}/runs_file/runs exists and is not a folder"),
        (["vanish", "--out", "{}/html_dir"], "{}/html_dir/report.html is a folder, where the report writes a file"),
        (["demo", "--out", "{}/svg_dir"], "{}/svg_dir/figures/fig1_sigmoid.svg is a folder"),
        (["vanish", "--out", "{}/file/sub"], "{}/file is not a folder"),
        (["plot", "boundary", "--seed", "-1", "--out", "{}/b.png"], "--seed=-1: must be in [0, 2**32 − 1]"),
        (["plot", "boundary", "--seed", "4294967296", "--out", "{}/b.png"], "--seed=4294967296"),
        (["plot", "sigmoid", "--out", "{}/a.png"], "--out={}/a.png: is a folder; give the path of a file"),
        (["plot", "sigmoid", "--out", "{}/missing/a.png"], "folder {}/missing does not exist"),
        (["plot", "sigmoid", "--threshold", "nan", "--out", "{}/s.png"], "--threshold=nan must lie in (0, 0.25]"),
    ],
)
def test_bad_flags_and_paths_are_one_line_before_anything_runs(blocked, monkeypatch, capsys, args, message):
    monkeypatch.chdir(blocked)
    before = sorted(blocked.rglob("*"))
    assert main([a.format(blocked) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message.format(blocked) in err
    assert sorted(blocked.rglob("*")) == before  # nothing was created: no runs/, no report


def test_unreachable_scheduler_is_one_line_and_creates_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["vanish", "--scheduler", "tcp://127.0.0.1:9", "--depths", "1", "--activations", "sigmoid", *SMALL[:4]]
    assert main([*args, "--batchnorm", "off", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --scheduler='tcp://127.0.0.1:9': cannot connect") and err.count("\n") == 1, err
    assert not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_output_folder_is_refused_before_running(tmp_path, capsys):
    tmp_path.chmod(0o555)
    try:
        assert main(["vanish", "--out", str(tmp_path / "out")]) == 2
    finally:
        tmp_path.chmod(0o755)
    assert "this user may not write there" in capsys.readouterr().err
