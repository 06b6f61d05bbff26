"""What a provider declares about itself: the `PROVIDER` of its folder's provider.py.

A provider is one folder, src/kessai/providers/<name>/, holding its codec, connector, error
table, simulator and a small provider.py with one `Provider(...)`. Everything outside the
folder learns about it from that declaration, found through the one list in
kessai.providers.installed: the registry builds connectors with `connect`, `kessai serve`
mounts `simulator` at /sim/<sim_path> in sandbox mode, `kessai simulate <name>` serves it
alone, the webhook inbox runs `webhook`, the 再オーソリ batch asks `final_decline`, and the
conformance suite (tests/providers/conformance) runs every declaration against its simulator
with its `sandbox` inputs.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kessai.core.errors import ConfigurationError
from kessai.providers.store import ReferenceStore

# An ASGI application (starlette's type, spelled out to keep this module free of it).
AsgiApp = Callable[[Any, Any, Any], Awaitable[None]]


def setting_text(value: Any) -> str:
    """A setting as the connector reads it: stripped text, "" when absent."""
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


class SettingsCheck:
    """What is wrong with an account's settings, field by field, refused all at once in one
    Japanese message (values never echoed back) with the provider's stable code:

        check = SettingsCheck("KOMOJU", "komoju_settings_invalid")
        if not secret:
            check.bad("secret_key", "シークレットキーが設定されていません")
        check.done()  # raises ConfigurationError when something was bad
    """

    def __init__(self, title: str, code: str) -> None:
        self.title, self.code = title, code
        self.by_field: dict[str, str] = {}

    def bad(self, key: str, message: str) -> None:
        """One problem with field `key` (a second one joins the first)."""
        known = self.by_field.get(key)
        self.by_field[key] = f"{known}、{message}" if known else message

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def done(self) -> None:
        if self.by_field:
            raise ConfigurationError(
                f"{self.title}の設定に誤りがあります: " + "、".join(self.by_field.values()),
                code=self.code,
                detail={"fields": sorted(self.by_field), "problems": dict(self.by_field)},
            )


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector is built from: one account, its decrypted settings (the account
    integration's fields, renamed by `setting_aliases`) and its reference store."""

    account_id: int
    settings: Mapping[str, Any]
    store: ReferenceStore | None


C = TypeVar("C")


def with_store(
    title: str, make: Callable[[int, Mapping[str, Any], ReferenceStore], C]
) -> Callable[[ConnectorContext], C]:
    """A provider's `connect` when its connector remembers references (needs_store): the
    account's id, settings and reference store, in that order."""

    def connect(ctx: ConnectorContext) -> C:
        if ctx.store is None:
            raise ValueError(f"{title}の接続には参照情報の保存先が必要です")
        return make(ctx.account_id, ctx.settings, ctx.store)

    return connect


@dataclass(frozen=True)
class SimulatorContext:
    """What a simulator is built from: kessai's (sandbox) clock when mounted, and kessai's
    database, where the simulator base's store keeps its records across restarts."""

    now: Callable[[], datetime] | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    # Mounted by `kessai serve` for people (試験購入): a customer's page (the issuer's
    # 3-D Secure step) waits for a click instead of passing at once.
    for_people: bool = False


CONNECTED = "接続できました"
UNREACHABLE = "接続できませんでした"


@dataclass(frozen=True)
class ConnectionCheck:
    """What a provider's 接続テスト found, in the shop's words (`detail` for the screen)."""

    ok: bool
    message: str
    detail: Mapping[str, Any] = field(default_factory=dict)


class Closable(Protocol):
    def close(self) -> None: ...


# Sandbox: a server beside the mounted simulator that shares its state (GMO: the SFTP side
# of 自動洗替), started by `kessai serve` with the simulator's app and kessai's settings.
SideSimulator = Callable[[Any, Any], Awaitable[Closable | None]]


@dataclass(frozen=True)
class Notification:
    """One inbound webhook as it arrived: raw body and headers, nothing parsed yet."""

    body: bytes
    headers: Mapping[str, str]  # lower-case names
    client_host: str | None = None
    received_at: datetime | None = None  # kessai's clock, for timestamp tolerance


@dataclass(frozen=True)
class Verified:
    """A notification the provider's verifier accepted, in kessai's words.

    `event_id` is the provider's own id of the event (unique per provider), `reference` our
    reference of the transaction it is about, `event` what happened in the provider's words.
    """

    event_id: str
    reference: str | None
    event: str
    data: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class NotificationChecker(Protocol):
    """A connector that can hold a verified notification against what it knows of the
    transaction (GMO: the AccessID it was given for the OrderID, the pay type, the amount)
    before the inbox acts on it. Answers the disagreement in Japanese, or None."""

    async def check_notification(
        self, reference: str, data: Mapping[str, Any], amount: int
    ) -> str | None: ...


class Forged(Exception):
    """The verifier refused the notification (bad signature, unknown shop …)."""


class WebhookVerifier(Protocol):
    """Checks one notification with the account's decrypted settings; raises Forged.

    Providers that do not sign (GMO's 結果通知) check what they can here (the shop id); the
    inbox then looks the transaction up at the provider before anything moves."""

    def __call__(self, note: Notification, settings: Mapping[str, Any]) -> Verified: ...


@dataclass(frozen=True)
class SandboxInput:
    """A payment the provider's test environment answers in a known way: an amount and a
    payment source (a test card, a stored card …), and for a decline the provider's code."""

    amount: int
    source: Mapping[str, str] = field(default_factory=dict)
    code: str | None = None


# Turns a sandbox source into what the connector takes, given the simulator's base URL
# (GMO: a test card becomes a one-time token at the simulator's /token, as token.js does).
SourcePreparer = Callable[[str, Mapping[str, str]], Awaitable[Mapping[str, str]]]


