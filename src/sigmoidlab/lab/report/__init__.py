"""The report: the story of the sigmoid told with this package's own numbers, as HTML, Markdown and JSON.

``report.html`` is one self-contained file: figures are inlined as base64 PNG, maths is MathML (rendered by the
browser itself), styles are inline; it loads nothing from the network. Every sentence that states a result is
generated from the parameters and the measured numbers.

- :mod:`.sections`: one function per section, returning blocks (add a section there, in ``REGISTRY``);
- :mod:`.blocks`: the block types (heading, paragraph, table, figure, derivations, verdict, code);
- :mod:`.render`: Markdown and HTML (Jinja2 templates in ``templates/``) renderers, one case per block type;
- :mod:`.build`: runs the experiments and writes the figures, tables, report.md, report.html and results.json.
"""

from ..layout import FIGURES
from .blocks import Block, VerdictKind
from .build import boundary_panels, build_report, make_figures, run, tidy_tables, write_tables
from .render import to_html, to_markdown
from .sections import REGISTRY, SECTIONS, ReportInputs, document

__all__ = [
    "FIGURES",
    "REGISTRY",
    "SECTIONS",
    "Block",
    "ReportInputs",
    "VerdictKind",
    "boundary_panels",
    "build_report",
    "document",
    "make_figures",
    "run",
    "tidy_tables",
    "to_html",
    "to_markdown",
    "write_tables",
]
