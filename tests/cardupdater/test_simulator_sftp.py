"""The GMO PG simulator's SFTP side: kessai's request goes up, the simulator answers by its
rules on test members and cards, and the 27th applies the answer."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kessai.providers.gmo_pg.sim.sftp import (
    TEST_SFTP_PASSWORD,
    TEST_SFTP_USER,
    UPDATER_INVALID_CARD,
    UPDATER_REPLACED_CARD,
    SftpSimulator,
    start_sftp_simulator,
)
from kessai.providers.gmo_pg.sim.state import Member, SavedCard, SimClock, State, StoredCard
from kessai.services import Services
from tests.cardupdater.conftest import (
    REQUEST_MOMENT,
    RESULT_MOMENT,
    Shop,
    add_card,
    card,
    jobs_of,
    make_method,
    run_calendar,
    set_account,
)


@pytest.fixture
async def simulator(tmp_path: Path) -> AsyncIterator[tuple[SftpSimulator, State]]:
    state = State(SimClock(None))
    sim = await start_sftp_simulator(state, tmp_path / "sftp")
    try:
        yield sim, state
    finally:
        sim.close()


async def test_a_round_trip_through_the_simulators_sftp_server(
    services: Services, simulator: tuple[SftpSimulator, State]
) -> None:
    sim, state = simulator
    method = await make_method(services, provider="gmo_pg", method_type="credit_card")
    assert method.account_id is not None
    await set_account(
        services,
        method.account_id,
        password=TEST_SFTP_PASSWORD,
        site_id="tsite00000001",
        sftp_host="127.0.0.1",
        sftp_port=sim.port,
        sftp_login_id=TEST_SFTP_USER,
        sftp_host_key_fingerprint=sim.fingerprint,
        auto_card_update=True,
    )
    shop = Shop(method, method.account_id, None)
    expiring = await add_card(services, shop, name="期限切れ間近", expire="2612")
    later = await add_card(services, shop, name="期限先", expire="2903")
    replaced = await add_card(services, shop, name="差し替え", expire="2701")
    invalid = await add_card(services, shop, name="有効性NG", expire="2612")
    # Two cards the simulator holds (saved by SaveCard), and test members it does not.
    for card_id, number in ((replaced, UPDATER_REPLACED_CARD), (invalid, UPDATER_INVALID_CARD)):
        c = await card(services, card_id)
        state.members[("tsite00000001", c.member_id)] = Member(
            c.member_id, cards=[SavedCard(0, StoredCard(number, c.expire))]
        )

    await run_calendar(services, REQUEST_MOMENT)
    [request] = await jobs_of(services, "card_updater_request")
    assert request.status == "succeeded", request.error
    assert (sim.root / "download" / "tsite00000001_202612_cardupdate_result.csv").exists()

    await run_calendar(services, RESULT_MOMENT)
    [result] = await jobs_of(services, "card_updater_result")
    assert result.status == "succeeded", result.error
    got = {c: await card(services, c) for c in (expiring, later, replaced, invalid)}
    assert (got[expiring].updater_result, got[expiring].expire) == ("0", "3112")
    assert (got[later].updater_result, got[later].expire) == ("0", "2903")
    assert (got[replaced].updater_result, got[replaced].masked_number) == (
        "0",
        "400000******0077",
    )
    assert got[replaced].expire == "3201"
    assert got[invalid].updater_result == "1"


async def test_test_members_the_simulator_does_not_hold_answer_by_their_last_digit(
    services: Services, simulator: tuple[SftpSimulator, State]
) -> None:
    from kessai.providers.gmo_pg.sim.sftp import UpdaterRules, answer_request

    _, state = simulator
    request = b"m-0007,0,2612\r\nm-0008,0,2612\r\nm-0009,0,2612\r\nm-0001,0,2701\r\nx,y,z\r\n"
    name, content = answer_request(
        UpdaterRules(state), "tsite00000001_202612_cardupdate.csv", request
    ) or ("", b"")
    assert name == "tsite00000001_202612_cardupdate_result.csv"
    assert content.decode("cp932").splitlines() == [
        "m-0007,0,1,,",
        "m-0008,0,2,,",
        "m-0009,0,3,,",
        "m-0001,0,0,,3201",
        "x,y,3,,",
    ]
    assert answer_request(UpdaterRules(state), "readme.txt", b"") is None
