"""Exact σ and tanh gradients for PyTorch, in every dtype (extra ``[torch]``; nothing else in sigmoidlab imports torch).

    import sigmoidlab.torch as st
    st.sigmoid(x), st.tanh(x), st.log_sigmoid(x), st.silu(x)   # torch's forward values, exact backward
    st.nn.Sigmoid(), st.nn.Tanh(), st.nn.LogSigmoid(), st.nn.SiLU()
    with st.exact_gradients(): ...      # torch.sigmoid / torch.tanh / F.* / nn modules inside use the exact backward
    st.set_fused("auto")                # the default: from 2^20 elements the backward is one torch.compile kernel

torch's autograd rebuilds σ' and tanh' from the rounded output, y·(1−y) and 1 − y², which is exactly 0 from
x = 6.25 and 3.47 in bfloat16 (8.32 and 4.51 in float16, 16.64 and 9.01 in float32). Here the backward is
computed from the input and rounded once: see :mod:`sigmoidlab.torch.functional`.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401  (the real PyTorch: imports are absolute)
except ModuleNotFoundError as exc:
    if exc.name != "torch":
        raise
    raise ImportError("sigmoidlab.torch needs PyTorch: pip install 'sigmoidlab[torch]'") from None

from . import nn
from .functional import log_sigmoid, set_fused, sigmoid, silu, tanh
from .mode import ExactGradients, exact_gradients
from .probe import GradientFlowError, GradientProbe, Report

__all__ = [
    "ExactGradients",
    "GradientFlowError",
    "GradientProbe",
    "Report",
    "exact_gradients",
    "log_sigmoid",
    "nn",
    "set_fused",
    "sigmoid",
    "silu",
    "tanh",
]
