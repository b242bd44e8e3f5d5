"""``sigmoidlab serve``: the browser playground."""

from __future__ import annotations

import importlib.util
import ipaddress
import socket
from pathlib import Path
from typing import Annotated

import typer

from ._app import app, console, fail

# Escaped: cli.main prints error lines as Rich markup, where a bare [web] is a style tag and vanishes.
WEB_EXTRA = "pip install 'sigmoidlab[web]'"


def _import_web():
    """uvicorn and the app factory, or one line naming what is missing and the ``pip install`` that fixes it.

    The form parser (python-multipart) is only imported by Starlette on the first upload, so it is checked here
    too: without it the server would start and then fail every upload.
    """
    if importlib.util.find_spec("python_multipart") is None and importlib.util.find_spec("multipart") is None:
        fail(f"sigmoidlab serve needs python-multipart, which is not installed: {WEB_EXTRA}")
    try:
        import uvicorn

        from ..web import create_app
    except ModuleNotFoundError as exc:
        missing = (exc.name or "a web dependency").partition(".")[0]
        fail(f"sigmoidlab serve needs {missing}, which is not installed: {WEB_EXTRA}")
    return uvicorn, create_app


def _load_report(path: Path) -> dict:
    """A saved gradient-probe report's data, checked with ``Report.load``, or one line saying what is wrong."""
    import json

    try:
        from ..torch.probe_report import Report
    except ImportError:
        fail(
            "sigmoidlab serve --report reads the report with sigmoidlab.torch, which needs PyTorch: "
            "pip install 'sigmoidlab[torch]'"
        )
    try:
        data = Report.load(path).data
        json.dumps(data, allow_nan=False)  # the page gets strict JSON: NaN/Infinity would fail every request
    except OSError as exc:
        fail(f"--report {path}: cannot read it: {exc.strerror or exc}")
    except RecursionError:
        fail(f"--report {path}: not a gradient-probe report (nested too deeply)")
    except ValueError as exc:  # not JSON, NaN/Infinity, another schema or a newer version
        message = str(exc)
        fail(message if message.startswith(str(path)) else f"--report {path}: not valid JSON: {message}")
    return data


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@app.command("serve")
def serve_command(
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. The default, 127.0.0.1, serves this computer only. --host 0.0.0.0 "
            "exposes the playground to every machine that can reach this one: anyone on the network can open it, "
            "upload CSV files and start training sessions that use this computer's CPU (at most 8 at a time)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).", min=0, max=65535)] = 8000,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default web browser.")] = False,
    report: Annotated[
        Path | None,
        typer.Option(
            help="A gradient-probe report (GradientProbe ... report.save_json) to show at /report: its gradient-flow "
            "meter and a layer × step heatmap of the gradient norms.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Serve the **playground**: train a network in your browser and watch its gradients vanish (or not).

    Pick a data set (or upload a CSV), build a network of up to 8 hidden layers, and watch the decision boundary,
    the loss curves and the gradient-flow meter update live. Training runs on this server. Stop with Ctrl-C.
    """
    import threading
    import webbrowser

    uvicorn, create_app = _import_web()
    report_data = _load_report(report) if report is not None else None

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:  # address in use, or not an address of this machine
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --port or --host")
    sock.listen(128)
    port = sock.getsockname()[1]
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    console.print(f"sigmoidlab playground on [bold]{url}[/]  (Ctrl-C stops it)", highlight=False)
    if report_data is not None:
        url += "report"
        console.print(f"the report {report} on [bold]{url}[/]", highlight=False)
    if not _is_loopback(host):
        console.print(
            f"[yellow]warning:[/] listening on {host}: anyone who can reach this machine can use the playground "
            "and its CPU",
            highlight=False,
        )
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    server = uvicorn.Server(
        uvicorn.Config(create_app(report=report_data), log_level="warning", timeout_graceful_shutdown=2)
    )
    server.run(sockets=[sock])
