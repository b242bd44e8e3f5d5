"""The kernels' run time around the arithmetic: which paths run here, the environment switches, the thread pool,
and the generated sources.

Paths: every path this project has is either exercised here or skipped with the reason (pytest's ``-ra``
summary lists them); with ``CI=true`` the best path the host's CPU allows must be among those exercised.
Pool: persistent workers that sleep between calls, one job at a time (other callers compute alone), correct
results from several Python threads at once and in a forked child.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from sigmoidlab._kernels import cpu, gen_tables
from sigmoidlab.functions import _loader as U

ext = pytest.importorskip("sigmoidlab._kernels._ufuncs", reason="compiled kernels not built")

KERNELS_DIR = Path(gen_tables.__file__).parent
TESTED = U.available_kernels()  # the paths test_kernels.py and test_accuracy.py run
BIG = 1 << 20  # elements: well above the parallel threshold


@pytest.fixture
def two_threads():
    previous = ext.set_num_threads(2)
    yield
    ext.set_num_threads(previous)


def _inputs(n: int = BIG, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 20.0, n)


def _expected(x: np.ndarray) -> np.ndarray:
    previous = ext.set_num_threads(1)
    try:
        return U.sigmoid(x)
    finally:
        ext.set_num_threads(previous)


# ------------------------------------------------------------------------------------------------ the paths


@pytest.mark.parametrize("name", [*cpu.PATH_NEEDS, "avx512"])
def test_each_path_runs_here_or_says_why_not(name):
    if name not in ext.compiled_kernels():
        why = "no AVX-512 path exists yet: it waits for an AVX-512 host to be tested on" if name == "avx512" else ""
        pytest.skip(f"kernel path {name!r} is not built into this extension{': ' + why if why else ''}")
    if name not in TESTED:
        missing = [flag for flag in cpu.PATH_NEEDS[name] if flag not in cpu.cpu_flags()]
        pytest.skip(f"kernel path {name!r} cannot run on this CPU (lacks {', '.join(missing) or 'support'})")
    x = np.concatenate([_inputs(4099), [np.nan, np.inf, -np.inf, -0.0, 800.0, -800.0]])
    previous = U.set_kernel("scalar")
    try:
        expected = [f(x) for f in (U.sigmoid, U.softplus)]
        U.set_kernel(name)
        assert U.get_kernel() == name
        got = [f(x) for f in (U.sigmoid, U.softplus)]
    finally:
        U.set_kernel(previous)
    for a, b in zip(expected, got, strict=True):
        assert np.array_equal(a.view(np.uint64), b.view(np.uint64)), name


def test_the_hosts_best_path_is_among_those_tested():
    """Under CI=true a host whose best path is not tested fails (a build without AVX2 would otherwise pass with the
    scalar path alone); elsewhere it is reported as a skip."""
    best = cpu.best_path()
    if best in TESTED:
        return
    message = f"the host's best kernel path {best!r} is not among those tested {TESTED}"
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def test_cpu_description_reads_proc_cpuinfo():
    if not Path("/proc/cpuinfo").exists():
        pytest.skip("no /proc/cpuinfo on this system")
    text = Path("/proc/cpuinfo").read_text()
    flags = set(re.search(r"^flags\s*:(.*)$", text, re.M).group(1).split())
    assert set(cpu.vector_extensions()) == flags & set(cpu.VECTOR_EXTENSIONS)
    assert re.search(r"^model name\s*:\s*(.+)$", text, re.M).group(1).strip() in cpu.cpu_model()
    assert ext.cpu_features()["avx2"] == ("avx2" in flags)
    assert cpu.best_path(frozenset({"avx2"})) == "scalar" and cpu.best_path(frozenset({"avx2", "fma"})) == "avx2"


def _in_subprocess(code: str, **env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIGMOIDLAB_")} | env
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"stderr": done.stderr}


_REPORT_KERNEL = (
    "import json; from sigmoidlab.functions import _loader as U; import sigmoidlab as sl, numpy as np; "
    "print(json.dumps({'kernel': U.get_kernel(), 'ext': U._ext.get_kernel(), 'kernels': U.use_kernels(), "
    "'value': float(sl.sigmoid(np.float64(-3.0)))}))"
)


@pytest.mark.parametrize("requested", ["scalar", "avx2", "reference", "AVX9000"])
def test_sigmoidlab_kernel_variable_is_read_at_import(requested):
    if requested == "avx2" and "avx2" not in TESTED:
        pytest.skip("this CPU cannot run the avx2 path")
    got = _in_subprocess(_REPORT_KERNEL, SIGMOIDLAB_KERNEL=requested)
    best = TESTED[-1]
    if requested == "reference":
        assert got["kernel"] == "reference" and not got["kernels"] and got["ext"] == best
    elif requested in TESTED:
        assert got["kernel"] == got["ext"] == requested and got["kernels"]
    else:
        assert got["kernel"] == best
        assert re.search(r"SIGMOIDLAB_KERNEL\W+avx9000\W+is not available", got["stderr"], re.I), got["stderr"]
    assert got["value"] == pytest.approx(0.04742587317756678, rel=1e-15)


# ------------------------------------------------------------------------------------------------ the pool


def _worker_threads() -> dict[int, tuple[str, int]]:
    """{thread id: (state, CPU ticks used)} of this process's pool workers (named "sigmoidlab")."""
    workers = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            if (task / "comm").read_text().strip() != "sigmoidlab":
                continue
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        workers[int(task.name)] = (fields[0], int(fields[11]) + int(fields[12]))  # state, utime + stime
    return workers


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")


