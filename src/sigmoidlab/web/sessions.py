"""Training sessions: one per browser tab, trained server-side by the NumPy engine and streamed as frames.

A :class:`Session` owns a model, its optimiser and its data. While playing, a worker thread (so the event loop
keeps serving other tabs) alternates between training and taking a *frame*, which the event loop publishes to the
session's streams: a JSON snapshot with the losses and accuracies, the decision boundary on a grid, the per-layer
gradient statistics of ``model.stats()``, the weights for the network diagram and its per-unit thumbnails
(:mod:`.thumbnails`). :class:`SessionManager` caps the number of sessions, reaps the idle ones and holds uploaded
data sets.

A frame costs two passes over the data: one observed training-mode forward/backward over the training set (the
meter, its per-unit saturation, and the training loss when the network has no batch norm) and one evaluation-mode
forward over the test set and the boundary grid stacked together; the thumbnails add an evaluation-mode forward
over 16 × 16 points. The parts of the JSON that change slowly (the loss history, the configuration) are
serialised once, not per frame, and the grid's probabilities are printed from a table.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .. import _jsonio, nn
from .._jsonio import finite
from ..functions import sigmoid
from ..nn.features import FeatureMap
from ..nn.losses import SquaredError
from .schema import DEFAULT_THUMBNAILS, Config, RequestError, show
from .thumbnails import Thumbnails, unit_saturation

# Speed 1..10 → optimiser steps per frame; a frame also stops training after its time slice, so at high speed
# the page still gets FRAME_INTERVAL-spaced updates and the fastest setting means "as fast as possible".
STEPS_PER_FRAME = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
DEFAULT_SPEED = 6
FRAME_INTERVAL = 0.08  # seconds between frames while playing (12.5 frames a second)
TRAIN_BUDGET = 0.06  # seconds of training per frame at most: a session playing alone
MIN_TRAIN_BUDGET = 0.002  # ...and at least (one step is always taken)
GRID = 40  # the decision boundary is sent as a GRID × GRID probability matrix
DIAGRAM_UNITS = 16  # the diagram draws at most this many units per layer
HISTORY_POINTS = 400  # loss curves are decimated to stay below this many points
KEEPALIVE = 5.0  # seconds: an idle stream sends a comment, which also detects a closed tab


@dataclass
class Data:
    """Train/test split in the original coordinates, with the standardisation the model sees."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    scaler: nn.Standardizer  # measured on the training set
    extent: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max of the heatmap
    feature_names: list[str]

    def standardize(self, X: np.ndarray) -> np.ndarray:
        return self.scaler.transform(X)

    def points(self) -> dict:
        """The points for the page, sent once per data set rather than in every frame (regression targets, in
        [−1, 1] or about, rounded to 3 decimals)."""

        def targets(y: np.ndarray) -> list:
            return y.tolist() if y.dtype.kind in "iub" else _jsonio.array(y, 3)

        return {
            "extent": list(self.extent),
            "features": self.feature_names,
            "train": {"x": _jsonio.array(self.X_train, 4), "y": targets(self.y_train)},
            "test": {"x": _jsonio.array(self.X_test, 4), "y": targets(self.y_test)},
        }


def build_data(config: Config, upload: tuple[np.ndarray, np.ndarray, list[str]] | None = None) -> Data:
    """Generate (or take the uploaded) data set and split it with the configured test fraction and seed."""
    from sklearn.model_selection import train_test_split

    from .. import datasets

    if config.dataset == "upload":
        if upload is None:
            raise RequestError("the uploaded data set has expired: upload the file again", status=404, field="upload")
        X, y, names = upload
    else:
        X, y = getattr(datasets, config.dataset)(
            n_samples=config.n_samples, noise=config.noise, random_state=config.seed
        )
        names = ["x₁", "x₂"]
    # Stratify when each class has enough members for both sides of the split (regression: no classes).
    stratify = y if y.dtype.kind in "iub" and np.bincount(y).min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=config.test_fraction, random_state=config.seed, stratify=stratify
    )
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-9)
    extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    return Data(X_train, y_train, X_test, y_test, nn.Standardizer.fit(X_train), tuple(map(float, extent)), names)


