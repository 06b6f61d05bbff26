"""Benchmark: 自動洗替 over N stored cards on PostgreSQL (issue 11).

Timed parts, each beside a bare reference measured in the same run:

    selection       seed 000's selection of N cards (one INSERT … SELECT)
                    bare: COPY of the same N rows out of PostgreSQL (COPY … TO STDOUT)
    request file    the request file streamed from the database (kessai's layout)
                    bare: csv.writer writing N rows of the same three columns
    upload          the file to a real OpenSSH sshd on loopback (.part, then renamed)
                    bare: `scp` of the same file to the same server
    apply           an N-line result file: downloaded, every line checked and staged,
                    applied to the cards in one transaction
                    bare: csv.reader over the file + COPY of its rows into a table

Peak memory is this process's maximum resident set after each part (ru_maxrss): with
everything streamed it stays flat whatever N is (run with --cards 100000 to compare).
Target: all parts ≤ 60 s for 1,000,000 cards, peak under 300 MB.

    .venv/bin/python bench/card_updater.py                    # 1,000,000 cards
    .venv/bin/python bench/card_updater.py --cards 100000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg

from pgdb import temporary_pg_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.sftp_server: the same sshd the tests start

from kessai.cardupdater import repository as repo  # noqa: E402
from kessai.cardupdater.request import month_start, write_request  # noqa: E402
from kessai.cardupdater.result import stage_file  # noqa: E402
from kessai.cardupdater.transfer import download, upload  # noqa: E402
from kessai.core.db import transaction  # noqa: E402
from kessai.core.migrate import upgrade  # noqa: E402
from kessai.core.settings import Env, Settings  # noqa: E402
from kessai.providers.gmo_files import updater_layout  # noqa: E402
from kessai.providers.sftp import SftpTarget  # noqa: E402
from kessai.services import build_services  # noqa: E402
from tests.sftp_server import sftp_server  # noqa: E402

MONTH = date(2026, 12, 1)
REGISTERED = datetime(2026, 11, 1, tzinfo=UTC)
KEY = base64.b64encode(b"kessai-bench-master-key-32bytes!").decode()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def card_rows(n: int, account_id: int, method_id: int) -> Iterator[tuple[object, ...]]:
    for i in range(1, n + 1):
        expire = ("2612", "2701", "2812", "2903")[i % 4]
        yield (
            i,
            i,
            account_id,
            method_id,
            f"kessai-{i:010d}",
            "0",
            "411111******1111",
            expire,
            REGISTERED,
        )


async def seed(dsn: str, n: int) -> tuple[int, float]:
    """N customers and cards by COPY; the seconds the card COPY took (the bare floor)."""
    conn = await asyncpg.connect(dsn)
    try:
        now = datetime.now(UTC)
        account_id = await conn.fetchval(
            "INSERT INTO provider_accounts (provider, integration, name, connector, settings,"
            " secrets, created_at, updated_at) VALUES ('gmo_pg', 'gmo_pg', 'bench', 'fake',"
            " '{}', '{}', $1, $1) RETURNING id",
            now,
        )
        method_id = await conn.fetchval(
            "INSERT INTO payment_methods (code, name, provider, method_type, account_id, enabled,"
            " channels, min_amount, max_amount, recurring, cancel_api_link, terminate_api_link,"
            " capture_on_authorize, post_capture_amount_change_link, gmops_cancel_link,"
            " gmops_modify_link, atobarai_com_modify_link, reduce_link, security_code_required,"
            " created_at, updated_at) VALUES ('card', 'card', 'gmo_pg', 'credit_card', $1, true,"
            " '[]', 1, 9999999, false, false, false, false, false, false, false, false, false,"
            " false, $2, $2) RETURNING id",
            account_id,
            now,
        )
        await conn.copy_records_to_table(
            "customers",
            records=((i, f"顧客{i}", REGISTERED) for i in range(1, n + 1)),
            columns=["id", "name", "created_at"],
        )
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "customer_cards",
            records=(
                (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
                for r in card_rows(n, account_id, method_id)
            ),
            columns=[
                "id",
                "customer_id",
                "account_id",
                "payment_method_id",
                "member_id",
                "card_seq",
                "masked_number",
                "expire",
                "created_at",
            ],
        )
        copy_in = time.perf_counter() - started
        await conn.execute("ANALYZE customers; ANALYZE customer_cards")
        return int(account_id), copy_in
    finally:
        await conn.close()


async def bare_copy_out(dsn: str, path: Path) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_from_query(
            "SELECT member_id, card_seq, expire FROM customer_cards",
            output=str(path),
            format="csv",
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


def bare_csv_write(path: Path, n: int) -> float:
    started = time.perf_counter()
    with path.open("w", encoding="cp932", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        for i in range(n):
            writer.writerow((f"kessai-{i:010d}", "0", "2612"))
    return time.perf_counter() - started


async def write_result_file(dsn: str, run_id: int, path: Path) -> None:
    """The result GMO would send: every card back, one in ten with an NG result, all with a
    new masked number and expiry."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_from_query(
            "SELECT member_id, card_seq,"
            " CASE WHEN id % 10 = 0 THEN ((id / 10) % 4)::text ELSE '0' END,"
            " '411111******2222', '3112'"
            " FROM card_updater_targets WHERE run_id = $1 ORDER BY id",
            run_id,
            output=str(path),
            format="csv",
        )
    finally:
        await conn.close()


