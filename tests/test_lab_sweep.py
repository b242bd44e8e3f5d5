"""The lab's grid, runner and executor: run ids, resume, failures, the Dask path, and the recorded numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sigmoidlab import lab, nn
from sigmoidlab.lab import analysis, runner
from sigmoidlab.lab.grid import Architecture, Experiment

TINY = {"depths": (1, 3), "seeds": (0,), "n_samples": 120, "epochs": 2, "width": 8, "checkpoints": 3}
ARCHS = (Architecture("sigmoid", False, "standard"), Architecture("relu", False, "he"))


def tiny(**overrides) -> Experiment:
    return Experiment(architectures=ARCHS, **{**TINY, **overrides})


def test_grid_expands_every_combination_with_stable_unique_ids():
    e = Experiment.product(["sigmoid", "tanh"], [False, True], ["standard", "glorot"], depths=(1, 2, 4), seeds=(0, 1))
    runs = e.runs()
    assert len(runs) == 2 * 2 * 2 * 3 * 2
    ids = [r.run_id for r in runs]
    assert len(set(ids)) == len(ids)
    assert ids == [r.run_id for r in e.runs()]  # stable across calls
    assert runs[0].run_id.startswith("sigmoid-standard-d1-s0-")
    # Any setting that changes the run changes its id; the id survives a JSON round trip of the config.
    assert Experiment(epochs=7).runs()[0].run_id != Experiment().runs()[0].run_id
    config = runs[5]
    assert lab.RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))).run_id == config.run_id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"depths": (0, 2)}, "depth"),
        ({"depths": (2, 2)}, "duplicates"),
        ({"dataset": "mnist"}, "dataset='mnist'"),
        ({"architectures": (Architecture("softmax", False, "standard"),)}, "activation='softmax'"),
        ({"threshold": 0.5}, "threshold"),
        ({"batch_size": 1}, "batch_size"),
        ({"lr": float("inf")}, "lr=inf: must be finite"),
        ({"lr": float("nan")}, "lr=nan: must be finite"),
        ({"noise": float("inf")}, "noise=inf"),
        ({"seeds": (2**32,)}, r"seeds=\[4294967296\]"),
        ({"epochs": 0}, "epochs=0"),
        ({"epochs": 10**7}, "epochs=10000000"),
        ({"depths": (1001,)}, "at most 1000 hidden layers"),
        ({"width": 10**5}, "width=100000, depth 16: about 1.5e"),
    ],
)
def test_bad_grid_is_refused_with_the_argument_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        Experiment(**overrides)


def test_resume_skips_finished_reruns_corrupt_and_records_failures(tmp_path, monkeypatch):
    calls = []
    real_train = runner._train
    experiment = tiny()
    victim = experiment.runs()[1].run_id

    def train(config):
        calls.append(config.run_id)
        if config.run_id == victim:
            raise RuntimeError("injected failure")
        return real_train(config)

    monkeypatch.setattr(runner, "_train", train)
    records = lab.run_experiment(experiment, tmp_path, workers=1, progress=False)
    assert len(calls) == 4  # the failure did not stop the sweep
    statuses = {r.run_id: r.status for r in records}
    assert statuses.pop(victim) == "failed" and set(statuses.values()) == {"ok"}
    saved = json.loads((tmp_path / "runs" / f"{victim}.json").read_text())
    assert saved["status"] == "failed" and "RuntimeError: injected failure" in saved["error"]

    # Second run: only the failed run is tried again.
    calls.clear()
    lab.run_experiment(experiment, tmp_path, workers=1, progress=False)
    assert calls == [victim]

    # A half-written file is run again; the other finished runs are not.
    calls.clear()
    monkeypatch.setattr(runner, "_train", lambda c: (calls.append(c.run_id), real_train(c))[1])
    broken = experiment.runs()[2].run_id
    path = tmp_path / "runs" / f"{broken}.json"
    path.write_text(path.read_text()[:100])
    records = lab.run_experiment(experiment, tmp_path, workers=1, progress=False)
    assert sorted(calls) == sorted([broken, victim])
    assert all(r.ok for r in records)
    assert json.loads(path.read_text())["status"] == "ok"

    calls.clear()
    lab.run_experiment(experiment, tmp_path, workers=1, progress=False)
    assert calls == []
    lab.run_experiment(experiment, tmp_path, workers=1, progress=False, resume=False)
    assert len(calls) == 4
    assert not list((tmp_path / "runs").glob(".*.tmp"))  # no temporary files left behind


def test_process_pool_and_dask_cluster_give_the_same_records(tmp_path):
    from distributed import LocalCluster

    experiment = tiny(depths=(2,))
    pool = lab.run_experiment(experiment, tmp_path / "pool", workers=2, progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dask = lab.run_experiment(experiment, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert [r.run_id for r in pool] == [r.run_id for r in dask] == [c.run_id for c in experiment.runs()]
    for a, b in zip(pool, dask, strict=True):
        assert a.status == b.status == "ok"
        assert a.layers == b.layers and a.final == b.final  # seeded: identical wherever it runs
        assert (tmp_path / "dask" / "runs" / f"{b.run_id}.json").exists()


def test_interrupted_pool_kills_its_workers_and_keeps_what_was_saved(tmp_path, monkeypatch):
    import multiprocessing
    import time
    from pathlib import Path

    import psutil

    from sigmoidlab.lab import execute

    experiment = tiny(depths=(1, 2, 3, 4), seeds=(0, 1), epochs=40)
    marks = tmp_path / "marks"
    marks.mkdir()
    real_train, real_write = runner._train, execute.save_record

    def train(config):  # runs in the workers (forked after this patch): leaves a mark when a run ends
        result = real_train(config)
        (marks / config.run_id).touch()
        return result

    def write_then_interrupt(path, data):
        real_write(path, data)
        workers.extend(psutil.Process().children(recursive=True))
        ended.extend(marks.iterdir())
        raise KeyboardInterrupt  # as Ctrl-C would, in the main thread, after the first record is saved

    workers: list[psutil.Process] = []
    ended: list[Path] = []
    monkeypatch.setattr(runner, "_train", train)
    monkeypatch.setattr(execute, "save_record", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        lab.run_experiment(experiment, tmp_path / "out", workers=2, progress=False)
    assert len(workers) == 2
    assert not [p.pid for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not psutil.Process().children()
    assert execute.count_finished(experiment, tmp_path / "out") == 1
    if multiprocessing.get_start_method() == "fork":
        # Stopped at once: of the runs in flight one may just have ended; the others, and the queued ones, never.
        time.sleep(0.5)
        assert len(ended) >= 1 and len(list(marks.iterdir())) <= len(ended) + 1


@pytest.mark.parametrize("arch", [Architecture("sigmoid", False, "standard"), Architecture("sigmoid", True, "glorot")])
def test_recorded_gradient_norms_are_the_engines(arch):
    config = Experiment(architectures=(arch,), depths=(4,), seeds=(3,), n_samples=200, epochs=1, width=6).runs()[0]
    record = lab.run_one(config)
    assert record.ok, record.error

    # The same network and probe batch, built and differentiated directly.
    X_train, _, y_train, _ = runner.load_data(config)
    model = nn.mlp(
        2,
        hidden=(6,) * 4,
        activation="sigmoid",
        batchnorm=arch.batchnorm,
        init={"standard": "standard", "glorot": "glorot_uniform"}[arch.init],
        seed=3,
    )
    loss = nn.BCEWithLogits()
    loss.forward(model.forward(X_train[: config.probe_size]), y_train[: config.probe_size])
    model.backward(loss.backward())
    expected = [float(np.linalg.norm(d.W.grad)) for d in model.dense_layers()]
    recorded = [r.weight_grad_norm for r in sorted(record.layers, key=lambda r: r.layer) if r.step == 0]
    np.testing.assert_allclose(recorded, expected, rtol=1e-6)
    assert [r.layer for r in record.layers if r.step == 0] == list(range(5))

    # The activation percentiles and half-slope fractions, from the activations of the same forward pass.
    x, acts = X_train[: config.probe_size].astype(model.dtype), []
    for layer in model.layers:
        x = layer.forward(x)
        if layer.kind == "sigmoid":
            acts.append(x)
    rows = sorted((r for r in record.layers if r.step == 0 and r.activation != "output"), key=lambda r: r.layer)
    for row, a in zip(rows, acts, strict=True):
        assert (row.act_p02, row.act_p98) == pytest.approx(tuple(np.percentile(a, [2, 98])), rel=1e-6)
        assert row.half_slope == pytest.approx(np.mean(a * (1 - a) < 1 / 8))
    # Later checkpoints exist and the last one is the end of training.
    assert max(r.step for r in record.layers) == record.final.steps > 0


def test_default_grid_sigmoid_standard_gradients_decay_geometrically():
    """The claim of the report, checked on the numbers of the default grid's own runs at initialisation."""
    base = Architecture("sigmoid", False, "standard")
    configs = [c for c in Experiment().runs() if c.architecture == base and c.depth == max(Experiment().depths)]
    assert len(configs) == 3 and configs[0].depth == 16
    records = [runner.run_one(c) for c in configs]
    for record in records:
        assert record.ok
        rows = analysis.hidden_rows(record, 0)
        fit = analysis.decay_of(rows, "sigmoid", False)
        g = np.array([r.weight_grad_norm for r in rows])
        assert fit["ratio_per_layer"] < 0.5  # each layer down passes back less than half
        assert fit["input_over_top"] < 1e-6  # 16 layers: input layer gets a millionth of the top one's gradient
        assert fit["input_over_top"] == pytest.approx(g[0] / g[-1])
        # Geometric: every adjacent ratio shrinks towards the input, near the fitted rate.
        steps = g[:-1] / g[1:]
        assert np.all(steps < 1)
        assert np.exp(np.mean(np.log(steps))) == pytest.approx(fit["ratio_per_layer"], rel=0.5)
        # And the deep nets fail: test accuracy within the margin of chance.
        assert record.final.test_accuracy <= record.final.chance_accuracy + analysis.CHANCE_MARGIN
    verdict = {h["id"]: h for h in lab.analyse(records)["hypotheses"]}["decay"]
    assert verdict["verdict"] == "supported"


