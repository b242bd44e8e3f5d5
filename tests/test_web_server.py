"""The playground as a careless or hostile client meets it: a real uvicorn server in a subprocess on loopback,
concurrent session creations, oversized and chunked bodies, malformed JSON, a stream nobody reads, and
``sigmoidlab serve`` without its optional dependencies. Every loop is bounded; the server is always stopped."""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

IDLE_TIMEOUT = 1.5  # seconds: the idle_server closes idle sessions quickly
CONFIG = {"dataset": "xor", "hidden": [4], "activation": "sigmoid"}
# The server binds a free port itself and prints it, so no other process can take the port in between.
SERVER = """
import socket, sys, uvicorn
from sigmoidlab.web import create_app
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
app = create_app(idle_timeout=float(sys.argv[1]), reap_interval=0.1)
uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
"""


@pytest.fixture(scope="module")
def server():
    """(base URL, psutil.Process) of a server running in its own process, so its memory can be measured."""
    with _server(idle_timeout=60.0) as running:
        yield running


@pytest.fixture(scope="module")
def idle_server():
    with _server(idle_timeout=IDLE_TIMEOUT) as running:
        yield running


@contextmanager
def _server(idle_timeout: float):
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(idle_timeout)], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the server did not start within 60 s"
        base = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        with httpx.Client(base_url=base, timeout=10) as http:
            _until(lambda: _answers(http))
        yield base, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/api/options").status_code == 200
    except httpx.TransportError:
        return False


def _until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not reached within {timeout} s")


@contextmanager
def _connection(base: str):
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    try:
        yield sock
    finally:
        sock.close()


def _read_reply(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """What the server sent until it closed the connection (or a reset, or ``timeout`` seconds of silence)."""
    sock.settimeout(timeout)
    reply = b""
    try:
        while data := sock.recv(65536):
            reply += data
    except (ConnectionResetError, TimeoutError):
        pass
    return reply


def _status_and_json(reply: bytes) -> tuple[int, dict, dict]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body[: int(headers["content-length"])])


def _assert_security_headers(headers) -> None:
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"].lower() == "deny"


# --- the session cap under concurrency ------------------------------------------------------------------------


def test_concurrent_session_creations_respect_the_cap_exactly(server):
    base, _ = server

    async def create_all(n: int) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=n)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
            return await asyncio.gather(*(http.post("/api/sessions", json=CONFIG) for _ in range(n)))

    responses = asyncio.run(create_all(60))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 8 + [429] * 52
    assert all("limit of 8" in r.json()["error"] for r in responses if r.status_code == 429)
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.post("/api/sessions", json=CONFIG).status_code == 429  # still exactly 8
        for r in responses:
            if r.status_code == 201:
                assert http.delete(f"/api/sessions/{r.json()['id']}").status_code == 204
        sid = http.post("/api/sessions", json=CONFIG).json()["id"]  # the slots are free again
        http.delete(f"/api/sessions/{sid}")


# --- oversized bodies -------------------------------------------------------------------------------------------

MULTIPART_HEAD = (
    b'--XX\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
    b"Content-Type: text/csv\r\n\r\na,b,y\r\n"
)


def _chunked_upload(base: str, path: str, content_type: str, first: bytes, cap: int) -> tuple[bytes, int, float]:
    """POST an endless chunked body (up to ``cap`` bytes) until the server answers; (reply, bytes sent, seconds)."""
    chunk = b"1,2,0\n" * 10_000
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    with _connection(base) as sock:
        start = time.monotonic()
        head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head.encode() + b"%x\r\n%s\r\n" % (len(first), first))
        sent = len(first)
        try:
            while sent < cap:
                readable, writable, _ = select.select([sock], [sock], [], 10)
                if readable:  # the answer came while we were still sending
                    break
                if writable:
                    sock.sendall(framed)
                    sent += len(chunk)
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):  # the server closed the connection after answering
            pass
        return _read_reply(sock), sent, time.monotonic() - start


