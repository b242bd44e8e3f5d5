r"""σ, tanh, log σ and SiLU with torch's forward and an exact backward, as ``torch.autograd.Function``\ s.

    y = sigmoid(x)      # torch.sigmoid(x), bit for bit
    y.backward(g)       # x.grad = g·σ'(x), σ'(x) = σ(x)·σ(−x) computed from x, rounded once to x's dtype

torch's own backward rebuilds the derivative from the rounded output (y·(1−y), 1 − y²), which is exactly 0 from
x = 6.25 (σ, bfloat16), 8.32 (float16), 16.64 (float32) and x = 3.47 / 4.51 / 9.01 (tanh). Here the backward
is g·f'(x) with f' from :mod:`._formulas`, evaluated in float64 and rounded once (correctly rounded in float16
and bfloat16, within 0.5 + 2^-26 ULP in float32, a few ULP in float64), so it is never 0 where the true value is
representable. The backward is itself an autograd Function whose backward is gg·g·f''(x), equally exact: double
backward (``create_graph=True``, ``gradgradcheck``) works; third and higher orders go through torch's autograd
of those formulas. ``torch.func`` (``vmap``, ``grad``, ``jvp``) and ``torch.compile(fullgraph=True)`` trace it.

Speed: float16/bfloat16 look f'(x) up in a table of all 65,536 correctly rounded values; float32/float64 evaluate
the formulas, a dozen float64 elementwise ops. From 2^20 elements the backward runs as one kernel compiled by
``torch.compile`` (see :func:`set_fused`): the float64 formulas for float32, and for bfloat16 the formulas in
float32 where that kernel was found equal to the table on every input (checked at first use, per device; else
the table); inside a model that is itself compiled, the formulas are fused with the rest of its graph.
"""

from __future__ import annotations

import os
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

import torch

from . import _formulas

_NAMES = ("sigmoid", "tanh", "log_sigmoid", "silu")
_TORCH_FORWARD: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "log_sigmoid": torch.nn.functional.logsigmoid,
    "silu": torch.nn.functional.silu,
}


# ------------------------------------------------------------------------------------------------ evaluation


_HALF = (torch.float16, torch.bfloat16)
_tables: dict[tuple[str, torch.dtype, torch.device], torch.Tensor] = {}
_tables_lock = threading.Lock()


