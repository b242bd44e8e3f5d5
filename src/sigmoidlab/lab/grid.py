"""What a sweep is: an :class:`Experiment` (a grid) expands into :class:`RunConfig` s, one per trained network.

A run is identified by a stable id derived from every field of its configuration, so the same grid run twice
names the same files, and a changed setting (more epochs, another learning rate) names new ones.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

from .. import nn
from ..functions import VANISHING_THRESHOLD

# Names of activations, initialisers and optimisers are the engine's (nn.ACTIVATIONS, nn.INITIALIZERS,
# nn.OPTIMIZERS). A config keeps the spelling it was given ("glorot", "he"): it is part of the run id.
# The lab's experiments use two of the engine's optimisers: SGD (with the grid's momentum) and Adam.
OPTIMIZERS = ("sgd", "adam")
DATASETS = ("xor", "moons", "circles", "spiral", "gaussians", "linear", "digits_binary")
# Sanity limits: beyond them a run would not fit in memory or would not end, and is refused before it starts.
MAX_DEPTH = 1000
MAX_WEIGHTS = 10**8
MAX_EPOCHS = 1_000_000


@dataclass(frozen=True)
class Architecture:
    """One line of every figure: an activation, with or without batch norm, and a weight initialisation."""

    activation: str
    batchnorm: bool
    init: str

    @property
    def label(self) -> str:
        """E.g. ``"sigmoid + BN, standard init"``."""
        bn = " + BN" if self.batchnorm else ""
        return f"{self.activation}{bn}, {self.init} init"


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run (and so its id)."""

    architecture: Architecture
    depth: int
    seed: int
    width: int
    dataset: str
    n_samples: int
    noise: float
    test_fraction: float
    optimizer: str
    lr: float
    momentum: float
    epochs: int
    batch_size: int
    dtype: str
    threshold: float
    probe_size: int
    checkpoints: int

    @property
    def run_id(self) -> str:
        """Readable prefix + the first 10 hex digits of the SHA-256 of the canonical JSON of every field."""
        digest = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:10]
        a = self.architecture
        return f"{a.activation}{'-bn' if a.batchnorm else ''}-{a.init}-d{self.depth}-s{self.seed}-{digest}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        values = dict(data)
        values["architecture"] = Architecture(**values["architecture"])
        return cls(**values)


DEFAULT_ARCHITECTURES = (
    Architecture("sigmoid", False, "standard"),
    Architecture("sigmoid", False, "glorot"),
    Architecture("sigmoid", True, "standard"),
    Architecture("tanh", False, "glorot"),
    Architecture("relu", False, "he"),
)


