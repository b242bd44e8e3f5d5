"""Fuzz every command of the CLI, in-process through ``sigmoidlab.cli.main(argv)``, with Hypothesis.

Flags and values are drawn from pools that mix ordinary values with hostile ones (NaN, ±inf, overflow, empty,
text, huge sizes) and output paths that mix new files with a folder, a FIFO, ``/dev/null``, symlinks (to a FIFO,
dangling), a path under a missing folder or under a file, and ``-``. Every run must:

* exit with 0, 1 (an environment failure), 2 (bad input) or 130;
* print no traceback;
* leave no temporary file, never turn a special file into a regular one, and, when it fails, create no file
  (``vanish``/``demo`` may keep finished runs under ``OUT/runs``: that is their resume feature).

Slow commands are kept cheap: ``vanish`` draws tiny grids (1 epoch, width ≤ 2), ``bench`` small sizes and one
repetition, ``demo`` always gets at least one invalid option (it is fuzzed on its validation paths only), and
``serve`` never listens: ``uvicorn.Server.run`` is replaced by a stub that closes the socket it is given. The
whole file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigmoidlab import nn
from sigmoidlab.cli import main

pytestmark = pytest.mark.filterwarnings("ignore")  # warnings are not the contract here; tracebacks are

ALLOWED = {0, 1, 2, 130}
_BASE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# SIGMOIDLAB_FUZZ_SCALE=20 multiplies every budget, for a longer hunt than the test suite's.
SCALE = float(os.environ.get("SIGMOIDLAB_FUZZ_SCALE", "1"))


def fuzz(examples: int, *also: HealthCheck) -> settings:
    n = max(1, round(examples * SCALE))
    return settings(_BASE, max_examples=n, suppress_health_check=[*_BASE.suppress_health_check, *also])


NUMBERS = st.sampled_from(
    ["0", "-1", "1", "2", "0.5", "0.25", "-0", "1e-3", "1e9", "nan", "inf", "-inf", "1e309", "1e-320", "", " ",
     "abc", "1,2", "9" * 25, "0x10", "1_0"]
)  # fmt: skip
SMALL_INTS = st.sampled_from(["-1", "0", "1", "2", "3", "abc", "", "1.5", "9" * 25])
# Output paths, by name in the sandbox built by ``_sandbox``; "-" and "/dev/null" are used as given.
OUTPUTS = ["new.png", "new.svg", "new.csv", "new.npz", "new.txt", "existing.csv", "folder", "fifo", "link_to_fifo",
           "dangling.csv", "/dev/null", "missing/dir/out.png", "a_file/out.png", "-", "new_dir"]  # fmt: skip


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """Inputs shared by every example: a trained model, a tampered one, and CSV files good and bad."""
    folder = tmp_path_factory.mktemp("fuzz-assets")
    good = folder / "good.npz"
    meta = {"kind": "sigmoidlab.train", "feature_names": ["x1", "x2"], "classes": [0, 1], "target": "label",
            "standardize": None}  # fmt: skip
    nn.save(nn.mlp(2, (3,), seed=0), good, metadata=meta)
    tampered = folder / "tampered.npz"
    data = bytearray(good.read_bytes())
    data[len(data) // 3] ^= 0xFF
    tampered.write_bytes(bytes(data))
    (folder / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "rows.csv").write_text("x1,x2\n0,1\n-2,3.5\n")
    (folder / "labelled.csv").write_text("x1,x2,label\n0,1,a\n1,0,b\n2,2,a\n3,1,b\n0,0,a\n1,1,b\n2,0,a\n0,3,b\n")
    (folder / "numeric.csv").write_text("x1,x2,label\n0,1,1\n1,0,1.0\n2,2,0\n3,1,0.0\n0,0,1\n1,1,0\n")
    (folder / "bad.csv").write_text("x1,x2,label\n0,oops,a\n1,,b\n")
    (folder / "empty.csv").write_text("")
    return folder


def _sandbox(root: Path) -> None:
    (root / "existing.csv").write_text("keep me\n")
    (root / "folder").mkdir()
    os.mkfifo(root / "fifo")
    (root / "link_to_fifo").symlink_to(root / "fifo")
    (root / "dangling.csv").symlink_to(root / "nowhere" / "target.csv")
    (root / "a_file").write_text("a file where a folder is expected\n")


def _snapshot(root: Path) -> dict[str, int]:
    """Every path under ``root`` and its file type (never following links or opening FIFOs)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = stat.S_IFMT(os.lstat(path).st_mode)
    return found


