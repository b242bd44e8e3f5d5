"""The gradient-probe demo (``sigmoidlab probe-demo``): four PyTorch models, their reports, and the verdicts.

1. ``sigmoid_mlp`` — the lab's deep sigmoid MLP (:mod:`sigmoidlab.lab` defaults: 8 hidden layers of 32 sigmoid
   units, the "standard" init U[±1/√n], moons, SGD with momentum 0.9 at lr 0.03, batches of 64), with the very
   weights ``sigmoidlab.nn.mlp`` draws for the lab's seed. Expected: ``vanishing``.
2. ``relu_he_mlp`` — its twin with ReLU and He init. Expected: healthy.
3. ``gated_bf16`` / ``gated_bf16_exact`` — a gated MLP, ``tanh(value(x)) · σ(gate(x))``, under
   ``torch.autocast("cpu", dtype=torch.bfloat16)``; its gates start open (bias 7, as one opens an LSTM's forget
   gate), where torch's bfloat16 σ' is 0. Expected: ``rounding_flush``, gone when the forward runs inside
   :func:`sigmoidlab.torch.exact_gradients`.
4. ``lstm_recall`` — an ``nn.LSTM`` that must output the sign of the first of T noise inputs (a long-range
   dependency). Reported as found (its gates are inside one fused op: only its parameters are measured).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..lab.grid import Architecture, Experiment, RunConfig
from ..lab.runner import build_model, load_data
from . import exact_gradients
from .probe import GradientProbe, Report

F = torch.nn.functional
EXPECTED = {
    "sigmoid_mlp": "vanishing",
    "relu_he_mlp": "healthy",
    "gated_bf16": "rounding_flush",
    "gated_bf16_exact": "no rounding_flush",
    "lstm_recall": None,
}


def lab_config(activation: str = "sigmoid", init: str = "standard", depth: int = 8, epochs: int = 50) -> RunConfig:
    """The lab's run configuration for one architecture (its defaults otherwise: moons, width 32, SGD 0.03)."""
    experiment = Experiment(architectures=(Architecture(activation, False, init),), depths=(depth,), seeds=(0,))
    config = experiment.runs()[0]
    return RunConfig.from_dict({**config.to_dict(), "epochs": epochs})


def torch_twin(lab_model) -> torch.nn.Sequential:
    """A ``torch.nn.Sequential`` with the lab model's layers and its very weights (W transposed: torch stores
    (out, in)), in the lab model's dtype."""
    from .. import nn

    modules: list[torch.nn.Module] = []
    acts = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    dtype = getattr(torch, str(lab_model.dtype))
    for layer in lab_model.layers:
        if isinstance(layer, nn.Dense):
            linear = torch.nn.Linear(layer.in_features, layer.out_features, dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.W.value.T)))
                linear.bias.copy_(torch.from_numpy(layer.b.value.copy()))
            modules.append(linear)
        else:
            modules.append(acts[layer.kind]())
    return torch.nn.Sequential(*modules)


def lab_setup(activation: str, init: str, epochs: int) -> tuple[RunConfig, torch.nn.Sequential, np.ndarray, np.ndarray]:
    config = lab_config(activation, init, epochs=epochs)
    X, _, y, _ = load_data(config)
    model = torch_twin(build_model(config, X.shape[1]))
    return config, model, X.astype(np.float32), y.astype(np.float32)


def batches(n: int, batch_size: int, epochs: int, seed: int = 0):
    """Shuffled index batches, epoch after epoch."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(n)
        for i in range(0, n, batch_size):
            yield torch.from_numpy(order[i : i + batch_size])


def train_lab_mlp(activation: str, init: str, epochs: int, every: int) -> Report:
    config, model, X, y = lab_setup(activation, init, epochs)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    with GradientProbe(model, optimizer=opt, every=every) as probe:
        for idx in batches(len(X), config.batch_size, epochs, config.seed):
            loss = F.binary_cross_entropy_with_logits(model(Xt[idx]).squeeze(1), yt[idx])
            loss.backward()
            opt.step()
            opt.zero_grad()
        return probe.report()


class GatedMLP(torch.nn.Module):
    """out(tanh(value(x)) · σ(gate(x))), the gate a functional ``torch.sigmoid`` call; gates start open."""

    def __init__(self, n_in: int = 2, width: int = 64, gate_bias: float = 7.0, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.value, self.gate, self.out = (
            torch.nn.Linear(n_in, width),
            torch.nn.Linear(n_in, width),
            torch.nn.Linear(width, 1),
        )
        with torch.no_grad():
            self.gate.bias.fill_(gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.value(x)) * torch.sigmoid(self.gate(x)))


def train_gated(exact: bool, epochs: int, every: int) -> Report:
    _, _, X, y = lab_setup("sigmoid", "standard", epochs)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    model = GatedMLP()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    with GradientProbe(model, optimizer=opt, every=every) as probe:
        for idx in batches(len(X), 64, epochs):
            with exact_gradients() if exact else contextlib.nullcontext(), torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(Xt[idx]).squeeze(1).float()
            F.binary_cross_entropy_with_logits(logits, yt[idx]).backward()
            opt.step()
            opt.zero_grad()
        return probe.report()


class Recall(torch.nn.Module):
    """An LSTM reading T scalars; the head sees its last hidden state."""

    def __init__(self, hidden: int = 32, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.lstm = torch.nn.LSTM(1, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def train_lstm(length: int, steps: int, every: int) -> Report:
    """Target: the sign of the first of ``length`` N(0, 1) inputs; Adam lr 3e-3, batches of 64."""
    gen = torch.Generator().manual_seed(0)
    model = Recall()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    with GradientProbe(model, optimizer=opt, every=every) as probe:
        for _ in range(steps):
            x = torch.randn(64, length, 1, generator=gen)
            F.binary_cross_entropy_with_logits(model(x).squeeze(1), (x[:, 0, 0] > 0).float()).backward()
            opt.step()
            opt.zero_grad()
        return probe.report()


def run_demo(out: str | os.PathLike, quick: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """Train the four models, write ``<name>.json`` and ``<name>.html`` into ``out``; return name → summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    epochs, every = (4, 2) if quick else (50, 10)
    jobs = {
        "sigmoid_mlp": lambda: train_lab_mlp("sigmoid", "standard", epochs, every),
        "relu_he_mlp": lambda: train_lab_mlp("relu", "he", epochs, every),
        "gated_bf16": lambda: train_gated(False, epochs, every),
        "gated_bf16_exact": lambda: train_gated(True, epochs, every),
        "lstm_recall": lambda: train_lstm(20 if quick else 40, 20 if quick else 250, every),
    }
    summary = {}
    for name, job in jobs.items():
        if progress:
            progress(name)
        report = job()
        report.save_json(out / f"{name}.json")
        report.save_html(out / f"{name}.html")
        summary[name] = {"kinds": report.kinds, "expected": EXPECTED[name], "as_expected": _as_expected(name, report)}
    return summary


def _as_expected(name: str, report: Report) -> bool | None:
    expected = EXPECTED[name]
    if expected is None:
        return None
    if expected == "healthy":
        return report.healthy
    if expected.startswith("no "):
        return expected[3:] not in report.kinds
    return expected in report.kinds