def test_percentiles_take_no_second_pass_over_batch_norm():
    """A snapshot moves batch norm's running statistics exactly as one training batch of the probe does: the
    percentiles and half-slope fractions come from that pass, not from another one."""
    model, twin = (nn.mlp(2, hidden=(5, 5), activation="sigmoid", batchnorm=True, seed=0) for _ in range(2))
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(40, 2))
    recorder = runner._Recorder(X, np.zeros(40), [0], 0.01)
    recorder.snapshot(model, 0)
    twin.train().forward(X)  # one training-mode pass over the probe
    bn = [[layer for layer in m.layers if isinstance(layer, nn.BatchNorm1d)] for m in (model, twin)]
    for b, t in zip(*bn, strict=True):
        assert not np.array_equal(b.running_mean, np.zeros_like(b.running_mean))  # the pass did move them
        np.testing.assert_array_equal(b.running_mean, t.running_mean)
        np.testing.assert_array_equal(b.running_var, t.running_var)
        assert b.momentum == t.momentum
    assert [("act_p02" in r, r["half_slope"] is not None) for r in recorder.rows[:2]] == [(True, True)] * 2


def _remedy(spreads, trained=(True, True), batchnorm=True, ratio=1.17):
    rows = [
        {
            "depth": d,
            "trained": t,
            "test_accuracy": 0.95 if t else 0.5,
            "init": {"spread_decades": i, "ratio_per_layer": ratio},
            "final": {"spread_decades": f},
        }
        for d, (i, f), t in zip((4, 16), spreads, trained, strict=True)
    ]
    return {"label": "x", "architecture": {"batchnorm": batchnorm}, "by_depth": rows}


