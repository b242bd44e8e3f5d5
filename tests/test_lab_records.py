"""Typed run records: format-2 files written before the schema was typed still read, and a sweep resumes on them.

tests/data holds two run files written by ``sigmoidlab vanish --depths 1,2 --activations sigmoid --seeds 0
--epochs 1`` (format 2) before :mod:`sigmoidlab.lab.records` existed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sigmoidlab.cli import main
from sigmoidlab.lab import Experiment, records, runner
from sigmoidlab.lab.records import LayerRow, RunRecord

DATA = Path(__file__).parent / "data"
FORMAT_2 = sorted(DATA.glob("sigmoid-*.json"))
VANISH = ["vanish", "--depths", "1,2", "--activations", "sigmoid", "--seeds", "0", "--epochs", "1", "--workers", "1"]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", FORMAT_2, ids=lambda p: p.stem)
def test_format_2_file_reads_into_a_typed_record_and_writes_back_the_same_layout(path):
    data = _load(path)
    assert data["format"] == 2
    record = RunRecord.from_json(data)
    assert record.ok and record.run_id == path.stem == record.config.run_id  # the config hashes to the same id
    depth = record.config.depth
    steps = sorted({r.step for r in record.layers})
    assert steps[0] == 0 and steps[-1] == record.final.steps
    assert len(record.layers) == len(steps) * (depth + 1)
    assert [r.layer for r in record.hidden_rows(0)] == list(range(depth))
    assert all(r.act_p02 is not None for r in record.layers if r.hidden)
    assert record.curves.epoch == (1,) and record.final.test_accuracy == data["final"]["test_accuracy"]
    # Format 3 has the layout of format 2: only the version number differs.
    assert record.to_json() == {**data, "format": records.SCHEMA_VERSION}


def test_a_fresh_record_survives_a_json_round_trip():
    config = Experiment(depths=(2,), seeds=(1,), n_samples=80, epochs=1, width=4, checkpoints=3).runs()[0]
    record = runner.run_one(config)
    assert record.ok, record.error
    assert all(isinstance(r, LayerRow) for r in record.layers)
    assert RunRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("status"), "missing field 'status'"),
        (lambda d: d.update(format=1), "format 1 is not one of"),
        (lambda d: d["layers"][0].pop("step"), "step"),
        (lambda d: d["config"].update(colour="red"), "colour"),
    ],
)
def test_a_bad_record_is_one_value_error_naming_what_is_wrong(change, message):
    data = _load(FORMAT_2[0])
    change(data)
    with pytest.raises(ValueError, match=message):
        RunRecord.from_json(data)
    with pytest.raises(ValueError, match="expected an object, got list"):
        RunRecord.from_json([])


def test_vanish_resumes_on_runs_saved_in_format_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "runs").mkdir()
    for path in FORMAT_2:
        shutil.copy(path, tmp_path / "runs" / path.name)
    calls = []
    real_train = runner._train
    monkeypatch.setattr(runner, "_train", lambda c: (calls.append(c.run_id), real_train(c))[1])
    assert main([*VANISH, "--out", str(tmp_path)]) == 0, capsys.readouterr().err
    assert len(calls) == 2 and not {p.stem for p in FORMAT_2} & set(calls)  # only the two runs not saved
    results = _load(tmp_path / "results.json")
    assert sorted(r["run_id"] for r in results["runs"] if r["status"] == "ok") == sorted(
        [*calls, *(p.stem for p in FORMAT_2)]
    )
    for path in FORMAT_2:  # resumed, not rewritten
        assert _load(tmp_path / "runs" / path.name)["format"] == 2
