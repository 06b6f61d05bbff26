"""What the simulator is configured with: shops, sites, test cards and fault switches."""

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

TEST_SHOP_ID = "tshop00000001"
TEST_SHOP_PASS = "tshoppass"  # noqa: S105 - the public test shop
TEST_SITE_ID = "tsite00000001"
TEST_SITE_PASS = "tsitepass"  # noqa: S105 - the public test site

# Test PANs (any expiry, any security code). The digits before the check digit spell the
# card company's code, so 4000000000000028 declines with 42G020000.
SUCCESS_CARDS = ("4111111111111111", "4012001037141112", "5555555555554444", "3530111333300000")
DECLINE_CARDS: dict[str, str] = {
    "4000000000000028": "42G020000",  # カード残高が不足している
    "4000000000000036": "42G030000",  # カード限度額を超えている
    "4000000000000440": "42G440000",  # セキュリティーコードが誤っている
    "4000000000000655": "42G650000",  # カード番号に誤りがある
    "4000000000000838": "42G830000",  # 有効期限に誤りがある
}
CHALLENGE_CARD = "4000000000003220"  # 3-D Secure 2.0: the issuer asks for a challenge

Tds2Style = Literal["acs", "challenge_url"]
LoseMode = Literal["close", "hang"]


@dataclass
class LoseResponse:
    """Answer nothing: the client sees the connection fail after it sent its request."""

    count: int | None = 1  # how many matching calls; None = every one
    api: str | None = None  # only this API, e.g. "ExecTran"
    mode: LoseMode = "close"  # close: headers then the connection drops; hang: wait, then drop
    hang_seconds: float = 30.0
    commit: bool = True  # False: the request is dropped before the simulator acts on it


@dataclass
class RateLimit:
    """GMO's 流量制限: answer E92000001 without acting."""

    count: int = 0  # the next N matching calls
    probability: float = 0.0  # and then each call with this probability (seeded)
    seed: int = 0
    api: str | None = None
    info: str = "E92000001"


@dataclass
class InjectError:
    """Answer a chosen ErrInfo, e.g. E91099999, 42C010000 or E90010001."""

    info: str
    count: int | None = 1
    api: str | None = None
    commit: bool = False  # True: act first, then answer the error (the outcome is hidden)


@dataclass
class SimulatorConfig:
    shops: dict[str, str] = field(default_factory=lambda: {TEST_SHOP_ID: TEST_SHOP_PASS})
    sites: dict[str, str] = field(default_factory=lambda: {TEST_SITE_ID: TEST_SITE_PASS})
    latency_seconds: float = 0.0
    lose_response: LoseResponse | None = None
    rate_limit: RateLimit | None = None
    inject_error: InjectError | None = None
    # "acs": ExecTran answers ACS=2&RedirectUrl=… (GMO's protocol spec); "challenge_url": the
    # Tds2TransResult=C&Tds2ChallengeUrl=… shape of the 2025 recordings.
    tds2_style: Tds2Style = "acs"
    token_ttl_seconds: int = 30 * 60
    auth_valid_days: int = 60  # 仮売上有効期間: SALES after this gives E01420010
    max_cards_per_member: int = 5
    now: Callable[[], datetime] | None = None  # the simulator's clock (UTC); default system
    sleep: Callable[[float], Awaitable[None]] | None = None  # default asyncio.sleep
    public_url: str | None = None  # base of RedirectUrl; default: the request's own base URL
    call_log_limit: int = 100_000


def faults_json(config: SimulatorConfig) -> dict[str, Any]:
    return {
        "latency_seconds": config.latency_seconds,
        "lose_response": asdict(config.lose_response) if config.lose_response else None,
        "rate_limit": asdict(config.rate_limit) if config.rate_limit else None,
        "inject_error": asdict(config.inject_error) if config.inject_error else None,
        "tds2_style": config.tds2_style,
    }


def _build(cls: type[Any], value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{cls.__name__} must be an object or null")
    names = {f.name for f in fields(cls)}
    unknown = set(value) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**value)


def apply_faults(config: SimulatorConfig, body: dict[str, Any]) -> None:
    """Change fault switches from a /_control JSON body (keys left out stay as they are)."""
    if "latency_seconds" in body:
        config.latency_seconds = max(0.0, float(body["latency_seconds"]))
    if "lose_response" in body:
        config.lose_response = _build(LoseResponse, body["lose_response"])
    if "rate_limit" in body:
        config.rate_limit = _build(RateLimit, body["rate_limit"])
    if "inject_error" in body:
        config.inject_error = _build(InjectError, body["inject_error"])
    if "tds2_style" in body:
        if body["tds2_style"] not in ("acs", "challenge_url"):
            raise ValueError("tds2_style must be 'acs' or 'challenge_url'")
        config.tds2_style = body["tds2_style"]
