"""What each API key may do: one scope per key, each including the ones below it.

- storefront: the shop's checkout — create 受注, オーソリ and 決済照会 (3-D Secure's end),
  顧客 and their cards, 定期受注 registration; read what it created.
- operator: every payment action (売上・取消・金額変更・強制売上/取消・再オーソリ), search,
  histories, 決済状況一括変更, CSV imports, jobs, mails, 定期受注 changes, events and
  webhook deliveries.
- admin: 外部連携アカウント (secrets), 支払い方法管理, ショップ設定, 自動化設定, mail
  templates and メール設定, API keys, webhook endpoints (their signing secrets), the
  sandbox clock.

NEEDED is the one table of which route needs which scope; a route missing from it needs
admin (a new route is closed until it is placed here; a test lists every route).
"""

from enum import StrEnum

from kessai.core.errors import Forbidden


class Scope(StrEnum):
    STOREFRONT = "storefront"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"storefront": "ストアフロント", "operator": "オペレーター", "admin": "管理者"}[
            self.value
        ]

    def includes(self, other: "Scope") -> bool:
        order = list(Scope)
        return order.index(self) >= order.index(other)


SHOP, OPS, ADMIN = Scope.STOREFRONT, Scope.OPERATOR, Scope.ADMIN
V1 = "/api/v1"
# The payment actions' route is checked per action by the endpoint (ACTIONS).
BY_ACTION = f"{V1}/orders/{{order_id}}/payment/{{action}}"