async def bare_apply(dsn: str, path: Path) -> float:
    """csv.reader over the result file and COPY of its rows into a scratch table."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TEMP TABLE bare_lines (line_no int, member_id text, card_seq text,"
            " result text, masked text, expire text)"
        )
        started = time.perf_counter()

        def rows() -> Iterator[tuple[object, ...]]:
            with path.open(encoding="cp932", newline="") as f:
                for n, row in enumerate(csv.reader(f), start=1):
                    yield (n, *row)

        await conn.copy_records_to_table("bare_lines", records=rows())
        return time.perf_counter() - started
    finally:
        await conn.close()


def scp(server: object, key: Path, local: Path, remote: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            "scp",
            "-q",
            "-i",
            str(key),
            "-P",
            str(server.port),  # type: ignore[attr-defined]
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            str(local),
            f"{server.username}@{server.host}:{remote}",  # type: ignore[attr-defined]
        ],
        check=True,
    )
    return time.perf_counter() - started


def main(args: argparse.Namespace) -> None:
    with temporary_pg_database(args.pg_admin) as (url, _name):
        upgrade(url)
        asyncio.run(measure(args, url))


async def measure(args: argparse.Namespace, url: str) -> None:
    if True:
        dsn = url.replace("postgresql+asyncpg", "postgresql")
        account_id, copy_in = await seed(dsn, args.cards)
        print(f"seeded {args.cards:,} cards (COPY in {copy_in:.1f} s), peak {peak_mb():.0f} MB")
        services = build_services(Settings(database_url=url, env=Env.SANDBOX, secret_key=KEY))
        files = updater_layout({})
        results: list[tuple[str, float, float, str]] = []
        async with sftp_server() as server:
            (server.home / "upload").mkdir()
            (server.home / "download").mkdir()
            target = SftpTarget(
                host=server.host,
                username=server.username,
                port=server.port,
                private_key=server.client_key,
                host_key_fingerprint=server.host_key_fingerprint,
                connect_timeout_seconds=30,
            )
            with tempfile.TemporaryDirectory(prefix="kessai-bench-") as tmp:
                tmpdir = Path(tmp)
                keyfile = tmpdir / "key"
                keyfile.write_text(server.client_key)
                keyfile.chmod(0o600)
                # selection
                now = datetime.now(UTC)
                started = time.perf_counter()
                async with transaction(services.sessions) as s:
                    run = await repo.get_or_create_run(s, account_id, MONTH, now)
                    # The 初回洗替: every stored card goes (the largest run there is).
                    count = await repo.select_targets(s, run, month_start(MONTH), MONTH, True)
                    run_id = run.id
                selection = time.perf_counter() - started
                bare = await bare_copy_out(dsn, tmpdir / "bare_out.csv")
                results.append(("selection", selection, bare, f"{count:,} cards chosen"))
                # request file
                request = tmpdir / "request.csv"
                started = time.perf_counter()
                await write_request(services, run_id, files, request)
                written = time.perf_counter() - started
                bare = await asyncio.to_thread(bare_csv_write, tmpdir / "bare.csv", count)
                size = request.stat().st_size
                results.append(("request file", written, bare, f"{size / 1e6:.1f} MB"))
                # upload
                started = time.perf_counter()
                await upload(target, request, "upload/request.csv")
                sent = time.perf_counter() - started
                bare = await asyncio.to_thread(scp, server, keyfile, request, "upload/scp.csv")
                results.append(("upload", sent, bare, "sftp vs scp"))
                # apply (the result file is made by the database, not in this process)
                async with transaction(services.sessions) as s:
                    await s.execute(
                        repo.runs_t.update()
                        .where(repo.runs_t.c.id == run_id)
                        .values(status="uploaded")
                    )
                result_path = server.home / "download" / "result.csv"
                await write_result_file(dsn, run_id, result_path)
                local = tmpdir / "result.csv"
                parts: dict[str, float] = {}
                started = time.perf_counter()
                await download(target, "download/result.csv", local)
                parts["download"] = time.perf_counter() - started
                async with transaction(services.sessions) as s:
                    mark = time.perf_counter()
                    assert await repo.claim_for_applying(s, run_id, 0, datetime.now(UTC))
                    lines = await stage_file(s, run_id, files.result, local, "result.csv")
                    parts["check and stage"] = time.perf_counter() - mark
                    mark = time.perf_counter()
                    cards = await repo.apply_staged(s, run_id, datetime.now(UTC))
                    parts["update cards"] = time.perf_counter() - mark
                    mark = time.perf_counter()
                parts["commit"] = time.perf_counter() - mark
                applied = time.perf_counter() - started
                bare = await bare_apply(dsn, local)
                split = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
                results.append(
                    ("apply", applied, bare, f"{lines:,} lines, {cards:,} cards ({split})")
                )
        await services.close()
    total = sum(r[1] for r in results)
    total_bare = sum(r[2] for r in results)
    print(f"\n{'part':<14}{'kessai s':>10}{'bare s':>10}{'ratio':>8}  note")
    for name, took, bare, note in results:
        print(f"{name:<14}{took:>10.1f}{bare:>10.1f}{took / bare:>8.1f}  {note}")
    print(f"{'all':<14}{total:>10.1f}{total_bare:>10.1f}{total / total_bare:>8.1f}")
    print(f"\npeak memory {peak_mb():.0f} MB (target < 300 MB)")
    print(f"all parts {total:.1f} s (target ≤ 60 s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get("KESSAI_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    main(parser.parse_args())
