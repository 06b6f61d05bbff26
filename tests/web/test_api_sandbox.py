"""The sandbox clock through /api/v1/sandbox/clock, and what production refuses."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kessai.services import Services
from tests.web.conftest import (
    act,
    authorized_order,
    card_method,
    client_for,
    new_key,
    new_order,
    snapshot,
)


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_get_shows_the_clock(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/v1/sandbox/clock")
    assert r.status_code == 200
    clock = r.json()
    assert clock["offset_seconds"] == 0
    assert abs(moment(clock["now"]) - datetime.now(UTC)) < timedelta(minutes=5)
    assert clock["now_tokyo"].endswith("JST")


async def test_set_advance_and_reset(services: Services, api: httpx.AsyncClient) -> None:
    r = await api.post("/api/v1/sandbox/clock", json={"set": "2026-12-27T05:00:00+09:00"})
    assert r.status_code == 200, r.text
    assert r.json()["now_tokyo"].startswith("2026-12-27 05:00")
    r = await api.post("/api/v1/sandbox/clock", json={"advance_days": 5})
    assert r.json()["now_tokyo"].startswith("2027-01-01 05:00")
    assert services.clock.today().isoformat() == "2027-01-01"
    r = await api.post("/api/v1/sandbox/clock", json={"advance_seconds": -3600})
    assert r.json()["now_tokyo"].startswith("2027-01-01 04:00")
    r = await api.post("/api/v1/sandbox/clock", json={"reset": True})
    assert r.json()["offset_seconds"] == 0
    assert abs(moment(r.json()["now"]) - datetime.now(UTC)) < timedelta(minutes=5)


async def test_the_clock_survives_a_restart(services: Services, api: httpx.AsyncClient) -> None:
    await api.post("/api/v1/sandbox/clock", json={"advance_days": 10})
    services.clock.set_offset(timedelta(0))  # a new process starts with the system clock
    await services.load_clock()
    assert round(services.clock.offset.total_seconds() / 86_400) == 10


BAD_CLOCKS: list[dict[str, object]] = [
    {"set": "2026-12-27T05:00:00"},  # no zone
    {"set": "tomorrow"},
    {"advance_days": 1_000_000_000},
    {"advance_days": 400_000},
    {"advance_seconds": 10**18},
    {"set": "9999-12-31T23:59:59+00:00"},
    {"set": "0001-01-01T00:00:00+00:00"},
    {"advance_days": 1.5},
    {"speed": 2},
]


async def test_bad_clock_input_leaves_the_clock_alone(
    services: Services, api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    for body in BAD_CLOCKS:
        with subtests.test(body=body):
            r = await api.post("/api/v1/sandbox/clock", json=body)
            assert r.status_code == 422, r.text
            assert r.json()["message"]
            assert services.clock.offset == timedelta(0)
    assert (await api.get("/api/v1/sandbox/clock")).status_code == 200


async def test_authorization_expiry_follows_the_sandbox_clock(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    expires = moment(order["authorization_expires_at"])
    assert expires - moment(order["authorized_at"]) == timedelta(days=60)

    await api.post("/api/v1/sandbox/clock", json={"advance_days": 59})
    r = await act(api, order["id"], "force-capture")  # still within 与信期限: nothing refused
    assert r.status_code == 200

    order = await authorized_order(api, method.code)
    await api.post("/api/v1/sandbox/clock", json={"advance_days": 61})
    r = await act(api, order["id"], "capture")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "authorization_expired"
    assert body["message"] == (
        "与信期限(60日)を過ぎているため売上処理できません。再オーソリを実行してください"
    )
    assert body["detail"]["next_actions"] == ["reauthorize"]
    got = (await api.get(f"/api/v1/orders/{order['id']}")).json()
    assert got["payment_status_label"] == "売上失敗"  # the FAQ's 与信期限切れ
    assert "reauthorize" in got["allowed_actions"]
    assert services.registry.fake(method.account_id).captures() == 0

    r = await act(api, order["id"], "reauthorize")
    assert r.status_code == 200, r.text
    o = r.json()["order"]
    assert o["payment_status_label"] == "仮売上完了"
    assert moment(o["authorized_at"]) - moment(got["authorized_at"]) > timedelta(days=60)
    r = await act(api, order["id"], "capture")
    assert r.status_code == 200
    assert r.json()["order"]["payment_status_label"] == "売上完了"


async def test_production_refuses_the_clock_and_sandbox_options(
    services: Services, prod_services: Services
) -> None:
    assert "fake" in services.registry.names()
    assert "fake" not in prod_services.registry.names()
    method = await card_method(services)
    key = await new_key(prod_services)
    async with client_for(prod_services, key) as prod:
        r = await prod.get("/api/v1/sandbox/clock")
        assert r.status_code == 200
        assert r.json()["offset_seconds"] == 0
        r = await prod.post("/api/v1/sandbox/clock", json={"advance_days": 61})
        assert r.status_code == 409
        assert r.json()["code"] == "sandbox_only"
        assert "本番環境" in r.json()["message"]
        assert prod_services.clock.offset == timedelta(0)

        order = await new_order(prod, method.code)
        before = await snapshot(prod_services, order["id"])
        r = await act(prod, order["id"], "authorize", {"sandbox": {"scenario": "decline"}})
        assert r.status_code == 422
        assert r.json()["code"] == "sandbox_only"
        assert await snapshot(prod_services, order["id"]) == before
        # The simulated connector does not exist in production: nothing is sent, nothing moves.
        r = await act(prod, order["id"], "authorize")
        assert r.status_code >= 400
        assert r.json()["code"] == "unknown_connector"
        assert "fake" in r.json()["message"]
        assert await snapshot(prod_services, order["id"]) == before


async def test_the_clock_is_not_moved_by_production_services(
    services: Services, prod_services: Services
) -> None:
    """A sandbox clock saved in the database is ignored by a production process."""
    key = await new_key(services)
    async with client_for(services, key) as sandbox:
        await sandbox.post("/api/v1/sandbox/clock", json={"advance_days": 30})
    await prod_services.load_clock()
    assert prod_services.clock.offset == timedelta(0)