NEEDED: dict[tuple[str, str], Scope] = {
    ("GET", f"{V1}/payment-methods"): SHOP,
    ("GET", f"{V1}/payment-methods/{{method_id}}"): SHOP,
    ("POST", f"{V1}/customers"): SHOP,
    ("GET", f"{V1}/customers/{{customer_id}}"): SHOP,
    ("POST", f"{V1}/customers/{{customer_id}}/cards"): SHOP,
    ("GET", f"{V1}/customers/{{customer_id}}/cards"): SHOP,
    ("DELETE", f"{V1}/customers/{{customer_id}}/cards/{{card_id}}"): SHOP,
    ("POST", f"{V1}/customers/{{customer_id}}/cards/change"): SHOP,
    ("POST", f"{V1}/orders"): SHOP,
    ("GET", f"{V1}/orders/{{order_id}}"): SHOP,
    ("POST", f"{V1}/subscriptions"): SHOP,
    ("GET", f"{V1}/subscriptions/{{subscription_id}}"): SHOP,
    ("GET", f"{V1}/orders"): OPS,
    ("GET", f"{V1}/orders/{{order_id}}/payment-history"): OPS,
    ("GET", f"{V1}/orders/{{order_id}}/change-history"): OPS,
    ("GET", f"{V1}/subscriptions"): OPS,
    ("PATCH", f"{V1}/subscriptions/{{subscription_id}}"): OPS,
    ("POST", f"{V1}/subscriptions/payment-method-change-mails"): OPS,
    ("POST", f"{V1}/orders/bulk-payment-actions"): OPS,
    ("POST", f"{V1}/imports/shipments"): OPS,
    ("POST", f"{V1}/imports/payment-statuses"): OPS,
    ("GET", f"{V1}/jobs"): OPS,
    ("GET", f"{V1}/jobs/{{job_id}}"): OPS,
    ("GET", f"{V1}/jobs/{{job_id}}/items.csv"): OPS,
    ("GET", f"{V1}/shop/settings"): OPS,
    ("GET", f"{V1}/mails"): OPS,
    ("POST", f"{V1}/mails/deliver"): OPS,
    ("GET", f"{V1}/sandbox/clock"): OPS,
    ("GET", f"{V1}/events"): OPS,
    ("GET", f"{V1}/webhook-event-types"): OPS,
    ("GET", f"{V1}/webhook-deliveries"): OPS,
    ("GET", f"{V1}/webhook-deliveries/{{delivery_id}}"): OPS,
    ("POST", f"{V1}/webhook-deliveries/{{delivery_id}}/redeliver"): OPS,
    ("GET", f"{V1}/inbound-webhooks"): OPS,
    ("GET", f"{V1}/inbound-webhooks/{{event_id}}"): OPS,
    ("POST", f"{V1}/inbound-webhooks/{{event_id}}/replay"): OPS,
    ("GET", f"{V1}/integrations"): ADMIN,
    ("GET", f"{V1}/provider-accounts"): ADMIN,
    ("POST", f"{V1}/provider-accounts"): ADMIN,
    ("GET", f"{V1}/provider-accounts/{{account_id}}"): ADMIN,
    ("PATCH", f"{V1}/provider-accounts/{{account_id}}"): ADMIN,
    ("POST", f"{V1}/provider-accounts/{{account_id}}/test"): ADMIN,
    ("POST", f"{V1}/provider-accounts/{{account_id}}/key-exchange"): ADMIN,
    ("GET", f"{V1}/provider-accounts/{{account_id}}/change-history"): ADMIN,
    ("POST", f"{V1}/payment-methods"): ADMIN,
    ("PATCH", f"{V1}/payment-methods/{{method_id}}"): ADMIN,
    ("GET", f"{V1}/payment-methods/{{method_id}}/change-history"): ADMIN,
    ("PATCH", f"{V1}/shop/settings"): ADMIN,
    ("POST", f"{V1}/sandbox/clock"): ADMIN,
    # 自動化設定, mail templates and メール設定 (SMTP credentials): the shop's settings.
    ("GET", f"{V1}/mail-templates"): ADMIN,
    ("POST", f"{V1}/mail-templates"): ADMIN,
    ("GET", f"{V1}/mail-templates/{{code}}"): ADMIN,
    ("PUT", f"{V1}/mail-templates/{{code}}"): ADMIN,
    ("DELETE", f"{V1}/mail-templates/{{code}}"): ADMIN,
    ("POST", f"{V1}/mail-templates/{{code}}/preview"): ADMIN,
    ("GET", f"{V1}/mail-settings"): ADMIN,
    ("PUT", f"{V1}/mail-settings"): ADMIN,
    ("POST", f"{V1}/mail-settings/test"): ADMIN,
    ("GET", f"{V1}/automation-rules/choices"): ADMIN,
    ("GET", f"{V1}/automation-rules"): ADMIN,
    ("POST", f"{V1}/automation-rules"): ADMIN,
    ("PUT", f"{V1}/automation-rules/order"): ADMIN,
    ("GET", f"{V1}/automation-rules/{{rule_id}}"): ADMIN,
    ("PATCH", f"{V1}/automation-rules/{{rule_id}}"): ADMIN,
    ("DELETE", f"{V1}/automation-rules/{{rule_id}}"): ADMIN,
    ("GET", f"{V1}/automation-rules/{{rule_id}}/dry-run"): ADMIN,
    # Webhook endpoints hold their signing secrets.
    ("GET", f"{V1}/webhook-endpoints"): ADMIN,
    ("POST", f"{V1}/webhook-endpoints"): ADMIN,
    ("GET", f"{V1}/webhook-endpoints/{{endpoint_id}}"): ADMIN,
    ("PATCH", f"{V1}/webhook-endpoints/{{endpoint_id}}"): ADMIN,
    ("DELETE", f"{V1}/webhook-endpoints/{{endpoint_id}}"): ADMIN,
    ("POST", f"{V1}/webhook-endpoints/{{endpoint_id}}/rotate-secret"): ADMIN,
    ("GET", f"{V1}/api-keys"): ADMIN,
    ("POST", f"{V1}/api-keys"): ADMIN,
    ("POST", f"{V1}/api-keys/{{key_id}}/revoke"): ADMIN,
}

# Payment actions by name (payments.status.Action values); an unknown one needs operator.
ACTIONS: dict[str, Scope] = {"authorize": SHOP, "reconcile": SHOP}


def needed(method: str, path: str) -> Scope | None:
    """The scope a route needs; None for the payment actions (ACTIONS, per action)."""
    if (method, path) == ("POST", BY_ACTION):
        return None
    return NEEDED.get((method, path), Scope.ADMIN)


def require(have: Scope, need: Scope) -> None:
    if not have.includes(need):
        raise Forbidden(
            f"このAPIキー (権限: {have.label}) ではこの操作はできません。必要な権限: {need.label}",
            code="insufficient_scope",
            detail={"scope": have.value, "required": need.value},
        )


def require_action(have: Scope, action: str) -> None:
    require(have, ACTIONS.get(action, Scope.OPERATOR))
