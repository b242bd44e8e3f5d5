"""The implementations the accuracy benchmark compares: sigmoidlab, its backprop form, scipy.special, PyTorch.

Each is a callable on a NumPy array, measured in the array's own dtype (torch included: bfloat16 goes through
float32, which holds it exactly).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from .accuracy import DTYPES, FUNCTIONS


def _torch_implementations() -> dict[str, dict[str, Callable]]:
    import torch
    import torch.nn.functional as F

    torch_dtypes = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16}
    torch_dtypes["bfloat16"] = torch.bfloat16

    def to_torch(x: np.ndarray) -> torch.Tensor:
        # Each dtype as itself; only bfloat16, which torch.from_numpy cannot take, goes through float32 (exact).
        wide = np.ascontiguousarray(x).astype(np.float32 if x.dtype == DTYPES["bfloat16"] else x.dtype)
        return torch.from_numpy(wide).to(torch_dtypes[x.dtype.name])

    def to_numpy(t: torch.Tensor, dtype: np.dtype) -> np.ndarray:
        return t.detach().to(torch.float32 if dtype != np.float64 else torch.float64).numpy().astype(dtype)

    def wrap(f: Callable) -> Callable:
        return lambda x: to_numpy(f(to_torch(x)), x.dtype)

    def autograd(order: int) -> Callable:
        def derivative(x: np.ndarray) -> np.ndarray:
            t = to_torch(x).requires_grad_(True)
            y = torch.sigmoid(t)
            for _ in range(order):
                (y,) = torch.autograd.grad(y, t, torch.ones_like(y), create_graph=True)
            return to_numpy(y, x.dtype)

        return derivative

    return {
        "torch": {
            "sigmoid": wrap(torch.sigmoid),
            "log_sigmoid": wrap(F.logsigmoid),
            "softplus": wrap(F.softplus),
            "logit": wrap(torch.logit),
            "sigmoid_grad": autograd(1),
            "sigmoid_second_grad": autograd(2),
        }
    }


def implementations() -> dict[str, dict[str, Callable]]:
    """Implementation name -> {function name -> callable on a NumPy array}; torch only when installed."""
    import scipy.special as sc

    import sigmoidlab as sl

    def from_output(order: int) -> Callable:
        def derivative(x: np.ndarray) -> np.ndarray:
            y = sc.expit(x)
            return y * (1 - y) if order == 1 else y * (1 - y) * (1 - 2 * y)

        return derivative

    impls = {
        "sigmoidlab": {name: getattr(sl, name) for name in FUNCTIONS},
        "sigmoidlab y·(1−y)": {"sigmoid_grad": lambda x: sl.sigmoid_grad_from_output(sl.sigmoid(x))},
        "scipy.special": {
            "sigmoid": sc.expit,
            "log_sigmoid": sc.log_expit,
            "softplus": sc.softplus,
            "logit": sc.logit,
            "sigmoid_grad": from_output(1),
            "sigmoid_second_grad": from_output(2),
        },
    }
    with contextlib.suppress(ImportError):  # torch is optional
        impls |= _torch_implementations()
    return impls
