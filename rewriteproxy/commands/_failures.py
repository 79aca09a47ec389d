"""One line for a command that failed, instead of a traceback.

A command meets the outside world (the bucket, WordPress, the disk); when that
fails, the user needs what failed and where, not the stack of boto3 or aiohttp.
:func:`describe` turns the exceptions those parts raise into such a line;
anything else is named by its type and message. The traceback is still logged
at DEBUG (``rewriteproxy --log-level DEBUG ...``).
"""

from __future__ import annotations

__all__ = ["describe"]


def describe(exc: BaseException) -> str:
    """What went wrong, in one line a user can act on."""
    botocore = _botocore_line(exc)
    if botocore is not None:
        return botocore
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _botocore_line(exc: BaseException) -> str | None:
    try:
        from botocore import exceptions as boto  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return None
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return (
            "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or the credentials in the config"
        )
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectTimeoutError):
        return f"cannot reach the S3 endpoint: {exc}"
    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "error")
        message = error.get("Message") or ""
        operation = getattr(exc, "operation_name", "request")
        return f"S3 refused {operation}: {code}" + (f": {message}" if message else "")
    if isinstance(exc, boto.BotoCoreError):
        return f"S3: {exc}"
    return None
