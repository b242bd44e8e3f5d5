"""Copy measured tables from ``benchmarks/results/*.md`` into the README, so its figures are never pasted by hand.

A README block between ``<!-- results: NAME.md -->`` and ``<!-- /results -->`` is replaced by the file
``benchmarks/results/NAME.md``, verbatim; ``NAME.md#N`` takes only its N-th table with the bold title above it.
``python tools/readme_tables.py`` rewrites the README;
``--check`` exits 1 and names the stale blocks instead (the test suite runs it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(
    r"(<!-- results: (?P<name>[\w.-]+\.md)(?:#(?P<table>\d+))? -->\n)(?P<body>.*?)(<!-- /results -->)", re.S
)


def section(name: str, table: str | None) -> str:
    """The results file, or its ``table``-th titled table (paragraphs are: title, table, title, table, ...)."""
    text = (RESULTS / name).read_text(encoding="utf-8").rstrip("\n")
    if table is not None:
        n = int(table)
        text = "\n\n".join(text.split("\n\n")[2 * n - 2 : 2 * n])
    return text + "\n"


def render(text: str) -> tuple[str, list[str]]:
    """The README with every block refreshed, and the names of the blocks that changed."""
    stale: list[str] = []

    def fill(match: re.Match) -> str:
        body = section(match["name"], match["table"])
        if body != match["body"]:
            stale.append(match["name"] + (f"#{match['table']}" if match["table"] else ""))
        return match[1] + body + match[5]

    return BLOCK.sub(fill, text), stale


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new, stale = render(text)
    if "--check" in argv:
        for name in stale:
            print(f"README.md: the block of benchmarks/results/{name} is stale: run python tools/readme_tables.py")
        return 1 if stale else 0
    if new != text:
        README.write_text(new, encoding="utf-8")
    print(f"README.md: {len(stale)} block(s) refreshed" + (f" ({', '.join(stale)})" if stale else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
