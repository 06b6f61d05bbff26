"""決済状況 and 対応状況: the statuses operators see, and the one table of legal moves."""

from enum import StrEnum

from kessai.core.errors import IllegalTransition


class PaymentStatus(StrEnum):
    PENDING = "pending"  # 決済準備中
    AUTHORIZED = "authorized"  # 仮売上完了
    AUTHORIZE_FAILED = "authorize_failed"  # 仮売上失敗
    REGISTER_FAILED = "register_failed"  # 取引登録失敗
    CREDIT_CHECK_PENDING = "credit_check_pending"  # 与信審査中
    CREDIT_CHECK_PASSED = "credit_check_passed"  # 与信審査完了
    CREDIT_CHECK_FAILED = "credit_check_failed"  # 与信審査エラー
    AWAITING_SHIPMENT_REPORT = "awaiting_shipment_report"  # 出荷報告待ち
    SHIPMENT_REPORT_REQUESTED = "shipment_report_requested"  # 出荷報告依頼中
    SHIPMENT_REPORT_FAILED = "shipment_report_failed"  # 出荷報告失敗
    CAPTURED = "captured"  # 売上完了
    CAPTURE_FAILED = "capture_failed"  # 売上失敗
    CANCELED = "canceled"  # 取消完了
    CANCEL_FAILED = "cancel_failed"  # 取引キャンセル失敗
    MODIFY_FAILED = "modify_failed"  # 取引修正失敗
    PAYMENT_ERROR = "payment_error"  # 決済エラー
    RECURRING_WAITING = "recurring_waiting"  # 決済待ち (GMO 継続課金)
    RECURRING_PAID = "recurring_paid"  # 決済完了 (GMO 継続課金)
    RECURRING_REPORTED = "recurring_reported"  # 売上報告済 (GMO 継続課金)

    @property
    def label(self) -> str:
        return PAYMENT_STATUS_LABELS[self]


PAYMENT_STATUS_LABELS: dict[PaymentStatus, str] = {
    PaymentStatus.PENDING: "決済準備中",
    PaymentStatus.AUTHORIZED: "仮売上完了",
    PaymentStatus.AUTHORIZE_FAILED: "仮売上失敗",
    PaymentStatus.REGISTER_FAILED: "取引登録失敗",
    PaymentStatus.CREDIT_CHECK_PENDING: "与信審査中",
    PaymentStatus.CREDIT_CHECK_PASSED: "与信審査完了",
    PaymentStatus.CREDIT_CHECK_FAILED: "与信審査エラー",
    PaymentStatus.AWAITING_SHIPMENT_REPORT: "出荷報告待ち",
    PaymentStatus.SHIPMENT_REPORT_REQUESTED: "出荷報告依頼中",
    PaymentStatus.SHIPMENT_REPORT_FAILED: "出荷報告失敗",
    PaymentStatus.CAPTURED: "売上完了",
    PaymentStatus.CAPTURE_FAILED: "売上失敗",
    PaymentStatus.CANCELED: "取消完了",
    PaymentStatus.CANCEL_FAILED: "取引キャンセル失敗",
    PaymentStatus.MODIFY_FAILED: "取引修正失敗",
    PaymentStatus.PAYMENT_ERROR: "決済エラー",
    PaymentStatus.RECURRING_WAITING: "決済待ち",
    PaymentStatus.RECURRING_PAID: "決済完了",
    PaymentStatus.RECURRING_REPORTED: "売上報告済",
}


class HandlingStatus(StrEnum):
    NEW = "new"  # 新規受付
    CONFIRMED = "confirmed"  # 注文確定
    PREPARING = "preparing"  # 発送準備中
    SHIPPED = "shipped"  # 発送済み
    COMPLETED = "completed"  # 完了
    CANCELED = "canceled"  # キャンセル
    PAYMENT_ERROR = "payment_error"  # 決済エラー (set by an operator or 自動化設定)

    @property
    def label(self) -> str:
        return HANDLING_STATUS_LABELS[self]


HANDLING_STATUS_LABELS: dict[HandlingStatus, str] = {
    HandlingStatus.NEW: "新規受付",
    HandlingStatus.CONFIRMED: "注文確定",
    HandlingStatus.PREPARING: "発送準備中",
    HandlingStatus.SHIPPED: "発送済み",
    HandlingStatus.COMPLETED: "完了",
    HandlingStatus.CANCELED: "キャンセル",
    HandlingStatus.PAYMENT_ERROR: "決済エラー",
}


