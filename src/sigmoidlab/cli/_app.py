"""The Typer application every command module registers on, and the one way the CLI reports bad input."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    name="sigmoidlab",
    help="The logistic sigmoid σ(x) = 1/(1+e^(−x)): exact values, derivations, training and the "
    "vanishing-gradient lab.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # reflow docstring paragraphs in --help
)
# Tables of full-precision numbers need more than the 80 columns Rich assumes when output is piped.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)


class UsageError(Exception):
    """Bad input from the user: reported as one line on stderr, exit status 2, no traceback."""


def fail(message: str) -> NoReturn:
    raise UsageError(message)
