"""The two renderers of a list of blocks: Markdown (one function per block type, by ``singledispatch``) and HTML
(Jinja2 templates in ``templates/``, autoescaped; one macro per block type, chosen by the block's ``kind``)."""

from __future__ import annotations

import base64
from functools import cache, singledispatch
from pathlib import Path

import jinja2
from markupsafe import Markup

from ... import derive
from .blocks import Block, Code, Derivations, Figure, Heading, Paragraph, Table, Verdict

# --- Markdown -------------------------------------------------------------------------------------------------


@singledispatch
def _md(block: Block, figures: dict[str, Path], out: Path) -> list[str]:
    raise TypeError(f"no Markdown for block {type(block).__name__}")


@_md.register
def _(block: Heading, figures, out) -> list[str]:
    return [f"{'#' * block.level} {block.text}\n"]


@_md.register
def _(block: Paragraph, figures, out) -> list[str]:
    return [f"{block.text}\n"]


@_md.register
def _(block: Code, figures, out) -> list[str]:
    return [f"```\n{block.text}\n```\n"]


@_md.register
def _(block: Table, figures, out) -> list[str]:
    head = ["| " + " | ".join(block.header) + " |", "|" + "---|" * len(block.header)]
    return [*head, *("| " + " | ".join(row) + " |" for row in block.rows), ""]


@_md.register
def _(block: Figure, figures, out) -> list[str]:
    path = figures[block.key].relative_to(out).as_posix()
    return [f"![{block.label}]({path})\n\n*{block.label}*\n"]


@_md.register
def _(block: Derivations, figures, out) -> list[str]:
    return [derive.render("markdown") + "\n"]  # the same verified steps, as $$LaTeX$$


@_md.register
def _(block: Verdict, figures, out) -> list[str]:
    return [f"**{block.verdict.label}.** *{block.claim}* {block.evidence}\n"]


def to_markdown(blocks: list[Block], figures: dict[str, Path], out: Path) -> str:
    """The report as Markdown; figures are linked relative to ``out``."""
    return "\n".join(line for block in blocks for line in _md(block, figures, out))


# --- HTML -----------------------------------------------------------------------------------------------------


def _data_uri(path: Path) -> str:
    """A PNG inlined, so that report.html is one self-contained file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sigmoidlab.lab.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["data_uri"] = _data_uri
    # derive.mathml writes well-formed MathML from SymPy's printer: markup, not text to escape.
    env.filters["mathml"] = lambda expr: Markup(derive.mathml(expr))
    return env


def to_html(blocks: list[Block], figures: dict[str, Path]) -> str:
    """The report as one self-contained HTML page (figures inlined, maths as MathML, styles inline)."""
    title = next(b.text for b in blocks if isinstance(b, Heading) and b.level == 1)
    return _environment().get_template("report.html.j2").render(title=title, blocks=blocks, figures=figures)
