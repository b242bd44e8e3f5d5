"""The playground's Starlette application: the page, its JSON API and the training streams.

=======  ==================================  ==========================================================
method   path                                what
=======  ==================================  ==========================================================
GET      ``/``                               the page (``static/index.html``; its state lives in the URL)
GET      ``/static/...``                     ``app.js`` and the ES modules it imports, ``app.css``
GET      ``/api/options``                    names, labels, bounds, defaults, presets: the page's controls
GET      ``/api/sigmoid?x=&threshold=``      σ(x), σ'(x), σ''(x), the vanishing region, a curve to draw
POST     ``/api/uploads``                    a CSV (multipart field ``file``, optional ``target``) → token
POST     ``/api/sessions``                   a configuration (+ ``speed``, ``thumbnails``) → a new session
GET      ``/api/sessions/{id}``              the session's configuration and status
PUT      ``/api/sessions/{id}``              a new configuration: start over with it
POST     ``/api/sessions/{id}/control``      ``{"action": "play"|"pause"|"step"|"reset"|"speed"|"thumbnails"}``
GET      ``/api/sessions/{id}/stream``       Server-Sent Events: ``data``, ``frame``, ``closed``
DELETE   ``/api/sessions/{id}``              close the session
GET      ``/report``                         a saved gradient-probe report's page (``static/report.html``)
GET      ``/api/report``                     the report ``sigmoidlab serve --report`` loaded (404 when none)
=======  ==================================  ==========================================================

Every error is JSON ``{"error": message, "field": name}`` with a 4xx status (``field`` when one field is at fault;
a 500 only for a bug, without its traceback); every response carries the security headers. Request bodies are
limited while they stream in (:class:`BodyLimit`): 64 KiB of JSON, or one CSV upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import schema
from .schema import RequestError, clip
from .sessions import DEFAULT_SPEED, SessionManager

STATIC = Path(__file__).parent / "static"
MAX_JSON_BYTES = 64 * 1024
MULTIPART_OVERHEAD = 16 * 1024  # boundaries and part headers around a file of MAX_UPLOAD_BYTES
UPLOAD_PATH = "/api/uploads"
log = logging.getLogger("sigmoidlab.web")

SECURITY_HEADERS = [
    # Only the page's own files: no inline script or style, no CDN, no framing, no plugins.
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware (it leaves streaming responses streaming) adding SECURITY_HEADERS to every response.

    It is also the last resort for errors: an exception that escapes the app before the response has started
    becomes a JSON 500 (with these headers; the traceback goes to the server's log, not to the client).
    Starlette's own handler for that case answers in plain text from outside every middleware.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:  # the client left while sending its body: nobody to answer
            return
        except Exception:
            log.exception("unexpected error answering %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # too late to answer: the server closes the connection
            response = _error("internal error: the server could not answer this request (see its log)", 500)
            await response(scope, receive, send_with_headers)


class _BodyTooLarge(Exception):
    """Raised by :class:`BodyLimit`'s ``receive`` once a body passes its limit; BodyLimit answers 413."""


class BodyLimit:
    """Pure ASGI middleware: one limit on request bodies for the whole server, enforced while they stream in.

    A declared ``Content-Length`` over the limit is refused before any of the body is read. Otherwise the bytes
    of the ``http.request`` messages are counted as the app reads them (a chunked body has no length to check),
    and the moment they pass the limit the app's read fails and the client gets a JSON 413, so at most
    ``limit`` bytes are ever held in memory or spooled to disk. The 413 closes the connection
    (``connection: close``), which stops a client still sending.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await self._refuse(limit, scope, receive, send)
            return
        received, started = 0, False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(limit, scope, receive, send)

    @staticmethod
    async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == UPLOAD_PATH:
            message, field = f"the upload is larger than {schema.MAX_UPLOAD_BYTES:,} bytes", "file"
        else:
            message, field = f"the request body is larger than {limit:,} bytes", None
        await _error(message, 413, field, headers={"connection": "close"})(scope, receive, send)


def _body_limit(path: str) -> int:
    return schema.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD if path == UPLOAD_PATH else MAX_JSON_BYTES


def _error(message: str, status: int, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store", **(headers or {})})


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return _error(str(exc), exc.status, exc.field)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.detail, exc.status_code, headers=exc.headers)  # a 405 keeps its Allow header


async def _json_body(request: Request) -> Any:
    """The request's JSON (BodyLimit has already bounded its size)."""
    body = await request.body()
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestError("the request body is nested too deeply", status=400) from None
    except ValueError as exc:  # not JSON, not UTF-8, or an integer of more than 4,300 digits
        raise RequestError(f"the request body is not valid JSON: {clip(str(exc), 120)}", status=400) from None