class Action(StrEnum):
    """What an operator or the storefront asks for (the API's /payment/{action})."""

    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    CANCEL = "cancel"
    CHANGE_AMOUNT = "change-amount"
    FORCE_CAPTURE = "force-capture"
    FORCE_CANCEL = "force-cancel"
    REAUTHORIZE = "reauthorize"
    RECONCILE = "reconcile"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS: dict[Action, str] = {
    Action.AUTHORIZE: "オーソリ",
    Action.CAPTURE: "売上処理",
    Action.CANCEL: "取消処理",
    Action.CHANGE_AMOUNT: "金額変更",
    Action.FORCE_CAPTURE: "強制売上処理",
    Action.FORCE_CANCEL: "強制取消処理",
    Action.REAUTHORIZE: "再オーソリ",
    Action.RECONCILE: "決済照会",
}


class Event(StrEnum):
    """What happened: a provider outcome or an operator's decision."""

    AUTHORIZED = "authorized"
    AUTHORIZED_CAPTURED = "authorized_captured"
    AUTHORIZE_FAILED = "authorize_failed"
    REGISTER_FAILED = "register_failed"
    CREDIT_CHECK_STARTED = "credit_check_started"
    CREDIT_CHECK_PASSED = "credit_check_passed"
    CREDIT_CHECK_FAILED = "credit_check_failed"
    PAYMENT_ERROR = "payment_error"
    SHIPMENT_REGISTERED = "shipment_registered"
    SHIPMENT_REPORT_SENT = "shipment_report_sent"
    SHIPMENT_REPORT_FAILED = "shipment_report_failed"
    CAPTURED = "captured"
    CAPTURE_FAILED = "capture_failed"
    CANCELED = "canceled"
    CANCEL_FAILED = "cancel_failed"
    AMOUNT_CHANGED = "amount_changed"
    AMOUNT_CHANGE_FAILED = "amount_change_failed"
    FORCE_CAPTURED = "force_captured"
    FORCE_CANCELED = "force_canceled"
    RECURRING_REGISTERED = "recurring_registered"
    RECURRING_SHIPPED = "recurring_shipped"
    RECURRING_REPORTED = "recurring_reported"
    RECURRING_REPORT_FAILED = "recurring_report_failed"
    # 再オーソリ: the old authorization is gone (failed, expired or voided); a new one starts.
    REAUTHORIZATION_STARTED = "reauthorization_started"


S, E = PaymentStatus, Event

# The outcomes of a new authorization, shared by オーソリ and 再オーソリ.
_AUTHORIZATION_OUTCOMES: dict[Event, PaymentStatus] = {
    E.AUTHORIZED: S.AUTHORIZED,
    E.AUTHORIZED_CAPTURED: S.CAPTURED,
    E.AUTHORIZE_FAILED: S.AUTHORIZE_FAILED,
    E.REGISTER_FAILED: S.REGISTER_FAILED,
    E.CREDIT_CHECK_STARTED: S.CREDIT_CHECK_PENDING,
    E.CREDIT_CHECK_PASSED: S.CREDIT_CHECK_PASSED,
    E.CREDIT_CHECK_FAILED: S.CREDIT_CHECK_FAILED,
    E.PAYMENT_ERROR: S.PAYMENT_ERROR,
}
_CANCEL_OUTCOMES = {E.CANCELED: S.CANCELED, E.CANCEL_FAILED: S.CANCEL_FAILED}
_FORCE = {E.FORCE_CAPTURED: S.CAPTURED, E.FORCE_CANCELED: S.CANCELED}
_CAPTURE_OUTCOMES = {E.CAPTURED: S.CAPTURED, E.CAPTURE_FAILED: S.CAPTURE_FAILED}
_SHIPMENT_REPORT_OUTCOMES = {
    E.SHIPMENT_REGISTERED: S.AWAITING_SHIPMENT_REPORT,
    E.SHIPMENT_REPORT_SENT: S.SHIPMENT_REPORT_REQUESTED,
    E.SHIPMENT_REPORT_FAILED: S.SHIPMENT_REPORT_FAILED,
    E.CAPTURED: S.CAPTURED,
}

_REAUTHORIZE = {E.REAUTHORIZATION_STARTED: S.PENDING}