def build_training(config: Config, seed_offset: int = 0):
    """The model, loss and optimiser a configuration describes.

    The inputs are the configured feature crosses (:class:`~sigmoidlab.nn.features.FeatureMap`). Regression fits
    the raw output by squared error. L1/L2 penalise the weight matrices only, not the biases or batch-norm
    parameters (as TensorFlow Playground does), through the optimiser's ``l1``/``weight_decay`` with ``decay``.
    """
    model = nn.mlp(
        len(config.features),
        hidden=config.hidden,
        activation=list(config.activation),
        batchnorm=config.batchnorm,
        init=config.init,
        dtype=np.float64,
        seed=config.seed + seed_offset,
    )
    penalty = {"l1": "l1", "l2": "weight_decay"}.get(config.regularization)
    options = {penalty: config.regularization_rate, "decay": [d.W for d in model.dense_layers()]} if penalty else {}
    optimizer = nn.make_optimizer(config.optimizer, model.parameters(), lr=config.lr, **options)
    loss = SquaredError() if config.problem == "regression" else nn.make_loss(config.loss)
    return model, loss, optimizer


# "0", "0.001", ..., "1" and "null": the grid's probabilities rounded to 3 decimals, printed by table lookup
# (a tenth of the time json.dumps takes for 1,600 floats; the grid is most of a frame).
_PROBABILITY_TEXT = np.array([*(f"{i / 1000:.3f}".rstrip("0").rstrip(".") for i in range(1001)), "null"])


def _compact(value) -> str:
    """JSON without spaces; NaN and infinity become null (JSON has neither)."""
    return _jsonio.dumps(value, compact=True)


def _probability_json(p: np.ndarray) -> str:
    """A 2-D array of probabilities as a JSON nested list, rounded to 3 decimals; non-finite values are null."""
    index = np.full(p.shape, len(_PROBABILITY_TEXT) - 1, dtype=np.intp)
    finite = np.isfinite(p)
    index[finite] = np.rint(np.clip(p[finite], 0.0, 1.0) * 1000)
    return "[" + ",".join("[" + ",".join(row) + "]" for row in _PROBABILITY_TEXT[index].tolist()) + "]"


