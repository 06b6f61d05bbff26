"""Accounts whose keys the provider hands over (the declaration's `key_exchange`): Amazon Pay
v2's 「Amazonアカウント新規登録・連携」.

`start` gives the account a new key pair (the private key sealed like every secret, the fields
the exchange fills emptied: the old keys no longer match) and says where the operator's
browser posts the registration form. `receive` reads what the provider posts to the account's
keyShareURL and saves the handed-over settings through the usual update (変更履歴 included).
A payload that does not open with this account's key changes nothing.
"""

import logging
from dataclasses import dataclass

from kessai.accounts import service
from kessai.accounts.secrets import decrypted_secrets
from kessai.core.db import transaction
from kessai.core.errors import Conflict, InvalidInput
from kessai.providers.installed import by_integration, provider
from kessai.providers.kit import KeyExchange
from kessai.services import Services

log = logging.getLogger("kessai.accounts.key_exchange")

KEY_SHARE_PATH = "/key-exchange/{provider}/{account_id}"
ACTOR = "連携(Amazon Pay)"
LINKED = "連携済み"
NOT_LINKED = "未連携"


@dataclass(frozen=True)
class Registration:
    url: str  # where the operator's browser posts
    fields: dict[str, str]


def exchange_of(integration: str | None) -> KeyExchange | None:
    found = by_integration(integration)
    return found.key_exchange if found is not None else None


def answer_headers(provider_name: str) -> dict[str, str]:
    found = provider(provider_name)
    exchange = found.key_exchange if found is not None else None
    return dict(exchange.answer_headers) if exchange is not None else {}


def key_share_url(base_url: str, provider_name: str, account_id: int) -> str:
    path = KEY_SHARE_PATH.format(provider=provider_name, account_id=account_id)
    return base_url.rstrip("/") + path


def _exchange(
    integration: str | None, account_id: int, provider_name: str | None = None
) -> KeyExchange:
    found = by_integration(integration)
    exchange = found.key_exchange if found is not None else None
    if found is None or exchange is None or provider_name not in (None, found.name):
        raise Conflict(
            "この外部連携アカウントは鍵の連携に対応していません",
            code="key_exchange_unsupported",
            detail={"account_id": account_id},
        )
    return exchange


def is_linked(integration: str | None, values: dict[str, object]) -> bool:
    """Have the provider's keys arrived (every field the exchange fills is set)?"""
    exchange = exchange_of(integration)
    return exchange is not None and all(values.get(k) not in (None, "") for k in exchange.fields)


async def start(services: Services, account_id: int, base_url: str, *, actor: str) -> Registration:
    async with transaction(services.sessions) as s:
        account = await service.get_account(s, account_id)
    exchange = _exchange(account.integration, account_id)
    found = by_integration(account.integration)
    assert found is not None  # _exchange found it
    private_pem, public_key = exchange.new_keys()
    url, fields = exchange.registration(
        account.settings or {}, public_key, key_share_url(base_url, found.name, account_id)
    )
    await service.update_account(
        services,
        account_id,
        {
            exchange.private_key_field: service.UploadedFile(
                private_pem, filename="amazon_pay_private_key.pem"
            )
        },
        clear=[k for k in exchange.fields if (account.settings or {}).get(k)],
        actor=actor,
    )
    log.info("鍵の連携を開始しました: account=%s", account_id)
    return Registration(url, fields)


async def receive(services: Services, provider_name: str, account_id: int, payload: str) -> None:
    """Save what the provider handed over, or raise (NotFound / Conflict / InvalidInput with
    a Japanese message); a refusal changes nothing."""
    async with transaction(services.sessions) as s:
        account = await service.get_account(s, account_id)  # NotFound: no such account
    exchange = _exchange(account.integration, account_id, provider_name)
    private_pem = decrypted_secrets(account, services.keyring).get(exchange.private_key_field)
    if not isinstance(private_pem, bytes):
        raise Conflict(
            "このアカウントでは連携が始まっていません(「Amazonアカウント新規登録・連携」から"
            "始めてください)",
            code="key_exchange_not_started",
        )
    values = exchange.read(payload, private_pem)
    try:
        await service.update_account(services, account_id, values, actor=ACTOR)
    except InvalidInput:
        log.warning("鍵の連携で受け取った値を保存できませんでした: account=%s", account_id)
        raise
    log.info("鍵の連携が完了しました: account=%s", account_id)