# The one table: (current 決済状況, event) -> next 決済状況. Nothing moves outside it.
TRANSITIONS: dict[PaymentStatus, dict[Event, PaymentStatus]] = {
    S.PENDING: {
        **_AUTHORIZATION_OUTCOMES,
        E.CANCELED: S.CANCELED,  # nothing at the provider yet: cancel is kessai's alone
        E.CANCEL_FAILED: S.CANCEL_FAILED,  # …or awaiting 3-D Secure, refused by the provider
        E.RECURRING_REGISTERED: S.RECURRING_WAITING,
        **_FORCE,
    },
    S.AUTHORIZED: {
        **_CAPTURE_OUTCOMES,
        **_CANCEL_OUTCOMES,
        E.AMOUNT_CHANGED: S.AUTHORIZED,
        E.AMOUNT_CHANGE_FAILED: S.MODIFY_FAILED,
        **_REAUTHORIZE,  # once the 与信期限 has passed, or after voiding the old one
        **_FORCE,
    },
    S.AUTHORIZE_FAILED: {**_REAUTHORIZE, E.CANCELED: S.CANCELED, **_FORCE},
    S.REGISTER_FAILED: {**_REAUTHORIZE, E.CANCELED: S.CANCELED, **_FORCE},
    S.PAYMENT_ERROR: {**_REAUTHORIZE, E.CANCELED: S.CANCELED, **_FORCE},
    S.CREDIT_CHECK_PENDING: {
        E.CREDIT_CHECK_PASSED: S.CREDIT_CHECK_PASSED,
        E.CREDIT_CHECK_FAILED: S.CREDIT_CHECK_FAILED,
        # A card or wallet authorization held for the provider's review ends in card words.
        E.AUTHORIZED: S.AUTHORIZED,
        E.AUTHORIZED_CAPTURED: S.CAPTURED,
        E.AUTHORIZE_FAILED: S.AUTHORIZE_FAILED,
        **_CANCEL_OUTCOMES,
        **_FORCE,
    },
    S.CREDIT_CHECK_PASSED: {
        **_SHIPMENT_REPORT_OUTCOMES,
        E.AMOUNT_CHANGED: S.CREDIT_CHECK_PASSED,
        E.AMOUNT_CHANGE_FAILED: S.MODIFY_FAILED,
        **_CANCEL_OUTCOMES,
        **_FORCE,
    },
    S.CREDIT_CHECK_FAILED: {**_REAUTHORIZE, E.CANCELED: S.CANCELED, **_FORCE},
    S.AWAITING_SHIPMENT_REPORT: {
        **_SHIPMENT_REPORT_OUTCOMES,
        E.AMOUNT_CHANGED: S.AWAITING_SHIPMENT_REPORT,
        E.AMOUNT_CHANGE_FAILED: S.MODIFY_FAILED,
        **_CANCEL_OUTCOMES,
        **_FORCE,
    },
    S.SHIPMENT_REPORT_REQUESTED: {
        E.CAPTURED: S.CAPTURED,
        E.SHIPMENT_REPORT_FAILED: S.SHIPMENT_REPORT_FAILED,
        **_FORCE,
    },
    S.SHIPMENT_REPORT_FAILED: {
        **_SHIPMENT_REPORT_OUTCOMES,
        **_CANCEL_OUTCOMES,
        **_REAUTHORIZE,  # 与信期限切れの出荷報告失敗は再与信で救う
        **_FORCE,
    },
    S.CAPTURED: {
        **_CANCEL_OUTCOMES,
        E.AMOUNT_CHANGED: S.CAPTURED,
        E.AMOUNT_CHANGE_FAILED: S.MODIFY_FAILED,
        E.FORCE_CANCELED: S.CANCELED,
    },
    S.CAPTURE_FAILED: {
        **_CAPTURE_OUTCOMES,
        **_CANCEL_OUTCOMES,
        **_REAUTHORIZE,  # 与信期限切れの売上失敗は再オーソリで救う
        **_FORCE,
    },
    S.CANCELED: {},
    S.CANCEL_FAILED: {**_CANCEL_OUTCOMES, **_FORCE},
    S.MODIFY_FAILED: {
        **_CAPTURE_OUTCOMES,
        **_CANCEL_OUTCOMES,
        **_REAUTHORIZE,  # 再オーソリバッチ retries 取引修正失敗
        **_FORCE,
    },
    S.RECURRING_WAITING: {
        E.RECURRING_SHIPPED: S.RECURRING_PAID,
        E.CANCELED: S.CANCELED,
        **_FORCE,
    },
    S.RECURRING_PAID: {
        E.RECURRING_REPORTED: S.RECURRING_REPORTED,
        E.RECURRING_REPORT_FAILED: S.CAPTURE_FAILED,
        **_FORCE,
    },
    S.RECURRING_REPORTED: {E.FORCE_CANCELED: S.CANCELED},
}