def _all_values(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Every 16-bit pattern as a value of ``dtype``: entry p is the value whose bits are p."""
    bits = torch.arange(1 << 16, dtype=torch.int32, device=device)
    return torch.where(bits >= 1 << 15, bits - (1 << 16), bits).to(torch.int16).view(dtype)  # exact: in range


def _build_table(name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """f'(v) correctly rounded to ``dtype`` for every 16-bit pattern v: entry p holds the value whose bits are p."""
    values = _all_values(dtype, device)
    wide = _formulas.compute_dtype(values)
    return _formulas.round_once(_formulas.DERIVATIVES[name][0](values.to(wide), False), dtype)


def _table(name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    """The table of :func:`_build_table`, built once per device (None while Dynamo traces and it is not built yet)."""
    key = (name, dtype, device)
    table = _tables.get(key)
    if table is None and not torch.compiler.is_compiling():
        with _tables_lock:
            if key not in _tables:
                _tables[key] = _build_table(name, dtype, device)
            table = _tables[key]
    return table


def _times_first(name: str, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """g·f'(x), with f'(x) rounded once to x's dtype; g·f'(x) rounded once for float32 and float64.

    float16/bfloat16: f'(x) is looked up in a table of all 65,536 correctly rounded values (the formulas in
    float64, rounded to odd then to the format: checked against mpmath on every input) and multiplied by g as
    torch multiplies two such tensors (exactly in float32, then rounded). float32/float64: g·f'(x) in float64.
    """
    if x.dtype in _HALF:
        table = _table(name, x.dtype, x.device)
        if table is not None:  # the bits as an index in [0, 65536) (int64: torch's fastest eager indexing)
            return g.to(x.dtype) * table[x.view(torch.int16).long() & 0xFFFF]
    wide = _formulas.compute_dtype(x)
    value = g.to(wide) * _formulas.DERIVATIVES[name][0](x.to(wide), x.dtype == torch.float64)
    return _formulas.round_once(value, x.dtype)


def _times_second(name: str, gg: torch.Tensor, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """gg·g·f''(x), rounded once; differentiable (plain torch ops) when a third order is being recorded."""
    wide = _formulas.compute_dtype(x)
    value = gg.to(wide) * g.to(wide) * _formulas.DERIVATIVES[name][1](x.to(wide), x.dtype == torch.float64)
    if torch.is_grad_enabled() and value.requires_grad:  # round-to-odd is bit twiddling, not differentiable
        return value.to(x.dtype)
    return _formulas.round_once(value, x.dtype)


#: From this many elements the "auto" setting runs the backward as one fused kernel (torch.compile).
FUSE_FROM = 1 << 20
_fused_mode: bool | str = {"0": False, "1": True}.get(os.environ.get("SIGMOIDLAB_TORCH_FUSED", ""), "auto")
_fused_kernels: dict[tuple[str, Callable], Callable[..., torch.Tensor]] = {}
_fused_lock = threading.Lock()


def set_fused(mode: bool | str = True) -> bool | str:
    """When the backward g·f'(x) runs as one kernel compiled by ``torch.compile``; returns the previous mode.

    ``"auto"`` (the default): for tensors of :data:`FUSE_FROM` (2^20) elements or more, where a dozen eager
    float64 ops cost 5–15× torch's own backward and a compile (seconds, once per function and dtype, cached on
    disk by torch) pays for itself within a few steps. ``True``: always; ``False``: never (eager torch ops).
    Where compiling fails (no C++ compiler, an unsupported device) it warns once and stays eager.
    ``SIGMOIDLAB_TORCH_FUSED=0`` or ``=1`` in the environment sets the mode at import. Inside a model that is
    itself compiled with ``torch.compile`` the formulas are fused with the rest of its graph whatever the mode.
    """
    global _fused_mode
    if mode not in (True, False, "auto"):
        raise ValueError(f"set_fused: mode must be True, False or 'auto', got {mode!r}")
    previous, _fused_mode = _fused_mode, mode
    return previous


def _half_arithmetic(name: str, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """g·f'(x) for float16/bfloat16 with f'(x) from the formula in float32, rounded once to x's dtype.

    Used fused only, and only where :func:`_verified_arithmetic` found it equal to the table on all 65,536
    inputs (float32 carries 16 bits more than bfloat16: the rounding lands on the correctly rounded value unless
    f'(x) lies within a few float32 ULP of a midpoint, which the check rules out input by input). A few vector
    operations instead of a gather, which the compiler emits one element at a time.
    """
    wide = _formulas.DERIVATIVES[name][0](x.to(torch.float32), False)
    return g.to(x.dtype) * wide.to(x.dtype)


#: Compiler options of the fused kernels. The table index is masked to [0, 65536): no bounds check needed.
#: ``emulate_precision_casts``: keep the rounding of f'(x) to the input dtype before the product, as eager does.
_OPTIONS = {"assert_indirect_indexing": False, "emulate_precision_casts": True}


def _fused(
    name: str, body: Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor] = _times_first
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``body`` compiled as one kernel, on flat tensors: one compile per dtype, not per shape."""
    key = (name, body)
    with _fused_lock:
        if key not in _fused_kernels:

            def kernel(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
                return body(name, g, x)

            # A code object of its own per kernel: Dynamo caches compiled code per code object, up to 8 entries
            # (recompile_limit), which one shared `kernel` would pass with 4 functions × 2 bodies × 4 dtypes;
            # one kernel alone sees at most its 4 dtypes.
            code = kernel.__code__.replace(co_name=f"sigmoidlab_{name}_{body.__name__}")
            kernel = types.FunctionType(code, kernel.__globals__, code.co_name, None, kernel.__closure__)
            compiled = torch.compile(kernel, dynamic=True, fullgraph=True, options=_OPTIONS)

            def run(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
                # Detached: the kernel is no autograd op, and a requires_grad flag that differs from the first
                # call's (the check at first use, the saved input of a backward) would make Dynamo compile again.
                # 1-d tensors go in as they are: passed as views of themselves (reshape) the same kernel ran at
                # ~60% of its speed at 10^7 elements (torch 2.13, CPU, in repeated runs).
                g, x = g.detach(), x.detach()
                if x.dim() == 1 and g.dim() == 1:
                    return compiled(g, x)
                return compiled(g.reshape(-1), x.reshape(-1)).view(x.shape)

            _fused_kernels[key] = run
        return _fused_kernels[key]


_verified: dict[tuple[str, torch.dtype, torch.device], bool] = {}


def _verified_arithmetic(name: str, dtype: torch.dtype, device: torch.device) -> bool:
    """Whether the fused :func:`_half_arithmetic` equals the table on every input of ``dtype`` on ``device``.

    Checked once per (function, dtype, device) through the very kernel that will run (its exp is the compiler's,
    which may differ from eager torch's). On the x86-64 CPU bfloat16 σ, tanh and log σ pass; SiLU (one input)
    and float16 (6-12 inputs each) do not, and keep the table.
    """
    key = (name, dtype, device)
    if key not in _verified:
        table = _table(name, dtype, device)
        values = _all_values(dtype, device)
        got = _fused(name, _half_arithmetic)(torch.ones_like(values), values)
        _verified[key] = bool(((got == table) | (got.isnan() & table.isnan())).all())
    return _verified[key]


def _first(name: str, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    fuse = _fused_mode is True or (_fused_mode == "auto" and x.numel() >= FUSE_FROM)
    if not fuse or torch.compiler.is_compiling():  # a compiled caller fuses the formulas itself
        return _times_first(name, g, x)
    try:
        # For float16/bfloat16 the check also builds the table eagerly, so that the table's kernel can read it.
        if x.dtype in _HALF and _verified_arithmetic(name, x.dtype, x.device):
            return _fused(name, _half_arithmetic)(g, x)
        return _fused(name)(g, x)
    except Exception as exc:  # whatever the compiler raised: the same formulas, eagerly, from now on
        warnings.warn(
            f"sigmoidlab.torch: the fused backward failed to compile ({type(exc).__name__}: {exc}); "
            "using eager torch ops (set_fused(False) silences this)",
            RuntimeWarning,
            stacklevel=3,
        )
        set_fused(False)
        return _times_first(name, g, x)


# ------------------------------------------------------------------------------------------- autograd classes


def _make_functions(name: str) -> tuple[type[torch.autograd.Function], ...]:
    """(f, f with forward-mode AD, g·f') as autograd Functions for one of :data:`_NAMES`."""

    class Derivative(torch.autograd.Function):
        """g·f'(x); backward: (gg·f'(x), gg·g·f''(x))."""

        generate_vmap_rule = True

        @staticmethod
        def forward(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return _first(name, g, x)

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[torch.Tensor, torch.Tensor], output: torch.Tensor) -> None:
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx: Any, gg: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
            g, x = ctx.saved_tensors
            dg = Derivative.apply(gg, x) if ctx.needs_input_grad[0] else None
            dx = _times_second(name, gg, g, x) if ctx.needs_input_grad[1] else None
            return dg, dx

    class Function(torch.autograd.Function):
        """f(x) as torch computes it; backward g·f'(x) from the input."""

        generate_vmap_rule = True

        @staticmethod
        def forward(x: torch.Tensor) -> torch.Tensor:
            return _TORCH_FORWARD[name](x)

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            if torch.compiler.is_compiling():  # a compiled backward is not differentiated again: the plain formula
                return _times_first(name, g, x)
            return Derivative.apply(g, x)

    class WithJvp(Function):
        """The same with forward-mode AD (torch.func.jvp); Dynamo cannot trace a custom jvp, so not when compiling."""

        @staticmethod
        def jvp(ctx: Any, x_tangent: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return _times_first(name, x_tangent, x)

    stem = "".join(part.title() for part in name.split("_"))
    for cls, suffix in ((Function, "Function"), (WithJvp, "Function"), (Derivative, "DerivativeFunction")):
        cls.__name__ = cls.__qualname__ = stem + suffix
        cls._backward_cls.__name__ = cls._backward_cls.__qualname__ = stem + suffix + "Backward"  # the grad_fn
    return Function, WithJvp, Derivative


_FUNCTIONS = {name: _make_functions(name) for name in _NAMES}


def apply(name: str, x: torch.Tensor) -> torch.Tensor:
    """f(x) with the exact backward (forward-mode AD too, except while Dynamo traces)."""
    plain, with_jvp, _ = _FUNCTIONS[name]
    return (plain if torch.compiler.is_compiling() else with_jvp).apply(x)


def _apply(name: str, x: Any) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"sigmoidlab.torch.{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():  # integers (torch promotes them) and complex numbers: torch's own function
        return _TORCH_FORWARD[name](x)
    return apply(name, x)


# --------------------------------------------------------------------------------------------- public API


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """σ(x) = 1/(1+e^(−x)), as ``torch.sigmoid``; backward g·σ(x)·σ(−x) from x, rounded once."""
    return _apply("sigmoid", x)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x), as ``torch.tanh``; backward g·4/(eˣ+e⁻ˣ)² from x (never 1 − tanh², which cancels), rounded once."""
    return _apply("tanh", x)


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """log σ(x) = −softplus(−x), as ``F.logsigmoid``; backward g·σ(−x), second derivative −σ'(x), rounded once."""
    return _apply("log_sigmoid", x)


def silu(x: torch.Tensor) -> torch.Tensor:
    """silu(x) = x·σ(x), as ``F.silu``; backward g·σ(x)·(1 + x·σ(−x)), second derivative σ'(x)·(2 − x·tanh(x/2)).

    At ±inf the backward gives the limits 1 and 0 (torch's gives NaN); the forward is torch's (NaN at −inf).
    """
    return _apply("silu", x)
