"""A shop with a GMO PG account whose SFTP server is a real OpenSSH sshd on loopback (password
login, pinned host key), stored cards to choose from, and the calendar to move through."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import seal
from kessai.cardupdater.models import UpdaterRun
from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.customers.models import Customer, CustomerCard
from kessai.jobs import csvout
from kessai.jobs import repository as jobs_repo
from kessai.jobs.kinds import kind_of
from kessai.jobs.models import Job
from kessai.jobs.schedules import tick
from kessai.services import Services
from kessai.shop.schemas import ShopSettingsPatch
from kessai.shop.service import update_shop_settings
from tests.factories import make_method
from tests.sftp_server import SftpServer, sftp_server

SFTP_PASSWORD = "gmo-sftp-pass"
SHOP_EMAIL = "orders@aojiru.example.jp"
# December 2026: the request goes out on the 1st, the result comes back on the 27th.
REQUEST_MOMENT = datetime(2026, 12, 1, 1, 5, tzinfo=TOKYO)
RESULT_MOMENT = datetime(2026, 12, 27, 0, 5, tzinfo=TOKYO)
NOVEMBER = datetime(2026, 11, 15, 12, 0, tzinfo=TOKYO)
REQUEST_FILE = "upload/tsite00012345_202612_cardupdate.csv"
RESULT_FILE = "download/tsite00012345_202612_cardupdate_result.csv"


@pytest.fixture
async def gmo_sftp() -> AsyncIterator[SftpServer]:
    async with sftp_server(password=SFTP_PASSWORD) as server:
        (server.home / "upload").mkdir()
        (server.home / "download").mkdir()
        yield server


@dataclass(frozen=True)
class Shop:
    method: PaymentMethod
    account_id: int
    server: SftpServer | None  # None: another SFTP server (the simulator's)

    def file(self, path: str) -> Path:
        assert self.server is not None
        return self.server.home / path


def sftp_settings(server: SftpServer, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "shop_id": "tshop00012345",
        "site_id": "tsite00012345",
        "sftp_host": server.host,
        "sftp_login_id": server.username,
        "sftp_port": server.port,
        "sftp_host_key_fingerprint": server.host_key_fingerprint,
        "auto_card_update": True,
    }
    values.update(overrides)
    return values


async def set_account(
    services: Services, account_id: int, password: str = SFTP_PASSWORD, **settings: Any
) -> None:
    async with transaction(services.sessions) as s:
        await s.execute(
            update(ProviderAccount)
            .where(ProviderAccount.id == account_id)
            .values(
                integration="gmo_pg",
                name="GMO PG",
                settings=settings,
                secrets={
                    "sftp_password": seal(services.keyring, account_id, "sftp_password", password)
                },
            )
        )


async def make_shop(services: Services, server: SftpServer, **settings: Any) -> Shop:
    method = await make_method(services, provider="gmo_pg", method_type="credit_card")
    assert method.account_id is not None
    await set_account(services, method.account_id, **sftp_settings(server, **settings))
    async with transaction(services.sessions) as s:
        await update_shop_settings(
            s,
            ShopSettingsPatch(shop_name="青汁ショップ", notification_email=SHOP_EMAIL),
            actor="test",
            now=services.clock.now(),
        )
    return Shop(method, method.account_id, server)


async def add_card(
    services: Services,
    shop: Shop,
    *,
    name: str,
    expire: str,
    registered: datetime = NOVEMBER,
    updater_result: str | None = None,
    card_deleted: bool = False,
    customer_deleted: bool = False,
    email: str | None = None,
) -> int:
    async with transaction(services.sessions) as s:
        customer = Customer(
            name=name,
            email=email,
            created_at=registered,
            deleted_at=registered if customer_deleted else None,
        )
        s.add(customer)
        await s.flush()
        card = CustomerCard(
            customer_id=customer.id,
            account_id=shop.account_id,
            payment_method_id=shop.method.id,
            member_id=f"kessai-{customer.id:010d}",
            card_seq="0",
            masked_number="411111******1111",
            expire=expire,
            created_at=registered,
            deleted_at=registered if card_deleted else None,
            updater_result=updater_result,
        )
        s.add(card)
        await s.flush()
        return card.id


async def card(services: Services, card_id: int) -> CustomerCard:
    async with transaction(services.sessions) as s:
        found = await s.get(CustomerCard, card_id)
        assert found is not None
        return found


async def run_calendar(services: Services, at: datetime) -> list[int]:
    """Move the clock, tick the scheduler as `kessai scheduler` would, and wait for the jobs."""
    services.clock.set_now(at)
    created = await tick(services)
    await services.dispatcher.drain()
    return created


async def jobs_of(services: Services, kind: str) -> list[Job]:
    async with transaction(services.sessions) as s:
        rows = await s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id))
        return list(rows.all())


async def job_csv(services: Services, job: Job) -> list[list[str]]:
    import csv
    import io

    async with transaction(services.sessions) as s:
        items = await jobs_repo.items(s, job.id)
    text = csvout.render(kind_of(job.kind), items).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


async def job_logs(services: Services, job: Job) -> list[str]:
    async with transaction(services.sessions) as s:
        return [log.message for log in await jobs_repo.logs(s, job.id)]


async def run_row(services: Services, account_id: int, month: str = "2026-12") -> UpdaterRun:
    async with transaction(services.sessions) as s:
        run = await s.scalar(
            select(UpdaterRun).where(UpdaterRun.account_id == account_id, UpdaterRun.month == month)
        )
        assert run is not None
        return run


def request_lines(shop: Shop) -> list[str]:
    return shop.file(REQUEST_FILE).read_bytes().decode("cp932").splitlines()


def write_result(shop: Shop, lines: list[str], encoding: str = "cp932") -> None:
    shop.file(RESULT_FILE).write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
