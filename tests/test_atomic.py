"""The one atomic-write helper: what it may replace (regular files, new paths, through symlinks) and what it
refuses (directories, devices, FIFOs, sockets), at the helper and through the commands that write files.

Regression tests: as root, ``train --save /dev/full`` turned the device node into a
regular file, and ``predict --out`` replaced a FIFO or a symlink to stdout. The tests run as root, so they never
rely on permissions to stop a write.
"""

import os
import socket
import stat
import subprocess
import sys

import numpy as np
import pytest

from sigmoidlab import _atomic, nn
from sigmoidlab._atomic import UnsafeOutputError, atomic_output, write_text
from sigmoidlab.cli import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.fixture
def unix_socket(tmp_path):
    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    yield path
    server.close()


def test_new_and_regular_files_are_written_and_replaced(tmp_path):
    path = tmp_path / "sub" / "a.txt"  # a missing folder is created
    write_text(path, "one")
    assert path.read_text() == "one"
    path.chmod(0o640)
    write_text(path, "two")
    assert path.read_text() == "two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a replaced file keeps its permissions
    assert leftovers(path.parent) == []


@pytest.mark.parametrize("kind", ["directory", "fifo", "socket", "char device", "symlink to fifo"])
def test_special_files_are_refused_and_left_alone(tmp_path, fifo, unix_socket, kind):
    link = tmp_path / "link"
    link.symlink_to(fifo)
    path = {
        "directory": tmp_path,
        "fifo": fifo,
        "socket": unix_socket,
        "char device": "/dev/null",
        "symlink to fifo": link,
    }[kind]
    before = os.lstat(path)
    with pytest.raises(UnsafeOutputError) as info:
        write_text(path, "data")
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "refusing to replace it" in message and "\n" not in message
    expected = {"directory": "a directory", "fifo": "a named pipe", "socket": "a socket"}.get(kind, "")
    assert expected in message
    assert isinstance(info.value, OSError)  # writers that report OSError report this too
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert leftovers(tmp_path) == []


def test_dev_null_is_refused_with_its_kind():
    expected = r"^/dev/null: a character device, not a regular file"
    with pytest.raises(UnsafeOutputError, match=expected), atomic_output("/dev/null"):
        raise AssertionError("must not be reached: nothing is written")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_symlink_is_written_through_and_kept(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to("real.txt")  # relative, as users make them
    write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == "real.txt"
    assert target.read_text() == "new"
    # A chain of links ends at the same file.
    chain = tmp_path / "chain"
    chain.symlink_to(link)
    write_text(chain, "newer")
    assert chain.is_symlink() and link.is_symlink() and target.read_text() == "newer"
    assert leftovers(tmp_path) == []


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "out" / "made.csv")
    write_text(link, "a,b\n")
    assert link.is_symlink() and (tmp_path / "out" / "made.csv").read_text() == "a,b\n"


def test_symlink_loop_is_refused(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(UnsafeOutputError, match="loops"):
        write_text(tmp_path / "a", "x")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


def test_failure_and_interrupt_leave_the_old_file(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("original")
    for error in (RuntimeError("disk full"), KeyboardInterrupt()):
        with pytest.raises(type(error)), atomic_output(path) as tmp:
            tmp.write_text("half")
            raise error
        assert path.read_text() == "original" and leftovers(tmp_path) == []


def test_dash_writes_to_stdout(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert write_text(_atomic.STDOUT, "x,y\n") == "-"
    assert capsys.readouterr().out == "x,y\n"
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_model_save_through_symlink_and_refused_on_fifo(tmp_path, fifo):
    model = nn.mlp(2, (3,), seed=0)
    real = tmp_path / "models" / "m.npz"
    real.parent.mkdir()
    link = tmp_path / "current.npz"
    link.symlink_to(real)
    nn.save(model, link)
    assert link.is_symlink() and real.is_file()
    loaded, _ = nn.load(link)
    np.testing.assert_array_equal(loaded.forward(np.ones((1, 2))), model.eval().forward(np.ones((1, 2))))
    with pytest.raises(UnsafeOutputError, match="named pipe"):
        nn.save(model, fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --- through the commands --------------------------------------------------------------------------------------

TRAIN = ("train", "--dataset", "gaussians", "--n-samples", "60", "--hidden", "none", "--epochs", "2", "--no-progress")


def test_train_save_refuses_a_device_before_training(capsys):
    code, out, err = run(capsys, *TRAIN, "--save", "/dev/null")
    assert code == 2 and out == ""  # refused before training: no report
    assert err.strip() == "error: --save /dev/null: a character device, not a regular file: refusing to replace it"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.fixture(scope="module")
def model_and_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("atomic")
    assert main([*TRAIN, "--save", str(folder / "m.npz")]) == 0
    (folder / "x.csv").write_text("x1,x2\n-2,-2\n2,2\n")
    return folder / "m.npz", folder / "x.csv"


def test_predict_out_refuses_fifo_folder_and_descriptor_link(capsys, tmp_path, fifo, model_and_csv):
    model, data = model_and_csv
    read_end, write_end = os.pipe()
    fd_link = tmp_path / "L"
    fd_link.symlink_to(f"/proc/self/fd/{write_end}")  # as a link to a piped stdout is
    try:
        for path in (fifo, fd_link, tmp_path):
            code, _, err = run(capsys, "predict", "--model", model, "--csv", data, "--out", path)
            assert code == 2 and "refusing to replace it" in err and "Traceback" not in err, err
            assert len(err.strip().splitlines()) == 1
        os.close(write_end)
        assert os.read(read_end, 100) == b""  # nothing went into the pipe
    finally:
        os.close(read_end)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and fd_link.is_symlink()
    assert leftovers(tmp_path) == []


def test_link_to_piped_stdout_is_refused_in_a_real_process(tmp_path, model_and_csv):
    """The reported case: `predict --out L`, L a link to /proc/self/fd/1 and stdout a pipe: refused, rc 2."""
    model, data = model_and_csv
    link = tmp_path / "L"
    link.symlink_to("/proc/self/fd/1")
    done = subprocess.run(
        [sys.executable, "-m", "sigmoidlab", "predict", "--model", str(model), "--csv", str(data), "--out", str(link)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "a named pipe (FIFO) (the target of the link)" in done.stderr, done.stderr
    assert link.is_symlink() and done.stdout == ""


def test_predict_out_dash_and_symlink(capsys, tmp_path, model_and_csv):
    model, data = model_and_csv
    code, out, _ = run(capsys, "predict", "--model", model, "--csv", data, "--out", "-")
    assert code == 0 and out.splitlines()[0] == "label,proba_0,proba_1" and len(out.splitlines()) == 3
    target = tmp_path / "p.csv"
    target.write_text("old")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    code, _, _ = run(capsys, "predict", "--model", model, "--csv", data, "--out", link)
    assert code == 0 and link.is_symlink() and target.read_text() == out


def test_predict_out_dash_streams_through_a_pipe(model_and_csv):
    """The installed script, its stdout a real pipe: `--out -` streams there instead of making a file '-'."""
    model, data = model_and_csv
    done = subprocess.run(
        [sys.executable, "-m", "sigmoidlab", "predict", "--model", str(model), "--csv", str(data), "--out", "-"],
        capture_output=True,
        text=True,
        cwd=model.parent,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "label,proba_0,proba_1"
    assert not (model.parent / "-").exists()
