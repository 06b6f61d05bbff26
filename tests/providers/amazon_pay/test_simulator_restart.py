"""The Amazon Pay simulator keeps its checkout sessions, charge permissions, charges and
answered idempotency keys in kessai's database: a restarted process answers for them."""

from typing import Any

import httpx

from kessai.providers.amazon_pay.sim import SIMULATOR, SimulatorConfig, create_simulator
from kessai.providers.simulator.store import SimulatorStore
from tests.providers.amazon_pay.test_simulator import BASE, NOW, SESSION, content, signed


def started(sessions: object) -> httpx.AsyncClient:
    """A fresh simulator process on the same database (nothing kept in memory)."""
    store = SimulatorStore(sessions, SIMULATOR)  # type: ignore[arg-type]
    app = create_simulator(SimulatorConfig(now=lambda: NOW, store=store))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def post(
    sim: httpx.AsyncClient, path: str, body: dict[str, object], key: str
) -> dict[str, Any]:
    r = await sim.post(path, content=content(body), headers=signed("POST", path, body, key=key))
    assert r.status_code < 300, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_a_restarted_simulator_holds_the_charge_and_its_idempotency_keys(
    sessions: object,
) -> None:
    async with started(sessions) as before:
        session = (await post(before, "/v2/checkoutSessions", SESSION, "s1"))["checkoutSessionId"]
        await before.post(f"/checkout/{session}", data={"payment_method": "1111"})
        path = f"/v2/checkoutSessions/{session}/complete"
        amount = {"amount": "1000", "currencyCode": "JPY"}
        permission = (await post(before, path, {"chargeAmount": amount}, "c1"))[
            "chargePermissionId"
        ]
        charge_body = {"chargePermissionId": permission, "chargeAmount": amount}
        charge = (await post(before, "/v2/charges", charge_body, "ch1"))["chargeId"]
    async with started(sessions) as after:
        path = f"/v2/charges/{charge}"
        r = await after.get(path, headers=signed("GET", path, None, key=None))
        assert r.json()["statusDetails"]["state"] == "Authorized", r.text
        # The same Create Charge again: the first answer, no second charge.
        again = await post(after, "/v2/charges", charge_body, "ch1")
        assert again["chargeId"] == charge
        other = await after.post(
            "/v2/charges",
            content=content(charge_body),
            headers=signed("POST", "/v2/charges", charge_body, key="ch2"),
        )
        assert other.json()["reasonCode"] == "InvalidChargePermissionStatus"
