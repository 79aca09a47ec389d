"""The config file: YAML with ``${ENV}`` references, validated against a model, every error by line.

:func:`read` parses the YAML once into plain data and remembers the line of
every key and list item (from :func:`yaml.compose`'s marks). It expands
``${NAME}`` and ``${NAME:-default}`` in string values from the environment,
remembering which values came from there. :func:`validate` then checks the data
against a :class:`~rewriteproxy.settings.Settings` model and turns *all* of
pydantic's errors into one :class:`~rewriteproxy.settings.ConfigError`:

- unknown keys first (a typo of a required key is then read before "required"),
  each with the nearest known key (``did you mean base_url?``, by :mod:`difflib`);
- then the others in the order of the file, each naming the key path, its line,
  the value written and what is allowed;
- never the value of a secret (a field marked :data:`~rewriteproxy.settings.SECRET`)
  nor a value that came from the environment.

An unset variable is an error where its value is used; in the sections named
``optional`` (the providers that are not selected) it is left as written and
is an error only if the value written is refused too.

This module knows YAML and pydantic, not rewriteproxy's keys: those are in the
models, and :mod:`rewriteproxy.config` says which sections are optional.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from .settings import SECRET, ConfigError, is_internal

__all__ = ["Document", "Loc", "document", "path_of", "read", "validate"]

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Document:
    """A config file's data, the line of each key, and what came from the environment."""

    data: dict[str, Any]
    lines: Mapping[Loc, int] = field(default_factory=dict)
    from_env: frozenset[Loc] = frozenset()
    unset: Mapping[Loc, str] = field(default_factory=dict)  # loc -> the variable not set


def read(text: str, source: str, environ: Mapping[str, str]) -> Document:
    """The YAML document, environment expanded; ``ConfigError`` if it is not a YAML mapping."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    lines: dict[Loc, int] = {}
    twice: list[str] = []
    if node is not None:
        _collect_lines(node, (), lines, twice)
    if twice:
        # YAML keeps the last of two equal keys; a config would silently lose the first.
        raise ConfigError(f"{source}: " + "; ".join(twice))
    return document(data, environ, lines)


def document(
    data: Mapping[str, Any], environ: Mapping[str, str], lines: Mapping[Loc, int] | None = None
) -> Document:
    """Data already read (a section, in tests), environment expanded."""
    from_env: set[Loc] = set()
    unset: dict[Loc, str] = {}
    expanded = _expand(dict(data), (), environ, from_env, unset)
    return Document(expanded, lines or {}, frozenset(from_env), unset)


def _collect_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], twice: list[str]) -> None:
    """The line of every key and list item; ``twice`` gets a message per repeated key."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*loc, str(key_node.value))
            line = key_node.start_mark.line + 1
            if key in lines:
                twice.append(f"{path_of(key)} (lines {lines[key]} and {line}): is written twice")
            lines[key] = line
            _collect_lines(value_node, key, lines, twice)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _collect_lines(item, (*loc, index), lines, twice)


