"""The simulator base's notices: a notice the merchant does not take is posted again after
the provider's growing pauses (on the simulator's sleep: nothing here really waits), each
attempt kept and logged, no more once taken; the schedule is shortened from /_control."""

import asyncio
from typing import ClassVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from kessai.providers.kit import SimulatorContext
from kessai.providers.simulator.notify import Notice, Resend
from tests.loopback import serve
from tests.providers.simulator.test_base import CoinSimulator, Sleeps, control


class BellSimulator(CoinSimulator):
    """A provider that rings the shop and, not taken, rings again 60, 120, 240, 480 s later."""

    name = "bell-test"
    resend: ClassVar[Resend] = Resend.growing(60.0, 4)


class Shop:
    """The merchant's endpoint: answers each attempt in turn from `answers`, then "OK"."""

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers = list(answers)
        self.bodies: list[bytes] = []

    async def take(self, request: Request) -> Response:
        self.bodies.append(await request.body())
        status, text = self.answers.pop(0) if self.answers else (200, "OK")
        return PlainTextResponse(text, status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/notice", self.take, methods=["POST"])])


def ring(url: str, key: str = "n-1") -> Notice:
    return Notice(
        api="ring",
        key=key,
        ref="order-1",
        url=f"{url}/notice",
        body=b"order=order-1&paid=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        taken=lambda status, text: status == 200 and text == "OK",
    )


def test_the_schedule_grows() -> None:
    assert Resend.growing(60.0, 4).pauses == (60.0, 120.0, 240.0, 480.0)
    assert Resend.growing(5.0, 3, factor=3).pauses == (5.0, 15.0, 45.0)


async def test_a_notice_not_taken_is_posted_again_until_taken_then_no_more(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sleeps = Sleeps()
    sim = BellSimulator(SimulatorContext(sessions=sessions), sleep=sleeps)
    shop = Shop((503, "down"), (200, "NG"))
    async with serve(shop.app()) as shop_url, serve(sim.app()) as url:
        assert await sim.notices.send(ring(shop_url)) is False  # the first attempt, at once
        await sim.notices.drain()
        async with httpx.AsyncClient(base_url=url) as http:
            kept = (await http.get("/_records", params={"kind": "notice"})).json()["notice"]
            calls = (await http.get("/_calls", params={"api": "ring"})).json()["calls"]
    assert sleeps.seconds == [60.0, 120.0]  # two pauses, growing; none after it was taken
    assert shop.bodies == [b"order=order-1&paid=1"] * 3  # the same notice each time
    notice = kept["n-1"]
    assert [(a["status"], a["answer"], a["taken"]) for a in notice["attempts"]] == [
        (503, "down", False),
        (200, "NG", False),
        (200, "OK", True),
    ]
    assert (notice["taken"], notice["next_at"], notice["ref"]) == (True, None, "order-1")
    assert [(c["ref"], c["result"], c["info"]) for c in calls] == [
        ("order-1", "not_taken", "503 down"),
        ("order-1", "not_taken", "200 NG"),
        ("order-1", "ok", "200 OK"),
    ]
    # Kept in kessai's database: a restarted simulator shows the attempts.
    restarted = BellSimulator(SimulatorContext(sessions=sessions))
    await restarted.ready()
    assert len(restarted.records["notice"]["n-1"]["attempts"]) == 3


async def test_a_notice_never_taken_ends_with_the_schedule() -> None:
    sleeps = Sleeps()
    sim = BellSimulator(sleep=sleeps)
    shop = Shop(*[(500, "error")] * 10)
    async with serve(shop.app()) as shop_url:
        await sim.notices.send(ring(shop_url))
        await sim.notices.drain()
    assert sleeps.seconds == [60.0, 120.0, 240.0, 480.0]
    notice = sim.records["notice"]["n-1"]
    assert [a["status"] for a in notice["attempts"]] == [500] * 5
    assert (notice["taken"], notice["next_at"]) == (False, None)


async def test_an_unreachable_shop_is_tried_again_and_the_due_time_shown() -> None:
    held = asyncio.Event()

    async def wait(_seconds: float) -> None:
        await held.wait()

    sim = BellSimulator(sleep=wait)
    async with serve(Shop().app()) as shop_url:
        pass  # stopped: nothing listens there any more
    await sim.notices.send(ring(shop_url))
    notice = sim.records["notice"]["n-1"]
    assert (notice["attempts"][0]["status"], notice["attempts"][0]["answer"]) == (
        None,
        "ConnectError",
    )
    assert notice["next_at"] is not None  # a re-send is due (in 60 s)
    assert sim.shown()["notices"]["resends_under_way"] == 1
    await sim.notices.close()  # reset or shutdown: the re-sends still to come are dropped
    assert sim.shown()["notices"]["resends_under_way"] == 0
    assert len(sim.records["notice"]["n-1"]["attempts"]) == 1


async def test_control_shortens_the_schedule_and_posts_a_taken_notice_again() -> None:
    sim = BellSimulator()  # asyncio's sleep: the shortened pauses are really waited
    shop = Shop((500, "error"))
    async with (
        serve(shop.app()) as shop_url,
        serve(sim.app()) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        shown = await control(http, resend_pauses=[0.01, 0.02])
        assert shown["notices"]["resend_pauses"] == [0.01, 0.02]
        await sim.notices.send(ring(shop_url))
        await sim.notices.drain()
        assert len(shop.bodies) == 2
        await control(http, resend_notice="n-1")  # the duplicate a provider may send
        assert len(shop.bodies) == 3
        unknown = await http.post("/_control", json={"resend_notice": "n-2"})
        assert unknown.status_code == 400
        await control(http, reset=True)
        assert sim.records == {}
        assert (await http.post("/_control", json={"resend_notice": "n-1"})).status_code == 400


async def test_start_makes_every_attempt_in_the_background() -> None:
    sleeps = Sleeps()
    sim = BellSimulator(sleep=sleeps)
    shop = Shop((502, "bad gateway"))
    async with serve(shop.app()) as shop_url:
        sim.notices.start(ring(shop_url))
        assert shop.bodies == []  # nothing posted before the caller goes on
        await sim.notices.drain()
    assert sleeps.seconds == [60.0]
    assert [a["status"] for a in sim.records["notice"]["n-1"]["attempts"]] == [502, 200]
    assert sim.records["notice"]["n-1"]["taken"] is True


async def test_a_notice_with_no_id_of_its_own_gets_the_next_number_restarts_included(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sim = BellSimulator(SimulatorContext(sessions=sessions), sleep=Sleeps())
    async with serve(Shop().app()) as shop_url:
        first = sim.notices.new_key("order-1/PAID")
        sim.notices.start(ring(shop_url, first))
        second = sim.notices.new_key("order-1/PAID")  # asked before the first was posted
        await sim.notices.send(ring(shop_url, second))
        await sim.notices.drain()
        assert (first, second) == ("order-1/PAID/1", "order-1/PAID/2")
        assert sim.notices.new_key("order-1/EXPIRED") == "order-1/EXPIRED/1"
        restarted = BellSimulator(SimulatorContext(sessions=sessions))
        await restarted.ready()  # it never sent one, but the records of the first run count
        assert restarted.notices.new_key("order-1/PAID") == "order-1/PAID/3"
    assert sorted(sim.records["notice"]) == ["order-1/PAID/1", "order-1/PAID/2"]