@dataclass(frozen=True)
class Experiment:
    """A grid of runs: every architecture × depth × seed, the other settings shared.

    ``n_samples`` and ``noise`` apply to the 2-D generators; ``digits_binary`` is a fixed data set (1,797 images
    of 64 pixels). The defaults are the demo's sweep: 2-D moons (noise 0.2, 1,500 points, a third held out), 32
    units per hidden layer, SGD with momentum 0.9 and learning rate 0.03 for 50 epochs of batches of 64, in float32.
    Plain SGD (rather than Adam) is deliberate: Adam divides each update by the gradient's own running
    magnitude, which hides a vanishing gradient instead of showing it.
    """

    architectures: tuple[Architecture, ...] = DEFAULT_ARCHITECTURES
    depths: tuple[int, ...] = (1, 2, 4, 8, 16)
    seeds: tuple[int, ...] = (0, 1, 2)
    width: int = 32
    dataset: str = "moons"
    n_samples: int = 1500
    noise: float = 0.2
    test_fraction: float = 1 / 3
    optimizer: str = "sgd"
    lr: float = 0.03
    momentum: float = 0.9
    epochs: int = 50
    batch_size: int = 64
    dtype: str = "float32"
    threshold: float = VANISHING_THRESHOLD
    probe_size: int = 256
    checkpoints: int = 16
    name: str = field(default="depth sweep", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "architectures", tuple(self.architectures))
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        self._validate()

    def _validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        need(len(self.architectures) > 0, "architectures: give at least one")
        for a in self.architectures:
            need(a.activation in nn.ACTIVATIONS, f"activation={a.activation!r}: {nn.ACTIVATIONS.unknown(a.activation)}")
            need(a.init in nn.INITIALIZERS, f"init={a.init!r}: {nn.INITIALIZERS.unknown(a.init)}")
        need(len(set(self.architectures)) == len(self.architectures), "architectures: duplicates given")
        for name, values in (("depths", self.depths), ("seeds", self.seeds)):
            need(len(values) > 0, f"{name}: give at least one")
            need(len(set(values)) == len(values), f"{name}={list(values)}: duplicates given")
        need(all(d >= 1 for d in self.depths), f"depths={list(self.depths)}: every depth must be ≥ 1 hidden layer")
        need(max(self.depths) <= MAX_DEPTH, f"depths={list(self.depths)}: at most {MAX_DEPTH} hidden layers")
        # NumPy and scikit-learn seeds are 32-bit.
        need(all(0 <= s < 2**32 for s in self.seeds), f"seeds={list(self.seeds)}: seeds must be in [0, 2**32 − 1]")
        need(self.width >= 1, f"width={self.width}: must be ≥ 1")
        weights = self.width * self.width * (max(self.depths) - 1) + self.width * 66  # 64 inputs at most
        need(
            weights <= MAX_WEIGHTS,
            f"width={self.width}, depth {max(self.depths)}: about {weights:.2g} weights per network, more than "
            f"{MAX_WEIGHTS:.0e} (each run holds its weights, gradients and optimiser state in memory)",
        )
        need(self.dataset in DATASETS, f"dataset={self.dataset!r}: expected one of {', '.join(DATASETS)}")
        need(self.n_samples >= 20, f"n_samples={self.n_samples}: must be ≥ 20")
        need(self.n_samples <= 10**7, f"n_samples={self.n_samples}: must be ≤ 10**7")
        need(0 <= self.noise < math.inf, f"noise={self.noise}: must be finite and ≥ 0")
        need(0 < self.test_fraction < 1, f"test_fraction={self.test_fraction}: must be in (0, 1)")
        need(self.optimizer in OPTIMIZERS, f"optimizer={self.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
        need(0 < self.lr < math.inf, f"lr={self.lr}: must be finite and > 0")
        need(0 <= self.momentum < 1, f"momentum={self.momentum}: must be in [0, 1)")
        need(1 <= self.epochs <= MAX_EPOCHS, f"epochs={self.epochs}: must be in [1, {MAX_EPOCHS}]")
        need(self.batch_size >= 2, f"batch_size={self.batch_size}: must be ≥ 2 (batch norm needs two samples)")
        need(self.dtype in ("float32", "float64"), f"dtype={self.dtype!r}: expected float32 or float64")
        need(0 < self.threshold <= 0.25, f"threshold={self.threshold}: must be in (0, 0.25], the range of σ'")
        need(self.probe_size >= 2, f"probe_size={self.probe_size}: must be ≥ 2")
        need(1 <= self.checkpoints <= 10_000, f"checkpoints={self.checkpoints}: must be in [1, 10000]")

    @classmethod
    def product(
        cls,
        activations: Sequence[str],
        batchnorm: Sequence[bool],
        inits: Sequence[str],
        **settings,
    ) -> Experiment:
        """The full grid activation × batch norm × init (``sigmoidlab vanish`` builds its sweep this way)."""
        archs = tuple(Architecture(a, bn, i) for a, bn, i in itertools.product(activations, batchnorm, inits))
        return cls(architectures=archs, **settings)

    def runs(self) -> list[RunConfig]:
        """Every run of the grid, architecture-major, then depth, then seed."""
        shared = {f.name: getattr(self, f.name) for f in fields(RunConfig) if hasattr(self, f.name)}
        return [
            RunConfig(architecture=a, depth=d, seed=s, **shared)
            for a, d, s in itertools.product(self.architectures, self.depths, self.seeds)
        ]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Experiment:
        values = dict(data)
        values["architectures"] = tuple(Architecture(**a) for a in values["architectures"])
        return cls(**values)


def quick_experiment() -> Experiment:
    """The ``--quick`` sweep: the same five architectures at depths 1, 2 and 6, one seed, fewer epochs."""
    return Experiment(depths=(1, 2, 6), seeds=(0,), n_samples=600, epochs=12, checkpoints=6, name="quick sweep")


SATURATION_ARCHITECTURES = (
    Architecture("sigmoid", False, "standard"),
    Architecture("sigmoid", False, "glorot"),
    Architecture("tanh", False, "glorot"),
)


def saturation_experiment(quick: bool = False) -> Experiment:
    """Glorot & Bengio's (2010, Figure 2) measurement, scaled down: 4 hidden layers, plain SGD on mini-batches
    of 10, activations followed on fixed examples, sigmoid with the standard init against sigmoid with Glorot's
    init and tanh.

    Their nets had 1,000 units per layer and 10-class image tasks; here 100 units and the 64-pixel digits as a
    binary task (digits 0–4 against 5–9), whose pixels a random first layer does not yet separate. Learning
    rate 0.3 and 20 epochs (2,400 steps) make the effect visible within the demo's budget.
    """
    return Experiment(
        architectures=SATURATION_ARCHITECTURES,
        depths=(4,),
        seeds=(0,) if quick else (0, 1, 2),
        width=100,
        dataset="digits_binary",
        optimizer="sgd",
        lr=0.3,
        momentum=0.0,
        epochs=6 if quick else 20,
        batch_size=10,
        checkpoints=10 if quick else 24,
        name="saturation experiment",
    )