@dataclass(frozen=True)
class Sandbox:
    """The provider's test environment, as its real one documents it, and how the
    conformance suite drives it.

    - `method`: the seed-003 (provider code, method type) the suite charges with;
    - `succeed`, `decline` (soft: a later try may pass), `hard_decline` (no retry can pass);
    - `account_settings(base_url)`: an account's settings (seed-001 names; secrets are sealed
      as usual) that talk to the simulator at base_url;
    - `fault_calls`: the simulator call each operation makes (authorize → "ExecTran"), for
      the simulator base's fault switches; None when the connector talks to no server and
      takes faults as its own scenarios (options scenario=unknown / not_sent: the fake);
    - `charges(simulator_app, connector)`: how many payments the provider has taken.
    """

    method: tuple[str, str]
    succeed: SandboxInput
    decline: SandboxInput
    hard_decline: SandboxInput
    account_settings: Callable[[str], Mapping[str, Any]]
    charges: Callable[[Any, Any], int]
    prepare: SourcePreparer | None = None
    fault_calls: Mapping[str, str] | None = None
    # The provider takes a changed amount with the capture (SBPS's 売上): the suite captures
    # before it looks the changed amount up.
    amount_at_capture: bool = False
    # A credit check the provider holds (後払い's 保留) and decides later, if it has one.
    pending: SandboxInput | None = None
    # Scenarios the connector takes as an option instead of an input (the simulated
    # connector's `scenario`): name → what the 試験購入 page calls it.
    options: Mapping[str, str] = field(default_factory=dict)
    # The sandbox login of the simulator's side server for the monthly file exchanges
    # (自動洗替, 継続課金 over SFTP) as account settings (seed-001 names), given kessai's
    # settings. None: the provider has none.
    file_settings: Callable[[Any], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class KeyExchange:
    """An account whose keys the provider hands over itself (Amazon Pay's 「Amazonアカウント
    新規登録・連携」): kessai makes the key pair, the operator registers at the provider, the
    provider posts the credentials back.

    - `new_keys()`: (private key to keep as the account's `private_key_field`, public key as
      the registration form sends it);
    - `registration(settings, public_key, key_share_url)`: where the operator's browser
      posts and the form's fields (InvalidInput when the account cannot start);
    - `read(payload, private_key)`: the settings the provider's posted payload hands over,
      or InvalidInput (Japanese message) when it is refused;
    - `answer_headers`: what every answer to the provider carries (its CORS headers).
    """

    new_keys: Callable[[], tuple[bytes, str]]
    registration: Callable[[Mapping[str, Any], str, str], tuple[str, dict[str, str]]]
    read: Callable[[str, bytes], dict[str, str]]
    answer_headers: Mapping[str, str]
    private_key_field: str = "private_key"
    # The fields the exchange fills: emptied when a new exchange starts (a new key pair).
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provider:
    name: str  # the connector's name, stored in provider_accounts.connector
    title: str  # for people: 「GMOペイメントゲートウェイ (クレジットカード)」
    connect: Callable[[ConnectorContext], object]
    # Seed 003: the provider codes and method types this connector serves (empty: any).
    provider_codes: frozenset[str] = frozenset()
    method_types: frozenset[str] = frozenset()
    # Seed 001: the account integration whose settings the connector reads.
    integration: str | None = None
    # Further integrations whose accounts it serves with the same settings (SBPSキャリア).
    other_integrations: frozenset[str] = frozenset()
    # Where the connector names a setting differently from the seed-001 schema.
    setting_aliases: Mapping[str, str] = field(default_factory=dict)
    sandbox_only: bool = False  # simulated: never offered in production
    # The connector's own rules for an account's settings, run when the account is saved
    # (ConfigurationError with detail["problems"] by setting); no network.
    check_settings: Callable[[Mapping[str, Any]], object] | None = None
    needs_store: bool = True  # the connector remembers references (ReferenceStore)
    # "Is this decline final?" from the provider's own error table (再オーソリ stops).
    final_decline: Callable[[str | None], bool] | None = None
    simulator: Callable[[SimulatorContext], AsgiApp] | None = None
    sim_path: str | None = None  # mounted at /sim/<sim_path> in sandbox mode
    # The card token script a customer's browser loads from the simulator (GMO: token.js,
    # relative to /sim/<sim_path>); 試験購入 turns typed card numbers into tokens with it.
    card_script: str | None = None
    simulator_help: str = ""  # what `kessai simulate` tells the person who starts it
    side_simulator: SideSimulator | None = None
    # 接続テスト: read-only calls at the provider with the account's settings (no charge).
    connection_test: Callable[[ConnectorContext], Awaitable[ConnectionCheck]] | None = None
    # The monthly file exchanges over SFTP the provider runs for its accounts:
    # "card_updater" (自動洗替), "recurring" (継続課金). Their 接続テスト logs in over SFTP too.
    file_services: frozenset[str] = frozenset()
    # A code in those files' result lines (継続課金's エラーコード) in the shop's words.
    file_error_words: Callable[[str], str] | None = None
    webhook: WebhookVerifier | None = None
    # The answer the provider expects once a notification is stored (GMO: "0").
    webhook_ack: str = "OK"
    # …or, when the answer depends on the notification (SBPS echoes its id in XML), the
    # body and its content type.
    webhook_answer: Callable[[Verified], tuple[bytes, str]] | None = None
    sandbox: Sandbox | None = None
    key_exchange: KeyExchange | None = None

    def serves(self, provider_code: str, method_type: str) -> bool:
        return (not self.provider_codes or provider_code in self.provider_codes) and (
            not self.method_types or method_type in self.method_types
        )
