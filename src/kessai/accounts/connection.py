"""Whether kessai can connect an 外部連携アカウント to its provider, and the words that say so.

An account of an integration kessai has no connector for is kept in production with the
connector "none" (accounts.service): its settings are saved, but nothing can be sent. Every
place that would reach the provider asks here first (the payment engine through `decide`
and the connector registry, order and 定期受注 creation, the 定期 billing run, the
接続テスト), and every screen shows the same notice: the rule and its words live only here.
In the sandbox such an account gets the simulated connector instead and is not refused.
"""

from kessai.accounts.integrations import IntegrationSpec
from kessai.accounts.integrations import integration as integration_spec
from kessai.accounts.models import ProviderAccount
from kessai.core.errors import Conflict, InvalidInput

NO_CONNECTOR = "none"
CODE = "provider_not_connected"
NOTICE = "決済代行会社との接続: 未対応"

# An integration kessai does not speak, and the one whose account serves the same payments:
# 「NP 後払い」 is NP's SOAP service (NPコネクトプロ); kessai speaks NP's REST API, which
# needs the 加盟店コード that only 「NP 後払いリアルタイム」 carries.
SERVED_BY: dict[str, tuple[str, tuple[str, ...], str]] = {
    "np_atobarai": ("np_atobarai_realtime", ("shop_code", "sp_code", "terminal_id"), "NP後払い"),
}


def connects(connector: str | None) -> bool:
    """False for an account whose provider kessai cannot reach (connector "none")."""
    return connector != NO_CONNECTOR


def _spec(code: str | None) -> IntegrationSpec | None:
    try:
        return integration_spec(code) if code else None
    except InvalidInput:  # written by a newer version
        return None


def explanation(integration: str | None) -> str:
    """Why an account of this integration sends nothing, and what to use instead."""
    spec = _spec(integration)
    name = spec.name if spec else integration or "(連携先未登録)"
    if spec is not None and not spec.is_payment:  # Re:lation, LINE ID …: no payments at all
        return (
            f"外部連携アカウント「{name}」はkessaiから接続できません(未対応)。"
            "設定は保存されますが、kessaiからは何も送信しません"
        )
    text = f"外部連携アカウント「{name}」はkessaiから決済代行会社へ接続できません(未対応)。"
    served = SERVED_BY.get(integration or "")
    if served is None:
        return text + (
            "この外部連携アカウントの支払い方法では、オーソリ・売上・取消・金額変更を行えません"
        )
    code, keys, payment = served
    instead = integration_spec(code)
    labels = "・".join(instead.field(k).label for k in keys)
    return (
        text + f"{payment}は「{instead.name}」の外部連携アカウント({labels})を登録し、"
        "その支払い方法でご利用ください"
    )


def notice(account: ProviderAccount | None) -> str | None:
    """What a screen or a response says about this account: None when it connects."""
    if account is None or connects(account.connector):
        return None
    return explanation(account.integration)


def not_connected(integration: str | None, account_id: int | None = None) -> Conflict:
    """409 provider_not_connected: refused before anything is written or sent."""
    return Conflict(
        explanation(integration),
        code=CODE,
        detail={"account_id": account_id, "integration": integration},
    )


def require_connected(account: ProviderAccount | None) -> None:
    if account is not None and not connects(account.connector):
        raise not_connected(account.integration, account.id)
