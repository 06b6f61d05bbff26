"""What a tester (試験購入) or the demo can ask a provider's sandbox for, read only from its
declaration (kessai.providers.kit.Sandbox): the test inputs of its declared method, a
simulated connector's options, or the customer's own page at the provider.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from kessai.providers.kit import Provider, SandboxInput


class Scenario(StrEnum):
    """The simulated connector's scenarios (擬似決済), the API's `sandbox.scenario`: kept
    here, outside its room, so the API can offer them without importing a provider."""

    SUCCEED = "succeed"
    DECLINE = "decline"  # card declined (仮売上失敗 / 与信審査エラー)
    HARD_DECLINE = "hard_decline"  # declined, and no retry can fix it
    REGISTER_FAIL = "register_fail"  # the transaction cannot be registered (取引登録失敗)
    ERROR = "error"  # the provider refuses for a reason of its own (決済エラー)
    PENDING = "pending"  # credit check running: passes on the next lookup
    PENDING_REJECT = "pending_reject"  # credit check running: fails on the next lookup
    CHALLENGE = "challenge"  # customer must complete 3-D Secure at redirect_url
    UNKNOWN = "unknown"  # done at the provider, answer lost on the way back
    LOST = "lost"  # request lost before the provider did anything
    NOT_SENT = "not_sent"  # connection refused


PAGE = "page"  # the customer approves (or not) on the provider's own page
PAGE_LABEL = "決済サービスの画面で承認する(承認・キャンセル・期限切れ)"


@dataclass(frozen=True)
class Choice:
    """One scenario offered for a method: made by a declared input, an option the
    connector takes, or (neither) the provider's own customer page."""

    name: str
    label: str
    given: SandboxInput | None = None
    option: str | None = None


def sim_url(base: str, provider: Provider) -> str:
    return f"{base}/sim/{provider.sim_path}"


def _yen(n: int) -> str:
    return f"{n:,}円"


def choices(provider: Provider | None, method: tuple[str, str], *, page: bool) -> list[Choice]:
    """The scenarios a method can be bought with. `page`: the method sends the customer to
    the provider (a wallet, a キャリア決済), so its own approval page comes first."""
    sandbox = provider.sandbox if provider else None
    if sandbox is None:
        return []
    if sandbox.options:
        return [Choice(k, v, option=k) for k, v in sandbox.options.items()]
    found = (
        [Choice(PAGE, "決済サービスの画面で承認する(承認・キャンセル・期限切れ)")] if page else []
    )
    if sandbox.method != method:
        return found  # the declared test inputs are for the declared method only
    inputs = [
        ("succeed", "成功", sandbox.succeed),
        ("pending", "保留(与信審査中)", sandbox.pending),
        ("decline", "拒否", sandbox.decline),
        ("hard_decline", "拒否(再試行不可)", sandbox.hard_decline),
    ]
    by_amount = len({i.amount for _, _, i in inputs if i is not None}) > 1
    for name, label, given in inputs:
        if given is None:
            continue
        notes = [given.code] if given.code else []
        if by_amount:
            notes.append(f"金額 {_yen(given.amount)}")
        text = f"{label}({'・'.join(notes)})" if notes else label
        found.append(Choice(name, text, given=given))
    return found


def amount_for(provider: Provider, given: SandboxInput, wanted: int) -> int:
    """The order's amount: the one wanted where the simulator answers by the payment source
    alone (every declared input has the same amount), else the declared test amount."""
    sandbox = provider.sandbox
    assert sandbox is not None
    inputs = (sandbox.succeed, sandbox.decline, sandbox.hard_decline, sandbox.pending)
    by_source = len({i.amount for i in inputs if i is not None}) == 1
    return wanted if by_source else given.amount


async def source_for(
    provider: Provider, base: str, given: SandboxInput, amount: int | None = None
) -> dict[str, str]:
    """The payment source the storefront would send (a token fetched from the simulator …),
    for `amount` where the source names the amount it pays."""
    assert provider.sandbox is not None
    source: dict[str, str] = dict(given.source)
    if amount is not None and "amount" in source:
        source["amount"] = str(amount)
    if provider.sandbox.prepare is not None:
        prepared: Mapping[str, str] = await provider.sandbox.prepare(
            sim_url(base, provider), source
        )
        source = dict(prepared)
    return source
