"""Build of the compiled kernels: the C extension ``sigmoidlab._kernels._ufuncs``.

Everything else about the package is in pyproject.toml. The extension is compiled with -O3 and no global ISA
flag: the AVX2+FMA path lives in its own translation unit (avx2.c, compiled for that target by a pragma) and
is chosen at run time from CPUID, so the build runs on any x86-64 (and elsewhere only the portable scalar
path is compiled in). -ffp-contract=off keeps the compiler from fusing multiplies and adds on its own: the
double-double arithmetic depends on every rounding being where the source puts it, and it makes the scalar
and AVX2 paths give bit-identical results.
"""

import sys

import numpy as np
from setuptools import Extension, setup

KERNELS = "src/sigmoidlab/_kernels"

if sys.platform == "win32":
    compile_args = ["/O2", "/fp:precise"]
    link_args = []
    libraries = []
else:
    compile_args = ["-O3", "-ffp-contract=off", "-fno-strict-aliasing", "-pthread", "-std=c11"]
    link_args = ["-pthread"]
    libraries = ["m"]

setup(
    ext_modules=[
        Extension(
            "sigmoidlab._kernels._ufuncs",
            sources=[f"{KERNELS}/{name}.c" for name in ("ufuncs", "pool", "scalar", "avx2")],
            depends=[f"{KERNELS}/{name}.h" for name in ("math_impl", "kernels", "pool", "narrow", "exp2_table")],
            include_dirs=[np.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            libraries=libraries,
        )
    ]
)
