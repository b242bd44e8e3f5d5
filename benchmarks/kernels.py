"""The kernel benchmark as a script: ``python benchmarks/kernels.py [--sizes 1e3,1e7] [--out DIR]``.

Same code and options as ``sigmoidlab bench`` (see ``sigmoidlab.cli.bench``): forward σ, σ' and the fused
pair against np.copyto (the memory roofline), NumPy, scipy.special.expit, numexpr and torch.sigmoid,
interleaved, median of repeated runs. ``make bench`` writes the result to benchmarks/results/.
"""

from __future__ import annotations

import sys

from sigmoidlab.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
