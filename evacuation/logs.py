"""structlog set-up for entry points (handlers, CLI, drill). The library itself never calls this."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(*, json: bool = True, level: str = "INFO") -> None:
    """JSON lines to stdout (Lambda) or readable console lines to stderr (CLI)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=_CurrentStream(json=json),
        cache_logger_on_first_use=False,
    )


class _CurrentStream:
    """Logger factory that looks up sys.stdout / sys.stderr each time a logger is made.

    PrintLoggerFactory(sys.stderr) keeps the stream object it was given; when that stream is
    swapped and closed (pytest capture, a redirected CLI, the drill capturing handler output),
    every later log line fails with "I/O operation on closed file".
    """

    def __init__(self, *, json: bool) -> None:
        self._json = json

    def __call__(self, *args: object) -> structlog.PrintLogger:
        return structlog.PrintLogger(sys.stdout if self._json else sys.stderr)
