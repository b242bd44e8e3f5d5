"""The report's building blocks: each section returns a list of these, and each renderer (HTML, Markdown) has one
case per block type. A new kind of content is a new dataclass here plus one case in each renderer."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from ...derive import Derivation
from ..layout import FIGURES


class VerdictKind(enum.Enum):
    """A hypothesis' verdict, as :func:`sigmoidlab.lab.analysis.hypotheses` spells it in results.json."""

    SUPPORTED = "supported"
    PARTLY = "partly supported"
    NOT_SUPPORTED = "not supported"
    NOT_TESTED = "not tested"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def css(self) -> str:
        """The HTML class beside ``verdict`` that colours the box (report.css)."""
        return _CSS[self]


_CSS = {
    VerdictKind.SUPPORTED: "supported",
    VerdictKind.PARTLY: "partly",
    VerdictKind.NOT_SUPPORTED: "no",
    VerdictKind.NOT_TESTED: "untested",
}


@dataclass(frozen=True)
class Heading:
    kind: ClassVar[str] = "heading"
    text: str
    level: int = 2

    @property
    def anchor(self) -> str:
        return "".join(ch if ch.isalnum() else "-" for ch in self.text.lower()).strip("-")


@dataclass(frozen=True)
class Paragraph:
    kind: ClassVar[str] = "paragraph"
    text: str


@dataclass(frozen=True)
class Table:
    kind: ClassVar[str] = "table"
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    """One of :data:`~sigmoidlab.lab.layout.FIGURES`; its number is its place in that table."""

    kind: ClassVar[str] = "figure"
    key: str
    caption: str

    @property
    def label(self) -> str:
        return f"Figure {list(FIGURES).index(self.key) + 1}. {self.caption}"

    @property
    def file(self) -> str:
        return FIGURES[self.key]


@dataclass(frozen=True)
class Derivations:
    """SymPy-verified derivations, shown as maths (MathML in HTML, $$LaTeX$$ in Markdown)."""

    kind: ClassVar[str] = "derivations"
    items: tuple[Derivation, ...]


@dataclass(frozen=True)
class Verdict:
    kind: ClassVar[str] = "verdict"
    verdict: VerdictKind
    claim: str
    evidence: str


@dataclass(frozen=True)
class Code:
    kind: ClassVar[str] = "code"
    text: str


Block = Heading | Paragraph | Table | Figure | Derivations | Verdict | Code
