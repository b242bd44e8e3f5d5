"""The eval and derive commands, through the real console-script entry point."""

import json
import signal

import numpy as np
import pytest

from sigmoidlab.cli import _app, main


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_eval_worked_example(capsys):
    code, out, _ = run(capsys, "eval", "0", "2", "-40", "--json")
    assert code == 0
    values = json.loads(out)["values"]
    assert values[0]["sigmoid"] == 0.5 and values[0]["sigmoid_grad"] == 0.25
    assert values[1]["sigmoid"] == pytest.approx(0.8807970779778824, rel=1e-15)
    assert values[1]["sigmoid_grad"] == pytest.approx(0.10499358540350652, rel=1e-15)
    assert values[2]["vanishing"] is True and values[0]["vanishing"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("eval", "abc"), "'abc' is not a number"),
        (("eval", "0x10"), "'0x10' is not a number"),
        (("eval", "1", "--threshold", "0.3"), "--threshold"),
        (("eval", "1", "--threshold", "nan"), "--threshold"),
    ],
)
def test_eval_bad_input_is_one_line(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("value", "dtype", "rounded", "note"),
    [
        # 1e-50 silently became 0.0 while 1e400 was refused; now both are rounded as NumPy
        # rounds them (np.float32(1e-50) == 0, float("1e400") == inf) and both get one warning line.
        ("1e-50", "float32", 0.0, "x='1e-50' underflows float32 (smallest non-zero 1.4013e-45): evaluating 0.0"),
        ("1e400", "float64", np.inf, "x='1e400' overflows float64 (largest finite 1.79769e+308): evaluating inf"),
        ("-1e-400", "float64", -0.0, "x='-1e-400' underflows float64"),
        ("70000", "float16", np.inf, "x='70000' overflows float16 (largest finite 65504): evaluating inf"),
        ("1e39", "bfloat16", np.inf, "x='1e39' overflows bfloat16"),
        ("1e-40", "float32", float(np.float32(1e-40)), "x='1e-40' is subnormal in float32 (below 1.17549e-38"),
    ],
)
def test_eval_rounds_like_numpy_and_says_so(capsys, value, dtype, rounded, note):
    code, out, err = run(capsys, "eval", value, "--dtype", dtype, "--json")
    assert code == 0
    x = json.loads(out)["values"][0]["x"]
    assert (float(x) if isinstance(x, str) else x) == rounded
    assert np.copysign(1, float(x) if isinstance(x, str) else x) == np.copysign(1, rounded)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: {note}"), err


def test_eval_exact_values_get_no_note(capsys):
    code, _, err = run(capsys, "eval", "0", "-0", "inf", "-inf", "nan", "1e-30", "3.4e38", "--dtype", "float32")
    assert code == 0 and err == ""


def test_eval_unknown_dtype(capsys):
    code, _, err = run(capsys, "eval", "1", "--dtype", "float8")
    assert code != 0
    assert "float8" in err and "Traceback" not in err


def test_derive_checks_every_step(capsys):
    code, out, _ = run(capsys, "derive", "--format", "markdown")
    assert code == 0
    assert out.count("✓") >= 14
    assert "quotient rule" in out and "chain rule" in out


# --- the error and interrupt contract of cli.main -------------------------------------------


def test_no_arguments_and_help(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "eval" in out and "train" in out
    code, out, _ = run(capsys)  # no command: the help, exit 2
    assert code == 2 and "Usage" in out and "train" in out
    code, _, err = run(capsys, "bogus")
    assert code == 2 and "No such command 'bogus'" in err


@pytest.mark.parametrize(("error", "status"), [(KeyboardInterrupt, 130), (_app.Terminated, 143)])
def test_interrupt_exit_status_and_message(capsys, monkeypatch, error, status):
    """Typer turned Ctrl-C into a returned 130 that main dropped (exit 0); now 130, or 143 for SIGTERM."""
    import sigmoidlab.derive

    def interrupted_render(fmt):
        raise error()

    monkeypatch.setattr(sigmoidlab.derive, "render", interrupted_render)
    code, out, err = run(capsys, "derive")
    assert (code, out, err) == (status, "", "interrupted\n")

    def render_that_reports(fmt):
        _app.interrupted("interrupted: kept 3 runs; run again to resume")
        raise error()

    monkeypatch.setattr(sigmoidlab.derive, "render", render_that_reports)
    code, _, err = run(capsys, "derive")
    assert code == status and err == "interrupted: kept 3 runs; run again to resume\n"
    code, _, err = run(capsys, "eval", "1")  # the message does not leak into the next command
    assert code == 0 and err == ""


def test_sigterm_handler_is_installed_only_while_main_runs(capsys, monkeypatch):
    import sigmoidlab.derive

    before = signal.getsignal(signal.SIGTERM)
    seen = []
    monkeypatch.setattr(sigmoidlab.derive, "render", lambda fmt: seen.append(signal.getsignal(signal.SIGTERM)) or "")
    assert run(capsys, "derive")[0] == 0
    assert seen and seen[0] is not before and signal.getsignal(signal.SIGTERM) is before


def test_environment_errors_are_one_line(capsys, monkeypatch):
    import sigmoidlab.derive

    def failing(fmt):
        raise PermissionError(13, "Permission denied", "/some/file")

    monkeypatch.setattr(sigmoidlab.derive, "render", failing)
    code, _, err = run(capsys, "derive")
    assert code == 1 and err == "error: Permission denied: /some/file\n"
