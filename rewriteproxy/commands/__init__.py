"""The command line's sub-commands, one module each.

Every module here has the same shape: ``NAME`` and ``HELP`` strings, an
``add_arguments(parser)`` function and a ``run(args) -> int`` function returning
the exit status. :mod:`rewriteproxy.cli` lists them in one tuple.
"""