# Which events each action may end in; an action is legal from a status when the table
# has a move for at least one of them.
ACTION_EVENTS: dict[Action, frozenset[Event]] = {
    Action.AUTHORIZE: frozenset(_AUTHORIZATION_OUTCOMES) | {E.RECURRING_REGISTERED},
    Action.REAUTHORIZE: frozenset(_REAUTHORIZE),  # from 決済準備中 it is a plain オーソリ
    Action.CAPTURE: frozenset(
        {*_CAPTURE_OUTCOMES, *_SHIPMENT_REPORT_OUTCOMES, E.RECURRING_SHIPPED}
    ),
    Action.CANCEL: frozenset(_CANCEL_OUTCOMES),
    Action.CHANGE_AMOUNT: frozenset({E.AMOUNT_CHANGED, E.AMOUNT_CHANGE_FAILED}),
    Action.FORCE_CAPTURE: frozenset({E.FORCE_CAPTURED}),
    Action.FORCE_CANCEL: frozenset({E.FORCE_CANCELED}),
    Action.RECONCILE: frozenset(Event),
}


def next_status(current: PaymentStatus, event: Event) -> PaymentStatus:
    """The status after `event`, or IllegalTransition when the table has no such move."""
    try:
        return TRANSITIONS[current][event]
    except KeyError:
        raise IllegalTransition(
            f"決済状況「{current.label}」ではこの処理結果({event.value})を反映できません",
            detail={"payment_status": current.value, "event": event.value},
        ) from None


# Where an action that starts a new provider transaction may start: its outcomes can also
# arrive elsewhere by a lookup (与信審査中 → 仮売上完了), which must not offer a second オーソリ.
STARTS_FROM: dict[Action, frozenset[PaymentStatus]] = {
    Action.AUTHORIZE: frozenset({S.PENDING}),
}


def allows(current: PaymentStatus, action: Action) -> bool:
    if action in STARTS_FROM and current not in STARTS_FROM[action]:
        return False
    return bool(ACTION_EVENTS[action] & TRANSITIONS[current].keys())


def require_allowed(current: PaymentStatus, action: Action) -> None:
    if not allows(current, action):
        raise IllegalTransition(
            f"決済状況が「{current.label}」の受注には{action.label}を実行できません",
            detail={"payment_status": current.value, "action": action.value},
        )


def handling_after(event: Event, current: HandlingStatus) -> HandlingStatus:
    """対応状況 moves by itself only where the back office does: 注文確定 (also out of 決済エラー
    once the payment goes through) and キャンセル."""
    if event in _CONFIRMING_EVENTS and current in (
        HandlingStatus.NEW,
        HandlingStatus.PAYMENT_ERROR,
    ):
        return HandlingStatus.CONFIRMED
    if event is Event.CANCELED:
        return HandlingStatus.CANCELED
    return current


_CONFIRMING_EVENTS = frozenset(
    {
        E.AUTHORIZED,
        E.AUTHORIZED_CAPTURED,
        E.CREDIT_CHECK_PASSED,
        E.RECURRING_REGISTERED,
    }
)


class ReauthorizationLabel(StrEnum):
    """再オーソリバッチ's mark on an order (seed 004: 再与信対象 → 再与信完了)."""

    TARGET = "target"  # 再与信対象
    COMPLETED = "completed"  # 再与信完了
    CARD_DECLINED = "card_declined"  # 再与信停止(カード利用不可): waits for another card
    STOPPED = "stopped"  # 再与信停止: the provider's limit, a rule, or the order was ended
    EXPIRED = "expired"  # 再与信期限切れ: 30 days passed unpaid

    @property
    def label(self) -> str:
        return REAUTHORIZATION_LABELS[self]


REAUTHORIZATION_LABELS = {
    ReauthorizationLabel.TARGET: "再与信対象",
    ReauthorizationLabel.COMPLETED: "再与信完了",
    ReauthorizationLabel.CARD_DECLINED: "再与信停止(カード利用不可)",
    ReauthorizationLabel.STOPPED: "再与信停止",
    ReauthorizationLabel.EXPIRED: "再与信期限切れ",
}
