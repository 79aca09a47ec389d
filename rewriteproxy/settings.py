"""The vocabulary every config section is written in: a frozen pydantic model and its checks.

Every part of rewriteproxy that has settings (the proxy, each delivery
provider, each inventory source, each feature) declares its section as a
subclass of :class:`Settings` beside the code that uses it: one field per key,
its default written once, its help text as the field's docstring (the key
reference in the docs and ``rewriteproxy schema`` are generated from it), and
the rules between its keys as validators on the same class. The YAML file is
validated once, when it loads (:mod:`rewriteproxy.configfile`); the hot path
then reads plain attributes and never touches a dict or a string key.

Checks that refuse a value raise :func:`not_allowed` (the message then reads
``'ftp://x' is not allowed: expected an http(s) URL``); rules between keys
raise :func:`rule`, optionally naming the key they are about (``at``), since a
model validator is otherwise located at its whole section. Secrets are
declared as :data:`Secret` (marked :data:`SECRET`) so that no error echoes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

__all__ = [
    "INTERNAL",
    "SECRET",
    "ConfigError",
    "Names",
    "Secret",
    "Settings",
    "checked",
    "is_internal",
    "not_allowed",
    "rule",
]


class ConfigError(ValueError):
    """A config file that cannot be used; the message names each key, its line and the fix."""


class Settings(BaseModel):
    """One section of the config file: frozen, strict about unknown keys, documented."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        coerce_numbers_to_str=True,  # `param: 1` and `prefix: 2024` are the strings they look like
        use_attribute_docstrings=True,  # a field's docstring is its help text
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        # `key: ~` (or a key with nothing after it) means the default, as if it were absent;
        # an unknown key stays, to be reported.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or k not in cls.model_fields}
        return data


def not_allowed(
    expected: str, value: object = None, at: str | tuple[str, ...] = ""
) -> PydanticCustomError:
    """The value is refused; ``expected`` says what is allowed (``value``: the item at fault
    when it is one item of a list or mapping; ``at``: as for :func:`rule`)."""
    context: dict[str, Any] = {"expected": expected, "at": _keys(at)}
    if value is not None:
        context["value"] = value
    return PydanticCustomError("not_allowed", "expected {expected}", context)


def rule(message: str, at: str | tuple[str | int, ...] = "") -> PydanticCustomError:
    """A rule between keys is broken; ``at`` is the key below the section it is about: dotted
    (``versioning.style``), or a tuple of keys (and list indexes) when a key may hold a dot
    itself."""
    return PydanticCustomError("rule", "{message}", {"message": message, "at": _keys(at)})


def _keys(at: str | tuple[str | int, ...]) -> list[str | int]:
    return list(at) if isinstance(at, tuple) else [k for k in at.split(".") if k]


def checked(parse: Callable[[str], str], expected: str) -> AfterValidator:
    """A string check: ``parse`` returns the value (perhaps normalised) or raises ValueError."""

    def check(value: str) -> str:
        if value is None:  # an optional key left unset
            return value
        try:
            return parse(value)
        except ValueError as exc:
            detail = f" ({exc})" if str(exc) else ""
            raise not_allowed(expected + detail) from exc

    return AfterValidator(check)


def _one_or_many(value: object) -> object:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list | tuple):
        raise not_allowed("a list of strings")
    return value


Names = Annotated[tuple[str, ...], BeforeValidator(_one_or_many)]
"""A list of strings; a single string is a list of one (``hosts: wp.test``)."""


class _SecretMarker:
    def __repr__(self) -> str:
        return "SECRET"


SECRET = _SecretMarker()
"""Marks a field whose value no message may show."""


INTERNAL: dict[str, Any] = {"internal": True}
"""``json_schema_extra`` of a field the file may not set (it is filled in from another section)."""


def is_internal(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, Mapping) and bool(extra.get("internal"))


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


Secret = Annotated[str | None, SECRET, BeforeValidator(_empty_is_none), Field(repr=False)]
"""A credential: never shown in errors or reprs; empty is unset."""
