"""Which provider × payment method can do what: the capability matrix of seed 003.

Data (``ROWS``, one ``CapabilityRow`` per provider × method type, plus ``PROVIDERS``) and small
rule functions over it. Pure: no I/O, no database, every time window evaluated in Asia/Tokyo.

- ``can_cancel(ctx, phase)`` / ``can_change_amount(ctx, phase)`` -> ``Decision``:
  LINK (call the provider), LOCAL (apply in kessai only) or REFUSE (before any call), with a
  stable ``code`` and a Japanese ``rule`` quoting the seed.
- ``captures_on_authorize`` (§4), ``accepts_security_code`` / ``requires_security_code`` (§5).
- 与信期限: ``authorization_days(provider, override)`` is the provider's lifetime;
  ``authorization_days_for(provider, method_type, override)`` prefers the method's own lifetime
  (PayPay via GMO PG is 30 days, not GMO PG's 60); ``authorization_expired(provider,
  authorized_at, now, override, method_type=...)`` uses the latter when ``method_type`` is given.
  An account ``override`` always wins.
- ``row(provider, method_type)`` raises ``UnknownMethod`` (a ValueError) for an unknown pair.

``PaymentContext.carrier`` (optional) names the carrier of a キャリア決済 payment: GMO PG's
オーソリ確定後 amount change is for d払い・auかんたん決済 only, so it is refused when unknown.
"""

from kessai.payments.capabilities.model import (
    AmountFlag,
    AmountRule,
    CancelLinkage,
    CancelRule,
    CapabilityRow,
    CaptureOnAuthorize,
    Carrier,
    Decision,
    DecisionCode,
    MethodFlags,
    MethodKind,
    PaymentContext,
    Phase,
    SecurityCode,
    UnknownMethod,
    Verdict,
)
from kessai.payments.capabilities.rows import (
    AUTHORIZATION_DAYS,
    AUTHORIZATION_NOTES,
    METHOD_AUTHORIZATION_DAYS,
    PROVIDERS,
    ROWS,
)
from kessai.payments.capabilities.rules import (
    accepts_security_code,
    authorization_days,
    authorization_days_for,
    authorization_expired,
    can_cancel,
    can_change_amount,
    captures_on_authorize,
    label,
    requires_security_code,
    row,
)
from kessai.payments.capabilities.windows import Anchor, Window, month_end

__all__ = [
    "AUTHORIZATION_DAYS",
    "AUTHORIZATION_NOTES",
    "METHOD_AUTHORIZATION_DAYS",
    "PROVIDERS",
    "ROWS",
    "AmountFlag",
    "AmountRule",
    "Anchor",
    "CancelLinkage",
    "CancelRule",
    "CapabilityRow",
    "CaptureOnAuthorize",
    "Carrier",
    "Decision",
    "DecisionCode",
    "MethodFlags",
    "MethodKind",
    "PaymentContext",
    "Phase",
    "SecurityCode",
    "UnknownMethod",
    "Verdict",
    "Window",
    "accepts_security_code",
    "authorization_days",
    "authorization_days_for",
    "authorization_expired",
    "can_cancel",
    "can_change_amount",
    "captures_on_authorize",
    "label",
    "month_end",
    "requires_security_code",
    "row",
]
