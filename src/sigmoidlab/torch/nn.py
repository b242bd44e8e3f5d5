"""Drop-in modules: ``torch.nn.Sigmoid``, ``Tanh``, ``LogSigmoid`` and ``SiLU`` with the exact backward.

Each subclasses the torch module it replaces (``isinstance(m, torch.nn.Sigmoid)`` still holds, ``repr`` and
``state_dict`` are the same) and only overrides ``forward`` with :mod:`sigmoidlab.torch.functional`.
"""

from __future__ import annotations

import torch

from . import functional


class Sigmoid(torch.nn.Sigmoid):
    """σ(x) = 1/(1+e^(−x)); backward g·σ(x)·σ(−x) from the input."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return functional.sigmoid(input)


class Tanh(torch.nn.Tanh):
    """tanh(x); backward g·4/(eˣ+e⁻ˣ)² from the input."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return functional.tanh(input)


class LogSigmoid(torch.nn.LogSigmoid):
    """log σ(x); backward g·σ(−x), second derivative −σ'(x)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return functional.log_sigmoid(input)


class SiLU(torch.nn.SiLU):
    """x·σ(x); backward g·σ(x)·(1 + x·σ(−x)) from the input.

    ``inplace=True`` is accepted as by ``torch.nn.SiLU``: the result is computed from a copy of the input (the
    exact backward needs it) and written back into the input when autograd records the call.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.inplace:
            return functional.silu(input)
        if not (torch.is_grad_enabled() and input.requires_grad):
            return torch.nn.functional.silu(input, inplace=True)
        return input.copy_(functional.silu(input.clone()))


__all__ = ["LogSigmoid", "SiLU", "Sigmoid", "Tanh"]