def _expand(
    value: Any, loc: Loc, environ: Mapping[str, str], from_env: set[Loc], unset: dict[Loc, str]
) -> Any:
    if isinstance(value, dict):
        return {
            str(k): _expand(v, (*loc, str(k)), environ, from_env, unset) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand(v, (*loc, i), environ, from_env, unset) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def lookup(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            from_env.add(loc)
            return environ[name]
        if default is not None:
            return default
        unset.setdefault(loc, name)
        return match.group(0)

    return _ENV_REF.sub(lookup, value)


def validate(
    model: type[M],
    document: Document,
    source: str = "<config>",
    *,
    context: Mapping[str, Any] | None = None,
    optional: Collection[Loc] = (),
    at: Loc = (),
) -> M:
    """``document`` as ``model``, or one ``ConfigError`` naming every problem in it.

    ``at`` is where the document sits in a whole file, when it is one section of it.
    """
    errors: list[ErrorDetails] = []
    result: M | None = None
    try:
        result = model.model_validate(document.data, context=dict(context or {}))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    problems = _Problems(model, document, at)
    refused_unset: set[Loc] = set()
    for error in errors:
        loc = _located(error)
        # An error about a value left unset is that variable's error (a whole-file error
        # is not: it would hide every other).
        unset = [u for u in document.unset if loc and _overlap(u, loc)]
        if unset:
            refused_unset.update(unset)
            continue
        problems.add(error, loc)
    for loc, name in document.unset.items():
        if loc in refused_unset or not any(loc[: len(o)] == tuple(o) for o in optional):
            problems.unset(loc, name)
    if problems.found:
        raise ConfigError(problems.message(source))
    assert result is not None
    return result


def _located(error: ErrorDetails) -> Loc:
    """The error's key path, with the key a rule or check names below its own (``at``)."""
    at = (error.get("ctx") or {}).get("at") if error["type"] in ("rule", "not_allowed") else None
    return (*error["loc"], *(at or ()))


def _overlap(a: Loc, b: Loc) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def path_of(loc: Loc) -> str:
    """``('proxy', 'trusted_proxies', 0)`` → ``proxy.trusted_proxies[0]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(order=True, frozen=True, slots=True)
class _Problem:
    rank: int  # unknown keys first
    line: int
    text: str


class _Problems:
    def __init__(self, model: type[BaseModel], document: Document, at: Loc) -> None:
        self._model = model
        self._document = document
        self._at = at
        self._found: list[_Problem] = []

    @property
    def found(self) -> bool:
        return bool(self._found)

    def message(self, source: str) -> str:
        prefix = "" if source == "<config>" else f"{source}: "
        found = sorted(set(self._found))
        if len(found) == 1:
            return prefix + found[0].text
        return f"{prefix}{len(found)} problems:\n" + "\n".join(f"  {p.text}" for p in found)

    def _line(self, loc: Loc) -> int | None:
        return self._document.lines.get(loc)

    def _where(self, loc: Loc) -> str:
        line = self._line(loc)
        return f"{self._path(loc)} (line {line})" if line else self._path(loc)

    def _path(self, loc: Loc) -> str:
        return path_of((*self._at, *loc))

    def unset(self, loc: Loc, name: str) -> None:
        self._found.append(
            _Problem(
                1,
                self._line(loc) or 0,
                f"{self._where(loc)}: environment variable {name} is not set "
                f"(or write ${{{name}:-default}})",
            )
        )

    def add(self, error: ErrorDetails, loc: Loc) -> None:
        kind, ctx = error["type"], error.get("ctx") or {}
        if kind == "extra_forbidden":
            self._found.append(
                _Problem(
                    0, self._line(loc) or 0, f"{self._where(loc)}: unknown key{self._hint(loc)}"
                )
            )
            return
        if kind == "missing":
            parent = loc[:-1]
            line = self._line(parent)
            within = f" (in {self._path(parent)}, line {line})" if parent and line else ""
            about = _summary(_field_at(self._model, loc))
            self._found.append(
                _Problem(1, line or 0, f"{self._path(loc)}: is required{about}{within}")
            )
            return
        line = self._line(loc) or self._nearest_line(loc)
        if kind == "rule":
            text = f"{self._where(loc)}: {ctx['message']}"
        else:
            value = ctx["value"] if "value" in ctx else error.get("input")
            text = f"{self._where(loc)}: {self._shown(loc, value)} is not allowed: "
            text += _expected(kind, ctx, error["msg"])
        self._found.append(_Problem(1, line, text))

    def _nearest_line(self, loc: Loc) -> int:
        while loc:
            loc = loc[:-1]
            if loc in self._document.lines:
                return self._document.lines[loc]
        return 0

    def _shown(self, loc: Loc, value: object) -> str:
        """The value as written, unless it is a secret or came from the environment."""
        found = _field_at(self._model, loc)
        if found is not None and SECRET in found.metadata:
            return "the secret (not shown)"
        if any(_overlap(e, loc) for e in self._document.from_env):
            return "the value from the environment (not shown)"
        if isinstance(value, str) and value in self._secrets():
            return "a secret's value (not shown)"  # repeated by a YAML alias, or copied
        if isinstance(value, dict):
            return "a mapping"
        if isinstance(value, list | tuple):
            return "a list"
        return repr(value)

    def _secrets(self) -> frozenset[str]:
        """The values written for secrets, anywhere in the document."""
        found: set[str] = set()

        def walk(value: object, loc: Loc) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(item, (*loc, str(key)))
            elif isinstance(value, str) and value:
                field_info = _field_at(self._model, loc)
                if field_info is not None and SECRET in field_info.metadata:
                    found.add(value)

        walk(self._document.data, ())
        return frozenset(found)

    def _hint(self, loc: Loc) -> str:
        parent = _model_at(self._model, loc[:-1])
        if parent is None:
            return ""
        allowed = sorted(k for k, f in parent.model_fields.items() if not is_internal(f))
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        if close:
            return f"; did you mean {close[0]}?"
        return f" (allowed here: {', '.join(allowed)})"


def _summary(info: FieldInfo | None) -> str:
    if info is None or not info.description:
        return ""
    text = info.description.strip().split("\n\n")[0].replace("\n", " ").rstrip(".")
    if text[1:2].islower():  # "The URL…" reads "is required: the URL…"
        text = text[0].lower() + text[1:]
    return ": " + text


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _model_of(model.model_fields[part].annotation)
    return model


def _field_at(root: type[BaseModel], loc: Loc) -> FieldInfo | None:
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return None
    parent = _model_at(root, tuple(names[:-1]))
    return parent.model_fields.get(names[-1]) if parent is not None else None


def _expected(kind: str, ctx: Mapping[str, Any], fallback: str) -> str:
    if kind == "not_allowed":
        return f"expected {ctx['expected']}"
    fixed = {
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "int_type": "a whole number",
        "int_parsing": "a whole number",
        "int_from_float": "a whole number",
        "float_type": "a number",
        "float_parsing": "a number",
        "string_type": "a string",
        "model_type": "a mapping of keys",
        "model_attributes_type": "a mapping of keys",
        "dict_type": "a mapping of keys",
        "list_type": "a list",
        "tuple_type": "a list",
        "string_too_short": "a non-empty string",
    }
    if kind in fixed:
        return f"expected {fixed[kind]}"
    if kind == "greater_than_equal":
        return f"expected at least {ctx['ge']}"
    if kind == "greater_than":
        return f"expected more than {ctx['gt']}"
    if kind == "less_than_equal":
        return f"expected at most {ctx['le']}"
    if kind == "less_than":
        return f"expected less than {ctx['lt']}"
    if kind == "literal_error":
        choices = str(ctx["expected"]).replace("'", "").replace(" or ", ", ")
        return f"expected one of {choices}"
    return fallback[0].lower() + fallback[1:] if fallback else "an other value"
