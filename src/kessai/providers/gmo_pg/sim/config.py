"""What the simulator is configured with: shops, sites, test cards and fault switches (those
of the simulator base, kessai.providers.simulator.faults, with GMO's E92000001 as its
rate-limit answer)."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from kessai.providers.simulator import faults
from kessai.providers.simulator.faults import InjectError, LoseResponse, ServerError
from kessai.providers.simulator.store import SimulatorStore

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


@dataclass
class RateLimit(faults.RateLimit):
    """GMO's 流量制限: answer E92000001 without acting."""

    info: str = "E92000001"


@dataclass
class SimulatorConfig:
    shops: dict[str, str] = field(default_factory=lambda: {TEST_SHOP_ID: TEST_SHOP_PASS})
    sites: dict[str, str] = field(default_factory=lambda: {TEST_SITE_ID: TEST_SITE_PASS})
    latency_seconds: float = 0.0
    lose_response: LoseResponse | None = None
    rate_limit: faults.RateLimit | None = None
    inject_error: InjectError | None = None
    server_error: ServerError | None = None
    # "acs": ExecTran answers ACS=2&RedirectUrl=… (GMO's protocol spec); "challenge_url": the
    # Tds2TransResult=C&Tds2ChallengeUrl=… shape of the 2025 recordings.
    tds2_style: Tds2Style = "acs"
    token_ttl_seconds: int = 30 * 60
    auth_valid_days: int = 60  # 仮売上有効期間: SALES after this gives E01420010
    max_cards_per_member: int = 5
    now: Callable[[], datetime] | None = None  # the simulator's clock (UTC); default system
    sleep: Callable[[float], Awaitable[None]] | None = None  # default asyncio.sleep
    public_url: str | None = None  # base of RedirectUrl; default: the request's own base URL
    # True: GET on the challenge URL shows the issuer's page (認証する / 認証しない) first.
    challenge_page: bool = False
    call_log_limit: int = 100_000
    # Where its transactions and members outlive a restart (kessai's database); None: memory.
    store: SimulatorStore | None = None
    # 結果通知 (sim/notify.py): the shop's 結果通知プログラム URL
    notify_url: str | None = None


def apply_notify(config: SimulatorConfig, body: Mapping[str, Any]) -> dict[str, Any]:
    """The 結果通知 URL of a /_control body (left out, it stays as it is)."""
    if "notify_url" in body:
        url = body["notify_url"]
        if url is not None and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            raise ValueError("notify_url must be an http(s) URL or null")
        config.notify_url = url
    return {"notify_url": config.notify_url}
