"""The engine's vocabulary: every name a front end may use for an activation, initialiser, optimiser or loss.

Each name is defined here once, with its aliases (scikit-learn's "logistic", the playground's "linear" and
"momentum", the lab's short "glorot" and "he"), and each registry has one factory. A front end validates a name
with ``name in REGISTRY``, lists its choices with ``REGISTRY.names()`` (canonical names) or
``REGISTRY.spellings()`` (aliases too), turns a spelling into the name it stores with ``REGISTRY.canonical``,
and builds the object with the factory; an unknown name raises ``ValueError`` listing the valid ones.

>>> from sigmoidlab import nn
>>> nn.ACTIVATIONS.get("logistic").__name__, nn.ACTIVATIONS.canonical("linear")
('Sigmoid', 'identity')
>>> nn.OPTIMIZERS.names()
('sgd', 'momentum', 'adam', 'rmsprop')
>>> model = nn.mlp(2, hidden=(3,), seed=0)
>>> opt = nn.make_optimizer("momentum", model.parameters(), lr=0.1)
>>> type(opt).__name__, opt.momentum
('SGD', 0.9)
>>> nn.make_loss("mse")
MSE()
>>> nn.LOSSES.get("hinge")
Traceback (most recent call last):
...
ValueError: unknown loss 'hinge': expected one of bce, mse (aliases: bce_with_logits → bce)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, ValuesView
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from . import init as _init
from .layers import Activation, Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .losses import MSE, BCEWithLogits, Loss
from .optim import SGD, Adam, Optimizer, RMSProp
from .parameter import Parameter

T = TypeVar("T")


class Registry(Generic[T]):
    """Names → objects of one kind, with aliases. ``name in r``, ``r[name]`` and ``r.get(name)`` accept aliases;
    iterating, ``keys()``, ``values()`` and ``items()`` give the canonical entries in their documented order.
    Unlike ``dict.get``, ``get`` raises (ValueError, the valid names listed) for an unknown name."""

    def __init__(self, kind: str, entries: dict[str, T], aliases: dict[str, str] | None = None) -> None:
        self.kind = kind
        self._entries = dict(entries)
        self._aliases = dict(aliases or {})
        clash = set(self._aliases) & set(self._entries)
        missing = set(self._aliases.values()) - set(self._entries)
        if clash or missing:
            raise ValueError(f"Registry({kind!r}): aliases {sorted(clash)} shadow names, {sorted(missing)} unknown")

    def canonical(self, name: str) -> str:
        """The canonical name of ``name`` (itself or the name an alias stands for); ValueError if unknown."""
        if isinstance(name, str):
            if name in self._entries:
                return name
            if name in self._aliases:
                return self._aliases[name]
        raise ValueError(self.unknown(name))

    def get(self, name: str) -> T:
        """The object registered under ``name`` or an alias of it; ValueError listing the valid names if unknown."""
        return self._entries[self.canonical(name)]

    __getitem__ = get

    def unknown(self, name: Any) -> str:
        """The message for an unknown ``name``: ``unknown <kind> 'x': expected one of a, b (aliases: c → a)``."""
        aliases = ", ".join(f"{a} → {n}" for a, n in self._aliases.items())
        return f"unknown {self.kind} {name!r}: expected one of {', '.join(self._entries)}" + (
            f" (aliases: {aliases})" if aliases else ""
        )

    def names(self) -> tuple[str, ...]:
        """The canonical names, in their documented order."""
        return tuple(self._entries)

    def aliases(self) -> dict[str, str]:
        """Alias → canonical name."""
        return dict(self._aliases)

    def spellings(self) -> tuple[str, ...]:
        """Every accepted spelling: the canonical names, then the aliases."""
        return (*self._entries, *self._aliases)

    def keys(self) -> KeysView[str]:
        return self._entries.keys()

    def values(self) -> ValuesView[T]:
        return self._entries.values()

    def items(self) -> ItemsView[str, T]:
        return self._entries.items()

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._aliases)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()}, aliases={self._aliases})"


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimiser name: its class and the defaults the name implies ("momentum" is SGD with momentum 0.9)."""

    cls: type[Optimizer]
    defaults: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


#: Activation layers: ``ACTIVATIONS.get(name)()`` builds one (``make_activation``). "logistic" is scikit-learn's
#: name of the sigmoid, "linear" the playground's (and TensorFlow Playground's) name of the identity.
ACTIVATIONS: Registry[type[Activation]] = Registry(
    "activation",
    {cls.kind: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity)},
    {"logistic": "sigmoid", "linear": "identity"},
)

#: Weight initialisers (see :mod:`sigmoidlab.nn.init`); ``init.get`` also accepts "normal(STD)" and callables.
INITIALIZERS: Registry[_init.Initializer] = Registry(
    "init", _init.INITIALIZERS, {"glorot": "glorot_uniform", "he": "he_normal"}
)

#: Optimisers: ``make_optimizer(name, params, lr=..., **options)``.
OPTIMIZERS: Registry[OptimizerSpec] = Registry(
    "optimizer",
    {
        "sgd": OptimizerSpec(SGD, {}, "plain stochastic gradient descent"),
        "momentum": OptimizerSpec(SGD, {"momentum": 0.9}, "SGD with momentum 0.9"),
        "adam": OptimizerSpec(Adam, {}, "Adam"),
        "rmsprop": OptimizerSpec(RMSProp, {}, "RMSProp"),
    },
)

#: Losses on logits: ``make_loss(name, **options)``.
LOSSES: Registry[type[Loss]] = Registry(
    "loss", {cls.name: cls for cls in (BCEWithLogits, MSE)}, {"bce_with_logits": "bce"}
)


def make_activation(name: str, **options: Any) -> Activation:
    """A new activation layer by name (or alias); ``options`` go to its constructor (``negative_slope``)."""
    cls = ACTIVATIONS.get(name)
    _check_options(f"make_activation({name!r})", cls, options)
    return cls(**options)


def get_initializer(name: str | _init.Initializer) -> _init.Initializer:
    """The initialiser ``name`` stands for (aliases and ``"normal(STD)"`` accepted), or a callable unchanged."""
    return _init.get(name)


def make_optimizer(name: str, params: Iterable[Parameter], lr: float | None = None, **options: Any) -> Optimizer:
    """A new optimiser by name over ``params``.

    ``lr`` None takes the class's default; ``options`` override the name's defaults and go to the class
    (``momentum``, ``nesterov``, ``betas``, ``eps``, ``alpha``, ``weight_decay``, ``l1``, ``decay``). An option
    the class does not take is a ValueError naming the ones it does.
    """
    spec = OPTIMIZERS.get(name)
    options = {**spec.defaults, **options}
    if lr is not None:
        options["lr"] = lr
    _check_options(f"make_optimizer({name!r})", spec.cls, options, skip=("params",))
    return spec.cls(params, **options)


def make_loss(name: str, **options: Any) -> Loss:
    """A new loss by name (or alias); ``options`` go to its constructor (``pos_weight`` for "bce")."""
    cls = LOSSES.get(name)
    _check_options(f"make_loss({name!r})", cls, options)
    return cls(**options)


def _check_options(who: str, factory: Callable, options: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    accepted = [p for p in inspect.signature(factory).parameters if p not in (*skip, "self")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"{who}: unknown option {unknown[0]!r}; {factory.__name__} takes {', '.join(accepted) or 'none'}"
        )
