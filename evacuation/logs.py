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
        logger_factory=structlog.PrintLoggerFactory(sys.stdout if json else sys.stderr),
        cache_logger_on_first_use=False,
    )
