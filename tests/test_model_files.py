"""A tampered-model corpus: every file here must be refused by ``nn.load`` with one ``ValueError`` line naming
it, without allocating more than the file justifies (traced with ``tracemalloc``, which sees NumPy's buffers).

Regression tests: the SHA-256 covered the arrays but not the header, so an edited
activation, class list or standardiser scale was accepted; a crafted 513-byte file declaring a 30000×30000 Dense
layer made ``predict`` allocate 14 GB before a MemoryError traceback.
"""

import hashlib
import io
import json
import os
import stat
import tracemalloc
import zipfile

import numpy as np
import pytest

from sigmoidlab import nn
from sigmoidlab.cli import main
from sigmoidlab.nn import serialize

HEADER = "__sigmoidlab__"
# What a refusal may allocate: the small file's own bytes and bookkeeping, nowhere near a declared layer.
ALLOWANCE = 4 * 2**20
METADATA = {
    "kind": "sigmoidlab.train",
    "feature_names": ["x1", "x2"],
    "classes": ["ham", "spam"],
    "target": None,
    "standardize": {"mean": [0.5, -0.25], "scale": [2.0, 3.0]},
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained-looking 2-4-1 sigmoid network with batch norm, saved with train-style metadata."""
    model = nn.mlp(2, (4,), activation="sigmoid", batchnorm=True, dtype=np.float64, seed=3)
    path = tmp_path_factory.mktemp("good") / "good.npz"
    nn.save(model, path, metadata=METADATA)
    return path


def members(path):
    with zipfile.ZipFile(path) as z:
        return {info.filename.removesuffix(".npy"): z.read(info) for info in z.infolist()}


def header_of(path):
    return json.loads(np.load(io.BytesIO(members(path)[HEADER])).tobytes())


def npy(array=None, *, descr="<f8", shape=(), fortran=False, data=b""):
    """``.npy`` bytes: of ``array`` (pickled if it holds objects), or a hand-written header followed by ``data``."""
    buffer = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buffer, array, allow_pickle=True)
        return buffer.getvalue()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": fortran, "shape": shape})
    return buffer.getvalue() + data


def header_npy(header):
    text = header if isinstance(header, str | bytes) else json.dumps(header)
    return npy(np.frombuffer(text.encode() if isinstance(text, str) else text, dtype=np.uint8))


def write_zip(path, contents, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in contents.items():
            z.writestr(f"{name}.npy", data)
    return path


def arrays_of(path):
    return {k: np.load(io.BytesIO(v)) for k, v in members(path).items() if k != HEADER}


def forged(header, arrays):
    """The header with a *valid* checksum recomputed, as a forger would: only the other checks can refuse it."""
    header = dict(header)
    header["sha256"] = serialize._digest(header, arrays)
    return header


def refuse(path, match):
    """Load ``path`` under tracemalloc; it must fail with one line naming the file, allocating little."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            nn.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith(f"{path}: not a valid sigmoidlab model file ("), message
    assert "\n" not in message and len(message) < 600, message
    assert match in message, message
    size = os.stat(path).st_size if stat.S_ISREG(os.stat(path).st_mode) else 0
    assert peak < ALLOWANCE + 3 * size, f"peak {peak} bytes for a {size}-byte file"


def test_round_trip_still_works(saved):
    model, meta = nn.load(saved)
    assert meta == METADATA
    original = nn.mlp(2, (4,), activation="sigmoid", batchnorm=True, dtype=np.float64, seed=3).eval()
    X = np.random.default_rng(0).normal(size=(20, 2))
    np.testing.assert_array_equal(model.forward(X), original.forward(X))
    assert header_of(saved)["version"] == 2


# --- header edits: the checksum covers the header ----------------------------------------------------------------


def _edit_activation(h):
    h["layers"] = [dict(s, type="ReLU") if s["type"] == "Sigmoid" else s for s in h["layers"]]


def _swap_classes(h):
    h["metadata"]["classes"] = h["metadata"]["classes"][::-1]


def _edit_scale(h):
    h["metadata"]["standardize"]["scale"][0] = 20.0


def _edit_feature(h):
    h["metadata"]["feature_names"][1] = "x3"


def _edit_momentum(h):
    h["layers"][1]["momentum"] = 0.5


@pytest.mark.parametrize("edit", [_edit_activation, _swap_classes, _edit_scale, _edit_feature, _edit_momentum])
def test_edited_header_is_refused(tmp_path, saved, edit):
    header = header_of(saved)
    edit(header)
    contents = members(saved)
    contents[HEADER] = header_npy(header)
    refuse(write_zip(tmp_path / "edited.npz", contents), "checksum mismatch")


def test_edited_weight_is_refused(tmp_path, saved):
    contents = members(saved)
    W = np.load(io.BytesIO(contents["0.W"])) + 1e-12
    contents["0.W"] = npy(W)
    refuse(write_zip(tmp_path / "weights.npz", contents), "checksum mismatch")


def test_version_1_files_are_refused_with_a_retrain_message(tmp_path, saved):
    """Version-1 files (checksum over the arrays only) cannot be verified: refused, saying to retrain."""
    header, arrays = header_of(saved), arrays_of(saved)
    digest = hashlib.sha256()
    for name in sorted(arrays):  # the version-1 digest
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    header.update(version=1, sha256=digest.hexdigest())
    contents = members(saved)
    contents[HEADER] = header_npy(header)
    refuse(write_zip(tmp_path / "v1.npz", contents), "train the model again")


# --- shape lies and oversized declarations: refused before anything is allocated -------------------------------


def test_crafted_30000_by_30000_layer(tmp_path):
    """The reported file: a few hundred bytes declaring a 30000×30000 Dense layer."""
    layers = [{"type": "Dense", "in_features": 30000, "out_features": 30000, "init": "standard"}]
    header = {"format": "sigmoidlab.nn", "version": 2, "dtype": "float64", "layers": layers, "metadata": {}}
    header["sha256"] = "0" * 64
    contents = {HEADER: header_npy(header), "0.W": npy(shape=(30000, 30000)), "0.b": npy(shape=(30000,))}
    path = write_zip(tmp_path / "huge.npz", contents)
    assert path.stat().st_size < 1000
    refuse(path, "more than 134217728 parameters")


def test_declared_shape_without_the_bytes(tmp_path, saved):
    """Below the size limit, a 3000×3000 layer whose .npy declares the shape but holds no data."""
    layers = [{"type": "Dense", "in_features": 3000, "out_features": 3000, "init": "standard"}]
    header = {"format": "sigmoidlab.nn", "version": 2, "dtype": "float64", "layers": layers, "metadata": {}}
    arrays = {"0.W": np.zeros((1, 1)), "0.b": np.zeros(3000)}
    contents = {HEADER: header_npy(forged(header, arrays)), "0.W": npy(shape=(3000, 3000)), "0.b": npy(arrays["0.b"])}
    refuse(write_zip(tmp_path / "hollow.npz", contents), "0 bytes of data for shape (3000, 3000)")


def test_zip_directory_lying_about_sizes(tmp_path, saved):
    """A member whose zip entry declares more bytes than the whole file holds."""
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("0.W.npy")
    # Patch the central directory's sizes of 0.W (compressed and uncompressed, offsets 20 and 24 of its record).
    record = data.rfind(b"PK\x01\x02", 0, data.rfind(b"0.W.npy"))
    for offset in (20, 24):
        data[record + offset : record + offset + 4] = (2**31).to_bytes(4, "little")
    assert info.file_size < 2**31
    path = tmp_path / "sizes.npz"
    path.write_bytes(bytes(data))
    refuse(path, "more than the file holds")


def test_header_layers_disagree_with_arrays(tmp_path, saved):
    header, arrays = header_of(saved), arrays_of(saved)
    header["layers"][0]["out_features"] = 5  # the arrays are 2×4
    header["layers"][1]["num_features"] = 5
    header["layers"][3]["in_features"] = 5
    contents = members(saved)
    contents[HEADER] = header_npy(forged(header, arrays))
    refuse(write_zip(tmp_path / "shapes.npz", contents), "has shape (2, 4), the layer list needs (2, 5)")


def test_layers_that_do_not_chain(tmp_path):
    layers = [
        {"type": "Dense", "in_features": 2, "out_features": 4, "init": "standard"},
        {"type": "Dense", "in_features": 5, "out_features": 1, "init": "standard"},
    ]
    arrays = {"0.W": np.zeros((2, 4)), "0.b": np.zeros(4), "1.W": np.zeros((5, 1)), "1.b": np.zeros(1)}
    header = {"format": "sigmoidlab.nn", "version": 2, "dtype": "float64", "layers": layers, "metadata": {}}
    contents = {HEADER: header_npy(forged(header, arrays)), **{k: npy(v) for k, v in arrays.items()}}
    refuse(write_zip(tmp_path / "chain.npz", contents), "layer 1 (Dense) takes 5 inputs but the layer before gives 4")


def test_missing_and_extra_arrays(tmp_path, saved):
    contents = members(saved)
    del contents["0.b"]
    refuse(write_zip(tmp_path / "missing.npz", contents), "do not match the architecture")
    contents = members(saved)
    contents["extra"] = npy(np.zeros(3))
    refuse(write_zip(tmp_path / "extra.npz", contents), "do not match the architecture")


def test_wrong_array_dtypes(tmp_path, saved):
    for descr in (">f8", "<f4", "<i8"):
        contents = members(saved)
        contents["0.b"] = npy(np.zeros(4, dtype=descr))
        refuse(write_zip(tmp_path / f"dtype{descr[1:]}.npz", contents), "has dtype")


# --- pickles: never unpickled -------------------------------------------------------------------------------------


class _Payload:
    """Unpickling this creates a file: the test checks that it never exists."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_object_arrays_never_run(tmp_path, saved):
    marker = tmp_path / "pwned"
    payload = np.array([_Payload(str(marker))], dtype=object)
    for name in (HEADER, "0.W"):
        contents = members(saved)
        contents[name] = npy(payload)
        refuse(write_zip(tmp_path / f"pickle-{name}.npz", contents), "dtype object")
    assert not marker.exists()


# --- not a model at all ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_files(tmp_path, saved, fraction):
    data = saved.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: int(len(data) * fraction)])
    refuse(path, "")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"hello, world", "not a zip/npz archive"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "not a zip/npz archive"),
        (os.urandom(4096), "not a zip/npz archive"),
    ],
)
def test_non_zip_files(tmp_path, content, match):
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    refuse(path, match)


def test_compressed_archive_is_refused(tmp_path, saved):
    path = write_zip(tmp_path / "deflated.npz", members(saved), zipfile.ZIP_DEFLATED)
    refuse(path, "is compressed")


def test_directory_and_fifo_are_not_model_files(tmp_path):
    refuse(tmp_path, "not a regular file")
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    refuse(fifo, "not a regular file")  # and it returns: a FIFO is never opened


# --- wrong JSON types (checksums forged, so only the type checks can refuse them) ---------------------------------


def _base(saved):
    return header_of(saved), arrays_of(saved)


CASES = {
    "header is a list": (lambda h: [h], "not an object"),
    "layers is a string": (lambda h: dict(h, layers="Dense"), "'layers' must be a JSON array"),
    "dtype is a number": (lambda h: dict(h, dtype=5), "'dtype' must be a JSON string"),
    "dtype is float16": (lambda h: dict(h, dtype="float16"), "not float32 or float64"),
    "metadata is a list": (lambda h: dict(h, metadata=[]), "'metadata' must be a JSON object"),
    "sha256 is a number": (lambda h: dict(h, sha256=123), "'sha256' must be a JSON string"),
    "format is foreign": (lambda h: dict(h, format="keras"), "format is 'keras'"),
    "version 3": (lambda h: dict(h, version=3), "unsupported version 3"),
    "size is a string": (
        lambda h: dict(h, layers=[dict(h["layers"][0], in_features="2"), *h["layers"][1:]]),
        "in_features must be an integer",
    ),
    "size is a bool": (
        lambda h: dict(h, layers=[dict(h["layers"][0], in_features=True), *h["layers"][1:]]),
        "in_features must be an integer",
    ),
    "size is negative": (
        lambda h: dict(h, layers=[dict(h["layers"][0], out_features=-4), *h["layers"][1:]]),
        "out_features must be an integer",
    ),
    "unknown layer": (lambda h: dict(h, layers=[{"type": "Conv2d"}, *h["layers"]]), "layer 0 is not a known layer"),
    "extra layer field": (
        lambda h: dict(h, layers=[dict(h["layers"][0], bias=False), *h["layers"][1:]]),
        "has fields",
    ),
    "momentum out of range": (
        lambda h: dict(h, layers=[h["layers"][0], dict(h["layers"][1], momentum=7), *h["layers"][2:]]),
        "momentum must be a number in [0.0, 1.0]",
    ),
    "no layers": (lambda h: dict(h, layers=[]), "0 layers"),
}


@pytest.mark.parametrize("case", CASES)
def test_wrong_json_types(tmp_path, saved, case):
    change, match = CASES[case]
    header, arrays = _base(saved)
    header = change(header)
    if isinstance(header, dict) and case != "sha256 is a number":
        header = forged(header, arrays)
    contents = members(saved)
    contents[HEADER] = header_npy(header)
    refuse(write_zip(tmp_path / "types.npz", contents), match)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[" * 60000, "damaged header"),  # RecursionError in the JSON parser
        ('{"format": "sigmoidlab.nn", "version": ' + "9" * 5001 + "}", "damaged header"),  # int too long
        ('{"format": "sigmoidlab.nn", "version": 2, "x": NaN}', "NaN"),
        (b'{"format": "\xff\xfe"}', "damaged header"),  # not UTF-8
        ("", "damaged header"),
    ],
)
def test_unparseable_headers(tmp_path, saved, text, match):
    contents = members(saved)
    contents[HEADER] = header_npy(text)
    refuse(write_zip(tmp_path / "json.npz", contents), match)


def test_header_of_the_wrong_dtype(tmp_path, saved):
    contents = members(saved)
    contents[HEADER] = npy(np.zeros(8))
    refuse(write_zip(tmp_path / "hdr.npz", contents), "dtype float64, expected uint8")


def test_fortran_order_arrays_load_to_the_same_model(tmp_path, saved):
    """A valid file written with Fortran-ordered arrays (as np.savez writes a transposed array) is the same model."""
    contents = members(saved)
    W = np.load(io.BytesIO(contents["0.W"]))
    contents["0.W"] = npy(np.asfortranarray(W))
    member = io.BytesIO(contents["0.W"])
    np.lib.format.read_magic(member)
    assert np.lib.format.read_array_header_1_0(member)[1] is True  # fortran_order
    model, _ = nn.load(write_zip(tmp_path / "fortran.npz", contents))
    np.testing.assert_array_equal(model.layers[0].W.value, W)


# --- predict: one line for every refused file and for train metadata of the wrong type --------------------------


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def rows(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("x1,x2\n0,1\n2,3\n")
    return path


def test_predict_refuses_tampered_files_in_one_line(capsys, tmp_path, saved, rows):
    header = header_of(saved)
    _swap_classes(header)
    contents = members(saved)
    contents[HEADER] = header_npy(header)
    edited = write_zip(tmp_path / "edited.npz", contents)
    huge = write_zip(
        tmp_path / "huge.npz",
        {
            HEADER: header_npy(
                {
                    "format": "sigmoidlab.nn",
                    "version": 2,
                    "dtype": "float64",
                    "metadata": {},
                    "sha256": "",
                    "layers": [{"type": "Dense", "in_features": 30000, "out_features": 30000, "init": "x"}],
                }
            ),
            "0.W": npy(shape=(30000, 30000)),
            "0.b": npy(shape=(30000,)),
        },
    )
    for path, match in ((saved, None), (edited, "checksum mismatch"), (huge, "parameters")):
        code, out, err = run(capsys, "predict", "--model", path, "--csv", rows)
        if match is None:
            assert code == 0 and out.startswith("label,proba_ham,proba_spam")
            continue
        assert code == 2 and match in err and len(err.strip().splitlines()) == 1, err


BAD_METADATA = {
    "feature_names is a string": ({"feature_names": "x1,x2"}, "'feature_names' must be a list of 2 column names"),
    "feature_names of numbers": ({"feature_names": [1, 2]}, "'feature_names' must be a list of 2 column names"),
    "feature_names repeated": ({"feature_names": ["x1", "x1"]}, "names a column twice"),
    "classes is a dict": ({"classes": {"a": 1}}, "'classes' must be a list of two labels"),
    "three classes": ({"classes": [0, 1, 2]}, "'classes' must be a list of two labels"),
    "classes of lists": ({"classes": [[0], [1]]}, "'classes' must be a list of two labels"),
    "equal classes": ({"classes": ["a", "a"]}, "two different labels"),
    "target is a number": ({"target": 3}, "'target' must be a column name or null"),
    "standardize is a list": ({"standardize": [0, 1]}, "'standardize' must be null or an object"),
    "scale of strings": ({"standardize": {"mean": [0, 0], "scale": ["1", "1"]}}, "'standardize.scale' must be"),
    "scale of zeros": ({"standardize": {"mean": [0, 0], "scale": [0, 1]}}, "finite numbers > 0"),
    "mean too short": ({"standardize": {"mean": [0], "scale": [1, 1]}}, "'standardize.mean' must be a list of 2"),
}


@pytest.mark.parametrize("case", BAD_METADATA)
def test_predict_refuses_train_metadata_of_the_wrong_type(capsys, tmp_path, rows, case):
    """Valid files (intact checksum) whose metadata `predict` cannot use: one line each, exit 2."""
    change, match = BAD_METADATA[case]
    path = nn.save(nn.mlp(2, (3,), seed=0), tmp_path / "m.npz", metadata={**METADATA, **change})
    code, out, err = run(capsys, "predict", "--model", path, "--csv", rows)
    assert code == 2 and out == ""
    assert err.startswith(f"error: --model {path}: metadata ") and match in " ".join(err.split()), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_predict_refuses_a_network_without_one_output(capsys, tmp_path, rows):
    model = nn.Sequential([nn.Dense(2, 3, seed=0), nn.Sigmoid()])
    path = nn.save(model, tmp_path / "m.npz", metadata=METADATA)
    code, _, err = run(capsys, "predict", "--model", path, "--csv", rows)
    assert code == 2 and "does not end in one output unit" in err
