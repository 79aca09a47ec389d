"""The reference, the JSON Schema and the examples come from the config models and agree with them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from rewriteproxy.config import Config, parse_config
from rewriteproxy.reference import EXAMPLES, REGENERATE, example, json_schema, markdown

ROOT = Path(__file__).resolve().parent.parent


def _models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found = {model}
    for info in model.model_fields.values():
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                found |= _models(arg)
    return found


def test_the_committed_reference_is_generated_from_the_models():
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == markdown(), f"docs/reference.md is stale: run {REGENERATE}"


def test_every_key_has_its_help_text_in_the_model():
    undocumented = [
        f"{model.__name__}.{name}"
        for model in _models(Config)
        for name, info in model.model_fields.items()
        if not info.description
    ]
    assert undocumented == []


def test_the_reference_names_every_key_with_its_default():
    page = markdown()
    assert "| `upstream` | string | **required** |" in page
    assert "| `port` | integer | `8000` |" in page
    assert '| `trusted_proxies` | list of networks | `["127.0.0.1/32", "::1/128"]` |' in page
    assert "## `delivery.cloudinary`" in page
    assert 'uploads_path` | string | `"/wp-content/uploads/"`' in page  # site's, not html's
    assert "## `html`" in page and page.count("`uploads_path`") == 2  # site and sites, not html


def test_the_schema_refuses_unknown_keys_in_every_section_and_requires_what_config_requires():
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == {"upstream"}
    assert schema["oneOf"] == [{"required": ["site"]}, {"required": ["sites"]}]
    assert schema["additionalProperties"] is False
    definitions = schema["$defs"]
    assert {m.__name__ for m in _models(Config)} - {"Config"} == set(definitions)
    assert all(d["additionalProperties"] is False for d in definitions.values())
    # Keys filled in from another section are neither offered nor required.
    assert all(set(d.get("required", ())) <= set(d["properties"]) for d in definitions.values())
    assert "account" not in definitions["CloudinaryInventoryConfig"]["properties"]
    assert "uploads_path" not in definitions["HtmlOptions"]["properties"]
    cdn = definitions["CdnConfig"]
    assert cdn["required"] == ["base_url"]
    assert cdn["properties"]["base_url"]["description"].startswith("The URL that replaces")
    proxy = definitions["ProxyConfig"]["properties"]
    assert proxy["trusted_proxies"]["default"] == ["127.0.0.1/32", "::1/128"]


@pytest.mark.parametrize("provider", EXAMPLES)
def test_each_example_loads_as_it_is_and_selects_its_provider(provider):
    text = example(provider)
    config = parse_config(text, environ={})
    assert config.delivery.provider == provider
    assert config.delivery.settings is not None
    assert "# yaml-language-server: $schema=rewriteproxy.schema.json" in text
    # Every key written is explained above it.
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            assert lines[number - 1].lstrip().startswith("# "), line