def _manager(request: Request) -> SessionManager:
    return request.app.state.manager


# --- endpoints -----------------------------------------------------------------------------------------------


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


async def options(request: Request) -> Response:
    idle = _manager(request).idle_timeout
    has_report = request.app.state.report is not None
    return JSONResponse(
        {**schema.options(), "default_speed": DEFAULT_SPEED, "idle_timeout": idle, "report": has_report}
    )


async def report_page(request: Request) -> Response:
    return FileResponse(STATIC / "report.html", headers={"cache-control": "no-cache"})


async def report_data(request: Request) -> Response:
    """The loaded report, as saved (the CLI validated it with ``Report.load`` before the server started)."""
    report = request.app.state.report
    if report is None:
        raise RequestError("no report loaded: start the server with sigmoidlab serve --report FILE", status=404)
    return JSONResponse(report, headers={"cache-control": "no-store"})


async def sigmoid_values(request: Request) -> Response:
    """σ and its derivatives at x, where the vanishing region begins for the threshold, and a curve to draw.

    The region is |x| > x*, where σ'(x*) = t: σ(x*) = (1 + √(1 − 4t))/2, so x* = logit((1 + √(1 − 4t))/2).
    """
    import numpy as np

    import sigmoidlab as sl

    query = schema.parse_query(request.query_params)
    x, t = query.x, query.threshold
    edge = float(sl.logit((1 + math.sqrt(1 - 4 * t)) / 2))
    curve = np.linspace(-10.0, 10.0, 201)
    return JSONResponse(
        {
            "x": x,
            "sigmoid": float(sl.sigmoid(x)),
            "sigmoid_grad": float(sl.sigmoid_grad(x)),
            # What backprop usually computes, y·(1−y) from the output: it flushes to 0 for x ≳ 37.
            "sigmoid_grad_from_output": float(sl.sigmoid_grad_from_output(sl.sigmoid(x))),
            "sigmoid_second_grad": float(sl.sigmoid_second_grad(x)),
            "threshold": t,
            "vanishing_edge": edge,
            "vanishing": bool(abs(x) > edge),
            "curve": {
                "x": curve.round(2).tolist(),
                "sigmoid": sl.sigmoid(curve).round(5).tolist(),
                "sigmoid_grad": sl.sigmoid_grad(curve).round(6).tolist(),
            },
        }
    )


