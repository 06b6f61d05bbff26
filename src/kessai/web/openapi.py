"""The OpenAPI document as kessai answers: one error schema (`Error`: {code, message, detail})
for every error status, each status listed on the operations where it can occur.

FastAPI documents its own 422 (HTTPValidationError) and nothing else; kessai's handlers
(web.errors, web.input_policy) answer every error as `Error`. Which statuses an operation
can answer follows from what it is, stated once here:
- 401 and 403: every operation that takes an API key (no key; a key outside its scope);
- 404: an operation with an id in its path;
- 409: every POST, PATCH and DELETE (Idempotency-Key in progress, the 決済状況 or a rule);
- 422: every operation (the input policy reads every query, path and body);
- 502: the operations that call a provider (PROVIDER_CALLS).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

ERROR_REF = "#/components/schemas/Error"
DESCRIPTIONS = {
    400: "リクエストの形式の誤り",
    401: "APIキーがない、または無効 (unauthorized)",
    403: "APIキーの権限の外 (insufficient_scope)",
    404: "見つからない (not_found、order_not_found など)",
    409: "決済状況 (illegal_transition)・決済サービスのルール (rule_refused など)・"
    "同じ Idempotency-Key の処理中 (idempotency_in_progress)・"
    "伝票番号一括登録の処理中 (shipment_import_running) により不可",
    422: "入力の誤り (invalid_input、control_character など)",
    502: "決済サービスに接続できなかった (送信されていない)",
}
PROVIDER_CALLS = {
    ("post", "/api/v1/orders/{order_id}/payment/{action}"),
    ("post", "/api/v1/customers/{customer_id}/cards"),
    ("delete", "/api/v1/customers/{customer_id}/cards/{card_id}"),
    ("post", "/api/v1/customers/{customer_id}/cards/change"),
    ("post", "/api/v1/provider-accounts/{account_id}/test"),
}
WRITES = {"post", "patch", "put", "delete"}


class Error(BaseModel):
    """Every error kessai answers: Japanese for people, a stable code for programs."""

    code: str = Field(description="エラーコード (プログラム向け、変わりません)")
    message: str = Field(description="エラーメッセージ (日本語)")
    detail: dict[str, Any] = Field(description="補足 (項目名・許可される値など)")


def _statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    found = {422}
    if operation.get("security"):
        found |= {401, 403}
    if "{" in path:
        found.add(404)
    if method in WRITES:
        found.add(409)
    if (method, path) in PROVIDER_CALLS:
        found.add(502)
    return found | {int(s) for s in operation.get("responses", {}) if s.isdigit() and int(s) >= 400}


def describe_errors(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with every API and inbound-webhook operation's error statuses answering
    `Error`."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = Error.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(("/api/", "/webhooks/")):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(method, path, operation)):
                given = responses.get(str(status), {})
                responses[str(status)] = {
                    "description": given.get("description") or DESCRIPTIONS.get(status, "エラー"),
                    "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
                }
    return document


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