def test_remedy_verdict_is_per_depth_and_explains_batch_norm_growth():
    word, text = analysis.remedy_verdict(_remedy([(0.6, 0.6), (0.9, 0.5)]))
    assert word == "supported" and "Yang" not in text
    word, text = analysis.remedy_verdict(_remedy([(0.6, 0.6), (1.2, 0.67)]))
    assert word == "partly supported"
    assert (
        text.startswith("x: partly supported (1.20 decades at initialisation at depth 16)")
        and "Yang et al. 2019" in text
    )
    assert "16 layers 1.20 → 0.67 decades" in text and "4 layers 0.60 → 0.60 decades" in text
    assert analysis.remedy_verdict(_remedy([(0.6, 0.6), (0.6, 0.6)], trained=(True, False)))[0] == "not supported"
    assert analysis.remedy_verdict(_remedy([(0.6, 0.6), (1.5, 1.3)], batchnorm=False))[0] == "not supported"


def test_saturation_experiment_reproduces_glorot_and_bengio():
    """Checked on the numbers: the top sigmoid layer enters the saturating band in the first half of training
    while the layers below stay out of it; tanh trains."""
    experiment = lab.saturation_experiment()
    keep = {Architecture("sigmoid", False, "standard"), Architecture("tanh", False, "glorot")}
    records = [runner.run_one(c) for c in experiment.runs() if c.architecture in keep and c.seed == 0]
    assert all(r.ok for r in records)
    summary = {c["architecture"]["activation"]: c for c in analysis.saturation_summary(records)}
    top = summary["sigmoid"]["top_layer"]
    assert top["act_mean_init"] == pytest.approx(0.5, abs=0.05)
    assert top["entered_fraction_of_training"] <= 0.5 and not top["lower_saturated"]
    assert top["act_mean_final"] <= analysis.HALF_GRADIENT_MEAN
    assert summary["tanh"]["test_accuracy"] > summary["tanh"]["chance"] + analysis.CHANCE_MARGIN
    verdict = {h["id"]: h for h in lab.analyse(records, records)["hypotheses"]}["saturation"]
    assert verdict["verdict"] == "supported"


def test_grid_names_are_the_engines_and_keep_their_spelling():
    """Activations and inits are checked against nn's registries; the short "he" and "glorot" stay in the config
    (they are part of the run id) and build the networks of he_normal and glorot_uniform, as they always did."""
    from sigmoidlab.lab import grid

    assert set(grid.OPTIMIZERS) <= set(nn.OPTIMIZERS.names())
    for init in nn.INITIALIZERS.spellings():
        Experiment(architectures=(Architecture("sigmoid", False, init),))  # accepted
    with pytest.raises(ValueError, match=r"init='zeros': unknown init 'zeros': expected one of standard"):
        Experiment(architectures=(Architecture("sigmoid", False, "zeros"),))
    for short, full in (("he", "he_normal"), ("glorot", "glorot_uniform")):
        config = Experiment(architectures=(Architecture("relu", False, short),), depths=(2,), seeds=(4,)).runs()[0]
        assert config.architecture.init == short and f"-{short}-d2-" in config.run_id
        built = runner.build_model(config)
        expected = nn.mlp(2, hidden=(32, 32), activation="relu", init=full, dtype=np.float32, seed=4)
        for a, b in zip(built.parameters(), expected.parameters(), strict=True):
            np.testing.assert_array_equal(a.value, b.value)
