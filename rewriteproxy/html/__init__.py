"""The HTML engine: byte-preserving rewriting of upload URLs in HTML documents.

See :mod:`.rewriter` for what is rewritten and how, :mod:`.scanner` for the
tokenizer and its limits, :mod:`.targets` for the attributes URLs are looked
for in, :mod:`.options` for the ``html:`` config section.
"""

from rewriteproxy.html.options import HtmlOptions
from rewriteproxy.html.rewriter import Element, ElementHandler, HtmlRewriter

__all__ = ["Element", "ElementHandler", "HtmlOptions", "HtmlRewriter"]
