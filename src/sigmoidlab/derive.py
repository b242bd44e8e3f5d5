"""The derivation of σ'(x) and σ''(x), step by step, every step checked by SymPy.

Two routes lead to σ'(x) = σ(x)(1 − σ(x)): the quotient rule applied to 1/(1 + e^(−x)), and the chain rule
with the inner function u = 1 + e^(−x). A step is accepted only if SymPy proves it equal to the one before
(after replacing σ(x) by its definition and evaluating derivatives); otherwise :class:`DerivationError`
is raised, so a wrong step can never be printed as part of a derivation.
"""

from __future__ import annotations

import html.entities
import re
from dataclasses import dataclass
from typing import Literal

import sympy as sp
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE

x = sp.Symbol("x", real=True)
u = sp.Symbol("u", positive=True)
sigma = sp.Function("σ")
DEFINITION = 1 / (1 + sp.exp(-x))

Format = Literal["text", "markdown", "latex"]
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
# MathML's named entities are not XML's: plain letters where a reader expects them, characters otherwise.
_PLAIN = {"dd": "d", "ExponentialE": "e"}


class DerivationError(AssertionError):
    """A step of a derivation that SymPy could not confirm."""


@dataclass(frozen=True)
class Step:
    reason: str
    expr: sp.Expr


@dataclass(frozen=True)
class Derivation:
    title: str
    lhs: sp.Expr
    steps: tuple[Step, ...]


def _concrete(expr: sp.Expr) -> sp.Expr:
    """Replace σ(x) by its definition and u by 1 + e^(−x), and evaluate any unevaluated derivative."""
    return expr.subs(sigma(x), DEFINITION).subs(u, 1 + sp.exp(-x)).doit()


def _equal(a: sp.Expr, b: sp.Expr) -> bool:
    difference = sp.simplify(_concrete(a) - _concrete(b))
    return difference == 0


def _check(derivation: Derivation) -> Derivation:
    previous = derivation.lhs
    for number, step in enumerate(derivation.steps, start=1):
        if not _equal(previous, step.expr):
            raise DerivationError(f"{derivation.title}: step {number} ({step.reason}) does not follow: {step.expr}")
        previous = step.expr
    return derivation


def _uneval_mul(*factors: sp.Expr) -> sp.Expr:
    """A product shown factor by factor, as a person writes it (SymPy would otherwise merge the factors)."""
    return sp.Mul(*(sp.UnevaluatedExpr(f) for f in factors), evaluate=False)


def derivations() -> list[Derivation]:
    """The three derivations (σ' by two routes, then σ''), each already verified by SymPy."""
    e = sp.exp(-x)
    one_plus_e = 1 + e
    s = sigma(x)
    first = sp.Derivative(DEFINITION, x)

    quotient = Derivation(
        "σ'(x) by the quotient rule",
        first,
        (
            Step(
                "quotient rule (f/g)' = (f'g − fg')/g² with f = 1, g = 1 + e^(−x)",
                (0 * one_plus_e - 1 * sp.Derivative(one_plus_e, x)) / one_plus_e**2,
            ),
            Step("d/dx (1 + e^(−x)) = −e^(−x)", e / one_plus_e**2),
            Step("split the fraction", _uneval_mul(1 / one_plus_e, e / one_plus_e)),
            Step(
                "add and subtract 1 in the numerator",
                _uneval_mul(1 / one_plus_e, sp.Add(1, e, -1, evaluate=False) / one_plus_e),
            ),
            Step(
                "(1 + e^(−x) − 1)/(1 + e^(−x)) = 1 − 1/(1 + e^(−x))",
                _uneval_mul(1 / one_plus_e, 1 - 1 / one_plus_e),
            ),
            Step("recognise σ(x) = 1/(1 + e^(−x))", _uneval_mul(s, 1 - s)),
        ),
    )
    chain = Derivation(
        "σ'(x) by the chain rule, u = 1 + e^(−x)",
        first,
        (
            Step(
                "σ = u^(−1), so σ' = dσ/du · du/dx",
                _uneval_mul(sp.Derivative(u**-1, u), sp.Derivative(one_plus_e, x)),
            ),
            Step("dσ/du = −u^(−2), du/dx = −e^(−x)", _uneval_mul(-(u**-2), -e)),
            Step("the two minus signs cancel", e / u**2),
            Step("substitute u back", e / one_plus_e**2),
            Step("as in the quotient route: e^(−x)/(1 + e^(−x)) = 1 − σ(x)", _uneval_mul(s, 1 - s)),
        ),
    )
    second = Derivation(
        "σ''(x), from σ' = σ(1 − σ)",
        sp.Derivative(_uneval_mul(s, 1 - s), x),
        (
            Step("product rule", sp.Derivative(s, x) * (1 - s) + s * sp.Derivative(1 - s, x)),
            Step("σ' = σ(1 − σ) in both terms", _uneval_mul(s, 1 - s) * (1 - s) - s * _uneval_mul(s, 1 - s)),
            Step("factor σ(1 − σ)", _uneval_mul(s, 1 - s, 1 - 2 * s)),
        ),
    )
    return [_check(d) for d in (quotient, chain, second)]