@pytest.mark.parametrize(
    ("path", "content_type", "first", "limit"),
    [
        ("/api/sessions", "application/json", b'{"dataset": "', 64 * 1024),
        ("/api/uploads", "multipart/form-data; boundary=XX", MULTIPART_HEAD, 1_000_000),
    ],
)
def test_oversized_chunked_body_is_refused_while_it_streams(server, path, content_type, first, limit):
    base, proc = server
    rss_before = proc.memory_info().rss
    peak = [rss_before]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.01):
            peak[0] = max(peak[0], proc.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        reply, sent, seconds = _chunked_upload(base, path, content_type, first, cap=256 * 2**20)
    finally:
        stop.set()
        sampler.join()
    status, headers, body = _status_and_json(reply)
    assert status == 413 and f"{limit:,} bytes" in body["error"]
    _assert_security_headers(headers)
    assert headers["connection"] == "close"  # so that a client still sending stops
    # Answered while the body was still streaming: long before the 256 MiB were sent, and within seconds.
    assert sent < 64 * 2**20 and seconds < 10
    # The server held at most about the limit, not the body (an unguarded server grows by the 256 MiB it reads).
    assert peak[0] - rss_before < 48 * 2**20, f"server RSS grew by {(peak[0] - rss_before) / 2**20:.0f} MiB"


def test_declared_oversized_body_is_refused_before_it_is_sent(server):
    base, _ = server
    with _connection(base) as sock:
        sock.sendall(b"POST /api/sessions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10000000000\r\n\r\n")  # fmt: skip
        status, headers, body = _status_and_json(_read_reply(sock))
    assert status == 413 and "65,536 bytes" in body["error"]
    _assert_security_headers(headers)


# --- malformed requests -----------------------------------------------------------------------------------------

MALFORMED = [
    (b"[" * 60_000, 400, "nested too deeply"),  # a RecursionError in json.loads
    (b"1" * 5_001, 400, "not valid JSON"),  # past Python's 4,300-digit limit for int()
    (b'{"lr": 1' + b"0" * 400 + b"}", 422, "lr=1"),  # an int too large for a float
    (b'{"hidden": ' + b"[" * 500 + b"]" * 500 + b"}", 422, "hidden[0]"),
    (json.dumps({"k" * 60_000: 1}).encode(), 422, "unknown configuration key"),
    (b"\xff\xfe{}", 400, "not valid JSON"),
    (b'{"seed": 1e400}', 422, "seed=inf"),
]


@pytest.mark.parametrize(("body", "status", "fragment"), MALFORMED)
def test_malformed_bodies_get_json_4xx_with_the_security_headers(server, body, status, fragment):
    base, _ = server
    with httpx.Client(base_url=base, timeout=30) as http:
        r = http.post("/api/sessions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    assert fragment in r.json()["error"] and len(r.json()["error"]) < 300
    _assert_security_headers(r.headers)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nope", 404), ("POST", "/api/options", 405), ("DELETE", "/", 405), ("GET", "/static/nope.js", 404)],
)
def test_unknown_routes_and_methods_get_json_with_the_security_headers(server, method, path, status):
    base, _ = server
    r = httpx.request(method, base + path, timeout=30)
    assert r.status_code == status and "error" in r.json()
    _assert_security_headers(r.headers)
    if status == 405:
        assert "GET" in r.headers["allow"]


# --- idle sessions ----------------------------------------------------------------------------------------------


def test_a_stream_nobody_reads_does_not_keep_its_session(idle_server):
    base, _ = idle_server
    with httpx.Client(base_url=base, timeout=30) as http:
        sid = http.post("/api/sessions", json=CONFIG).json()["id"]
        with _connection(base) as sock:
            sock.sendall(f"GET /api/sessions/{sid}/stream HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            # A viewer that never reads (peeking leaves the bytes in the socket's buffer): no request, no frame
            # taken, only keepalives. Its session is closed after the idle timeout all the same.
            start = time.monotonic()
            reply = _until(lambda: _closed_event(sock), timeout=10 * IDLE_TIMEOUT)
            assert time.monotonic() - start > IDLE_TIMEOUT * 0.9 and b"idle too long" in reply
        assert http.get(f"/api/sessions/{sid}").status_code == 404


def _closed_event(sock: socket.socket) -> bytes:
    """The bytes waiting in the socket if they end with the stream's "closed" event, else b"" (not consumed)."""
    waiting = sock.recv(2**20, socket.MSG_PEEK)
    return waiting if b"event: closed" in waiting else b""


def test_a_stream_being_read_keeps_its_running_session(idle_server):
    base, _ = idle_server
    with httpx.Client(base_url=base, timeout=30) as http:
        sid = http.post("/api/sessions", json=CONFIG).json()["id"]
        http.post(f"/api/sessions/{sid}/control", json={"action": "play"})
        frames, start = 0, time.monotonic()
        with http.stream("GET", f"/api/sessions/{sid}/stream") as response:
            for line in response.iter_lines():
                assert not line.startswith("event: closed"), "a session whose frames are read was closed"
                frames += line.startswith("event: frame")
                if time.monotonic() - start > 3 * IDLE_TIMEOUT:
                    break
        assert frames > 3 * IDLE_TIMEOUT  # at least one frame a second
        assert http.get(f"/api/sessions/{sid}").json()["status"] == "running"
        assert http.delete(f"/api/sessions/{sid}").status_code == 204


def test_the_server_still_serves_normally_afterwards(server):
    base, proc = server
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/options").json()["max_hidden_layers"] == 8
        sid = http.post("/api/sessions", json=CONFIG).json()["id"]
        assert http.post(f"/api/sessions/{sid}/control", json={"action": "step"}).json()["step"] == 1
        assert http.delete(f"/api/sessions/{sid}").status_code == 204
    assert proc.is_running() and proc.memory_info().rss < 1024 * 2**20


# --- sigmoidlab serve without the web extra ---------------------------------------------------------------------


@pytest.mark.parametrize("module", ["uvicorn", "starlette", "python_multipart"])
def test_serve_without_the_web_extra_says_what_to_install(module):
    code = f"""
import sys
sys.modules[{module!r}] = None  # as if it were not installed
if {module!r} == "python_multipart":
    sys.modules["multipart"] = None  # python-multipart's old import name
from sigmoidlab.cli import main
sys.exit(main(["serve", "--port", "0"]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert result.returncode in (1, 2), result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    name = module.replace("_", "-")
    assert name in lines[0] and "pip install 'sigmoidlab[web]'" in lines[0]
