"""Property tests of the ``vanish`` grid: for any subset and order of depths, activations, inits, batch norm and
seeds (and runs that failed), every number of the analysis and every figure's input comes from the runs it
claims to come from, selected by their own configuration.

The runs are real (1 epoch of a 3-unit network on 40 points, cached per configuration); the expected values
are recomputed here from the run records, by plain loops.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigmoidlab.lab import analysis, runner
from sigmoidlab.lab.figures import figure_inputs
from sigmoidlab.lab.grid import Architecture, Experiment, RunConfig
from sigmoidlab.lab.records import RunRecord

ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITS = ("standard", "glorot")
DEPTHS = (1, 2, 3)
SEEDS = (0, 1)
TINY = {"width": 3, "n_samples": 40, "epochs": 1, "batch_size": 8, "probe_size": 16, "checkpoints": 3}
TRACE_KEYS = ("act_mean", "act_p02", "act_p98", "half_slope", "saturation")


@functools.cache
def _run(config: RunConfig) -> RunRecord:
    record = runner.run_one(config)
    assert record.ok, record.error
    return record


def _failed(record: RunRecord) -> RunRecord:
    """The record of the same run had it failed (what run_one writes for an exception)."""
    return RunRecord(record.run_id, record.config, "failed", error="X", seconds=0)


@st.composite
def sweeps(draw) -> tuple[Experiment, set[int], list[int]]:
    """A grid in any order, its records in any order, some of them failed."""

    def some(values):
        return draw(st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True))

    experiment = Experiment.product(
        some(ACTIVATIONS), some((False, True)), some(INITS), depths=some(DEPTHS), seeds=some(SEEDS), **TINY
    )
    n = len(experiment.runs())
    failed = draw(st.sets(st.sampled_from(range(n)), max_size=n // 3))
    return experiment, failed, draw(st.permutations(range(n)))


def _records(sweep) -> tuple[Experiment, list[RunRecord]]:
    """The sweep's records (trained outside the strategy: training draws random numbers of its own)."""
    experiment, failed, order = sweep
    records = [_run(c) for c in experiment.runs()]
    records = [_failed(r) if i in failed else r for i, r in enumerate(records)]
    return experiment, [records[i] for i in order]


def _arch(record: RunRecord) -> Architecture:
    return record.config.architecture


def _expected(records: list[RunRecord], arch: Architecture, depth: int) -> list[RunRecord]:
    """The finished runs of one configuration, found by looking at every record."""
    return [r for r in records if r.ok and _arch(r) == arch and r.config.depth == depth]


def _assert_one_configuration(runs: list[RunRecord], arch: Architecture, depth: int) -> None:
    assert runs, (arch, depth)
    for r in runs:
        assert _arch(r) == arch and r.config.depth == depth
        assert len(analysis.hidden_rows(r, 0)) == depth


def _expected_trace(runs: list[RunRecord], key: str) -> tuple[list[int], np.ndarray]:
    """Per step and hidden layer, the mean over runs of the recorded value (None skipped), by plain loops."""
    depth = runs[0].config.depth
    steps = sorted({row.step for r in runs for row in r.layers})
    out = np.full((len(steps), depth), np.nan)
    for i, step in enumerate(steps):
        for layer in range(depth):
            values = [
                getattr(row, key)
                for r in runs
                for row in r.layers
                if row.step == step and row.layer == layer and getattr(row, key) is not None
            ]
            if values:
                out[i, layer] = math.fsum(values) / len(values)
    return steps, out


def _check_traces(runs: list[RunRecord]) -> dict:
    t = analysis.layer_traces(runs)
    depth = runs[0].config.depth
    for key in TRACE_KEYS:
        steps, expected = _expected_trace(runs, key)
        assert t[key].shape == (len(steps), depth), key  # figure 5: one column per hidden layer of these runs
        assert list(t["steps"]) == steps
        np.testing.assert_allclose(t[key], expected, rtol=1e-12, atol=0, equal_nan=True, err_msg=key)
    return t


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(sweeps())
def test_depth_table_rows_hold_exactly_the_runs_of_their_configuration(sweep):
    _, records = _records(sweep)
    result = analysis.analyse(records)
    by_id = {r.run_id: r for r in records}
    seen = set()
    for c in result["configurations"]:
        arch = Architecture(**c["architecture"])
        for row in c["by_depth"]:
            expected = _expected(records, arch, row["depth"])
            assert sorted(row["run_ids"]) == sorted(r.run_id for r in expected)
            assert row["runs"] == sum(_arch(r) == arch and r.config.depth == row["depth"] for r in records)
            if expected:
                accuracy = [r.final.test_accuracy for r in expected]
                assert row["test_accuracy"] == pytest.approx(math.fsum(accuracy) / len(accuracy), rel=1e-12)
                assert row["test_accuracy_min"] == min(accuracy) and row["test_accuracy_max"] == max(accuracy)
            else:
                assert row["trained"] is None
            seen |= {r.run_id for r in records if _arch(r) == arch and r.config.depth == row["depth"]}
        assert [row["depth"] for row in c["by_depth"]] == sorted(row["depth"] for row in c["by_depth"])
    assert seen == set(by_id)  # every run is in exactly one row
    # The verdicts do not depend on the order of the grid's lists or of the records.
    in_grid_order = analysis.analyse(sorted(records, key=lambda r: r.run_id))
    assert [h["verdict"] for h in in_grid_order["hypotheses"]] == [h["verdict"] for h in result["hypotheses"]]


