"""Message templates: Jinja2 in its sandbox, so a rule's text can read the firing's context
but never call into Python (no attribute tricks, no imports, no file access).

Syntax is checked when a rule is loaded (:func:`check`); rendering an undefined name is an
error at delivery, recorded on the delivery, never on the score write that fired it.

Example::

    render("{{ entity }} fell to {{ after | round }}", {"entity": "42", "after": 431.6})
    # '42 fell to 432.0'
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateProblem", "check", "render"]


class TemplateProblem(ValueError):
    """A template that does not parse or does not render with the given context."""


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Any:
    return _environment().from_string(text)


def check(text: str, where: str) -> None:
    """Refuse a template that does not parse (``ValueError`` naming ``where``)."""
    try:
        _compiled(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"{where}: the template does not parse: {exc.message}") from None


def render(text: str, context: Mapping[str, Any]) -> str:
    """Render ``text`` with ``context``; :class:`TemplateProblem` says why it could not."""
    try:
        return str(_compiled(text).render(**context)).strip()
    except TemplateError as exc:
        raise TemplateProblem(f"template {text[:60]!r}: {exc}") from None
