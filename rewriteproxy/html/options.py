"""The HTML engine's settings: the ``html:`` section of the config.

.. code-block:: yaml

    html:
      extra_url_attributes: [data-hero, data-thumb]    # whole-URL attributes on any tag
      extra_srcset_attributes: [data-hero-srcset]      # srcset-valued attributes on any tag
      rewrite_inline_scripts: true                     # whole-URL JSON strings in <script>

``uploads_path`` is not a key of this section: it belongs to the site section
and comes from there (the validation context), so the engine and
:class:`rewriteproxy.media.UploadLocator` agree on it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo, model_validator
from pydantic.json_schema import SkipJsonSchema

from rewriteproxy.settings import INTERNAL, Names, Settings, not_allowed, rule

__all__ = ["HtmlOptions"]

_ATTRIBUTE_NAME = re.compile(r"[a-z_:][a-z0-9_.:-]*\Z")


def _attribute_names(names: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(n.strip().lower() for n in names)
    for name in cleaned:
        if not _ATTRIBUTE_NAME.match(name):
            raise not_allowed("an attribute name such as data-src", name)
    return cleaned


AttributeNames = Annotated[Names, AfterValidator(_attribute_names)]


class HtmlOptions(Settings):
    """``html``: what the HTML engine rewrites besides its built-in targets."""

    uploads_path: SkipJsonSchema[str] = Field("/wp-content/uploads/", json_schema_extra=INTERNAL)
    """site.uploads_path (taken from there when the file is validated; not a key of html)."""
    extra_url_attributes: AttributeNames = ()
    """Whole-URL attributes to rewrite on any tag, such as data-hero."""
    extra_srcset_attributes: AttributeNames = ()
    """srcset-valued attributes to rewrite on any tag, such as data-hero-srcset."""
    rewrite_inline_scripts: bool = True
    """Rewrite whole-URL JSON strings in <script>."""

    @model_validator(mode="before")
    @classmethod
    def _uploads_path_of_the_site(cls, data: Any, info: ValidationInfo) -> Any:
        site = (info.context or {}).get("site")
        if not isinstance(data, dict) or "site" not in (info.context or {}):
            return data
        if "uploads_path" in data:
            raise rule("is site.uploads_path's: write it there", at="uploads_path")
        return data if site is None else {**data, "uploads_path": site.uploads_path}
