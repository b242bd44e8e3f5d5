"""Load check for ``sigmoidlab serve``: 8 sessions training at once (a bounded run, not a test).

Starts the server in a subprocess, creates 8 sessions (moons, 2 hidden layers of 16 sigmoid units, Adam, speed
10 = as fast as the frame budget allows; the network diagram's thumbnails as ``--thumbnails`` says, by default
the server's default, "activation"), plays them all and reads their Server-Sent Event streams for ``--seconds``.
Reports per session the frames (page updates) and optimiser steps per second and the frame size, the latency of
a small JSON request made meanwhile (does the event loop stay responsive?), the server's CPU use and resident
memory over the run (psutil: is it flat?), and checks that a 9th session is refused with 429.

    python benchmarks/web_load.py --seconds 30 [--thumbnails off] [--json benchmarks/results/web_load.json]

The server runs whatever ``sigmoidlab`` the interpreter imports, so ``PYTHONPATH=/some/other/src`` measures
another version of the code under the same conditions (a before/after comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
    frames, first_step, last_step, size = 0, None, 0, 0
    with httpx.Client(base_url=base, timeout=30) as http, http.stream("GET", f"/api/sessions/{sid}/stream") as r:
        start = time.monotonic()
        for line in r.iter_lines():
            if line.startswith("data: ") and '"step"' in line:
                step = json.loads(line[6:])["step"]
                first_step = step if first_step is None else first_step
                last_step, frames, size = step, frames + 1, size + len(line)
            if time.monotonic() - start > seconds:
                break
        elapsed = time.monotonic() - start
    out[sid] = {
        "frames_per_s": frames / elapsed,
        "steps_per_s": (last_step - (first_step or 0)) / elapsed,
        "frame_bytes": size / max(frames, 1),
    }


def sample_memory(proc: psutil.Process, stop: threading.Event, out: list) -> None:
    """The server's resident set size (MB) twice a second, with the time since the sessions started playing."""
    start = time.monotonic()
    while not stop.wait(0.5):
        out.append((round(time.monotonic() - start, 2), proc.memory_info().rss / 2**20))


def start_server(port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "uvicorn", "sigmoidlab.web:create_app", "--factory", "--port", str(port),
           "--log-level", "warning"]  # fmt: skip
    return subprocess.Popen(cmd)


def load(base: str, server: subprocess.Popen, args: argparse.Namespace) -> dict:
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(200):
            try:
                http.get("/api/options")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        body = {**CONFIG, **({"thumbnails": args.thumbnails} if args.thumbnails else {})}
        ids = [http.post("/api/sessions", json=body).json()["id"] for _ in range(args.sessions)]
        refused = http.post("/api/sessions", json=CONFIG)
        for sid in ids:
            http.post(f"/api/sessions/{sid}/control", json={"action": "play"})
        proc = psutil.Process(server.pid)
        proc.cpu_percent(None)
        results: dict[str, dict] = {}
        memory: list[tuple[float, float]] = []
        stop = threading.Event()
        threads = [threading.Thread(target=watch, args=(base, sid, args.seconds, results)) for sid in ids]
        threads.append(threading.Thread(target=sample_memory, args=(proc, stop, memory)))
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
        stop.set()
        for t in threads:
            t.join()
    return {"results": results, "refused": refused, "latencies": sorted(latencies), "cpu": cpu, "memory": memory}


def summary(run: dict, args: argparse.Namespace) -> dict:
    fps = [r["frames_per_s"] for r in run["results"].values()]
    sps = [r["steps_per_s"] for r in run["results"].values()]
    rss = [m for _, m in run["memory"]]
    half = rss[len(rss) // 2 :] or rss
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
        "sessions": args.sessions,
        "seconds": args.seconds,
        "config": CONFIG,
        "thumbnails": args.thumbnails or "the server's default",
        "frames_per_s": {"min": min(fps), "median": statistics.median(fps), "max": max(fps)},
        "steps_per_s": {"min": min(sps), "median": statistics.median(sps), "max": max(sps)},
        "frame_bytes": statistics.median(r["frame_bytes"] for r in run["results"].values()),
        "latency_ms": {"median": 1e3 * statistics.median(run["latencies"]), "max": 1e3 * run["latencies"][-1]},
        "server_cpu_percent": run["cpu"],
        "rss_mb": {"first": rss[0], "max": max(rss), "last": rss[-1], "second_half_spread": max(half) - min(half)},
        "ninth_session": run["refused"].status_code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--thumbnails", choices=("activation", "derivative", "off"), help="the diagram's units")
    parser.add_argument("--json", help="also write the summary (and the memory samples) to this file")
    args = parser.parse_args()

    port = free_port()
    server = start_server(port)
    try:
        run = load(f"http://127.0.0.1:{port}", server, args)
    finally:
        server.terminate()
        server.wait(10)

    s = summary(run, args)
    fps, sps, lat, rss = s["frames_per_s"], s["steps_per_s"], s["latency_ms"], s["rss_mb"]
    print(f"{args.sessions} sessions for {args.seconds:g} s on {s['machine']} ({CONFIG['hidden']} sigmoid, moons, "
          f"thumbnails: {s['thumbnails']})")  # fmt: skip
    print(f"updates/s per session: min {fps['min']:.1f}  median {fps['median']:.1f}  max {fps['max']:.1f}")
    print(f"steps/s per session:   min {sps['min']:.0f}  median {sps['median']:.0f}  max {sps['max']:.0f}")
    print(f"frame size: {s['frame_bytes'] / 1024:.1f} KiB (median)")
    print(f"GET /api/sigmoid during load: median {lat['median']:.1f} ms, max {lat['max']:.1f} ms")
    print(f"server CPU: {s['server_cpu_percent']:.0f}% (100% = one core)")
    print(f"server RSS: {rss['first']:.0f} MB at start, {rss['max']:.0f} MB peak, {rss['last']:.0f} MB at the end "
          f"(spread over the second half: {rss['second_half_spread']:.1f} MB)")  # fmt: skip
    print(f"one more session: HTTP {s['ninth_session']} {run['refused'].json().get('error', '')[:60]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**s, "rss_samples": run["memory"]}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
