"""``sigmoidlab eval`` and ``sigmoidlab derive``: the function family and its derivation at the terminal."""

from __future__ import annotations

import json
import math
from enum import Enum
from typing import Annotated

import numpy as np
import typer

from ..functions import VANISHING_THRESHOLD
from ._app import app, console, fail


class DType(str, Enum):
    float16 = "float16"
    bfloat16 = "bfloat16"
    float32 = "float32"
    float64 = "float64"


def numpy_dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def parse_values(texts: list[str], dtype: np.dtype) -> np.ndarray:
    """Parse command-line numbers, refusing anything that is not a number or does not fit ``dtype``."""
    values = []
    for text in texts:
        try:
            value = float(text)
        except ValueError:
            fail(f"x={text!r} is not a number")
        explicit_special = text.strip().lower().lstrip("+-") in ("inf", "infinity", "nan")
        with np.errstate(over="ignore"):
            converted = np.asarray(value).astype(dtype)
        if not explicit_special and not np.isfinite(converted.astype(np.float64)):
            fail(f"x={text!r} is out of range for {dtype.name} (largest finite value {_finite_max(dtype):.6g})")
        values.append(converted)
    return np.array(values, dtype=dtype)


def _finite_max(dtype: np.dtype) -> float:
    import ml_dtypes

    return float(ml_dtypes.finfo(dtype).max)  # ml_dtypes.finfo also knows NumPy's own float types


@app.command(
    "eval",
    context_settings={"ignore_unknown_options": True},  # so that negative numbers are values, not options
)
def eval_command(
    values: Annotated[list[str], typer.Argument(help="Values of x, e.g. 0 2 -40 (inf, -inf and nan allowed).")],
    dtype: Annotated[DType, typer.Option(help="Floating-point type to compute in.")] = DType.float64,
    threshold: Annotated[
        float, typer.Option(help="x is in the vanishing-gradient region when σ'(x) is below this.")
    ] = VANISHING_THRESHOLD,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records instead of a table.")] = False,
) -> None:
    """Evaluate σ(x), σ'(x) and log σ(x) exactly, and say whether x lies where gradients vanish.

    σ'(x) is also shown as a percentage of its maximum σ'(0) = 1/4: that fraction is what one sigmoid
    layer passes back of the gradient it receives.
    """
    import sigmoidlab as sl

    if not 0 < threshold <= 0.25:
        fail(f"--threshold={threshold} must lie in (0, 0.25], the range of σ'")
    np_dtype = numpy_dtype(dtype.value)
    x = parse_values(values, np_dtype)
    y, dy, log_y = sl.sigmoid(x), sl.sigmoid_grad(x), sl.log_sigmoid(x)
    records = [
        {
            "x": float(xi),
            "sigmoid": float(yi),
            "sigmoid_grad": float(dyi),
            "grad_percent_of_max": float(dyi) / 0.25 * 100,
            "log_sigmoid": float(li),
            "vanishing": bool(float(dyi) < threshold),
        }
        for xi, yi, dyi, li in zip(x, y, dy, log_y, strict=True)
    ]
    if as_json:
        rows = [{k: _json_number(v) if isinstance(v, float) else v for k, v in r.items()} for r in records]
        print(json.dumps({"dtype": dtype.value, "threshold": threshold, "values": rows}, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"σ(x) = 1/(1+e^(−x)) in {dtype.value}, vanishing where σ'(x) < {threshold:g}")
    for column in ("x", "σ(x)", "σ'(x)", "σ'/max", "log σ(x)", "vanishing?"):
        table.add_column(column, justify="right" if column != "vanishing?" else "center", overflow="fold")
    for xi, yi, dyi, li, r in zip(x, y, dy, log_y, records, strict=True):
        # str() of a NumPy scalar is the shortest decimal that round-trips in its own dtype.
        table.add_row(
            str(xi),
            str(yi),
            str(dyi),
            f"{r['grad_percent_of_max']:.3g}%",
            str(li),
            "[red]yes[/]" if r["vanishing"] else "[green]no[/]",
        )
    console.print(table)


def _json_number(value: float) -> float | str:
    """Strict JSON has no inf or NaN: spell them as strings."""
    return value if math.isfinite(value) else str(value)


class Format(str, Enum):
    text = "text"
    markdown = "markdown"
    latex = "latex"


@app.command("derive")
def derive_command(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
) -> None:
    """Derive σ'(x) = σ(x)(1 − σ(x)) step by step, by the quotient rule and by the chain rule, then σ''(x).

    SymPy checks that every step equals the one before; a step it cannot confirm stops the command with
    an error instead of printing a wrong derivation.
    """
    from sigmoidlab.derive import DerivationError, render

    try:
        text = render(fmt.value)
    except DerivationError as exc:
        fail(str(exc))
    print(text)