def check(argv: list[str], *, keeps_runs: bool = False) -> None:
    """Run ``argv`` in a fresh sandbox and assert the contract in the module docstring."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _sandbox(root)
        before = _snapshot(root)
        argv = [str(root / a[len("@") :]) if a.startswith("@") else a for a in argv]
        out, err = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(root)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        finally:
            os.chdir(cwd)
        after = _snapshot(root)
        stderr = err.getvalue()
        context = f"argv={argv}\nrc={code}\nstderr={stderr[-2000:]}"
        assert code in ALLOWED, context
        assert "Traceback" not in stderr and "Traceback" not in out.getvalue(), context
        assert not [p for p in after if p.endswith(".tmp")], context
        for name, kind in before.items():  # nothing that was there changed its type (FIFO, link, folder)
            assert after.get(name) == kind, f"{name} changed\n{context}"
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
        if code != 0:
            new = [p for p in after if p not in before and not (keeps_runs and "runs" in Path(p).parts)]
            assert not [p for p in new if after[p] != stat.S_IFDIR], f"files left by a failure {new}\n{context}"


def out_path():
    return st.sampled_from(OUTPUTS).map(lambda name: name if name in ("-", "/dev/null") else f"@{name}")


def options(pairs: dict[str, st.SearchStrategy]) -> st.SearchStrategy[list[str]]:
    """A random subset of ``--flag value`` pairs (flags whose strategy is None are bare switches)."""
    chosen = st.lists(st.sampled_from(sorted(pairs)), unique=True, max_size=len(pairs))

    def expand(names):
        parts = []
        for name in names:
            strategy = pairs[name]
            parts.append(st.just([name]) if strategy is None else strategy.map(lambda v, n=name: [n, v]))
        return st.tuples(*parts).map(lambda groups: [x for g in groups for x in g])

    return chosen.flatmap(expand)


@fuzz(60)
@given(
    values=st.lists(NUMBERS | st.floats().map(repr), min_size=1, max_size=4),
    opts=options(
        {
            "--dtype": st.sampled_from(["float16", "bfloat16", "float32", "float64", "float8", ""]),
            "--threshold": NUMBERS,
            "--json": None,
        }
    ),
)
def test_eval(values, opts):
    check(["eval", *values, *opts])


@fuzz(4)
@given(fmt=st.sampled_from(["text", "markdown", "latex", "html", ""]))
def test_derive(fmt):
    check(["derive", "--format", fmt])


@fuzz(15)
@given(
    kind=st.sampled_from(["sigmoid", "sigmoid", "derivatives", "derivatives", "boundary", "bogus"]),
    out=out_path(),
    opts=options({"--threshold": NUMBERS, "--seed": SMALL_INTS}),
)
def test_plot(kind, out, opts):
    check(["plot", kind, "--out", out, *opts])


def _train_options(assets):
    csv = st.sampled_from(["labelled.csv", "numeric.csv", "bad.csv", "empty.csv", "missing.csv"])
    return options(
        {
            "--dataset": st.sampled_from(
                ["xor", "moons", "circles", "spiral", "gaussians", "linear", "breast_cancer", "digits", "bogus"]
            ),
            "--csv": csv.map(lambda name: str(assets / name)),
            "--target": st.sampled_from(["label", "x1", "nope", ""]),
            "--n-samples": st.sampled_from(["2", "3", "10", "40", "-1", "0", "1", "300000000", "abc"]),
            "--noise": NUMBERS,
            "--test-size": st.sampled_from(["0", "0.25", "0.5", "1", "-0.1", "nan", "0.999"]),
            "--seed": st.sampled_from(["0", "7", "-1", "4294967296"]),
            "--hidden": st.sampled_from(["none", "2", "3,2", "0", "-1", "60000,60000", "a", "", "2,,2"]),
            "--activation": st.sampled_from(["sigmoid", "tanh", "relu,tanh", "softmax", ""]),
            "--batchnorm": None,
            "--init": st.sampled_from(["standard", "he_normal", "normal(0.1)", "normal(-1)", "normal(inf)", "zeros"]),
            "--optimizer": st.sampled_from(["adam", "sgd", "rmsprop", "lbfgs"]),
            "--lr": NUMBERS,
            "--batch-size": SMALL_INTS,
            "--alpha": NUMBERS,
            "--no-standardize": None,
            "--save": out_path(),
            "--json": None,
            "--progress": None,
        }
    )


@fuzz(40)
@given(data=st.data())
def test_train(assets, data):
    epochs = data.draw(st.sampled_from(["1", "2", "0", "-1", "x"]), label="--epochs")
    opts = data.draw(_train_options(assets), label="options")
    check(["train", "--no-progress", "--epochs", epochs, *opts])


@fuzz(30)
@given(
    model=st.sampled_from(["good.npz"] * 4 + ["tampered.npz", "garbage.npz", "rows.csv", "missing.npz", ""]),
    rows=st.sampled_from(["rows.csv", "labelled.csv", "bad.csv", "empty.csv", "missing.csv"]),
    out=st.none() | out_path(),
)
def test_predict(assets, model, rows, out):
    argv = ["predict", "--model", str(assets / model), "--csv", str(assets / rows)]
    check(argv + (["--out", out] if out is not None else []))


@fuzz(8)
@given(
    opts=options(
        {
            "--depths": st.sampled_from(["1", "1,2", "0", "-1", "a", ""]),
            "--activations": st.sampled_from(["sigmoid", "relu", "bogus", ""]),
            "--batchnorm": st.sampled_from(["off", "on", "maybe"]),
            "--inits": st.sampled_from(["standard", "glorot", "nope"]),
            "--dataset": st.sampled_from(["moons", "xor", "bogus"]),
            "--seeds": st.sampled_from(["0", "-1", "a"]),
            "--lr": NUMBERS,
            "--optimizer": st.sampled_from(["sgd", "adam", "lbfgs"]),
            "--out": st.sampled_from(["@runs_out", "@existing.csv", "@fifo", "/dev/null", "@a_file/sub"]),
            "--no-resume": None,
        }
    ),
    epochs=st.sampled_from(["1", "0", "-1"]),
    width=st.sampled_from(["2", "1", "0", "-3"]),
)
def test_vanish(opts, epochs, width):
    # One worker in this process; the grid is tiny whatever else is drawn.
    defaults = ["--depths", "1", "--activations", "sigmoid", "--batchnorm", "off", "--seeds", "0", "--out", "@v"]
    check(["vanish", "--workers", "1", "--epochs", epochs, "--width", width, *defaults, *opts], keeps_runs=True)


INVALID_DEMO = st.sampled_from(
    [["--workers", "0"], ["--workers", "-2"], ["--out", "@existing.csv"], ["--out", "/dev/null"], ["--out", "@fifo"],
     ["--scheduler", "bogus"], ["--workers", "x"]]
)  # fmt: skip


@fuzz(6)
@given(invalid=INVALID_DEMO, opts=options({"--quick": None, "--no-resume": None}))
def test_demo_validation(invalid, opts):
    check(["demo", *opts, *invalid], keeps_runs=True)


@fuzz(6)
@given(
    opts=options(
        {
            "--sizes": st.sampled_from(["1000", "100,1000", "0", "-5", "abc", "", "1e3", "1e15"]),
            "--dtypes": st.sampled_from(["float32", "float64", "float16", "x", "float32,,float64", ""]),
            "--repeats": st.sampled_from(["1", "0", "-1"]),
            "--out": st.sampled_from(["@bench_out", "@existing.csv", "@fifo", "/dev/null", "@folder"]),
        }
    )
)
def test_bench(opts):
    check(["bench", "--quick", "--repeats", "1", "--sizes", "1000", *opts])


def test_bench_empty_dtypes_is_one_line():
    check(["bench", "--quick", "--repeats", "1", "--sizes", "1000", "--dtypes", ""])


@pytest.fixture
def no_listening(monkeypatch):
    uvicorn = pytest.importorskip("uvicorn")

    def run(self, sockets=None):
        for sock in sockets or ():
            sock.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)


@fuzz(10, HealthCheck.function_scoped_fixture)
@given(
    opts=options(
        {
            "--host": st.sampled_from(["127.0.0.1", "localhost", "::1", "999.1.1.1", "", "not a host"]),
            "--port": st.sampled_from(["0", "-1", "70000", "abc", ""]),
        }
    )
)
def test_serve_never_listens(no_listening, opts):
    check(["serve", *opts])
