"""web.idempotency renders responses once: the very bytes JSONResponse gave before."""

from datetime import UTC, date, datetime

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from kessai.orders.schemas import CustomerOut, OrderOut, PaymentMethodRef
from kessai.payments.schemas import ActionResultOut
from kessai.web.idempotency import _run


def result() -> ActionResultOut:
    at = datetime(2026, 11, 22, 10, 30, 5, 123456, tzinfo=UTC)
    return ActionResultOut(
        outcome="succeeded",
        message="売上処理が完了しました",
        attempt_id=7,
        provider_code=None,
        provider_message='改行\n"引用"\\ と制御文字\x01',
        redirect_url=None,
        order=OrderOut(
            id=1,
            number="20261122000001",
            customer=CustomerOut(id=1, name="山田 太郎", email="taro@example.jp"),
            payment_method=PaymentMethodRef(
                code="card", name="クレジットカード", provider="gmo_pg", method_type="credit_card"
            ),
            amount=5_500,
            tax=500,
            payment_status="captured",
            payment_status_label="売上完了",
            handling_status="shipped",
            handling_status_label="発送済み",
            ordered_at=at,
            subscription_id=None,
            shipped_on=date(2026, 11, 22),
            tracking_number="1234-5678-9012",
            carrier="ヤマト運輸",
            shipment_count=1,
            provider_reference="20261122000001",
            provider_transaction_id="fake-1-abc",
            authorized_at=at,
            authorization_expires_at=None,
            captured_at=at,
            redirect_url=None,
            needs_reconcile=False,
            allowed_actions=["cancel", "change-amount"],
            created_at=at,
            updated_at=at,
        ),
    )


async def test_a_model_is_rendered_as_json_response_rendered_its_json_mode() -> None:
    model = result()

    async def handler() -> tuple[int, object]:
        return 200, model

    status, body = await _run(handler)

    assert status == 200
    assert body == JSONResponse(model.model_dump(mode="json", by_alias=True)).body


async def test_other_bodies_are_rendered_as_before() -> None:
    content = {"items": [{"at": datetime(2026, 1, 2, tzinfo=UTC), "名前": "テスト"}], "n": 1}

    async def handler() -> tuple[int, object]:
        return 201, content

    status, body = await _run(handler)

    assert (status, body) == (201, JSONResponse(jsonable_encoder(content)).body)
