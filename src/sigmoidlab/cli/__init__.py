"""The ``sigmoidlab`` command line: eval | derive | plot | train | predict | vanish | demo | bench | serve | probe-demo.

Each command lives in a module of this package and registers itself on the shared Typer app; heavy
imports happen inside the commands so that ``sigmoidlab --help`` stays instant.
"""

from __future__ import annotations

import errno
import importlib
import os
import signal
import sys
import threading

import typer
from rich.markup import escape

from .._atomic import UnsafeOutputError
from ._app import Terminated, UsageError, app, err_console, take_interrupt_message

# Command modules, in the order their commands appear in --help. A module that is missing (an optional
# part not installed) simply contributes no command.
_COMMAND_MODULES = ("functions", "train", "lab", "bench", "serve", "probe")

for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # only our own missing module is tolerated
        if exc.name != f"{__name__}.{_name}":
            raise


def _raise_terminated(signum, frame):
    raise Terminated()


def _interrupt_status(exc: BaseException) -> int:
    err_console.print(escape(take_interrupt_message()), highlight=False, soft_wrap=True)
    return 143 if isinstance(exc, Terminated) else 130


def _invoke(argv: list[str] | None) -> None:
    """Parse and run one command. Typer's own ``main`` is bypassed on purpose: it turns Ctrl-C into a plain
    exit code (losing SIGTERM vs SIGINT and the command's message), so exceptions reach :func:`main` as raised.
    """
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else list(argv)
    with command.make_context("sigmoidlab", args) as ctx:
        command.invoke(ctx)


def _error(message: str, status: int) -> int:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return status


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app and turn user errors into one-line messages.

    Exit status: 0 success, 1 a failure of the environment (a file that cannot be written, memory), 2 bad input,
    130 Ctrl-C, 143 SIGTERM. No traceback is printed for any of these.
    """
    take_interrupt_message()  # a message left by an earlier in-process call is not this command's
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        _invoke(argv)
    except UsageError as exc:
        return _error(str(exc), 2)
    except KeyboardInterrupt as exc:  # Ctrl-C, and Terminated (SIGTERM)
        return _interrupt_status(exc)
    except typer.Exit as exc:  # --help, and commands that exit with a status
        return int(exc.exit_code)
    except (typer.Abort, EOFError):
        return 1
    except typer.TyperException as exc:  # parsing errors: unknown option, bad choice, missing argument
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    except UnsafeOutputError as exc:  # an output path that is a device, a FIFO, a folder, ...
        return _error(str(exc), 2)
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # stdout closed early (`| head`): not an error worth a message
            _silence_stdout()
            return 1
        where = f": {exc.filename}" if exc.filename else ""
        return _error(f"{exc.strerror or exc}{where}", 1)
    except MemoryError:
        return _error("out of memory; try smaller sizes", 1)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
