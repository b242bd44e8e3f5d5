"""The kernel benchmark as a script: ``python benchmarks/kernels.py [--sizes 1e3,1e7] [--kernel all] [--out DIR]``.

Same code and options as ``sigmoidlab bench`` (see ``sigmoidlab.cli.bench``): the CPU, its vector extensions and
the kernel path(s) measured; forward σ, σ' and the fused pair against np.copyto (the memory roofline), NumPy,
scipy.special.expit, numexpr and torch.sigmoid, timed in alternating blocks of calls (each implementation's
steady state), median of the rounds; ``--kernel all`` puts every path this CPU runs into the rotation; σ right
after a torch call, with OMP_WAIT_POLICY=PASSIVE and with the default (``--after-torch SIZES``). ``make bench``
writes the result to benchmarks/results/.
"""

from __future__ import annotations

import sys

from sigmoidlab.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