def _show(expr: sp.Expr, fmt: Format) -> str:
    if fmt == "text":
        return sp.pretty(expr, use_unicode=True)
    latex = sp.latex(expr).replace(r"σ", r"\sigma")
    return f"$${latex}$$" if fmt == "markdown" else latex


class _MathMLPrinter(MathMLPresentationPrinter):
    """SymPy's presentation MathML, written as a person writes the steps: an unevaluated factor is shown as its
    contents (not as the word "unevaluatedexpr"), e^(−x) stays in the numerator, and sums keep their order."""

    def _print_UnevaluatedExpr(self, expr: sp.UnevaluatedExpr):
        return self._print(expr.args[0])

    def _print_Derivative(self, expr: sp.Derivative):
        # d/dx (1 + e^(−x)), not d/dx 1 + e^(−x): the operand in parentheses unless it is a single term.
        mrow = super()._print_Derivative(expr)
        mrow.replaceChild(self.parenthesize(expr.expr, PRECEDENCE["Mul"]), mrow.lastChild)
        return mrow

    def _print_exp(self, expr: sp.Expr):
        return self._print(sp.Pow(sp.Symbol("e"), expr.args[0], evaluate=False))

    def _print_Mul(self, expr: sp.Mul):
        if expr.could_extract_minus_sign():
            mrow = self.dom.createElement("mrow")
            minus = self.dom.createElement("mo")
            minus.appendChild(self.dom.createTextNode("-"))
            mrow.appendChild(minus)
            mrow.appendChild(self._print(-expr))
            return mrow
        numer, denom = sp.fraction(expr, exact=True)
        if denom is sp.S.One:
            return super()._print_Mul(expr)
        frac = self.dom.createElement("mfrac")
        frac.appendChild(self._print(numer))
        frac.appendChild(self._print(denom))
        return frac


def _entity(match: re.Match) -> str:
    name = match.group(1)
    return match.group(0) if name in _XML_ENTITIES else _PLAIN.get(name, html.entities.html5.get(name + ";", "?"))


def mathml(expr: sp.Expr, display: str = "block") -> str:
    """``expr`` as a presentation-MathML ``<math>`` element that is also well-formed XML (no HTML-only named
    entities), for a browser to render itself."""
    body = re.sub(r"&(\w+);", _entity, _MathMLPrinter({"order": "none"}).doprint(expr))
    body = body.replace("<mo>-</mo>", "<mo>\u2212</mo>")  # the minus sign, not a hyphen
    return f'<math display="{display}">{body}</math>'


def render(fmt: Format = "text") -> str:
    """The verified derivations as plain text (Unicode), Markdown (with $$…$$ maths) or LaTeX."""
    out: list[str] = []
    for derivation in derivations():
        if fmt == "markdown":
            out.append(f"### {derivation.title}\n")
        elif fmt == "latex":
            out.append(f"% {derivation.title}\n\\begin{{align*}}")
        else:
            out.append(f"{derivation.title}\n{'─' * len(derivation.title)}")
        out.append(_show(derivation.lhs, fmt) if fmt != "latex" else f"  & {_show(derivation.lhs, fmt)} \\\\")
        for number, step in enumerate(derivation.steps, start=1):
            if fmt == "latex":
                out.append(f"  &= {_show(step.expr, fmt)} && \\text{{({number}) {step.reason}}} \\\\")
            elif fmt == "markdown":
                out.append(f"{number}. {step.reason} ✓\n\n   {_show(step.expr, fmt)}\n")
            else:
                out.append(f"  = ({number}) {step.reason}   [checked by SymPy]")
                out.append("\n".join("      " + line for line in _show(step.expr, fmt).splitlines()))
        if fmt == "latex":
            out.append("\\end{align*}")
        out.append("")
    summary = "Result: σ'(x) = σ(x)(1 − σ(x)),  σ''(x) = σ(x)(1 − σ(x))(1 − 2σ(x))"
    out.append(summary if fmt != "latex" else f"% {summary}")
    return "\n".join(out)
