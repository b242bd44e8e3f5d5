"""``exact_gradients()``: fix an existing model's σ and tanh gradients without editing it.

    with sigmoidlab.torch.exact_gradients():
        loss = model(x).sum()     # torch.sigmoid, torch.tanh, F.sigmoid, nn.Sigmoid, ... inside model
    loss.backward()               # their gradients are the exact ones of sigmoidlab.torch

It is a ``torch.overrides.TorchFunctionMode``: every torch function called from Python inside the block passes
through it, and the σ and tanh entries are sent to :mod:`sigmoidlab.torch.functional`. The forward values stay
torch's own, bit for bit; only what autograd records changes, so the block must contain the forward pass (the
backward may run outside it).

Reached: ``torch.sigmoid``, ``torch.special.expit``, ``Tensor.sigmoid``, ``F.sigmoid``, ``nn.Sigmoid``;
``torch.tanh``, ``Tensor.tanh``, ``F.tanh``, ``nn.Tanh``; and the in-place ``sigmoid_``/``tanh_`` when autograd
records them (the input is copied first, since the exact backward needs it). With ``silu=True`` /
``log_sigmoid=True`` also ``F.silu``/``nn.SiLU`` and ``F.logsigmoid``/``nn.LogSigmoid``: torch computes their
first derivatives from the input already, nearly exactly (measured: (log σ)' 2.05 ULP in float32 and not correctly
rounded at 517 bfloat16 inputs; silu' 0 at 17 bfloat16 inputs near x = −90); their second derivatives flush.

Not reached — anything that calls the ATen kernels directly instead of these Python functions:
``nn.LSTM``, ``nn.GRU``, ``nn.RNN(nonlinearity="tanh")`` and their ``*Cell`` versions (one fused op each, on CPU
too: ``torch.lstm``, ``torch.lstm_cell``, ...; cuDNN's on CUDA), ``F.glu``, ``F.mish``, ``F.hardsigmoid``, the
losses that contain a sigmoid (``F.binary_cross_entropy_with_logits``, whose gradient σ(z) − t is accurate
anyway), ``out=`` calls, and code that runs below Python (TorchScript, C++ extensions). A function compiled
with ``torch.compile`` is reached too: Dynamo recompiles it for the mode.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from .functional import apply

_OUT_OF_PLACE = {
    "sigmoid": (torch.sigmoid, torch.Tensor.sigmoid, torch.special.expit),
    "tanh": (torch.tanh, torch.Tensor.tanh),
    "silu": (torch.nn.functional.silu,),
    "log_sigmoid": (torch.nn.functional.logsigmoid,),
}
_IN_PLACE = {
    "sigmoid": (torch.sigmoid_, torch.Tensor.sigmoid_),
    "tanh": (torch.tanh_, torch.Tensor.tanh_),
}


class ExactGradients(TorchFunctionMode):
    """The mode behind :func:`exact_gradients`; ``names`` are the functions it redirects."""

    def __init__(self, names: tuple[str, ...] = ("sigmoid", "tanh")) -> None:
        super().__init__()
        self.names = names
        self._out_of_place = {func: name for name in names for func in _OUT_OF_PLACE[name]}
        self._in_place = {func: name for name in names for func in _IN_PLACE.get(name, ())}

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        x = args[0] if len(args) == 1 else None
        inplace = kwargs.get("inplace", False)  # F.silu(x, inplace=...) is the one keyword handled here
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or set(kwargs) - {"inplace"}:
            return func(*args, **kwargs)  # out= and the like: torch's own function
        name = self._out_of_place.get(func)
        if name is not None:
            return _in_place(name, x, lambda t: func(t, **kwargs)) if inplace else apply(name, x)
        name = self._in_place.get(func)
        if name is not None:
            return _in_place(name, x, func)
        return func(*args, **kwargs)


def _in_place(name: str, x: torch.Tensor, original: Any) -> torch.Tensor:
    """``x.sigmoid_()`` with the exact backward: the result of a copy of x, copied back into x."""
    if not (torch.is_grad_enabled() and x.requires_grad):  # nothing is recorded: torch's in-place op as is
        return original(x)
    return x.copy_(apply(name, x.clone()))


def exact_gradients(*, silu: bool = False, log_sigmoid: bool = False) -> ExactGradients:
    """A context manager under which torch's σ and tanh (and optionally SiLU, log σ) get the exact backward.

    See the module docstring for what it reaches and what it cannot (nn.LSTM/GRU/RNN and their cells are
    single fused ATen ops and keep torch's gradient). Works under ``torch.autocast``, with ``GradScaler``, and
    inside or around ``torch.compile(fullgraph=True)`` without a graph break.
    """
    names = ("sigmoid", "tanh") + ("silu",) * bool(silu) + ("log_sigmoid",) * bool(log_sigmoid)
    return ExactGradients(names)
