"""Structured logs, one JSON object a line, from structlog and the standard library alike.

Every line carries the context bound where it was written (kessai.core.logging.bound):
request_id for a request, job_id for a job, order_id and provider for a payment call, so
one grep follows a request or a job through every process. The standard library's lines
(kessai's own loggers, uvicorn, dramatiq) pass through the same processors.

Card numbers and security codes never reach a log: a processor masks any field whose
name or value looks like one before it is rendered, as a last line of defence.
"""

import logging
import re
import sys
from collections.abc import MutableMapping
from functools import lru_cache
from typing import IO, Any

import structlog
from structlog.contextvars import bound_contextvars

from kessai.core.carddata import mask_pan

__all__ = ["bound", "configure", "get_logger", "reset"]

# Context for every line written inside the block: bound(order_id=…, provider=…).
bound = bound_contextvars

_SECRET_KEYS = re.compile(
    r"(card_?no|card_?number|pan|cvv|cvc|security_?code|pass(word)?|secret|authorization)",
    re.I,
)


@lru_cache(maxsize=1024)  # the same few field names on every line
def _secret_key(key: str) -> bool:
    return key != "event" and _SECRET_KEYS.search(key) is not None


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's terminal copy of the message
    for key, value in list(event.items()):
        if _secret_key(key):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = mask_pan(value)
    return event


def _formatter() -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),  # log.info("…", extra={"status": 200})
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _scrub,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )


def configure(level: str = "INFO", *, stream: IO[str] | None = None, reuse: bool = False) -> None:
    """JSON lines on `stream` (stderr), replacing what an earlier call installed.

    `reuse`: format the root logger's existing handlers instead (a dramatiq worker process,
    whose handler already writes where its parent collects the lines).
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_kessai", False)]:
        root.removeHandler(handler)
    if reuse and root.handlers:
        for handler in root.handlers:
            handler.setFormatter(_formatter())
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(_formatter())
        handler._kessai = True  # type: ignore[attr-defined]  # ours, replaced on the next call
        root.addHandler(handler)
    root.setLevel(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _scrub,  # here too: a handler other than ours sees the event as it leaves
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def reset() -> None:
    """Undo `configure` (tests)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_kessai", False)]:
        root.removeHandler(handler)
    structlog.reset_defaults()


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
