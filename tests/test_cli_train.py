"""``sigmoidlab train`` and ``sigmoidlab predict``, in-process through the console-script entry point, plus one
run of the installed script."""

import csv
import json
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from sigmoidlab import _atomic, datasets, nn
from sigmoidlab.cli import main
from sigmoidlab.cli._app import Terminated
from sigmoidlab.functions import sigmoid

FAST = ("--epochs", "40", "--no-progress")


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def moons_model(tmp_path_factory):
    """A sigmoid 2-8-1 network trained on moons by the CLI, with its JSON report."""
    path = tmp_path_factory.mktemp("model") / "moons.npz"
    code = main(["train", "--dataset", "moons", "--n-samples", "400", "--hidden", "8", "--lr", "0.05",
                 "--save", str(path), "--json", *FAST])  # fmt: skip
    assert code == 0
    return path


def test_train_json_report_and_saved_metadata(capsys, tmp_path):
    path = tmp_path / "m.npz"
    code, out, _ = run(capsys, "train", "--dataset", "moons", "--n-samples", "400", "--noise", "0.2", "--hidden",
                       "8", "--lr", "0.05", "--seed", "1", "--save", path, "--json", *FAST)  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["source"] == {"dataset": "moons", "n_samples": 400, "random_state": 1, "noise": 0.2}
    assert report["train"]["n"] == 300 and report["test"]["n"] == 100
    assert report["test"]["accuracy"] > 0.85 and report["test"]["roc_auc"] > 0.9
    assert report["model"]["epochs"] == 40 and report["saved"] == str(path)
    model, meta = nn.load(path)
    assert meta["feature_names"] == ["x1", "x2"] and meta["classes"] == [0, 1]
    assert len(meta["standardize"]["mean"]) == 2
    assert [d.out_features for d in model.dense_layers()] == [8, 1]
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind


def test_train_table_and_logistic_regression(capsys):
    code, out, _ = run(capsys, "train", "--dataset", "xor", "--n-samples", "200", "--hidden", "none", *FAST)
    assert code == 0
    assert "logistic regression" in out and "ROC AUC" in out and "test" in out


def test_predict_matches_the_saved_network(capsys, tmp_path, moons_model):
    X, _ = datasets.moons(25, noise=0.2, random_state=5)
    # Columns in another order: they are matched by name.
    path = write_csv(tmp_path / "new.csv", ["x2", "x1"], X[:, ::-1].tolist())
    code, out, _ = run(capsys, "predict", "--model", moons_model, "--csv", path)
    assert code == 0
    rows = list(csv.DictReader(out.splitlines()))
    assert list(rows[0]) == ["label", "proba_0", "proba_1"] and len(rows) == 25
    model, meta = nn.load(moons_model)
    z = model.forward((X - meta["standardize"]["mean"]) / np.asarray(meta["standardize"]["scale"]))[:, 0]
    np.testing.assert_array_equal([float(r["proba_1"]) for r in rows], sigmoid(z))
    np.testing.assert_array_equal([float(r["proba_0"]) for r in rows], sigmoid(-z))
    assert [int(r["label"]) for r in rows] == (z > 0).astype(int).tolist()


def test_csv_train_and_predict_keep_the_original_labels(capsys, tmp_path):
    X, y = datasets.gaussians(120, noise=0.6, random_state=0)
    names = np.array(["malignant", "benign"])[y]
    rows = [[f"{a:.6f}", f"{b:.6f}", label] for (a, b), label in zip(X, names, strict=True)]
    train_csv = write_csv(tmp_path / "train.csv", ["height", "width", "diagnosis"], rows)
    model = tmp_path / "model.npz"
    code, out, err = run(capsys, "train", "--csv", train_csv, "--target", "diagnosis", "--hidden", "4",
                         "--save", model, "--json", *FAST)  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["test"]["accuracy"] > 0.9
    out_csv = tmp_path / "pred.csv"
    # The training file itself, target column included (ignored), predicted into --out.
    code, out, _ = run(capsys, "predict", "--model", model, "--csv", train_csv, "--out", out_csv)
    assert code == 0 and "wrote 120 predictions" in out
    predicted = [r["label"] for r in csv.DictReader(out_csv.open())]
    assert set(predicted) == {"benign", "malignant"}
    assert np.mean(np.array(predicted) == names) > 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "pred.csv", "train.csv"]


