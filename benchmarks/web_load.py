"""Load check for ``sigmoidlab serve``: 8 sessions training at once (a bounded run, not a test).

Starts the server in a subprocess, creates 8 sessions (moons, 2 hidden layers of 16 sigmoid units, Adam, speed
10 = as fast as the frame budget allows), plays them all and reads their Server-Sent Event streams for
``--seconds``. Reports per session the frames (page updates) and optimiser steps per second, the latency of a
small JSON request made meanwhile (does the event loop stay responsive?), the server's CPU use (psutil), and
checks that a 9th session is refused with 429.

    python benchmarks/web_load.py --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import httpx
import psutil

CONFIG = {"dataset": "moons", "hidden": [16, 16], "activation": "sigmoid", "optimizer": "adam", "lr": 0.01,
          "speed": 10}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def watch(base: str, sid: str, seconds: float, out: dict) -> None:
    frames, first_step, last_step = 0, None, 0
    with httpx.Client(base_url=base, timeout=30) as http, http.stream("GET", f"/api/sessions/{sid}/stream") as r:
        start = time.monotonic()
        for line in r.iter_lines():
            if line.startswith("data: ") and '"step"' in line:
                step = json.loads(line[6:])["step"]
                first_step = step if first_step is None else first_step
                last_step, frames = step, frames + 1
            if time.monotonic() - start > seconds:
                break
        elapsed = time.monotonic() - start
    out[sid] = {"frames_per_s": frames / elapsed, "steps_per_s": (last_step - (first_step or 0)) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "uvicorn", "sigmoidlab.web:create_app", "--factory", "--port", str(port),
           "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(cmd)
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(200):
                try:
                    http.get("/api/options")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            ids = [http.post("/api/sessions", json=CONFIG).json()["id"] for _ in range(args.sessions)]
            refused = http.post("/api/sessions", json=CONFIG)
            for sid in ids:
                http.post(f"/api/sessions/{sid}/control", json={"action": "play"})
            proc = psutil.Process(server.pid)
            proc.cpu_percent(None)
            results: dict[str, dict] = {}
            threads = [threading.Thread(target=watch, args=(base, sid, args.seconds, results)) for sid in ids]
            for t in threads:
                t.start()
            latencies = []
            start = time.monotonic()
            while time.monotonic() - start < args.seconds:
                t0 = time.perf_counter()
                http.get("/api/sigmoid", params={"x": 1.0})
                latencies.append(time.perf_counter() - t0)
                time.sleep(0.25)
            cpu = proc.cpu_percent(None)
            for t in threads:
                t.join()
    finally:
        server.terminate()
        server.wait(10)

    fps = [r["frames_per_s"] for r in results.values()]
    sps = [r["steps_per_s"] for r in results.values()]
    print(f"{len(ids)} sessions for {args.seconds:g} s on {os.cpu_count()} CPUs ({CONFIG['hidden']} sigmoid, moons)")
    print(f"updates/s per session: min {min(fps):.1f}  median {statistics.median(fps):.1f}  max {max(fps):.1f}")
    print(f"steps/s per session:   min {min(sps):.0f}  median {statistics.median(sps):.0f}  max {max(sps):.0f}")
    latencies.sort()
    print(f"GET /api/sigmoid during load: median {1e3 * statistics.median(latencies):.1f} ms, "
          f"max {1e3 * latencies[-1]:.1f} ms ({len(latencies)} requests)")  # fmt: skip
    print(f"server CPU: {cpu:.0f}% (100% = one core)")
    print(f"9th session: HTTP {refused.status_code} {refused.json().get('error', '')[:60]}")


if __name__ == "__main__":
    main()