async def upload(request: Request) -> Response:
    """A CSV upload. BodyLimit bounds the whole request, so the form parser never spools more than that."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise RequestError("upload the CSV as multipart/form-data with a field named 'file'", status=415)
    async with request.form(max_files=1, max_fields=4) as form:
        file = form.get("file")
        if file is None or isinstance(file, str):
            raise RequestError("no file: send the CSV in a multipart field named 'file'", status=400, field="file")
        content = await file.read(schema.MAX_UPLOAD_BYTES + 1)
        target = form.get("target") or None
        if target is not None and not isinstance(target, str):
            raise RequestError("the field 'target' must be a column name, not a file", status=400, field="target")
        filename = clip(file.filename or "upload.csv", 80)
    loop = asyncio.get_running_loop()
    X, y, names = await loop.run_in_executor(None, schema.parse_upload, content, filename, target)
    token = _manager(request).add_upload(X, y, names)
    return JSONResponse({"upload": token, "rows": len(X), "features": names, "classes": [0, 1]}, status_code=201)


async def create_session(request: Request) -> Response:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise RequestError("the configuration must be a JSON object", status=400)
    speed = schema.parse_speed(body.pop("speed", DEFAULT_SPEED))
    thumbnails = schema.parse_thumbnails(body.pop("thumbnails", schema.DEFAULT_THUMBNAILS))
    config = schema.parse_config(body)
    session = await _manager(request).create(config, speed, thumbnails)
    return JSONResponse(session.info(), status_code=201)


async def session_info(request: Request) -> Response:
    return JSONResponse(_manager(request).get(request.path_params["sid"]).info())


async def reconfigure(request: Request) -> Response:
    manager = _manager(request)
    session = manager.get(request.path_params["sid"])
    config = schema.parse_config(await _json_body(request))
    await session.reconfigure(config, manager.data_for(config))
    return JSONResponse(session.info())


async def control(request: Request) -> Response:
    session = _manager(request).get(request.path_params["sid"])
    command = schema.parse_control(await _json_body(request))
    if command.action == "play":
        await session.play()
    elif command.action == "pause":
        await session.pause()
    elif command.action == "step":
        await session.step_once()
    elif command.action == "reset":
        await session.reconfigure(session.config, session.data)
    elif command.action == "thumbnails":
        await session.show_units(command.thumbnails)
    else:  # "speed"
        session.speed = command.speed
    return JSONResponse(session.info())


async def stream(request: Request) -> Response:
    session = _manager(request).get(request.path_params["sid"])

    async def events():
        session.subscribers += 1
        try:
            async for event, payload in session.frames():
                yield f"event: {event}\ndata: {payload}\n\n" if event else ": keepalive\n\n"
                # Resumed: the server took the event (a reader that stops reading stops this once the
                # connection's buffers are full). A delivered frame counts as activity; a keepalive does not.
                if event == "frame":
                    session.touch()
        finally:
            session.subscribers -= 1
            session.touch()  # the idle clock starts when the last viewer leaves

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def delete_session(request: Request) -> Response:
    await _manager(request).delete(request.path_params["sid"])
    return Response(status_code=204)


def create_app(
    max_sessions: int = 8, idle_timeout: float = 60.0, reap_interval: float = 5.0, report: dict | None = None
) -> Starlette:
    """The playground app: at most ``max_sessions`` sessions; one with no request and no frame delivered to a
    reader for ``idle_timeout`` seconds is closed (checked every ``reap_interval`` seconds, and whenever a session
    is created). The page asks about its session now and then while it is shown, so a paused tab someone is
    looking at stays; a tab that is hidden, closed, or a client that stopped reading loses its session.
    ``report``: a gradient-probe report's data (``Report.load(path).data``), served at ``/api/report``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        manager = app.state.manager = SessionManager(max_sessions=max_sessions, idle_timeout=idle_timeout)

        async def reaper() -> None:
            while True:
                await asyncio.sleep(reap_interval)
                try:
                    await manager.reap()
                except Exception:  # one session failing to close must not stop the reaping of the others
                    log.exception("closing idle sessions failed")

        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()
            await manager.shutdown()

    sid = "/api/sessions/{sid}"
    routes = [
        Route("/", index),
        Route("/api/options", options),
        Route("/report", report_page),
        Route("/api/report", report_data),
        Route("/api/sigmoid", sigmoid_values),
        Route("/api/uploads", upload, methods=["POST"]),
        Route("/api/sessions", create_session, methods=["POST"]),
        Route(sid, session_info, methods=["GET"]),
        Route(sid, reconfigure, methods=["PUT"]),
        Route(sid, delete_session, methods=["DELETE"]),
        Route(sid + "/control", control, methods=["POST"]),
        Route(sid + "/stream", stream),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={RequestError: _request_error, HTTPException: _http_error},
    )
    app.state.report = report
    app.add_middleware(BodyLimit, limit_for=_body_limit)
    app.add_middleware(SecurityHeaders)  # added last, so outermost: its headers also go on BodyLimit's 413
    return app
