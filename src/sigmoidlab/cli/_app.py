"""The Typer application every command module registers on, and the one way the CLI reports bad input.

Errors: a command calls ``fail("one line naming the argument and value")``; ``cli.main`` prints it and exits 2.
Interrupts: Ctrl-C raises ``KeyboardInterrupt`` and SIGTERM raises ``Terminated`` (a subclass, installed by
``cli.main``); a command that has something to say about what it kept catches ``KeyboardInterrupt``, cleans up,
calls ``interrupted("what was kept; how to resume")`` and re-raises. ``cli.main`` exits 130 (SIGINT) or 143
(SIGTERM) after printing that line, or plain "interrupted".
"""

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


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by the SIGTERM handler ``cli.main`` installs; exit status 143."""


def fail(message: str) -> NoReturn:
    raise UsageError(message)


_interrupt_message: list[str] = []


def interrupted(message: str) -> None:
    """Say what an interrupted command kept (and how to resume); ``cli.main`` prints it on exit 130/143."""
    _interrupt_message[:] = [message]


def take_interrupt_message() -> str:
    message = _interrupt_message[0] if _interrupt_message else "interrupted"
    _interrupt_message.clear()
    return message
