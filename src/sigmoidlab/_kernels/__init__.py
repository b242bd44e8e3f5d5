"""Compiled kernels of the sigmoid family (C sources; the extension ``_ufuncs`` is built by setup.py).

Import the ufuncs through :mod:`sigmoidlab.functions._loader`, which falls back gracefully when the
extension is missing.
"""
