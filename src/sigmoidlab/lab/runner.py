"""One run of a sweep: build the network, train it, and record per-layer statistics along the way.

What is recorded at a checkpoint ("step" s = number of optimiser steps taken so far, 0 = initialisation): one
forward and backward pass of the loss over a fixed probe batch (the first ``probe_size`` training points), with
the engine's observation on (:func:`sigmoidlab.nn.observing`, which also keeps the activations), so every row
holds the Frobenius norm of ∂L/∂W of one Dense layer, the mean and spread of its pre-activations and
activations, and the fraction of its units in the vanishing region.
The probe pass runs in training mode, so batch norm normalises with the probe's own statistics, as it does
during training (it also nudges the running statistics once per checkpoint, like one more batch would).

Beside the engine's summaries, each hidden row holds the 2nd and 98th percentiles of the layer's activations
(``act_p02``, ``act_p98``: the spread Glorot & Bengio plotted) and, for sigmoid and tanh, ``half_slope``: the
fraction of unit·sample pairs where the activation's slope is below half its maximum (σ' < 1/8, i.e.
σ ∉ [0.146, 0.854]; tanh' < 1/2, i.e. |tanh| > 0.707), a unit that passes back less than half of what it could.
"""

from __future__ import annotations

import platform
import time
import traceback

import numpy as np

from .. import _jsonio, nn
from .grid import RunConfig
from .records import SCHEMA_VERSION, RunRecord

PERCENTILES = (2, 98)


