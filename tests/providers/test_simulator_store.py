"""The simulator base's store: GMO PG's simulator keeps its transactions and members in
kessai's database across a restart, and never a card number."""

import json
from pathlib import Path

import httpx
from sqlalchemy import select

from kessai.core.db import transaction
from kessai.providers.gmo_pg.sim import records
from kessai.providers.gmo_pg.simulator import SimulatorConfig, create_simulator
from kessai.providers.simulator.store import SimulatorRecord, SimulatorStore
from tests.providers.gmo_pg.test_simulator_support import Gmo, errors

DECLINING = "4000000000000028"  # 42G020000 残高不足


def started(sessions: object) -> Gmo:
    """A fresh simulator process on the same database (nothing kept in memory)."""
    store = SimulatorStore(sessions, records.SIMULATOR)  # type: ignore[arg-type]
    app = create_simulator(SimulatorConfig(store=store))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gmo")
    return Gmo(client, app)


async def test_a_restarted_simulator_holds_what_gmo_would(sessions: object) -> None:
    before = started(sessions)
    order_id, access, reply = await before.authorize()
    assert reply["Approve"]
    assert not errors(await before.call("AlterTran", **access, JobCd="SALES", Amount=1000))
    await before.site_call("SaveMember", MemberID="m-1")
    saved = await before.site_call("SaveCard", MemberID="m-1", CardNo=DECLINING, Expire="3012")
    await before.client.aclose()

    after = started(sessions)  # the process restarted
    found = await after.search(order_id)
    assert (found["Status"], found["AccessID"], found["Amount"]) == (
        "SALES",
        access["AccessID"],
        "1000",
    )
    cards = await after.site_call("SearchCard", MemberID="m-1")
    assert cards["CardSeq"] == saved["CardSeq"]
    assert cards["CardNo"].endswith("0028")
    # The stored test card still declines the way it did before the restart.
    second = "after-restart-1"  # sim-test-1 is taken: the simulator remembers it
    entered = await after.entry(second)
    paid = await after.call(
        "ExecTran",
        OrderID=second,
        **entered,
        Method="1",
        SiteID="tsite00000001",
        SitePass="tsitepass",
        MemberID="m-1",
        CardSeq=saved["CardSeq"],
    )
    assert errors(paid) == ["42G020000"]
    # A reset forgets it all, in the database too.
    await after.client.post("/_control", json={"reset": True})
    assert errors(await started(sessions).search(order_id)) == ["E01110002"]
    await after.client.aclose()


async def test_no_card_number_reaches_the_database(sessions: object) -> None:
    gmo = started(sessions)
    await gmo.authorize()
    await gmo.site_call("SaveMember", MemberID="m-2")
    await gmo.site_call("SaveCard", MemberID="m-2", CardNo="5555555555554444", Expire="3012")
    await gmo.client.aclose()
    async with transaction(sessions) as s:  # type: ignore[arg-type]
        stored = json.dumps([r.data for r in (await s.scalars(select(SimulatorRecord))).all()])
    assert "4111111111111111" not in stored
    assert "5555555555554444" not in stored
    assert "411111" in stored  # what GMO itself shows: first six, last four


async def test_tokens_outlive_a_restart_and_stay_one_time(sessions: object) -> None:
    before = started(sessions)
    fresh, spent = await before.token(), await before.token()
    other = "token-before"
    entered = await before.entry(other)
    paid = await before.call("ExecTran", OrderID=other, **entered, Method="1", Token=spent)
    assert paid["ACS"] == "0"
    await before.client.aclose()

    after = started(sessions)  # the process restarted
    again = "token-after-1"
    entered = await after.entry(again)
    reused = await after.call("ExecTran", OrderID=again, **entered, Method="1", Token=spent)
    assert errors(reused) == ["EX1000302"]  # still spent
    kept = await after.call("ExecTran", OrderID=again, **entered, Method="1", Token=fresh)
    assert kept["ACS"] == "0"  # issued before the restart, it still pays (VISA's masked twin)
    assert (await after.search(again))["CardNo"].endswith("1111")
    await after.client.aclose()


async def test_a_saved_test_card_still_pays_after_a_restart(sessions: object) -> None:
    before = started(sessions)
    await before.member_with_card("m-3")  # 4111111111111111
    await before.client.aclose()
    after = started(sessions)
    order_id = "after-restart-visa"
    entered = await after.entry(order_id)
    site = {"SiteID": "tsite00000001", "SitePass": "tsitepass", "MemberID": "m-3", "CardSeq": "0"}
    paid = await after.call("ExecTran", OrderID=order_id, **entered, Method="1", **site)
    assert paid["ACS"] == "0", paid
    await after.client.aclose()


async def test_sftp_card_updates_outlive_a_restart(sessions: object, tmp_path: Path) -> None:
    """A 洗替 answer changes a member's card on the SFTP side; a restarted simulator still
    holds the new card."""
    import asyncssh

    from kessai.providers.gmo_pg.sim.sftp import (
        TEST_SFTP_PASSWORD,
        TEST_SFTP_USER,
        UPDATER_REPLACED_CARD,
        start_sftp_simulator,
    )

    before = started(sessions)
    await before.site_call("SaveMember", MemberID="m-4")
    saved = await before.site_call(
        "SaveCard", MemberID="m-4", CardNo=UPDATER_REPLACED_CARD, Expire="2701"
    )
    sim = before.sim
    server = await start_sftp_simulator(sim.state, tmp_path / "sftp", persist=sim.keep_members)
    try:
        async with (
            asyncssh.connect(
                "127.0.0.1",
                server.port,
                username=TEST_SFTP_USER,
                password=TEST_SFTP_PASSWORD,
                known_hosts=None,
            ) as conn,
            conn.start_sftp_client() as client,
        ):
            async with client.open("upload/tsite00000001_202612_cardupdate.csv", "wb") as f:
                await f.write(f"m-4,{saved['CardSeq']},2701\r\n".encode())
            result = "download/tsite00000001_202612_cardupdate_result.csv"
            assert await client.exists(result)
    finally:
        server.close()
    await before.client.aclose()

    after = started(sessions)  # the process restarted
    card = await after.site_call("SearchCard", MemberID="m-4")
    assert (card["CardNo"][-4:], card["Expire"]) == ("0077", "3201")
    await after.client.aclose()
