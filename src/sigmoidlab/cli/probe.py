"""``sigmoidlab probe-demo``: the gradient-flow probe on four PyTorch models, with their reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ._app import app, console, fail, interrupted

TORCH_EXTRA = "pip install 'sigmoidlab[torch]'"  # cli.main escapes error lines for Rich


def _import_demo():
    """sigmoidlab.torch.demo, or one line with the ``pip install`` that brings PyTorch."""
    try:
        from ..torch import demo
    except ImportError as exc:  # sigmoidlab.torch turns a missing torch into an ImportError naming the extra
        if "torch" not in str(exc):
            raise
        fail(f"sigmoidlab probe-demo needs PyTorch, which is not installed: {TORCH_EXTRA}")
    return demo


@app.command("probe-demo")
def probe_demo_command(
    out: Annotated[Path, typer.Option(help="Folder for the reports (<model>.json, <model>.html, summary.json).")],
    quick: Annotated[bool, typer.Option(help="A few epochs per model (seconds), for a smoke test.")] = False,
) -> None:
    """Train four PyTorch models under **GradientProbe** and write their gradient-flow reports.

    The lab's deep sigmoid MLP (found *vanishing*), its ReLU + He twin (healthy), a bfloat16 gated model
    (*rounding_flush*, gone under `exact_gradients()`) and an LSTM on a long-range recall task.
    """
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: exists and is not a folder")
    demo = _import_demo()
    done: list[str] = []

    def progress(name: str) -> None:
        done.append(name)
        console.print(f"training {name} …", highlight=False)

    try:
        summary = demo.run_demo(out, quick=quick, progress=progress)
    except KeyboardInterrupt:
        kept = ", ".join(done[:-1]) or "nothing"
        interrupted(
            f"interrupted while training {done[-1] if done else 'the first model'}; reports kept in {out}: "
            f"{kept}; run the command again to redo them all"
        )
        raise
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    for name, row in summary.items():
        verdict = ", ".join(row["kinds"]) or "healthy"
        mark = {True: "[green]as expected[/]", False: "[red]NOT as expected[/]", None: ""}[row["as_expected"]]
        expected = f" (expected: {row['expected']})" if row["expected"] else ""
        console.print(f"{name}: {verdict}{expected} {mark}  → {out / (name + '.html')}", highlight=False)
