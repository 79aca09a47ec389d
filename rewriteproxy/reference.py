"""What the config models say about themselves: JSON Schema, the key reference, example files.

Everything here is derived from the models (:class:`rewriteproxy.config.Config`
and the sections it assembles): their fields, types, defaults and docstrings.
Nothing about a key is written twice:

- :func:`json_schema`: for ``rewriteproxy schema`` and editors' YAML language servers;
- :func:`markdown`: ``docs/reference.md``, committed and checked against the models
  by ``tests/test_reference.py``; regenerate it with
  ``python -m rewriteproxy.reference docs/reference.md``;
- :func:`example`: ``rewriteproxy config --example cdn|s3|cloudinary``, a commented
  starting file that loads as it is.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .config import Config
from .configfile import path_of
from .http.headers import TrustedProxies
from .settings import is_internal

__all__ = ["EXAMPLES", "SCHEMA_FILE", "example", "json_schema", "markdown"]

SCHEMA_FILE = "rewriteproxy.schema.json"  # where the README's editor set-up writes it
REGENERATE = "python -m rewriteproxy.reference docs/reference.md"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a config file."""
    schema = Config.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "rewriteproxy config",
    }


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


_TYPE_NAMES: dict[object, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    TrustedProxies: "list of networks",
}


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        names = [_type_name(a) for a in get_args(annotation) if a is not type(None)]
        return " \\| ".join(names)
    if origin is tuple:
        return "list of " + _type_name(get_args(annotation)[0]) + "s"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if annotation in _TYPE_NAMES:
        return _TYPE_NAMES[annotation]
    return str(getattr(annotation, "__name__", annotation))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if value is PydanticUndefined or value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, TrustedProxies):
        value = [str(n) for n in value.networks]
    if isinstance(value, tuple):
        value = list(value)
    text = json.dumps(value, ensure_ascii=False)
    return f"`{text}`"


def _sections(
    model: type[BaseModel], loc: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], type[BaseModel]]]:
    yield loc, model
    for name, info in model.model_fields.items():
        if is_internal(info):
            continue
        for sub in _models(info.annotation):
            if loc and _shared(name, model):
                continue  # a site's own delivery or inventory: the top-level section's keys
            yield from _sections(sub, (*loc, name))


def _shared(name: str, model: type[BaseModel]) -> bool:
    """Whether ``model``'s section ``name`` is a top-level section's model, repeated."""
    top = Config.model_fields.get(name)
    inner = _models(model.model_fields[name].annotation)
    return top is not None and bool(inner) and set(inner) <= set(_models(top.annotation))


def _about(model: type[BaseModel]) -> str:
    """The model's first paragraph, without the ``section.key``: it starts with."""
    text = _cell((model.__doc__ or "").strip().split("\n\n")[0])
    if text.startswith("``") and "``: " in text:
        text = text.split("``: ", 1)[1]
    return text[:1].upper() + text[1:]


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def markdown() -> str:
    """The key reference: one table per section, in the order of the models."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from the config models; do not edit. Regenerate with:",
        f"     {REGENERATE} -->",
        "",
        "Every key of the config file, generated from the schema that validates it",
        "(`rewriteproxy schema` prints the same as JSON Schema). A key that is not",
        "**required** may be left out, or set to `null`, for its default. Any string",
        "may be written `${NAME}` or `${NAME:-default}` to read it from the environment.",
        "",
    ]
    for loc, model in _sections(Config, ()):
        rows = [
            (name, info)
            for name, info in model.model_fields.items()
            if not is_internal(info) and not _models(info.annotation)
        ]
        subsections = [
            name
            for name, info in model.model_fields.items()
            if not is_internal(info) and _models(info.annotation)
        ]
        title = path_of(loc) if loc else "Top level"
        out += [f"## `{title}`" if loc else f"## {title}", ""]
        if loc:
            out += [_about(model), ""]
        if rows:
            out += ["| key | type | default | meaning |", "|---|---|---|---|"]
            for name, info in rows:
                out.append(
                    f"| `{name}` | {_type_name(info.annotation)} | {_default(info)} "
                    f"| {_cell(info.description)} |"
                )
            out.append("")
        shared = [s for s in subsections if loc and _shared(s, model)]
        subsections = [s for s in subsections if s not in shared]
        if subsections:
            names = ", ".join(f"`{path_of((*loc, s))}`" for s in subsections)
            out += [f"Sections: {names}.", ""]
        if shared:
            names = ", ".join(f"`{s}`" for s in shared)
            out += [f"Sections with the keys of the top-level ones: {names}.", ""]
    return "\n".join(out).rstrip() + "\n"


Provider = Literal["cdn", "s3", "cloudinary"]
EXAMPLES: tuple[str, ...] = get_args(Provider)

_BUCKET = {"bucket": "my-wordpress-media", "region": "eu-west-1", "prefix": "wp-content/uploads"}
_EXAMPLE: dict[str, dict[str, Any]] = {
    "cdn": {
        "delivery": {
            "provider": "cdn",
            "cdn": {"base_url": "https://cdn.example.com/wp-content/uploads/"},
        }
    },
    "s3": {
        "delivery": {"provider": "s3", "s3": dict(_BUCKET)},
        "inventory": {"s3": dict(_BUCKET), "on_missing": "local"},
    },
    "cloudinary": {
        "delivery": {
            "provider": "cloudinary",
            "cloudinary": {"cloud_name": "my-cloud", "delivery_type": "fetch"},
        },
        "features": {"responsive": {"enabled": True}},
    },
}


def example(provider: str) -> str:
    """A commented starting file for ``provider``; every comment is a key's help text."""
    data: dict[str, Any] = {
        "upstream": "http://127.0.0.1:8080",
        "listen": {"host": "127.0.0.1", "port": 8000},
        "site": {"hosts": ["example.com", "www.example.com"]},
        **_EXAMPLE[provider],
    }
    head = [
        f"# rewriteproxy: a starting config for provider {provider}.",
        "# Edit the values, then: rewriteproxy check --config THIS_FILE",
        "# Every key: docs/reference.md; the schema for your editor: rewriteproxy schema",
        f"# yaml-language-server: $schema={SCHEMA_FILE}",
        "",
    ]
    return "\n".join(head + list(_yaml_lines(data, Config, 0))) + "\n"


def _yaml_lines(data: Mapping[str, Any], model: type[BaseModel], depth: int) -> Iterator[str]:
    indent = "  " * depth
    for key, value in data.items():
        info = model.model_fields[key]
        if info.description:
            first = info.description.strip().split("\n\n")[0]
            yield f"{indent}# {' '.join(first.split())}"
        sub = _models(info.annotation)
        if isinstance(value, dict) and sub:
            yield f"{indent}{key}:"
            yield from _yaml_lines(value, sub[0], depth + 1)
        else:
            flow = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
            flow = flow.removesuffix("\n...").removesuffix("...").strip()
            yield f"{indent}{key}: {flow}"


def main(argv: list[str]) -> int:
    """``python -m rewriteproxy.reference FILE``: write the key reference to FILE."""
    if len(argv) != 1:
        print(f"usage: {REGENERATE}", file=sys.stderr)
        return 2
    with open(argv[0], "w", encoding="utf-8") as out:
        out.write(markdown())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
