"""The record of one run, typed: what :func:`.runner.run_one` returns and ``OUT/runs/<run_id>.json`` holds.

Schema (version :data:`SCHEMA_VERSION`; JSON, NaN and infinity written as null)::

    format      int     3 (2: the same layout, written before the schema was typed; read as well)
    run_id      str     RunConfig.run_id
    config      object  RunConfig.to_dict(): architecture {activation, batchnorm, init}, depth, seed, width, …
    host        str     the machine that trained it (absent for a run whose worker was lost)
    status      str     "ok" or "failed"
    error       str?    "ExceptionType: message" of a failed run, null when ok
    traceback   str     last lines of the traceback (failed runs only)
    final       object  ok runs only: test_accuracy, train_accuracy, chance_accuracy (majority-class rate of the
                        test set), steps (optimiser steps taken), diverged (the DivergenceError's message or null)
    curves      object  ok runs only: per epoch, lists epoch (1-based), loss, accuracy, test_loss, test_accuracy
    layers      list    ok runs only: one row per Dense layer per checkpoint step (see :class:`LayerRow`)
    seconds     float?  wall time of the run, null for a lost run

A row (:class:`LayerRow`) holds step, epoch and probe_loss of the checkpoint, then the engine's statistics of the
layer (:meth:`sigmoidlab.nn.Sequential.stats`: layer, activation — "output" for the last layer — units, weight_norm,
weight_grad_norm, bias_grad_norm, preact_mean, preact_std, act_mean, act_std, saturation), and for hidden layers
only act_p02, act_p98 and half_slope (see :mod:`.runner`). A value the engine does not record is null.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .grid import Architecture, RunConfig

SCHEMA_VERSION = 3
READABLE_VERSIONS = (2, 3)  # format 2 has the same layout: files written before the schema was typed resume
_SPREAD = ("act_p02", "act_p98", "half_slope")  # present in hidden rows only


@dataclass(frozen=True)
class LayerRow:
    """One Dense layer at one checkpoint: the probe pass's statistics (None where not recorded)."""

    step: int
    epoch: int
    probe_loss: float | None
    layer: int
    activation: str
    units: int
    weight_norm: float | None
    weight_grad_norm: float | None
    bias_grad_norm: float | None
    preact_mean: float | None
    preact_std: float | None
    act_mean: float | None
    act_std: float | None
    saturation: float | None
    act_p02: float | None = None
    act_p98: float | None = None
    half_slope: float | None = None

    @property
    def hidden(self) -> bool:
        return self.activation != "output"

    def to_json(self) -> dict:
        row = asdict(self)
        return row if self.hidden else {k: v for k, v in row.items() if k not in _SPREAD}


@dataclass(frozen=True)
class Curves:
    """Per epoch (epoch counted from 1): training loss and accuracy, test loss and accuracy."""

    epoch: tuple[int, ...]
    loss: tuple[float | None, ...]
    accuracy: tuple[float | None, ...]
    test_loss: tuple[float | None, ...]
    test_accuracy: tuple[float | None, ...]

    def to_json(self) -> dict:
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Final:
    """The trained network: test and training accuracy, the majority-class rate, steps taken, divergence."""

    test_accuracy: float
    train_accuracy: float
    chance_accuracy: float
    steps: int
    diverged: str | None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RunRecord:
    """One run: its configuration, whether it finished, and (if it did) what was measured."""

    run_id: str
    config: RunConfig
    status: str
    error: str | None = None
    seconds: float | None = None
    host: str | None = None
    traceback: str | None = None
    final: Final | None = None
    curves: Curves | None = None
    layers: tuple[LayerRow, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def architecture(self) -> Architecture:
        return self.config.architecture

    def hidden_rows(self, step: int) -> list[LayerRow]:
        """The hidden layers' rows (output layer excluded) at one step, input first."""
        return sorted((r for r in self.layers if r.step == step and r.hidden), key=lambda r: r.layer)

    def to_json(self) -> dict:
        """The record as JSON data (format :data:`SCHEMA_VERSION`), in the order of the schema."""
        out: dict = {"format": SCHEMA_VERSION, "run_id": self.run_id, "config": self.config.to_dict()}
        if self.host is not None:
            out["host"] = self.host
        out.update(status=self.status, error=self.error)
        if self.traceback is not None:
            out["traceback"] = self.traceback
        if self.final is not None:
            out.update(final=self.final.to_json(), curves=self.curves.to_json())
            out["layers"] = [r.to_json() for r in self.layers]
        out["seconds"] = self.seconds
        return out

    @classmethod
    def from_json(cls, data: object) -> RunRecord:
        """A record from JSON data of format 2 or 3; ValueError naming what is wrong otherwise."""
        if not isinstance(data, dict):
            raise ValueError(f"run record: expected an object, got {type(data).__name__}")
        if data.get("format") not in READABLE_VERSIONS:
            raise ValueError(f"run record: format {data.get('format')!r} is not one of {READABLE_VERSIONS}")
        try:
            has_results = data["status"] == "ok"
            return cls(
                run_id=data["run_id"],
                config=RunConfig.from_dict(data["config"]),
                status=data["status"],
                error=data.get("error"),
                seconds=data.get("seconds"),
                host=data.get("host"),
                traceback=data.get("traceback"),
                final=Final(**data["final"]) if has_results else None,
                curves=Curves(**{k: tuple(v) for k, v in data["curves"].items()}) if has_results else None,
                layers=tuple(LayerRow(**row) for row in data["layers"]) if has_results else (),
            )
        except KeyError as exc:
            raise ValueError(f"run record {data.get('run_id', '?')}: missing field {exc}") from None
        except TypeError as exc:
            raise ValueError(f"run record {data.get('run_id', '?')}: {exc}") from None
