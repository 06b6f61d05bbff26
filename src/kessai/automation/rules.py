"""A rule's parts as data: the イベント it waits for, the 条件 an order must meet and the
アクション it takes, each validated with a Japanese message; and which outbox events a
rule's イベント matches."""

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from kessai.core.labels import by_code_or_label
from kessai.payments.status import HandlingStatus, PaymentStatus
from kessai.subscriptions.status import SubscriptionStatus

Label = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=40, strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f,]*$"
    ),
]
# Actions after this many rules in one chain are not run: a rule never triggers itself, and
# no chain of rules runs on without end.
MAX_CHAIN = 5
ACTOR_PREFIX = "automation:"


class EventKind(StrEnum):
    PAYMENT_STATUS = "payment_status"  # 決済状況が X になった
    HANDLING_STATUS = "handling_status"  # 対応状況が Y になった
    PAYMENT_UNKNOWN = "payment_unknown"  # 決済処理の応答不明
    JOB_SUCCEEDED = "job_succeeded"  # ジョブが完了した
    JOB_FAILED = "job_failed"  # ジョブが失敗した (一部失敗を含む)
    SUBSCRIPTION_CANCELED = "subscription_canceled"  # 定期受注がキャンセルされた
    CARD_UPDATER_NG = "card_updater_ng"  # カードの洗替判定結果が NG になった
    DEADLINE_CLOSING = "deadline_closing"  # 取消期限・与信期限が N 日以内になった

    @property
    def label(self) -> str:
        return EVENT_LABELS[self]


EVENT_LABELS = {
    EventKind.PAYMENT_STATUS: "決済状況が変わったとき",
    EventKind.HANDLING_STATUS: "対応状況が変わったとき",
    EventKind.PAYMENT_UNKNOWN: "決済処理の応答が不明のとき",
    EventKind.JOB_SUCCEEDED: "ジョブが完了したとき",
    EventKind.JOB_FAILED: "ジョブが失敗したとき (一部失敗を含む)",
    EventKind.SUBSCRIPTION_CANCELED: "定期受注がキャンセルになったとき",
    EventKind.CARD_UPDATER_NG: (
        "カードの洗替判定結果がNG(有効性NG・照合エラー・入力データエラー)になったとき"
    ),
    EventKind.DEADLINE_CLOSING: "取消期限・与信期限がN日以内になったとき",
}
DEADLINES = {"cancel": "取消期限", "authorization": "与信期限"}
MAX_DAYS = 60
ORDER_EVENTS = frozenset(
    {
        EventKind.PAYMENT_STATUS,
        EventKind.HANDLING_STATUS,
        EventKind.PAYMENT_UNKNOWN,
        EventKind.DEADLINE_CLOSING,
    }
)


class EventSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    status: str | None = Field(
        default=None, description="決済状況・対応状況のコードまたは表示名 (その2つのイベントのみ)"
    )
    deadline: str | None = Field(
        default=None,
        description="cancel (取消期限) または authorization (与信期限) (期限のイベントのみ)",
    )
    days: int | None = Field(
        default=None,
        strict=True,
        description=f"期限の何日前から知らせるか (1〜{MAX_DAYS}、期限のイベントのみ)",
    )

    @model_validator(mode="after")
    def _status(self) -> "EventSpec":
        self._deadline()
        choices: Any = {
            EventKind.PAYMENT_STATUS: PaymentStatus,
            EventKind.HANDLING_STATUS: HandlingStatus,
        }.get(self.kind)
        if choices is None:
            if self.status is not None:
                raise ValueError(f"イベント「{self.kind.label}」には状況を指定できません")
            return self
        if not self.status:
            raise ValueError(f"イベント「{self.kind.label}」には状況を指定してください")
        found = by_code_or_label(choices, self.status)
        if found is None:
            raise ValueError(f"状況「{self.status}」はありません")
        self.status = found.value
        return self

    def _deadline(self) -> None:
        if self.kind is not EventKind.DEADLINE_CLOSING:
            if self.deadline is not None or self.days is not None:
                raise ValueError(f"イベント「{self.kind.label}」には期限・日数を指定できません")
            return
        found = next((k for k, label in DEADLINES.items() if self.deadline in (k, label)), None)
        if found is None:
            raise ValueError("期限には「取消期限」か「与信期限」を指定してください")
        self.deadline = found
        if self.days is None or not 1 <= self.days <= MAX_DAYS:
            raise ValueError(f"日数は1〜{MAX_DAYS}の整数で指定してください")

    @property
    def about_orders(self) -> bool:
        return self.kind in ORDER_EVENTS

    def matches(self, type_: str, data: dict[str, Any]) -> bool:
        """Does an outbox event (its type and data) start this rule?"""
        changed = {c["field"]: c["after"] for c in data.get("changes", [])}
        if self.kind is EventKind.PAYMENT_STATUS:
            return (
                type_.split(".")[0] in ("order", "payment")
                and changed.get("payment_status") == self.status
            )
        if self.kind is EventKind.HANDLING_STATUS:
            return (
                type_.split(".")[0] in ("order", "payment")
                and changed.get("handling_status") == self.status
            )
        if self.kind is EventKind.PAYMENT_UNKNOWN:
            return type_ == "payment.unknown"
        if self.kind is EventKind.JOB_SUCCEEDED:
            return type_ == "job.succeeded"
        if self.kind is EventKind.JOB_FAILED:
            return type_ in ("job.failed", "job.partially_failed")
        if self.kind is EventKind.CARD_UPDATER_NG:
            return type_ == "card.updater_ng"
        if self.kind is EventKind.DEADLINE_CLOSING:
            closing = data.get("deadline") or {}
            return (
                type_ == "order.deadline_closing"
                and closing.get("kind") == self.deadline
                and closing.get("days") == self.days
            )
        return (
            type_ == "subscription.updated"
            and changed.get("status") == SubscriptionStatus.CANCELED.value
        )


class Conditions(BaseModel):
    """条件: every one given must hold (none given: every order)."""

    model_config = ConfigDict(extra="forbid")

    payment_methods: list[Annotated[str, StringConstraints(min_length=1, max_length=60)]] = Field(
        default_factory=list, max_length=50, description="支払い方法のコード (いずれか)"
    )
    amount_min: int | None = Field(
        default=None, ge=0, le=99_999_999, strict=True, description="金額の下限 (円, 以上)"
    )
    amount_max: int | None = Field(
        default=None, ge=0, le=99_999_999, strict=True, description="金額の上限 (円, 以下)"
    )
    subscription: bool | None = Field(
        default=None, description="true: 定期受注のみ / false: 通常受注のみ"
    )
    labels: list[Label] = Field(
        default_factory=list, max_length=20, description="受注ラベル (すべて付いている)"
    )
    customer_email_domain: (
        Annotated[str, StringConstraints(max_length=100, pattern=r"^[A-Za-z0-9.\-]*$")] | None
    ) = Field(default=None, description="顧客のメールアドレスのドメイン (例: example.jp)")

    @model_validator(mode="after")
    def _range(self) -> "Conditions":
        if (
            self.amount_min is not None
            and self.amount_max is not None
            and self.amount_min > self.amount_max
        ):
            raise ValueError("金額の下限が上限より大きくなっています")
        return self

    @property
    def empty(self) -> bool:
        return self == Conditions()


class ActionKind(StrEnum):
    MAIL_CUSTOMER = "mail_customer"  # 顧客にメール
    MAIL_SHOP = "mail_shop"  # ショップにメール
    SET_HANDLING_STATUS = "set_handling_status"  # 対応状況を変更
    ADD_LABEL = "add_label"  # 受注ラベルを付ける
    REMOVE_LABEL = "remove_label"  # 受注ラベルを外す
    REAUTHORIZE = "reauthorize"  # 再オーソリ
    WEBHOOK = "webhook"  # Webhook を送信 (automation.fired)

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    ActionKind.MAIL_CUSTOMER: "顧客にメールを送信",
    ActionKind.MAIL_SHOP: "ショップにメールを送信",
    ActionKind.SET_HANDLING_STATUS: "対応状況を変更",
    ActionKind.ADD_LABEL: "受注ラベルを付ける",
    ActionKind.REMOVE_LABEL: "受注ラベルを外す",
    ActionKind.REAUTHORIZE: "再オーソリ",
    ActionKind.WEBHOOK: "Webhookを送信",
}
# What needs an order to act on (a job's event has none; a 定期受注's has its customer).
NEEDS_ORDER = frozenset(
    {
        ActionKind.SET_HANDLING_STATUS,
        ActionKind.ADD_LABEL,
        ActionKind.REMOVE_LABEL,
        ActionKind.REAUTHORIZE,
    }
)


class ActionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ActionKind
    template: str | None = Field(
        default=None, max_length=60, description="メールテンプレートのコード (メールのみ)"
    )
    status: str | None = Field(
        default=None, description="対応状況のコードまたは表示名 (対応状況の変更のみ)"
    )
    label: Label | None = Field(default=None, description="受注ラベル (ラベルの追加・削除のみ)")

    @model_validator(mode="after")
    def _params(self) -> "ActionSpec":
        mail = self.kind in (ActionKind.MAIL_CUSTOMER, ActionKind.MAIL_SHOP)
        if mail != (self.template is not None):
            raise ValueError(
                "メールのアクションにはテンプレート (template) を指定してください"
                if mail
                else "template はメールのアクションにのみ指定できます"
            )
        handling = self.kind is ActionKind.SET_HANDLING_STATUS
        if handling:
            found = by_code_or_label(HandlingStatus, self.status or "")
            if found is None:
                raise ValueError(f"対応状況「{self.status}」はありません")
            self.status = found.value
        elif self.status is not None:
            raise ValueError("status は対応状況の変更にのみ指定できます")
        labelled = self.kind in (ActionKind.ADD_LABEL, ActionKind.REMOVE_LABEL)
        if labelled != (self.label is not None):
            raise ValueError(
                "受注ラベルのアクションにはラベル (label) を指定してください"
                if labelled
                else "label は受注ラベルのアクションにのみ指定できます"
            )
        return self


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str,
        StringConstraints(
            min_length=1, max_length=100, strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]*$"
        ),
    ]
    enabled: bool = True
    event: EventSpec
    conditions: Conditions = Field(default_factory=Conditions)
    actions: list[ActionSpec] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _fits(self) -> "RuleIn":
        kind = self.event.kind
        if kind in (EventKind.JOB_SUCCEEDED, EventKind.JOB_FAILED):
            if not self.conditions.empty:
                raise ValueError("ジョブのイベントには条件を指定できません")
            wrong = [
                a
                for a in self.actions
                if a.kind in NEEDS_ORDER or a.kind is ActionKind.MAIL_CUSTOMER
            ]
        elif kind is EventKind.SUBSCRIPTION_CANCELED:
            wrong = [a for a in self.actions if a.kind in NEEDS_ORDER]
        elif kind is EventKind.CARD_UPDATER_NG:
            if self.conditions.labels:
                raise ValueError("カードのイベントには受注ラベルの条件を指定できません")
            wrong = [a for a in self.actions if a.kind in NEEDS_ORDER]
        else:
            wrong = []
        if wrong:
            raise ValueError(
                f"イベント「{kind.label}」では「{wrong[0].kind.label}」は実行できません"
                " (受注がありません)"
            )
        return self


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: (
        Annotated[
            str,
            StringConstraints(
                min_length=1, max_length=100, strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]*$"
            ),
        ]
        | None
    ) = None
    enabled: bool | None = None
    event: EventSpec | None = None
    conditions: Conditions | None = None
    actions: list[ActionSpec] | None = Field(default=None, min_length=1, max_length=10)


def chain_of(actor: str | None) -> list[int]:
    """The rules whose actions led to a change, from its actor (automation:3>5)."""
    if not actor or not actor.startswith(ACTOR_PREFIX):
        return []
    try:
        return [int(p) for p in actor[len(ACTOR_PREFIX) :].split(">") if p]
    except ValueError:
        return []


def actor_for(chain: list[int]) -> str:
    return ACTOR_PREFIX + ">".join(str(i) for i in chain)
