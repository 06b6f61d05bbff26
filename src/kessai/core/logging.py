"""Structured logs (structlog over the standard library), one JSON object a line.

Card numbers and security codes never reach a log: a processor masks any field whose
name or value looks like one before it is rendered, as a last line of defence.
"""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from kessai.core.carddata import mask_pan

_SECRET_KEYS = re.compile(
    r"(card_?no|card_?number|pan|cvv|cvc|security_?code|pass(word)?|secret)", re.I
)


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key != "event" and _SECRET_KEYS.search(key):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = mask_pan(value)
    return event


def configure(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _scrub,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
