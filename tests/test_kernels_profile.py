"""The pool's streaming-store threshold (from the L3 size) and benchmarks/kernel_profile.py (a smoke run)."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from sigmoidlab.functions import _loader

pytestmark = pytest.mark.skipif(not _loader.AVAILABLE, reason="compiled kernels not built")

CACHE = Path("/sys/devices/system/cpu/cpu0/cache")


def _l3_bytes_from_sysfs() -> int | None:
    for index in sorted(CACHE.glob("index*")):
        try:
            if (index / "level").read_text().strip() == "3":
                number, unit = re.fullmatch(r"(\d+)([KMG]?)", (index / "size").read_text().strip()).groups()
                return int(number) << {"": 0, "K": 10, "M": 20, "G": 30}[unit]
        except (OSError, AttributeError):
            return None
    return None


def test_stream_threshold_is_a_quarter_of_the_l3():
    l3 = _l3_bytes_from_sysfs()
    expected = (l3 if l3 else 16 << 20) // 4  # 16 MiB: the pool's fallback where no L3 size is listed
    assert _loader._ext._pool_stats()["stream_min_bytes"] == expected


@pytest.mark.parametrize("path", _loader.available_kernels())
def test_streamed_and_plain_stores_give_the_same_bits(path):
    """Non-temporal stores (with their alignment head) change where results go, never what they are."""
    ext = _loader._ext
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 30, 200_003), [np.nan, np.inf, -np.inf, -800.0, 5e-324]])
    previous_kernel, previous_threads = _loader.set_kernel(path), _loader.set_num_threads(2)
    previous_stream = ext.set_stream_threshold(1 << 62)
    try:
        for dtype in (np.float64, np.float32):
            for offset in (0, 1, 3):  # outputs not 32-byte aligned: the streaming path's head
                xs = x.astype(dtype)[offset:]
                plain = [f(xs, out=np.empty_like(xs)) for f in (_loader.sigmoid, _loader.sigmoid_grad)]
                ext.set_stream_threshold(0)
                streamed = [
                    f(xs, out=np.empty(xs.size + 1, dtype)[1:]) for f in (_loader.sigmoid, _loader.sigmoid_grad)
                ]
                ext.set_stream_threshold(1 << 62)
                for a, b in zip(plain, streamed, strict=True):
                    assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), (dtype, offset)
    finally:
        ext.set_stream_threshold(previous_stream)
        _loader.set_kernel(previous_kernel)
        _loader.set_num_threads(previous_threads)


def test_profile_smoke_gives_finite_positive_figures(tmp_path):
    import kernel_profile  # benchmarks/ is on sys.path (tests/conftest.py)

    path = _loader.available_kernels()[-1]
    count = shutil.which("valgrind") is not None and shutil.which("callgrind_annotate") is not None
    kernel_profile.main(
        ["--out", str(tmp_path), "--paths", path, "--ops", "sigmoid", "--dtypes", "float64", "--small", "256"]
        + ["--large", "1024", "--big", "20000", "--blocks", "3", "--rounds", "2"]
        + ([] if count else ["--no-count"])
    )
    data = json.loads((tmp_path / "kernels_profile.json").read_text())
    (row,) = data["results"]
    fields = ["ns_per_element_in_cache", "bytes_per_element", "roofline_s", "compute_bound_s_2_threads"]
    fields += ["measured_s", "predicted_roofline_fraction", "measured_roofline_fraction"]
    if data["frequency"]["hz"]:
        fields.append("cycles_per_element_in_cache")
    if count:
        fields += ["instructions_per_element", "instructions_per_cycle"]
    for name in fields:
        assert math.isfinite(row[name]) and row[name] > 0, (name, row[name])
    assert row["bytes_per_element"] == 16 and row["predicted_roofline_fraction"] <= 1
    if count:  # at least one instruction per element; σ is not free
        assert 1 < row["instructions_per_element"] < 1000
    assert "| σ | float64 |" in (tmp_path / "kernels_profile.md").read_text()
