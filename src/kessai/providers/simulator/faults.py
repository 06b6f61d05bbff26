"""Fault switches shared by every simulator, each limited to one call name (`api`) or all.

A simulator consults them for each call: `latency_seconds` first, then `rate_limit` (answer
the provider's own rate-limit code without acting), `server_error` (an HTTP 5xx from the
provider's front; `commit` says whether the call was processed behind it), `lose_response`
(no answer after the headers; `commit` likewise) and `inject_error` (a chosen error code).
A count of None means every matching call.
"""

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Protocol, TypeVar

LoseMode = Literal["close", "hang"]


@dataclass
class LoseResponse:
    """Answer nothing: the client sees the connection fail after it sent its request."""

    count: int | None = 1  # how many matching calls; None = every one
    api: str | None = None  # only this call, e.g. "ExecTran"
    mode: LoseMode = "close"  # close: headers then the connection drops; hang: wait, then drop
    hang_seconds: float = 30.0
    commit: bool = True  # False: the request is dropped before the simulator acts on it


@dataclass
class RateLimit:
    """The provider's rate-limit answer, without acting."""

    count: int = 0  # the next N matching calls
    probability: float = 0.0  # and then each call with this probability (seeded)
    seed: int = 0
    api: str | None = None
    info: str = ""  # the provider's own code; "" = the simulator's rate_limit_code


@dataclass
class InjectError:
    """Answer a chosen error code of the provider."""

    info: str
    count: int | None = 1
    api: str | None = None
    commit: bool = False  # True: act first, then answer the error (the outcome is hidden)


@dataclass
class ServerError:
    """An HTTP 5xx from the provider's front (load balancer, maintenance page)."""

    status: int = 503
    count: int | None = 1
    api: str | None = None
    commit: bool = False  # True: the call was processed behind the error page


class Faulty(Protocol):
    """What a simulator's configuration holds (its dataclass has these fields)."""

    latency_seconds: float
    lose_response: LoseResponse | None
    rate_limit: RateLimit | None
    inject_error: InjectError | None
    server_error: ServerError | None


_Counted = TypeVar("_Counted", LoseResponse, InjectError, ServerError)


def take(fault: _Counted | None, api: str) -> _Counted | None:
    """The fault if it applies to this call, counting it down."""
    if fault is None or (fault.api and fault.api != api):
        return None
    if fault.count is not None:
        if fault.count <= 0:
            return None
        fault.count -= 1
    return fault


@dataclass
class RateLimiter:
    """Decides, call by call, whether the rate limit answers (seeded, so tests repeat)."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311

    def reseed(self, limit: RateLimit | None) -> None:
        self.rng = random.Random(limit.seed if limit else 0)  # noqa: S311

    def limited(self, limit: RateLimit | None, api: str) -> str | None:
        if limit is None or (limit.api and limit.api != api):
            return None
        if limit.count > 0:
            limit.count -= 1
            return limit.info
        if limit.probability and self.rng.random() < limit.probability:
            return limit.info
        return None


def faults_json(config: Faulty) -> dict[str, Any]:
    def of(value: Any) -> Any:
        return asdict(value) if value is not None else None

    return {
        "latency_seconds": config.latency_seconds,
        "lose_response": of(config.lose_response),
        "rate_limit": of(config.rate_limit),
        "inject_error": of(config.inject_error),
        "server_error": of(config.server_error),
    }


def build(cls: type[Any], value: Any) -> Any:
    """A fault dataclass from /_control JSON (None switches it off); unknown fields refused."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{cls.__name__} must be an object or null")
    names = {f.name for f in fields(cls)}
    unknown = set(value) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**value)


def apply_faults(
    config: Faulty, body: dict[str, Any], rate_limit: type[RateLimit] = RateLimit
) -> None:
    """Change fault switches from a /_control JSON body (keys left out stay as they are)."""
    if "latency_seconds" in body:
        config.latency_seconds = max(0.0, float(body["latency_seconds"]))
    if "lose_response" in body:
        config.lose_response = build(LoseResponse, body["lose_response"])
    if "rate_limit" in body:
        config.rate_limit = build(rate_limit, body["rate_limit"])
    if "inject_error" in body:
        config.inject_error = build(InjectError, body["inject_error"])
    if "server_error" in body:
        config.server_error = build(ServerError, body["server_error"])
        if config.server_error and not 500 <= config.server_error.status <= 599:
            raise ValueError("server_error status must be 500–599")