class Turns:
    """The sessions of a server take turns to train: one at a time, each for an equal share of a frame interval.

    The engine's small-array steps hold the GIL, so eight sessions training at once spend much of their time
    handing it to one another (benchmarks/results/web_load.md). Taking turns runs each slice uninterrupted, and
    equal shares give every playing session its FRAME_INTERVAL.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held by the session whose turn it is
        self._count = threading.Lock()
        self.playing = 0

    @contextmanager
    def joined(self) -> Iterator[None]:
        with self._count:
            self.playing += 1
        try:
            yield
        finally:
            with self._count:
                self.playing -= 1

    def share(self) -> float:
        """Seconds of training a frame gets when every playing session has its turn once per FRAME_INTERVAL (a turn
        that runs over makes the next frames late, and late frames train less: see ``Session._play``)."""
        return min(TRAIN_BUDGET, FRAME_INTERVAL / max(1, self.playing))


class Session:
    """One tab's training run. Model access is serialised by ``lock``; frames are published on the event loop."""

    def __init__(
        self,
        sid: str,
        config: Config,
        data: Data,
        speed: int,
        executor: ThreadPoolExecutor,
        turns: Turns | None = None,
        thumbnails: str = DEFAULT_THUMBNAILS,
    ) -> None:
        self.id = sid
        self.speed = speed
        self.thumbnails = thumbnails  # what the diagram's units show: "activation", "derivative" or "off"
        self.executor = executor
        self.turns = turns or Turns()
        self.lock = threading.Lock()
        self.subscribers = 0
        self.last_seen = time.monotonic()  # the last request for it, or the last frame a stream delivered
        self.closed = False
        self.frame_json = ""
        self.version = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Future | None = None  # the training thread's play loop
        self._stop = threading.Event()  # tells it to stop (and wakes it from its wait between frames)
        self._overhead = 0.0  # seconds a frame takes besides training (snapshot, queueing), smoothed
        self.data_version = 0
        self.configure(config, data)

    # --- state changes (called with no training task running) -------------------------------------------------

    def configure(self, config: Config, data: Data) -> None:
        """Start over with a (possibly new) configuration and data set: step 0, paused."""
        with self.lock:
            self.config, self.data = config, data
            self.model, self.loss, self.optimizer = build_training(config)
            self._guarded_step = nn.GuardedStep(self.model, self.loss, self.optimizer)
            self._eval_loss = build_training(config)[1]  # a second loss object: evaluating must not touch the first
            self._features = FeatureMap(config.features)
            self._regression = config.problem == "regression"
            self._Xs_train = self._inputs(data.X_train)
            self._Xs_test = self._inputs(data.X_test)
            xs = np.linspace(data.extent[0], data.extent[1], GRID)
            ys = np.linspace(data.extent[2], data.extent[3], GRID)
            gx, gy = np.meshgrid(xs, ys)  # row i is y = ys[i] (bottom first), column j is x = xs[j]
            grid = self._inputs(np.column_stack([gx.ravel(), gy.ravel()]))
            # Without batch norm, training and evaluation mode compute the same function, so the observed pass
            # over the training set also gives its loss; with it, the training set joins the evaluation pass.
            self._same_in_eval = not any(isinstance(layer, nn.BatchNorm1d) for layer in self.model.layers)
            stacked = [self._Xs_test, grid] if self._same_in_eval else [self._Xs_train, self._Xs_test, grid]
            self._eval_X = np.concatenate(stacked)
            self._thumbs = Thumbnails(self._inputs, data.extent)
            self._config_json = _compact(config.to_json())
            self._rng = np.random.default_rng(config.seed)
            self._order = self._rng.permutation(len(data.X_train))
            self._cursor = 0
            self.step = self.epoch = 0
            self.status, self.message = "paused", ""
            self.history: list[list] = []
            self._history_json: list[str] = []  # the points of self.history, serialised once each
            self._history_stride = 1
            self._frames = 0
            self._thumbs_json = ("", "")  # (mode, JSON) of the last thumbnails computed
            self.data_version += 1
            self.frame_json = self._snapshot()

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        """What the model sees of points ``X``: the feature crosses of the standardised coordinates."""
        return self._features(self.data.standardize(X))

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    @property
    def playing(self) -> bool:
        return self._task is not None and not self._task.done()

    async def play(self) -> None:
        if self.status == "diverged":
            raise RequestError(f"{self.message}; reset it or change the configuration", 409)
        if not self.playing:
            self.status = "running"
            self._stop.clear()
            loop = asyncio.get_running_loop()
            self._task = loop.run_in_executor(self.executor, self._play, loop)

    async def pause(self) -> None:
        if self.playing:
            self._stop.set()
            await self._task
            # Only now: the training thread may have set "diverged" meanwhile, which must not become "paused".
            if self.status == "running":
                self.status = "paused"
            await asyncio.get_running_loop().run_in_executor(self.executor, self._advance, 0, 0.0)
            self._publish()  # the last frame said "running"
        self._task = None

    async def step_once(self) -> None:
        """One optimiser step (pausing first), then a frame."""
        await self.pause()
        if self.status == "diverged":
            raise RequestError(f"{self.message}; reset it or change the configuration", 409)
        await asyncio.get_running_loop().run_in_executor(self.executor, self._advance, 1, math.inf)
        self._publish()

    async def show_units(self, thumbnails: str) -> None:
        """Switch the thumbnails' view; a paused session sends a new frame of the same step at once."""
        self.thumbnails = thumbnails
        if not self.playing:
            await asyncio.get_running_loop().run_in_executor(self.executor, self._advance, 0, 0.0)
            self._publish()

    async def reconfigure(self, config: Config, data: Data) -> None:
        await self.pause()
        await asyncio.get_running_loop().run_in_executor(self.executor, self.configure, config, data)
        self._publish()

    async def close(self) -> None:
        await self.pause()
        self.closed = True
        self._publish()

    # --- training (worker thread) ---------------------------------------------------------------------------

    def _play(self, loop: asyncio.AbstractEventLoop) -> None:
        """Train and take frames until paused or diverged, one frame every FRAME_INTERVAL seconds.

        The whole loop runs in the training thread (a round trip through the event loop per frame would wait
        for the GIL several times) and only hands each finished frame to the event loop. Training waits for the
        session's turn; the snapshot does not (it overlaps the next session's turn). Frames are due on a fixed
        schedule: one that ran late (the machine was busy) shortens the next one's training, so the frame rate
        holds on average.
        """
        due = time.perf_counter()
        taken = 0
        with self.turns.joined():
            while self.status == "running" and not self._stop.is_set():
                due += FRAME_INTERVAL
                taken += 1
                with self.lock:
                    with self.turns.lock:
                        # The session's share of the interval, or less if this frame is late; the snapshot and the
                        # last step's overrun come on top.
                        start = time.perf_counter()
                        budget = max(MIN_TRAIN_BUDGET, min(self.turns.share(), due - start - self._overhead))
                        self._train(STEPS_PER_FRAME[self.speed - 1], budget)
                    # Thumbnails every other frame: units change slowly, and their pass is a quarter of a frame.
                    self.frame_json = self._snapshot(fresh_units=taken % 2 == 1)
                end = time.perf_counter()
                loop.call_soon_threadsafe(self._publish)
                self._overhead = 0.7 * self._overhead + 0.3 * max(0.0, end - start - budget)
                due = max(due, end - FRAME_INTERVAL)  # never owe more than one frame: no burst after a stall
                self._stop.wait(max(0.0, due - end))

    def _advance(self, steps: int, budget: float) -> None:
        """Run up to ``steps`` mini-batch steps (fewer if ``budget`` seconds pass), then take a snapshot."""
        with self.lock:
            self._train(steps, budget)
            self.frame_json = self._snapshot()

    def _train(self, steps: int, budget: float) -> None:
        """Up to ``steps`` mini-batch steps, fewer if ``budget`` seconds pass (at least one). Hold ``self.lock``."""
        deadline = time.perf_counter() + budget
        # A diverging run's last finite parameters can still give overflowing outputs that draw nothing, so on
        # divergence the page shows the network as it was when this frame began.
        frame_start = self.optimizer.values.copy()
        n = len(self._order)
        batch = min(self.config.batch_size, n)
        for _ in range(steps):
            if self._cursor >= n:
                self._order = self._rng.permutation(n)
                self._cursor = 0
                self.epoch += 1
            idx = self._order[self._cursor : self._cursor + batch]
            self._cursor += batch
            try:
                with np.errstate(all="ignore"):
                    self._guarded_step(self._Xs_train[idx], self.data.y_train[idx], self.epoch, self.step)
            except nn.DivergenceError as exc:
                np.copyto(self.optimizer.values, frame_start)
                self._diverged(exc.what)
                break
            self.step += 1
            if time.perf_counter() > deadline:
                break

    def _diverged(self, what: str) -> None:
        self.status = "diverged"
        self.message = (
            f"training diverged at epoch {self.epoch}, step {self.step}: the {what} became infinite or NaN "
            f"(learning rate {self.config.lr:g} with {self.config.optimizer} is too large; the network is shown as "
            "it was a frame earlier)"
        )

    def _observed_pass(self) -> tuple[np.ndarray, list[dict], list]:
        """The training-set logits, ``model.stats()`` and the per-unit saturation of the diagram's units after one
        observed forward/backward over the whole set.

        The full set rather than the last mini-batch gives a steady meter. Training mode, as the optimiser sees
        it (batch norm on batch statistics), inside ``nn.evaluating``: looking changes nothing.
        """
        model = self.model
        with nn.evaluating(model, mode="train"), nn.observing(model, threshold=self.config.threshold, outputs=True):
            logits = model.forward(self._Xs_train)
            self._eval_loss.forward(logits, self.data.y_train)
            model.backward(self._eval_loss.backward())
            return logits, model.stats(), unit_saturation(model.outputs(), DIAGRAM_UNITS)

    def _eval_logits(self) -> np.ndarray:
        """Evaluation-mode logits of ``_eval_X`` (test set and grid, and the training set with batch norm)."""
        return self.model.predict_logits(self._eval_X).reshape(-1)

    def _score(self, logits: np.ndarray, y: np.ndarray) -> tuple[float, float | None]:
        """(loss, accuracy); regression has no accuracy (None)."""
        loss = float(self._eval_loss.forward(logits.reshape(-1, 1), y))
        if self._regression:
            return loss, None
        return loss, round(float(np.mean((logits.reshape(-1) > 0) == (y == 1))), 4)

    def _heat(self, logits: np.ndarray) -> np.ndarray:
        """The grid's colour in [0, 1]: P(class 1), or for regression the output mapped from [−1, 1]."""
        if self._regression:
            return (np.clip(logits, -1.0, 1.0) + 1.0) / 2.0
        return sigmoid(logits)

    def _record(self, point: list) -> None:
        """Add a point to the loss history, keeping it under HISTORY_POINTS by halving it when it grows past."""
        if self.history and self.history[-1][0] == self.step:
            return
        if self._frames % self._history_stride == 0:
            self.history.append(point)
            self._history_json.append(_compact(point))
        self._frames += 1
        if len(self.history) > HISTORY_POINTS:  # keep every other point and record half as often from now on
            self.history, self._history_json = self.history[::2], self._history_json[::2]
            self._history_stride *= 2

    def _units_json(self, fresh: bool) -> str:
        """The thumbnails as JSON (``null`` when off); not ``fresh``: the last ones again, if of the same view."""
        mode = self.thumbnails
        if mode != "off" and (fresh or self._thumbs_json[0] != mode):
            units = self._thumbs.frame(self.model, mode, self.config.threshold, DIAGRAM_UNITS)
            self._thumbs_json = (mode, _compact(units))
        return self._thumbs_json[1] if mode != "off" else "null"

    def _snapshot(self, fresh_units: bool = True) -> str:
        """The frame the page draws, as JSON (built in the worker thread, so the event loop only forwards it)."""
        n_train, n_test = len(self._Xs_train), len(self._Xs_test)
        with np.errstate(all="ignore"):
            train_logits, stats, unit_sat = self._observed_pass()
            logits = self._eval_logits()
            if not self._same_in_eval:
                train_logits, logits = logits[:n_train], logits[n_train:]
            train_loss, train_acc = self._score(train_logits, self.data.y_train)
            test_loss, test_acc = self._score(logits[:n_test], self.data.y_test)
            proba = self._heat(logits[n_test:]).reshape(GRID, GRID)
        point = [self.step, finite(train_loss, 6), finite(test_loss, 6), train_acc, test_acc]
        self._record(point)
        history = self._history_json if self.history[-1] == point else [*self._history_json, _compact(point)]
        layers = [
            {
                "layer": s["layer"],
                "activation": s["activation"],
                "units": s["units"],
                "grad_norm": finite(s["weight_grad_norm"], 6),
                "weight_norm": finite(s["weight_norm"], 6),
                "saturation": finite(s["saturation"], 4),
                "preact_std": finite(s["preact_std"], 4),
                "unit_saturation": unit_sat[k] if k < len(unit_sat) else None,  # the diagram's units; output: None
            }
            for k, s in enumerate(stats)
        ]
        weights = [_jsonio.array(d.W.value[:DIAGRAM_UNITS, :DIAGRAM_UNITS], 3) for d in self.model.dense_layers()]
        frame = {
            "status": self.status,
            "message": self.message,
            "step": self.step,
            "epoch": self.epoch,
            "data_version": self.data_version,
            "train_loss": finite(train_loss, 6),
            "test_loss": finite(test_loss, 6),
            "train_accuracy": train_acc,
            "test_accuracy": test_acc,
            "layers": layers,
            "weights": weights,
        }
        # The pre-serialised parts are spliced in: the history and the configuration are not re-encoded.
        history_json, grid_json = "[" + ",".join(history) + "]", _probability_json(proba)
        units = self._units_json(fresh_units)
        return (
            f'{_compact(frame)[:-1]},"history":{history_json},"grid":{grid_json},"thumbnails":{units},'
            f'"config":{self._config_json}}}'
        )

    # --- publishing (event loop) ----------------------------------------------------------------------------

    def _publish(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def frames(self) -> AsyncIterator[tuple[str, str]]:
        """Server-sent events for one subscriber: ``("data", points)`` when the data set changes, then
        ``("frame", json)`` for every new frame, ``("", "")`` as a keepalive, ``("closed", reason)`` at the end."""
        seen = sent_data = -1
        while not self.closed:
            if self.version == seen:
                changed = self._changed
                try:
                    await asyncio.wait_for(changed.wait(), KEEPALIVE)
                except asyncio.TimeoutError:
                    yield "", ""
                continue
            seen = self.version
            if sent_data != self.data_version:
                sent_data = self.data_version
                yield "data", _compact(self.data.points())
            yield "frame", self.frame_json
        yield "closed", _jsonio.dumps({"error": "this session was closed (idle too long, or deleted)"})

    def info(self) -> dict:
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "step": self.step,
            "epoch": self.epoch,
            "speed": self.speed,
            "thumbnails": self.thumbnails,
            "config": self.config.to_json(),
        }