@SETTINGS
@given(sweeps())
def test_saturation_summary_traces_come_from_the_runs_they_name(sweep):
    _, records = _records(sweep)
    summary = analysis.saturation_summary(records)
    wanted = {(_arch(r), r.config.depth) for r in records if r.ok and r.config.depth >= 2 and not _arch(r).batchnorm}
    assert {(Architecture(**c["architecture"]), c["depth"]) for c in summary} == wanted
    by_id = {r.run_id: r for r in records}
    for c in summary:
        arch, depth = Architecture(**c["architecture"]), c["depth"]
        runs = [by_id[i] for i in c["run_ids"]]
        _assert_one_configuration(runs, arch, depth)
        assert sorted(c["run_ids"]) == sorted(r.run_id for r in _expected(records, arch, depth))
        _, half_slope = _expected_trace(runs, "half_slope")
        np.testing.assert_allclose(c["half_slope_final"], half_slope[-1], rtol=1e-12, equal_nan=True)
        if c["top_layer"] is not None:
            _, means = _expected_trace(runs, "act_mean")
            assert c["top_layer"]["act_mean_init"] == pytest.approx(means[0, -1], rel=1e-12)
            assert c["top_layer"]["act_mean_final"] == pytest.approx(means[-1, -1], rel=1e-12)
            assert len(c["top_layer"]["lower_means"]) == depth - 1


@SETTINGS
@given(sweeps(), st.booleans())
def test_every_figure_is_drawn_from_the_runs_it_claims(sweep, separate_saturation):
    experiment, records = _records(sweep)
    # Figure 5 draws either a separate saturation experiment's runs or, without one, the sweep's own.
    saturation = [r for r in records if r.config.seed == max(experiment.seeds)] if separate_saturation else None
    inputs = figure_inputs(experiment, records, saturation)
    ok = [r for r in records if r.ok]
    assert ("gradient_flow" in inputs) == ("training" in inputs) == bool(ok)
    labels = {a.label: a for a in experiment.architectures}

    if ok:
        flow = inputs["gradient_flow"]
        assert flow["depth"] == max(r.config.depth for r in ok)
        assert [label for label, _ in flow["lines"]] == [a.label for a in experiment.architectures]
        for label, runs in flow["lines"]:
            assert runs == _expected(records, labels[label], flow["depth"])
        training = inputs["training"]
        assert training["depths"] == sorted(experiment.depths)
        assert training["chance"] == pytest.approx(np.mean([r.final.chance_accuracy for r in ok]))
        for label, by_depth in training["panels"]:
            assert sorted(by_depth) == sorted(experiment.depths)
            for depth, runs in by_depth.items():
                assert runs == _expected(records, labels[label], depth)

    source = records if saturation is None else saturation
    deepest: dict[Architecture, int] = {}
    for r in source:
        if r.ok and r.config.depth >= 2 and not _arch(r).batchnorm:
            deepest[_arch(r)] = max(deepest.get(_arch(r), 0), r.config.depth)
    panels = inputs.get("saturation", {"panels": []})["panels"]
    assert {labels[label] for label, _ in panels} == set(deepest)
    for label, runs in panels:
        arch = labels[label]
        _assert_one_configuration(runs, arch, deepest[arch])
        assert sorted(r.run_id for r in runs) == sorted(r.run_id for r in _expected(source, arch, deepest[arch]))
        _check_traces(runs)


def test_runs_of_different_networks_are_never_averaged_together():
    experiment = Experiment(
        architectures=(Architecture("sigmoid", False, "standard"),), depths=(2, 3), seeds=(0,), **TINY
    )
    two, three = (_run(c) for c in experiment.runs())
    with pytest.raises(ValueError, match="one architecture at one depth"):
        analysis.layer_traces([three, two])
    relu = _run(Experiment(architectures=(Architecture("relu", False, "he"),), depths=(2,), **TINY).runs()[0])
    with pytest.raises(ValueError, match="relu, he init at depth 2"):
        analysis.layer_traces([two, relu])
    t = _check_traces([two])
    assert t["act_mean"].shape[1] == 2