@needs_proc
def test_the_pool_is_persistent_and_its_workers_sleep_between_calls(two_threads):
    x = _inputs()
    out = np.empty_like(x)
    U.sigmoid(x, out=out)  # starts the worker if no earlier test did
    before, jobs = _worker_threads(), ext._pool_stats()["jobs"]
    for _ in range(20):
        U.sigmoid(x, out=out)
    assert ext._pool_stats()["jobs"] == jobs + 20  # every call was split over the pool...
    assert _worker_threads().keys() == before.keys()  # ...by the same workers
    assert len(before) == ext._pool_stats()["workers"] >= 1
    time.sleep(0.05)
    idle = _worker_threads()
    time.sleep(0.5)
    after = _worker_threads()
    assert all(state == "S" for state, _ in after.values()), after  # asleep, not spinning
    assert all(after[t][1] - idle[t][1] <= 1 for t in after), (idle, after)  # no CPU time while idle (ticks)
    assert np.array_equal(out, _expected(x))


def test_small_calls_stay_on_the_callers_thread(two_threads):
    jobs = ext._pool_stats()["jobs"]
    threshold = ext._pool_stats()["parallel_min_bytes"]
    U.sigmoid(_inputs(threshold // 8 - 1))
    assert ext._pool_stats()["jobs"] == jobs
    U.sigmoid(_inputs(threshold // 8))
    assert ext._pool_stats()["jobs"] == jobs + 1


@needs_proc
def test_one_thread_setting_starts_no_worker():
    code = (
        "import json, numpy as np; from sigmoidlab._kernels import _ufuncs as E; from pathlib import Path; "
        "x = np.linspace(-9, 9, 1 << 21); y = E.sigmoid(x); E.sigmoid_and_grad(x); "
        "names = [(t / 'comm').read_text().strip() for t in Path('/proc/self/task').iterdir()]; "
        "print(json.dumps({'threads': E.get_num_threads(), 'stats': E._pool_stats(), "
        "'named': names.count('sigmoidlab'), 'ok': bool(np.allclose(y, 1 / (1 + np.exp(-x)), rtol=1e-15))}))"
    )
    got = _in_subprocess(code, SIGMOIDLAB_NUM_THREADS="1")
    assert got["threads"] == 1 and got["stats"]["workers"] == 0 and got["stats"]["jobs"] == 0 and got["named"] == 0
    assert got["ok"]


def test_calls_from_several_python_threads_get_their_own_results(two_threads):
    """NumPy releases the GIL in these loops, so calls overlap: one owns the pool, the others compute alone."""
    inputs = [_inputs(BIG + 17 * i, seed=i) for i in range(4)]
    expected = [_expected(x) for x in inputs]
    alone = ext._pool_stats()["alone"]
    failures: list[str] = []

    def work(i: int) -> None:
        out = np.empty_like(inputs[i])
        for round_ in range(15):
            U.sigmoid(inputs[i], out=out)
            if not np.array_equal(out, expected[i]):
                failures.append(f"thread {i}, round {round_}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a call hung: deadlock in the pool"
    assert not failures, failures
    assert ext._pool_stats()["alone"] > alone  # the calls did overlap


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_gets_a_pool_of_its_own_even_mid_call(two_threads):
    """fork() while another thread is inside a split call: the child has none of the parent's workers, starts its
    own, and computes correctly; the parent's call is undisturbed."""
    x = _inputs(4 * BIG)
    expected = _expected(x)
    U.sigmoid(x)
    stop = threading.Event()
    parent_ok: list[bool] = []

    def busy() -> None:
        out = np.empty_like(x)
        while not stop.is_set():
            U.sigmoid(x, out=out)
            parent_ok.append(bool(np.array_equal(out, expected)))

    thread = threading.Thread(target=busy)
    thread.start()
    time.sleep(0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork() with threads running
        pid = os.fork()
    if pid == 0:  # the child: only this thread exists
        code = 1
        try:
            fresh = ext._pool_stats()
            ok = np.array_equal(U.sigmoid(x), expected)
            code = 0 if ok and fresh["workers"] == 0 and ext._pool_stats()["workers"] == 1 else 3
        finally:
            os._exit(code)
    stop.set()
    deadline = time.monotonic() + 60
    while (status := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if status[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    thread.join(timeout=60)
    assert os.waitstatus_to_exitcode(status[1]) == 0
    assert not thread.is_alive() and parent_ok and all(parent_ok)


# ------------------------------------------------------------------------------------ the generated sources


def test_exp2_table_header_is_what_the_generator_writes():
    assert (KERNELS_DIR / "exp2_table.h").read_bytes() == gen_tables.header_text().encode("utf-8")


@pytest.mark.slow
def test_math_impl_uses_the_fitted_polynomials():
    """Each coefficient in math_impl.h is the generator's fit (EXP_F32 with its odd terms negated: exp(−u))."""
    source = (KERNELS_DIR / "math_impl.h").read_text()
    for name, (coeffs, _, _) in gen_tables.polynomials().items():
        if name == "EXP_F32":
            coeffs = [-c if i % 2 else c for i, c in enumerate(coeffs)]
        missing = [c.hex() for c in coeffs if c.hex() not in source]
        assert not missing, f"{name}: {missing} not in math_impl.h"
