"""The ``sigmoidlab`` command line: eval | derive | plot | train | predict | vanish | demo | bench | serve.

Each command lives in a module of this package and registers itself on the shared Typer app; heavy
imports happen inside the commands so that ``sigmoidlab --help`` stays instant.
"""

from __future__ import annotations

import importlib

import typer

from ._app import UsageError, app, err_console

# Command modules, in the order their commands appear in --help. A module that is missing (an optional
# part not installed) simply contributes no command.
_COMMAND_MODULES = ("functions", "train", "lab", "bench", "serve")

for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # only our own missing module is tolerated
        if exc.name != f"{__name__}.{_name}":
            raise


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app and turn user errors into one-line messages."""
    try:
        app(args=argv, prog_name="sigmoidlab", standalone_mode=False)
    except UsageError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except SystemExit as exc:
        return int(exc.code or 0)
    except typer.Abort:
        return 1
    except typer.TyperException as exc:  # parsing errors: unknown option, bad choice, missing argument
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    return 0
