"""Account secrets at rest: each secret field of a ProviderAccount is one AES-256-GCM token in
`provider_accounts.secrets`, bound to the account and the field (a token copied to another
row or field does not open).

Only connectors (and the update that must compare a new value with the stored one) ever see
a secret in clear; the API, the admin screens, 変更履歴 and logs see MASK or nothing.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.integrations import MASK, FieldKind, IntegrationSpec, integration, secret_keys
from kessai.accounts.integrations.fields import is_blank
from kessai.accounts.models import ProviderAccount
from kessai.core.crypto import Keyring, rotate
from kessai.core.errors import KessaiError
from kessai.providers.installed import BY_INTEGRATION

log = logging.getLogger("kessai.accounts")

# Non-secret facts about uploaded files (name, size, certificate subject and expiry), kept in
# `settings` under this key so the admin screen can say what is set without decrypting.
FILES_KEY = "_files"

# Where a connector names a field differently from the seed-001 schema (its declaration's
# setting_aliases), by the integration it reads.
CONNECTOR_ALIASES: dict[str, dict[str, str]] = {
    code: dict(p.setting_aliases) for code, p in BY_INTEGRATION.items() if p.setting_aliases
}


def secret_context(account_id: int, field: str) -> str:
    return f"provider_account:{account_id}:{field}"


def seal(keyring: Keyring, account_id: int, field: str, value: str | bytes) -> str:
    """The token stored for `field` of the account (sealed by the current master key)."""
    return keyring.encrypt(value, context=secret_context(account_id, field))


def write_values(keyring: Keyring, account: ProviderAccount, values: Mapping[str, Any]) -> None:
    """Put known-good values (a simulator's declared test merchant) into a flushed account:
    its integration's secret fields sealed, the others in settings; fields not given stay."""
    spec = integration(account.integration) if account.integration else None
    secret = set(secret_keys(spec)) if spec else set()
    account.settings = {
        **(account.settings or {}),
        **{k: v for k, v in values.items() if k not in secret},
    }
    account.secrets = {
        **(account.secrets or {}),
        **{k: seal(keyring, account.id, k, str(v)) for k, v in values.items() if k in secret},
    }


def unseal(keyring: Keyring, account_id: int, field: str, token: str) -> bytes:
    """The plaintext of a stored token; SecretUndecryptable when it cannot be opened."""
    return keyring.decrypt(token, context=secret_context(account_id, field))


def spec_of(account: ProviderAccount) -> IntegrationSpec | None:
    """The account's integration schema; None for an account made before the catalog."""
    if account.integration is None:
        return None
    try:
        return integration(account.integration)
    except KessaiError:
        return None


def _is_file(spec: IntegrationSpec | None, field: str) -> bool:
    if spec is None:
        return False
    try:
        return spec.field(field).kind is FieldKind.FILE
    except KeyError:
        return False


def decrypted_secrets(account: ProviderAccount, keyring: Keyring) -> dict[str, str | bytes]:
    """Every stored secret in clear: text as str, uploaded files as bytes."""
    spec = spec_of(account)
    out: dict[str, str | bytes] = {}
    for field, token in (account.secrets or {}).items():
        if _is_file(spec, field):
            out[field] = unseal(keyring, account.id, field, token)
        elif spec is not None:
            out[field] = keyring.decrypt_text(token, context=secret_context(account.id, field))
        else:  # no schema to say which is a file: text when it reads as text
            raw = unseal(keyring, account.id, field, token)
            try:
                out[field] = raw.decode()
            except UnicodeDecodeError:
                out[field] = raw
    return out


def connector_settings(account: ProviderAccount, keyring: Keyring) -> dict[str, Any]:
    """What a connector is built from: the stored settings plus the decrypted secrets (files
    as bytes), with the connector's own key names added where they differ (GMO PG shop_pass).

    A sealed value wins over a plain one of the same field. A secret field found only in plain
    settings (saved before the field became secret, not yet sealed by `kessai db upgrade`,
    accounts.plain_secrets) is still used, with a warning naming the account and field."""
    out: dict[str, Any] = {k: v for k, v in (account.settings or {}).items() if k != FILES_KEY}
    sealed = decrypted_secrets(account, keyring)
    spec = spec_of(account)
    plain = sorted(
        k
        for k in (secret_keys(spec) if spec else ())
        if k not in sealed and not is_blank(out.get(k))
    )
    if plain:
        log.warning(
            "秘密情報が暗号化されずに保存されています (`kessai db upgrade` で暗号化されます): "
            "account=%s fields=%s",
            account.id,
            ",".join(plain),
        )
    out.update(sealed)  # after the plain settings: the sealed value wins
    for field, alias in CONNECTOR_ALIASES.get(account.integration or "", {}).items():
        if field in out and alias not in out:
            out[alias] = out[field]
    return out


@dataclass(frozen=True)
class RotationReport:
    accounts: int  # accounts holding at least one secret
    resealed: int  # tokens sealed again under the new key
    unchanged: int  # tokens already sealed by the new key (a rotation run again)
    key_id: str  # the new key's public id


async def rotate_all(session: AsyncSession, keyring: Keyring) -> RotationReport:
    """Seal every account secret again under `keyring.primary`, opened with any key of the
    keyring. Call inside one transaction: on any token that does not open, SecretUndecryptable
    is raised before anything is written (crypto.rotate is all or nothing)."""
    accounts = (
        await session.scalars(
            select(ProviderAccount).order_by(ProviderAccount.id).with_for_update()
        )
    ).all()
    items = [
        (account, field, secret_context(account.id, field), token)
        for account in accounts
        for field, token in sorted((account.secrets or {}).items())
    ]
    rotated = rotate(keyring, keyring.primary, [(context, token) for _, _, context, token in items])
    updated: dict[int, dict[str, str]] = {}
    resealed = 0
    for (account, field, _, token), (_, new_token) in zip(items, rotated, strict=True):
        updated.setdefault(account.id, dict(account.secrets))[field] = new_token
        resealed += new_token != token
    for account in accounts:
        if account.id in updated:
            account.secrets = updated[account.id]  # a new dict: the JSON column sees the change
    return RotationReport(len(updated), resealed, len(items) - resealed, keyring.key_id)


def configured_values(account: ProviderAccount) -> dict[str, object]:
    """The account's values for completeness and cross-integration checks, without
    decrypting: a stored secret stands as a non-blank placeholder."""
    values: dict[str, object] = {
        k: v for k, v in (account.settings or {}).items() if k != FILES_KEY
    }
    values.update(dict.fromkeys(account.secrets or {}, MASK))
    return values
