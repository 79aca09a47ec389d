"""The optional C parts of the HTML engine; everything else is configured in pyproject.toml.

Both extensions are optional: where they cannot be built (no C compiler, no
Python headers) the install goes on and the engine uses its pure-Python
reference code (the scanner's regex tokenizer, the rewriter's plain-value path),
which gives the same output, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rewriteproxy.html._tokenizer",
            ["rewriteproxy/html/_tokenizer.c"],
            optional=True,
        ),
        Extension(
            "rewriteproxy.html._values",
            ["rewriteproxy/html/_values.c"],
            optional=True,
        ),
    ]
)
