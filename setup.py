"""The optional C tokenizer; everything else is configured in pyproject.toml.

The extension is optional: where it cannot be built (no C compiler, no Python
headers) the install goes on and the scanner uses its pure-Python tokenizer,
which reads documents the same way, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rewriteproxy.html._tokenizer",
            ["rewriteproxy/html/_tokenizer.c"],
            optional=True,
        )
    ]
)
