"""Training: ``train_step`` (one mini-batch) and ``fit`` (epochs, validation, early stopping, callbacks)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .layers import BatchNorm1d
from .losses import BCEWithLogits, Loss
from .optim import Adam, Optimizer
from .sequential import Sequential


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite loss or parameter; ``epoch`` and ``step`` count from 0."""

    def __init__(self, epoch: int, step: int, what: str = "loss") -> None:
        self.epoch, self.step, self.what = epoch, step, what
        super().__init__(
            f"training diverged at epoch {epoch}, step {step} (counted from 0): the {what} is not finite; "
            "the model was left at its last finite parameters (try a smaller learning rate)"
        )


class TrainingWarning(RuntimeWarning):
    """Training finished, but ended worse than it started (see :attr:`History.ended_worse`)."""


#: A run "ended worse" when its last epoch's mean loss exceeds ``WORSE_FACTOR`` × the loss before the first
#: update plus ``WORSE_MARGIN`` (the margin keeps batch-to-batch noise of a nearly perfect model from counting).
WORSE_FACTOR, WORSE_MARGIN = 2.0, 0.1


def ended_worse(initial_loss: float, final_loss: float) -> bool:
    """True when ``final_loss > WORSE_FACTOR·initial_loss + WORSE_MARGIN``: the run diverged without overflowing.

    A learning rate far too large (``lr=1e9``) drives the logits to ±1e70: the loss stays finite (5e70) and
    the accuracy falls to chance, so :class:`DivergenceError` never fires; this test catches that case.
    """
    return final_loss > WORSE_FACTOR * initial_loss + WORSE_MARGIN


class Callback:
    """Hooks into :func:`fit`; override any of the methods. ``on_epoch_end`` returning True stops training."""

    def on_train_begin(self, model: Sequential) -> None:
        """Called once before the first epoch."""

    def on_step_end(self, model: Sequential, epoch: int, step: int, loss: float) -> None:
        """Called after each mini-batch's backward pass and optimiser step."""

    def on_epoch_end(self, model: Sequential, epoch: int, logs: dict[str, float]) -> bool | None:
        """Called after each epoch with that epoch's ``logs`` (the values appended to the history)."""

    def on_train_end(self, model: Sequential, history: History) -> None:
        """Called once when training stops (not when it diverges)."""