class SessionManager:
    """The live sessions (at most ``max_sessions``), the uploaded data sets, and the training threads.

    A session is idle when nobody has asked about it and none of its streams has delivered a frame for
    ``idle_timeout`` seconds; :meth:`reap` closes those. A tab that stopped reading its stream counts as idle: its
    frames stop being delivered once the connection's buffers are full (keepalives do not count as activity).
    """

    def __init__(
        self,
        max_sessions: int = 8,
        idle_timeout: float = 60.0,
        max_uploads: int = 32,
    ) -> None:
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.max_uploads = max_uploads
        self.sessions: dict[str, Session] = {}
        self._creating = 0  # slots reserved by sessions being built
        self.uploads: OrderedDict[str, tuple[np.ndarray, np.ndarray, list[str]]] = OrderedDict()
        # One thread per playing session (its play loop holds it; the loops take turns to train) and two more
        # for the short jobs: building a session, a single step, a reconfiguration.
        self.executor = ThreadPoolExecutor(max_workers=max_sessions + 2, thread_name_prefix="sigmoidlab-train")
        self.turns = Turns()

    def data_for(self, config: Config) -> Data:
        return build_data(config, self.uploads.get(config.upload) if config.upload else None)

    def _build(self, config: Config, speed: int, thumbnails: str) -> Session:
        sid = secrets.token_urlsafe(12)  # unguessable: on a shared network one tab cannot drive another
        return Session(sid, config, self.data_for(config), speed, self.executor, self.turns, thumbnails)

    async def create(self, config: Config, speed: int = DEFAULT_SPEED, thumbnails: str = DEFAULT_THUMBNAILS) -> Session:
        await self.reap()
        # The check and the reservation run with no await between them, so concurrent requests cannot all pass
        # the check before any of them is counted.
        if len(self.sessions) + self._creating >= self.max_sessions:
            raise RequestError(
                f"the server is at its limit of {self.max_sessions} training sessions; close another tab or try "
                f"again later (idle sessions are closed after {self.idle_timeout:g} s)",
                status=429,
            )
        self._creating += 1
        try:
            loop = asyncio.get_running_loop()
            session = await loop.run_in_executor(self.executor, self._build, config, speed, thumbnails)
        finally:
            self._creating -= 1
        self.sessions[session.id] = session
        return session

    def get(self, sid: str) -> Session:
        session = self.sessions.get(sid)
        if session is None:
            raise RequestError(f"no session {show(sid)} (it may have been closed after being idle)", status=404)
        session.touch()
        return session

    async def delete(self, sid: str) -> None:
        session = self.get(sid)
        del self.sessions[sid]
        await session.close()

    async def reap(self) -> list[str]:
        """Close the sessions that have been idle for ``idle_timeout`` seconds (no request, no frame delivered)."""
        now = time.monotonic()
        idle = [s for s in self.sessions.values() if now - s.last_seen > self.idle_timeout]
        for session in idle:  # all removed before the first await: a concurrent reap sees the rest
            del self.sessions[session.id]
        for session in idle:
            await session.close()
        return [s.id for s in idle]

    def add_upload(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> str:
        token = secrets.token_urlsafe(12)
        self.uploads[token] = (X, y, names)
        while len(self.uploads) > self.max_uploads:  # oldest first: memory stays bounded
            self.uploads.popitem(last=False)
        return token

    async def shutdown(self) -> None:
        while self.sessions:
            _, session = self.sessions.popitem()
            await session.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