def test_predict_errors(capsys, tmp_path, moons_model):
    good = write_csv(tmp_path / "good.csv", ["x1", "x2"], [[0, 1]])
    wrong = write_csv(tmp_path / "wrong.csv", ["x1", "z", "id"], [[0, 1, 2]])
    bad_cell = write_csv(tmp_path / "bad.csv", ["x1", "x2"], [[0, 1], [2, "oops"]])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a model")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(moons_model.read_bytes()[:300])
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, w=np.ones(3))
    out = tmp_path / "out.csv"
    cases = [
        (("--model", moons_model, "--csv", wrong, "--out", out), "missing column 'x2'; unexpected columns 'z', 'id'"),
        (("--model", moons_model, "--csv", bad_cell, "--out", out), "row 2 (line 3), column 'x2' (#2): 'oops'"),
        (("--model", moons_model, "--csv", tmp_path / "none.csv"), "cannot read the file"),
        (("--model", garbage, "--csv", good), "not a valid sigmoidlab model file"),
        (("--model", truncated, "--csv", good), "not a valid sigmoidlab model file"),
        (("--model", foreign, "--csv", good), "no sigmoidlab header"),
        (("--model", tmp_path / "missing.npz", "--csv", good), "not found"),
        (("--model", moons_model, "--csv", good, "--out", tmp_path / "no" / "out.csv"), "does not exist"),
    ]
    for args, message in cases:
        code, _, err = run(capsys, "predict", *args)
        assert code == 2, (args, err)
        assert message in " ".join(err.split()), (message, err)
        assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--csv", "data.csv"), "--csv needs --target"),
        (("--dataset", "xor", "--csv", "data.csv", "--target", "t"), "not both"),
        (("--dataset", "breast_cancer", "--noise", "0.1"), "not to breast_cancer"),
        (("--target", "t"), "--target applies to --csv only"),
        (("--hidden", "16,x"), "--hidden='16,x'"),
        (("--hidden", "4,4", "--activation", "tanh,relu,relu"), "3 activations for 2 hidden layers"),
        (("--activation", "softmax"), "unknown activation 'softmax'"),
        (("--init", "zeros"), "unknown init 'zeros'"),
        (("--test-size", "1"), "--test-size=1.0"),
        (("--epochs", "0"), "--epochs=0"),
        (("--dataset", "moons", "--noise", "-1"), "--noise=-1.0 must be a finite number ≥ 0"),
        (("--save", "no/such/dir/m.npz"), "does not exist"),
        # these were tracebacks (or a 14 GB allocation) before
        (("--lr", "inf"), "--lr=inf must be a finite number > 0"),
        (("--lr", "nan"), "--lr=nan must be a finite number > 0"),
        (("--alpha", "inf"), "--alpha=inf must be a finite number ≥ 0"),
        (("--noise", "inf"), "--noise=inf must be a finite number ≥ 0"),
        (("--seed", "-1"), "--seed=-1 must lie in [0, 2**32 − 1]"),
        (("--init", "normal(-1)"), "--init: unknown init 'normal(-1)'"),
        (("--batch-size", "0"), "--batch-size=0 must be ≥ 1"),
        (("--hidden", "60000,60000"), "--hidden: training [60000, 60000] on 1000 samples × 2 features would need"),
        (("--n-samples", "300000000"), "--n-samples: training [16, 16] on 300000000 samples × 2 features"),
        (("--save", "."), "--save .: a directory, not a regular file"),
    ],
)
def test_train_bad_input_is_one_line(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "data.csv", ["a", "t"], [[1, 0], [2, 1]])
    tracemalloc.start()
    try:
        code, out, err = run(capsys, "train", *FAST, *args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2 and out == ""
    assert message in " ".join(err.split()), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert peak < 200 * 2**20  # refused before allocating (the oversized cases asked for 200+ GiB)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_memory_estimate_is_an_upper_bound_of_the_same_order():
    """The estimate behind the refusals, against peak RSS measured on this kind of machine (see the report):
    300k samples with [16, 16] used ~110 MB above the interpreter, a [2000, 2000] net ~260 MB."""
    from sigmoidlab.cli.train import estimate_memory, memory_limit

    small = sum(estimate_memory(300_000, 2, (16, 16), 64).values())
    wide = sum(estimate_memory(1000, 2, (2000, 2000), 64).values())
    assert 110e6 < small < 4 * 110e6 and 260e6 < wide < 4 * 260e6
    assert 2**30 <= memory_limit() <= 16 * 2**30
    assert sum(estimate_memory(1000, 2, (60000, 60000), 64).values()) > 100 * 2**30


def test_diverging_run_warns_in_one_line(capsys):
    """--lr 1e9 ended at chance with a finite loss of 5e70 and no warning."""
    code, out, err = run(capsys, "train", "--dataset", "moons", "--n-samples", "200", "--lr", "1e9", "--epochs", "5",
                         "--no-progress", "--json")  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["test"]["accuracy"] < 0.7 and report["model"]["final_loss"] > 100
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: training ended worse than it started"), err
    assert lines[0].endswith("try a smaller --lr (now 1e+09)")
    code, _, err = run(capsys, "train", "--dataset", "moons", "--n-samples", "200", *FAST)
    assert code == 0 and "warning" not in err


# --- interrupts: exit 130 / 143, one line, no partial output ----------------------------------


def _wait_until_training(process, timeout=120.0):
    """Until the command has imported scikit-learn (its first statement): the interrupt then lands in it."""
    deadline = time.monotonic() + timeout
    maps = Path(f"/proc/{process.pid}/maps")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"train exited early: {process.communicate()}")
        if "sklearn" in maps.read_text():
            time.sleep(1.0)
            return
        time.sleep(0.1)
    raise AssertionError("train did not start in time")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_training_exits_with_one_line_and_no_file(tmp_path, signum, status):
    model = tmp_path / "m.npz"
    process = subprocess.Popen(
        [sys.executable, "-m", "sigmoidlab", "train", "--n-samples", "300", "--epochs", "1000000", "--no-progress",
         "--save", str(model)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_until_training(process)
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == status, err
    assert err.strip() == f"interrupted: no model saved (--save {model} is written only when training finishes); " + (
        "run the command again to retrain"
    )
    assert out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("error", "status"), [(KeyboardInterrupt, 130), (Terminated, 143)])
def test_interrupt_while_saving_leaves_no_file(capsys, tmp_path, monkeypatch, error, status):
    """Ctrl-C (or SIGTERM) as the model file is being renamed into place: no file, no temporary file."""

    def interrupted_replace(src, dst):
        raise error()

    monkeypatch.setattr(_atomic.os, "replace", interrupted_replace)
    code, _, err = run(capsys, "train", "--dataset", "xor", "--n-samples", "100", "--hidden", "none",
                       "--save", tmp_path / "m.npz", *FAST)  # fmt: skip
    assert code == status and "interrupted: no model saved" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_interrupt_in_predict_leaves_no_file(capsys, tmp_path, monkeypatch, moons_model):
    data = write_csv(tmp_path / "x.csv", ["x1", "x2"], [[0, 1]])
    monkeypatch.setattr(_atomic.os, "replace", lambda src, dst: (_ for _ in ()).throw(KeyboardInterrupt()))
    out_csv = tmp_path / "p.csv"
    code, _, err = run(capsys, "predict", "--model", moons_model, "--csv", data, "--out", out_csv)
    assert code == 130 and err.strip() == f"interrupted: no predictions written (--out {out_csv} is untouched)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_train_bad_csv_names_row_and_column(capsys, tmp_path):
    path = write_csv(tmp_path / "d.csv", ["a", "b", "t"], [[1, 2, "x"], [3, 4, "y"], [5, 6, "z"]])
    code, _, err = run(capsys, "train", "--csv", path, "--target", "t", *FAST)
    assert code == 2 and "row 3 (line 4), column 't' (#3): a third class 'z'" in " ".join(err.split())


def test_console_script(capsys, tmp_path):
    """The installed ``sigmoidlab`` script end to end (one subprocess: interpreter start-up is the cost)."""
    script = Path(sys.executable).with_name("sigmoidlab")
    model = tmp_path / "m.npz"
    done = subprocess.run(
        [script, "train", "--dataset", "gaussians", "--n-samples", "100", "--hidden", "none", "--save", model, *FAST],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ROC AUC" in done.stdout and "model saved to" in done.stdout
    data = write_csv(tmp_path / "x.csv", ["x1", "x2"], [[-2, -2], [2, 2]])
    code, out, _ = run(capsys, "predict", "--model", model, "--csv", data)
    assert code == 0
    assert [row[0] for row in csv.reader(out.splitlines())] == ["label", "0", "1"]