class History:
    """What :func:`fit` returns: ``history`` maps "loss", "accuracy" (and "val_loss", "val_accuracy" when
    validating) to per-epoch lists; ``epochs`` is the number of epochs run; ``stopped_early`` says whether early
    stopping or a callback ended training before ``epochs``. ``initial_loss`` is the loss of the first
    mini-batch before any update; ``ended_worse`` says whether the last epoch's loss is far above it
    (:func:`ended_worse`), in which case :func:`fit` also warns with :class:`TrainingWarning`.

    "loss" and "accuracy" are averages over the epoch's mini-batches, in training mode, as they were computed
    for the updates (like Keras); the validation values are computed after the epoch, in evaluation mode.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        self.epochs = 0
        self.stopped_early = False
        self.initial_loss = math.nan
        self.ended_worse = False

    def __repr__(self) -> str:
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={self.epochs}, last={last})"


def train_step(model: Sequential, loss_fn: Loss, optimizer: Optimizer, xb: np.ndarray, yb: np.ndarray) -> float:
    """One mini-batch: forward, loss, backward (fills every ``Parameter.grad``), optimiser step; returns the loss.

    The model is used in whatever mode it is in (``model.train()`` for training).
    """
    value = loss_fn.forward(model.forward(xb), yb)
    model.backward(loss_fn.backward(), input_grad=False)
    optimizer.step()
    return value


class GuardedStep:
    """:func:`train_step` that never leaves a non-finite model behind.

    After each step it checks the loss and the parameters. If either is NaN or infinite, the parameters and the
    batch-norm running statistics go back to what they were before the step and :class:`DivergenceError`
    (epoch, step) is raised. The cost per step is one pass over the parameters and one copy of them, made on
    the optimiser's flat buffer. ``fit`` and the browser playground train through it.
    """

    def __init__(self, model: Sequential, loss_fn: Loss, optimizer: Optimizer) -> None:
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self._backup = optimizer.values.copy()
        batch_norms = [layer for layer in model.layers if isinstance(layer, BatchNorm1d)]
        self._running = [a for layer in batch_norms for a in (layer.running_mean, layer.running_var)]
        self._running_backup = [a.copy() for a in self._running]

    def __call__(self, xb: np.ndarray, yb: np.ndarray, epoch: int, step: int) -> tuple[float, np.ndarray]:
        """One step on (xb, yb); returns the batch loss and the logits. Call it under ``np.errstate`` that
        ignores overflow and invalid: a diverging step produces them, and this method reports it."""
        logits = self.model.forward(xb)
        value = self.loss_fn.forward(logits, yb)
        self.model.backward(self.loss_fn.backward(), input_grad=False)
        self.optimizer.step()
        values = self.optimizer.values
        if not (math.isfinite(value) and np.isfinite(values).all()):
            np.copyto(values, self._backup)
            for buf, saved in zip(self._running, self._running_backup, strict=True):
                np.copyto(buf, saved)
            raise DivergenceError(epoch, step, "loss" if not math.isfinite(value) else "parameters")
        np.copyto(self._backup, values)
        for buf, saved in zip(self._running, self._running_backup, strict=True):
            np.copyto(saved, buf)
        return value, logits


def _check_xy(model: Sequential, X: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"fit(): {what} X must be a non-empty 2-D array (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"fit(): {what} X must be numeric, got dtype {X.dtype}")
    dense = getattr(model, "dense_layers", list)()
    if dense and X.shape[1] != dense[0].in_features:
        raise ValueError(f"fit(): {what} X has {X.shape[1]} features but the model expects {dense[0].in_features}")
    y = np.asarray(y)
    if y.shape not in ((X.shape[0],), (X.shape[0], 1)):
        raise ValueError(f"fit(): {what} y must have shape ({X.shape[0]},) or ({X.shape[0]}, 1), got {y.shape}")
    X, y = X.astype(model.dtype, copy=False), y.astype(model.dtype).reshape(-1, 1)
    if not np.isfinite(X).all():
        raise ValueError(f"fit(): {what} X contains NaN or infinity")
    if not ((y >= 0) & (y <= 1)).all():
        raise ValueError(f"fit(): {what} y must hold targets in [0, 1] (labels 0/1 or soft targets)")
    return X, y


def _evaluate(model: Sequential, loss_fn: Loss, X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """Loss and accuracy on (X, Y) in evaluation mode, without recording observations."""
    logits = model.predict_logits(X)
    value = loss_fn.forward(logits, Y)
    return value, float(np.count_nonzero((logits > 0) == (Y > 0.5))) / len(Y)


def fit(
    model: Sequential,
    X: Any,
    y: Any,
    loss: Loss | str | None = None,
    optimizer: Optimizer | str | None = None,
    epochs: int = 50,
    batch_size: int = 64,
    validation_split: float = 0.0,
    validation_data: tuple[Any, Any] | None = None,
    shuffle: bool = True,
    seed: int | None = 0,
    early_stopping: bool = False,
    patience: int = 10,
    tol: float = 0.0,
    progress: bool = True,
    callbacks: Sequence[Callback] | None = (),
) -> History:
    """Train ``model`` on (X, y) with mini-batches; return the :class:`History`.

    Parameters
    ----------
    model : Sequential
        The network (e.g. from :func:`~sigmoidlab.nn.mlp`); X is cast once to its dtype.
    X, y : array_like
        Features (n, d) and targets (n,) or (n, 1) in [0, 1].
    loss : Loss or str
        A loss object or a name in :data:`~sigmoidlab.nn.LOSSES` (default ``BCEWithLogits()``).
    optimizer : Optimizer or str
        An optimiser or a name in :data:`~sigmoidlab.nn.OPTIMIZERS` with its default settings (default
        ``Adam(model.parameters(), lr=1e-3)``).
    epochs, batch_size : int
        Passes over the data and samples per step (a last batch of one sample joins the previous one, so that
        batch norm always sees at least two).
    validation_split : float
        Fraction of (X, y), drawn at random with ``seed``, held out for "val_loss" and "val_accuracy".
    validation_data : (X_val, y_val), optional
        An explicit validation set (exclusive with ``validation_split``).
    shuffle : bool
        Reshuffle the training samples every epoch (with ``seed``).
    seed : int or None
        Seeds the split and the shuffling: same seed, same model, same history.
    early_stopping, patience, tol : bool, int, float
        Stop when the validation loss (the training loss without validation) has not gone below its best value
        minus ``tol`` for ``patience`` epochs.
    progress : bool
        Show a Rich progress bar on stderr.
    callbacks : sequence of Callback

    Raises
    ------
    DivergenceError
        When a loss or gradient is NaN or infinite; the parameters (and batch-norm running statistics) are left
        at their last finite values.

    Warns
    -----
    TrainingWarning
        When the last epoch's loss is far above the loss before the first update (``History.ended_worse``).
    """
    X, Y = _check_xy(model, X, y, "training")
    _check_settings(epochs, batch_size, validation_split, validation_data, patience, tol)
    callbacks = list(callbacks or ())
    loss_fn, opt = _loss_and_optimizer(model, loss, optimizer)
    rng = np.random.default_rng(seed)
    X, Y, validation = _validation_set(model, X, Y, validation_split, validation_data, rng)
    history = History()
    if validation is not None:
        history.history.update(val_loss=[], val_accuracy=[])
    epoch_runner = _Epochs(model, GuardedStep(model, loss_fn, opt), X, Y, int(batch_size), shuffle, rng, callbacks)
    stopper = _EarlyStopping(patience, tol) if early_stopping else None

    model.train()
    for cb in callbacks:
        cb.on_train_begin(model)
    bar = _progress_bar(progress, epochs)
    # Overflow and NaN are expected when training diverges: they are detected below and raise DivergenceError.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            for epoch in range(int(epochs)):
                logs = epoch_runner.run(epoch, history)
                if validation is not None:
                    logs["val_loss"], logs["val_accuracy"] = _evaluate(model, loss_fn, *validation)
                for key, v in logs.items():
                    history.history[key].append(v)
                history.epochs = epoch + 1
                if bar is not None:
                    bar.update(bar.task_ids[0], advance=1, description=_describe(epoch, logs))
                stop = any([bool(cb.on_epoch_end(model, epoch, logs)) for cb in callbacks])
                if stopper is not None:
                    stop = stopper.update(logs.get("val_loss", logs["loss"])) or stop
                if stop and epoch + 1 < epochs:
                    history.stopped_early = True
                    break
        finally:
            if bar is not None:
                bar.stop()
    _check_progress(history)
    for cb in callbacks:
        cb.on_train_end(model, history)
    return history


def _check_settings(epochs, batch_size, validation_split, validation_data, patience, tol) -> None:
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"fit(): epochs and batch_size must be ≥ 1, got epochs={epochs}, batch_size={batch_size}")
    if not 0 <= validation_split < 1:
        raise ValueError(f"fit(): validation_split must be in [0, 1), got {validation_split}")
    if validation_split and validation_data is not None:
        raise ValueError("fit(): give validation_split or validation_data, not both")
    if int(patience) < 1 or not tol >= 0:
        raise ValueError(f"fit(): patience must be ≥ 1 and tol ≥ 0, got patience={patience}, tol={tol}")


def _validation_set(model, X, Y, validation_split, validation_data, rng):
    """(X, Y, (X_val, Y_val) or None): a random ``validation_split`` held out of X, or the given set checked."""
    if validation_split:
        n_val = round(validation_split * len(X))
        if not 1 <= n_val < len(X):
            raise ValueError(f"fit(): validation_split={validation_split} leaves no training or validation samples")
        order = rng.permutation(len(X))
        return X[order[n_val:]], Y[order[n_val:]], (X[order[:n_val]], Y[order[:n_val]])
    if validation_data is not None:
        return X, Y, _check_xy(model, *validation_data, "validation")
    return X, Y, None


class _Epochs:
    """One pass over the (reshuffled) training set in mini-batches; a last batch of one joins the one before."""

    def __init__(self, model, guarded_step, X, Y, batch_size, shuffle, rng, callbacks) -> None:
        self.model, self.guarded_step, self.X, self.Y = model, guarded_step, X, Y
        self.shuffle, self.rng = shuffle, rng
        n = len(X)
        starts = list(range(0, n, batch_size))
        if len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        self.bounds = list(zip(starts, [*starts[1:], n], strict=True))
        self.step_callbacks = [cb for cb in callbacks if type(cb).on_step_end is not Callback.on_step_end]

    def run(self, epoch: int, history: History) -> dict[str, float]:
        """Train one epoch; return its mean loss and accuracy (as computed for the updates)."""
        n = len(self.X)
        if self.shuffle:
            order = self.rng.permutation(n)
            Xe, Ye = self.X[order], self.Y[order]
        else:
            Xe, Ye = self.X, self.Y
        positive = Ye > 0.5
        total, correct = 0.0, 0
        for step, (a, b) in enumerate(self.bounds):
            value, logits = self.guarded_step(Xe[a:b], Ye[a:b], epoch, step)
            if epoch == 0 and step == 0:
                history.initial_loss = value  # computed before the first update
            total += value * (b - a)
            correct += np.count_nonzero((logits > 0) == positive[a:b])
            for cb in self.step_callbacks:
                cb.on_step_end(self.model, epoch, step, value)
        return {"loss": total / n, "accuracy": float(correct) / n}


class _EarlyStopping:
    """Stop when the monitored loss has not gone below its best value minus ``tol`` for ``patience`` epochs."""

    def __init__(self, patience: int, tol: float) -> None:
        self.patience, self.tol = patience, tol
        self.best, self.wait = math.inf, 0

    def update(self, monitored: float) -> bool:
        if monitored < self.best - self.tol:
            self.best, self.wait = monitored, 0
            return False
        self.wait += 1
        return self.wait >= self.patience


def _loss_and_optimizer(model: Sequential, loss: Any, optimizer: Any) -> tuple[Loss, Optimizer]:
    from .registry import make_loss, make_optimizer

    loss_fn = BCEWithLogits() if loss is None else make_loss(loss) if isinstance(loss, str) else loss
    if optimizer is None:
        optimizer = Adam(model.parameters(), lr=1e-3)
    elif isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, model.parameters())
    return loss_fn, optimizer


def _check_progress(history: History) -> None:
    initial, final = history.initial_loss, history.history["loss"][-1]
    if ended_worse(initial, final):
        history.ended_worse = True
        warnings.warn(
            TrainingWarning(
                f"training ended worse than it started: loss {final:.3g} after {history.epochs} epochs, "
                f"{initial:.3g} before the first update (the learning rate is probably too large)"
            ),
            stacklevel=3,
        )


def _describe(epoch: int, logs: dict[str, float]) -> str:
    return f"epoch {epoch + 1} " + " ".join(f"{k} {v:.4f}" for k, v in logs.items())


def _progress_bar(progress: bool, epochs: int):
    if not progress:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    bar.add_task("training", total=int(epochs))
    bar.start()
    return bar
