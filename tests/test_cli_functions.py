"""The eval and derive commands, through the real console-script entry point."""

import json

import pytest

from sigmoidlab.cli import main


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
        (("eval", "1e999"), "out of range for float64"),
        (("eval", "70000", "--dtype", "float16"), "out of range for float16"),
        (("eval", "1", "--threshold", "0.3"), "--threshold"),
    ],
)
def test_eval_bad_input_is_one_line(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_eval_unknown_dtype(capsys):
    code, _, err = run(capsys, "eval", "1", "--dtype", "float8")
    assert code != 0
    assert "float8" in err and "Traceback" not in err


def test_derive_checks_every_step(capsys):
    code, out, _ = run(capsys, "derive", "--format", "markdown")
    assert code == 0
    assert out.count("✓") >= 14
    assert "quotient rule" in out and "chain rule" in out
