"""Errors that reach people and programs: a stable code, a Japanese message, an HTTP status."""

from typing import Any


class KessaiError(Exception):
    status_code = 400
    code = "error"

    def __init__(
        self, message: str, *, code: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.detail: dict[str, Any] = detail or {}


class InvalidInput(KessaiError):
    status_code = 422
    code = "invalid_input"


class NotFound(KessaiError):
    status_code = 404
    code = "not_found"


class Conflict(KessaiError):
    """Refused by the order's status or by a provider rule; nothing was sent."""

    status_code = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class RuleRefused(Conflict):
    code = "rule_refused"


class InProgress(Conflict):
    code = "operation_in_progress"


class ProviderUnavailable(KessaiError):
    """The provider could not be reached or could not answer; nothing is known to have changed."""

    status_code = 502
    code = "provider_unavailable"


class Unauthorized(KessaiError):
    status_code = 401
    code = "unauthorized"


class Forbidden(KessaiError):
    """Authenticated, but this key's scope does not reach the operation."""

    status_code = 403
    code = "forbidden"


class DatabaseUnavailable(ConnectionError):
    """The database could not be reached (refused, reset, timed out while connecting).

    The driver lets such an OSError through bare, where it would look like any network
    error, a provider's included; named, it is told apart (core.db.database_failure).
    Still an OSError, so whoever reports an unreachable database as one keeps doing so."""


def in_words(exc: BaseException) -> str:
    """What an operator is told about a failure: kessai's own message, or the kind of failure
    (a driver's message may hold SQL and its parameters: those go to the log only)."""
    if isinstance(exc, KessaiError):
        return exc.message
    kind = type(exc)
    names = {c.__module__.split(".", 1)[0] for c in kind.__mro__}
    if issubclass(kind, DatabaseUnavailable) or names & {
        "sqlalchemy",
        "asyncpg",
        "sqlite3",
        "aiosqlite",
    }:
        return "データベースでエラーが発生しました (接続の切断・タイムアウトなど)"
    if issubclass(kind, TimeoutError):
        return "時間内に応答がありませんでした"
    if issubclass(kind, OSError):
        return "通信エラーが発生しました"
    return f"内部エラーが発生しました ({kind.__name__})"


class ConfigurationError(KessaiError):
    status_code = 500
    code = "configuration_error"
