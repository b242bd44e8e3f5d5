"""``sigmoidlab eval`` and ``sigmoidlab derive``: the function family and its derivation at the terminal."""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Annotated

import numpy as np
import typer

from ..functions import VANISHING_THRESHOLD
from ._app import app, console, err_console, fail


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


def parse_values(texts: list[str], dtype: np.dtype) -> tuple[np.ndarray, list[str]]:
    """Parse command-line numbers into ``dtype``; return the values and a note for each one rounding changed.

    Each x is rounded to ``dtype`` as NumPy does (``np.float32("1e-50")`` is 0.0, ``np.float32(1e300)`` is inf)
    and the rounded value is evaluated. Where rounding changes the kind of value (a non-zero number becomes 0,
    a normal number becomes subnormal, or a finite number becomes ±inf) the note says so, the same rule for
    underflow and overflow. Text that is not a number is refused.
    """
    import ml_dtypes

    info = ml_dtypes.finfo(dtype)  # also knows NumPy's own float types
    values, notes = [], []
    for text in texts:
        try:
            value, exact = float(text), Decimal(text.strip().replace("_", ""))
        except (ValueError, InvalidOperation):
            fail(f"x={text!r} is not a number")
        with np.errstate(over="ignore", under="ignore"):
            converted = np.asarray(value).astype(dtype)[()]
        rounded = float(converted)
        if exact.is_finite() and math.isinf(rounded):
            biggest = float(info.max)
            notes.append(f"x={text!r} overflows {dtype.name} (largest finite {biggest:.6g}): evaluating {rounded}")
        elif exact.is_finite() and exact != 0 and rounded == 0:
            tiny = float(info.smallest_subnormal)
            notes.append(f"x={text!r} underflows {dtype.name} (smallest non-zero {tiny:.6g}): evaluating {rounded}")
        elif rounded != 0 and abs(rounded) < float(info.smallest_normal):
            notes.append(
                f"x={text!r} is subnormal in {dtype.name} (below {float(info.smallest_normal):.6g}, fewer "
                f"significant bits): evaluating {converted!s}"
            )
        values.append(converted)
    return np.array(values, dtype=dtype), notes


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
    x, notes = parse_values(values, np_dtype)
    for note in notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False, soft_wrap=True)
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