def load_data(config: RunConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The run's data set, split (stratified) and standardised with the training set's mean and spread.

    The seed fixes the data, the split and the weights, so two architectures with the same seed see the same
    points.
    """
    from sklearn.model_selection import train_test_split

    from .. import datasets

    if config.dataset in datasets.GENERATORS:
        X, y = datasets.load(config.dataset, n_samples=config.n_samples, noise=config.noise, random_state=config.seed)
    else:
        X, y = datasets.load(config.dataset)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=config.test_fraction, stratify=y, random_state=config.seed
    )
    scaler = nn.Standardizer.fit(X_train)  # a constant feature (the digits' border pixels) stays 0
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def build_model(config: RunConfig, n_features: int = 2) -> nn.Sequential:
    """The run's network: ``nn.mlp`` with ``depth`` hidden layers of ``width`` units, seeded by the run's seed."""
    a = config.architecture
    return nn.mlp(
        n_features,
        hidden=(config.width,) * config.depth,
        activation=a.activation,
        batchnorm=a.batchnorm,
        init=a.init,  # "glorot", "he": the engine's aliases
        dtype=np.dtype(config.dtype),
        seed=config.seed,
    )


def checkpoint_steps(total_steps: int, count: int) -> list[int]:
    """0 (initialisation) and about ``count`` steps up to ``total_steps``: half spaced geometrically (early
    training is where saturation sets in) and half evenly (so that a plot against steps is covered to the end)."""
    geometric = np.geomspace(1, total_steps, -(-count // 2))
    even = np.linspace(0, total_steps, count // 2 + 1)[1:]
    steps = np.unique(np.round(np.concatenate([geometric, even])).astype(int))
    return [0, *steps.tolist()]


def run_one(config: RunConfig) -> RunRecord:
    """Train one network and return its record; an exception is caught and recorded as a failed run."""
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    record = {"format": SCHEMA_VERSION, "run_id": config.run_id, "config": config.to_dict(), "host": platform.node()}
    try:
        # Many small runs in parallel: one BLAS thread each, or the threads fight over the cores. Overflow on
        # the way to a divergence is an outcome (nn.DivergenceError), not something to warn about.
        with threadpool_limits(limits=1), np.errstate(over="ignore", invalid="ignore"):
            record.update(status="ok", error=None, **_train(config))
    except Exception as exc:
        tail = "".join(traceback.format_exception(exc)[-3:])
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=tail)
    record["seconds"] = time.perf_counter() - started
    # NaN (a field the engine did not record, e.g. the output layer's activation) becomes None, in memory too:
    # the analysis reads a missing value as None.
    return RunRecord.from_json(_jsonio.jsonable(record))


def _train(config: RunConfig) -> dict:
    X_train, X_test, y_train, y_test = load_data(config)
    model = build_model(config, X_train.shape[1])
    momentum = {"momentum": config.momentum} if nn.OPTIMIZERS.get(config.optimizer).cls is nn.SGD else {}
    optimizer = nn.make_optimizer(config.optimizer, model.parameters(), lr=config.lr, **momentum)
    # nn.fit may merge a last batch of one into the one before; the snapshot after training covers the end.
    steps_per_epoch = -(-len(X_train) // config.batch_size)
    recorder = _Recorder(
        X_train[: config.probe_size],
        y_train[: config.probe_size],
        checkpoint_steps(config.epochs * steps_per_epoch, config.checkpoints),
        config.threshold,
    )
    diverged = None
    try:
        nn.fit(
            model,
            X_train,
            y_train,
            loss=nn.BCEWithLogits(),
            optimizer=optimizer,
            epochs=config.epochs,
            batch_size=config.batch_size,
            validation_data=(X_test, y_test),  # monitoring only: nothing is chosen on it
            seed=config.seed,
            progress=False,
            callbacks=[recorder],
        )
    except nn.DivergenceError as exc:  # an outcome of the experiment, not a failure of the run
        diverged = str(exc)
    if recorder.last_step != recorder.step:
        recorder.snapshot(model, recorder.epoch)

    test_accuracy = float(np.mean((model.predict_proba(X_test) >= 0.5) == (y_test == 1)))
    train_accuracy = float(np.mean((model.predict_proba(X_train) >= 0.5) == (y_train == 1)))
    positive = float(np.mean(y_test))
    return {
        "final": {
            "test_accuracy": test_accuracy,
            "train_accuracy": train_accuracy,
            "chance_accuracy": max(positive, 1 - positive),
            "steps": recorder.step,
            "diverged": diverged,
        },
        "curves": recorder.curves,
        "layers": recorder.rows,
    }


class _Recorder(nn.Callback):
    """A ``fit`` callback: snapshots of the per-layer statistics at the checkpoint steps, and the curves."""

    def __init__(self, X_probe: np.ndarray, y_probe: np.ndarray, checkpoints: list[int], threshold: float) -> None:
        self.X_probe, self.y_probe = X_probe, y_probe
        self.checkpoints = set(checkpoints)
        self.threshold = threshold
        self.loss = nn.BCEWithLogits()  # its own instance: the training loss keeps its cache for backward
        self.step = self.epoch = 0
        self.last_step = -1
        self.rows: list[dict] = []
        self.curves: dict[str, list] = {k: [] for k in ("epoch", "loss", "accuracy", "test_loss", "test_accuracy")}

    def snapshot(self, model, epoch: int) -> None:
        """One row per Dense layer: the engine's statistics of a forward and backward pass over the probe, and
        for hidden layers the spread of the activations and the fraction of pairs below half the maximum slope."""
        model.train()
        with nn.observing(model, threshold=self.threshold, outputs=True):
            value = self.loss.forward(model.forward(self.X_probe), self.y_probe)
            model.backward(self.loss.backward())
            stats, outputs = model.stats(), model.outputs()
        for s, o in zip(stats, outputs, strict=True):
            self.rows.append({"step": self.step, "epoch": epoch, "probe_loss": value, **s, **self.spread(o)})
        self.last_step = self.step

    @staticmethod
    def spread(o: nn.LayerOutputs) -> dict:
        """2nd and 98th percentiles of a hidden layer's activations y and, for a saturating activation (sigmoid,
        tanh), the fraction of unit·sample pairs with f′(y) < max f′ / 2; nothing for the output layer."""
        if o.act is None:
            return {}
        low, high = np.percentile(o.act, PERCENTILES)
        f = o.function
        half = float(np.mean(f.derivative_from_output(o.act) < 0.5 * f.max_slope)) if f.saturating else None
        return {"act_p02": float(low), "act_p98": float(high), "half_slope": half}

    def on_train_begin(self, model) -> None:
        self.snapshot(model, 0)

    def on_step_end(self, model, epoch: int, step: int, loss: float) -> None:
        self.step += 1
        self.epoch = epoch
        if self.step in self.checkpoints:
            self.snapshot(model, epoch)

    def on_epoch_end(self, model, epoch: int, logs: dict[str, float]) -> None:
        self.curves["epoch"].append(epoch + 1)
        for key, name in (("loss", "loss"), ("accuracy", "accuracy"), ("val_loss", "test_loss")):
            self.curves[name].append(float(logs[key]))
        self.curves["test_accuracy"].append(float(logs["val_accuracy"]))
