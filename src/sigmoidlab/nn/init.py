r"""Weight initialisers: ``init(fan_in, fan_out, rng, dtype) -> array of shape (fan_in, fan_out)``.

All draw from a ``numpy.random.Generator`` so that a seed fixes the network. Biases start at zero.

=================  ==========================================  ==========================================
name               distribution                                 reference
=================  ==========================================  ==========================================
``standard``       U[−1/√n_in, 1/√n_in]                         the heuristic studied in Glorot & Bengio 2010
``glorot_uniform`` U[−a, a], a = √(6/(n_in+n_out))              Glorot & Bengio 2010 ("normalized")
``glorot_normal``  N(0, 2/(n_in+n_out))                         Glorot & Bengio 2010
``he_uniform``     U[−a, a], a = √(6/n_in)                      He et al. 2015 (for ReLU)
``he_normal``      N(0, 2/n_in)                                 He et al. 2015
``lecun_normal``   N(0, 1/n_in)                                 LeCun et al. 1998
``normal(std)``    N(0, std²)                                   a fixed scale, for experiments
=================  ==========================================  ==========================================

Aliases (:data:`sigmoidlab.nn.INITIALIZERS`): ``glorot`` = ``glorot_uniform``, ``he`` = ``he_normal``.

The "standard" init keeps Var(W) = 1/(3·n_in), so a unit's pre-activation variance shrinks by a factor of 3 per
layer for unit-variance inputs; Glorot & Bengio showed that with sigmoids this drives the top hidden layer
into saturation early in training.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Initializer = Callable[[int, int, np.random.Generator, np.dtype], np.ndarray]


def _uniform(limit: float, fan_in: int, fan_out: int, rng: np.random.Generator, dtype) -> np.ndarray:
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype)


def _normal(std: float, fan_in: int, fan_out: int, rng: np.random.Generator, dtype) -> np.ndarray:
    return (std * rng.standard_normal((fan_in, fan_out))).astype(dtype)


def standard(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """U[−1/√n_in, 1/√n_in]."""
    return _uniform(1 / math.sqrt(fan_in), fan_in, fan_out, rng, dtype)


def glorot_uniform(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """U[−√(6/(n_in+n_out)), √(6/(n_in+n_out))]: Var(W) = 2/(n_in+n_out)."""
    return _uniform(math.sqrt(6 / (fan_in + fan_out)), fan_in, fan_out, rng, dtype)


def glorot_normal(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """N(0, 2/(n_in+n_out))."""
    return _normal(math.sqrt(2 / (fan_in + fan_out)), fan_in, fan_out, rng, dtype)


def he_uniform(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """U[−√(6/n_in), √(6/n_in)]: Var(W) = 2/n_in."""
    return _uniform(math.sqrt(6 / fan_in), fan_in, fan_out, rng, dtype)


def he_normal(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """N(0, 2/n_in)."""
    return _normal(math.sqrt(2 / fan_in), fan_in, fan_out, rng, dtype)


def lecun_normal(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """N(0, 1/n_in)."""
    return _normal(math.sqrt(1 / fan_in), fan_in, fan_out, rng, dtype)


def normal(std: float = 0.01) -> Initializer:
    """An initialiser drawing N(0, std²), whatever the layer size."""
    if not (std >= 0 and math.isfinite(std)):
        raise ValueError(f"normal(): std must be a finite number ≥ 0, got {std!r}")

    def init(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
        return _normal(std, fan_in, fan_out, rng, dtype)

    init.__name__ = f"normal({std})"
    return init


#: The initialisers by canonical name; :data:`sigmoidlab.nn.INITIALIZERS` adds the aliases ("glorot", "he").
INITIALIZERS: dict[str, Initializer] = {
    "standard": standard,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "lecun_normal": lecun_normal,
}


def get(init: str | Initializer) -> Initializer:
    """Look up an initialiser by name or alias (also ``"normal(0.1)"``), or pass a callable through.

    >>> get("he").__name__, get("normal(0.5)").__name__
    ('he_normal', 'normal(0.5)')
    """
    from .registry import INITIALIZERS as registry  # the registry imports this module: look it up when called

    if callable(init):
        return init
    if isinstance(init, str):
        if init in registry:
            return registry.get(init)
        if init.startswith("normal(") and init.endswith(")"):
            try:
                return normal(float(init[7:-1]))
            except ValueError:
                pass
    raise ValueError(f"{registry.unknown(init)}; or 'normal(STD)', or a callable")


def name_of(init: str | Initializer) -> str:
    """What a model records as its init: the canonical name of a registered spelling ("he" → "he_normal"), any
    other string as given ("normal(0.5)"), a callable's ``__name__`` ("custom" without one)."""
    from .registry import INITIALIZERS as registry

    if isinstance(init, str):
        return registry.canonical(init) if init in registry else init
    return getattr(init, "__name__", "custom")
