"""The kessai command: serve, worker, scheduler, db upgrade, apikey create/list/revoke, demo.

Errors a person can fix (bad settings, a database not yet upgraded, a bad name) end in one
Japanese line on stderr and exit code 2, never a traceback.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.errors import ConfigurationError, KessaiError
from kessai.core.settings import Settings

if TYPE_CHECKING:
    from kessai.accounts.plain_secrets import Moved

app = typer.Typer(
    help="kessai — 決済バックオフィス",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold keys and database passwords
)
db_app = typer.Typer(help="データベース", no_args_is_help=True)
apikey_app = typer.Typer(help="APIキー", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")

T = TypeVar("T")
Host = Annotated[str, typer.Option(help="待ち受けアドレス")]
Port = Annotated[int, typer.Option(help="ポート")]


def _fail(message: str) -> NoReturn:
    typer.echo(f"エラー: {message}", err=True)
    raise typer.Exit(2)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except (KessaiError, ValueError) as exc:
        _fail(exc.message if isinstance(exc, KessaiError) else f"設定が正しくありません: {exc}")


@contextmanager
def _friendly(settings: Settings) -> Iterator[None]:
    """Turn the errors a person can act on into one clear line."""
    from kessai.welcome import display_url

    try:
        yield
    except KessaiError as exc:
        _fail(exc.message)
    except (SQLAlchemyError, OSError) as exc:
        reason = next(iter(str(exc).strip().splitlines()), "")  # not the SQL and its values
        _fail(
            f"データベースを利用できません ({display_url(settings.database_url)}): "
            f"{type(exc).__name__}: {reason}\n"
            "KESSAI_DATABASE_URL と、`kessai db upgrade` を実行済みかを確認してください"
        )


async def _preflight(settings: Settings) -> None:
    """Refuse to serve a database that is not at the newest schema, and in production one
    whose accounts use a connector this process does not have (the simulator)."""
    from kessai.accounts.models import ProviderAccount
    from kessai.core.db import transaction
    from kessai.ops.readiness import code_head, database_revisions
    from kessai.services import build_services

    services = build_services(settings)
    try:
        if code_head(settings) not in await database_revisions(services.engine):
            raise ConfigurationError(
                "データベースが最新のスキーマではありません。"
                "先に `kessai db upgrade` を実行してください"
            )
        if settings.sandbox:
            return
        async with transaction(services.sessions) as s:
            rows = (
                await s.execute(
                    select(ProviderAccount.connector, func.count()).group_by(
                        ProviderAccount.connector
                    )
                )
            ).all()
        from kessai.accounts.connection import connects
        from kessai.providers.installed import title_of

        # An account with nothing to connect to (Re:lation, Paidy …) is kept and refused
        # when used; one on a connector this process lacks stops the start.
        missing = {
            name: n for name, n in rows if connects(name) and name not in services.registry.names()
        }
        if missing:
            what = "、".join(f"{title_of(name)} {n}件" for name, n in sorted(missing.items()))
            raise ConfigurationError(
                f"本番環境(KESSAI_ENV=production)では起動できません: 外部連携アカウントが"
                f"本番で使えない接続モジュールを使っています ({what})。"
                "本番の接続モジュールを設定するか、サンドボックスで起動してください"
            )
    finally:
        await services.close()


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """APIサーバーを起動する (サンドボックスでは擬似決済も有効)."""
    import uvicorn

    from kessai.core.logging import configure
    from kessai.web.app import create_app

    settings = _settings()
    with _friendly(settings):
        asyncio.run(_preflight(settings))
    configure(settings.log_level)
    # kessai's own access line (kessai.ops.requestlog) instead of uvicorn's, which would
    # print query strings; uvicorn's other lines go through kessai's JSON logging.
    uvicorn.run(create_app(), host=host, port=port, log_config=None, access_log=False)


@app.command()
def worker(
    processes: Annotated[int, typer.Option(help="ワーカープロセス数")] = 1,
    threads: Annotated[int, typer.Option(help="プロセスあたりの同時実行数")] = 4,
) -> None:
    """ジョブのワーカーを起動する (KESSAI_BROKER_URL の RabbitMQ / Redis から受け取る)."""
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    settings = _settings()
    if not settings.broker_url:
        _fail(
            "KESSAI_BROKER_URL が設定されていません "
            "(例: amqp://guest:guest@127.0.0.1:5672/ または redis://127.0.0.1:6379/0)。"
            "設定しない場合、ジョブは kessai serve の中で実行されます"
        )
    with _friendly(settings):
        asyncio.run(_preflight(settings))
    args = make_argument_parser().parse_args(  # type: ignore[no-untyped-call]
        ["kessai.jobs.tasks", "--processes", str(processes), "--threads", str(threads)]
    )
    raise typer.Exit(dramatiq_main(args) or 0)  # type: ignore[no-untyped-call]


@app.command()
def scheduler(
    interval: Annotated[float, typer.Option(help="確認の間隔(秒)")] = 15.0,
) -> None:
    """定期実行(毎日の定期受注決済・再オーソリ、毎月の洗替)を時刻どおりにジョブとして登録する."""
    from kessai.core.logging import configure
    from kessai.jobs.schedules import run_scheduler
    from kessai.services import build_services

    settings = _settings()
    with _friendly(settings):
        asyncio.run(_preflight(settings))
    configure(settings.log_level)

    async def beat() -> None:
        services = build_services(settings)
        try:
            await run_scheduler(services, interval)
        finally:
            await services.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(beat())


@app.command()
def doctor() -> None:
    """設定と接続を確認し、直し方を表示する (/readyz と同じ確認)."""
    from kessai.ops.readiness import Check, run_checks, settings_error_check

    typer.echo("kessai doctor: 設定と接続の確認 / checking settings and connections\n")
    checks: list[Check]
    try:
        settings = Settings.from_env()
    except (KessaiError, ValueError) as exc:
        checks = [settings_error_check(exc)]
    else:
        checks = asyncio.run(run_checks(settings))
    for check in checks:
        typer.echo(f"[{'OK' if check.ok else 'NG'}] {check.title_ja} / {check.title_en}")
        typer.echo(f"     {check.detail_ja}\n     {check.detail_en}")
        if not check.ok:
            typer.echo(f"     対処: {check.fix_ja}\n     Fix: {check.fix_en}")
    failed = [c for c in checks if not c.ok]
    if failed:
        typer.echo(f"\n{len(failed)}件の問題があります / {len(failed)} problem(s) found")
        raise typer.Exit(1)
    typer.echo("\nすべて正常です / all checks passed")


@db_app.command("upgrade")
def db_upgrade(
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="kessai をすべて停止済み: 稼働中には適用できないマイグレーションも適用する",
        ),
    ] = False,
) -> None:
    """データベースを最新のスキーマにし、平文で保存されていた秘密情報を暗号化する
    (稼働中でも安全なマイグレーションだけなら停止不要)."""
    from kessai.core.db import create_engine
    from kessai.core.migrate import upgrade
    from kessai.ops.readiness import database_revisions
    from kessai.ops.upgrades import refuse_unsafe, steps
    from kessai.welcome import display_url

    settings = _settings()

    async def current() -> set[str]:
        engine = create_engine(settings.database_url)
        try:
            return await database_revisions(engine)
        finally:
            await engine.dispose()

    with _friendly(settings):
        revisions = asyncio.run(current())
        pending = steps(settings.database_url, revisions)
        refuse_unsafe(pending, in_use=bool(revisions), offline=offline)
        for step in pending:
            when = "稼働中でも安全" if step.online_safe else "停止が必要"
            typer.echo(f"適用: {step.revision} {step.title} ({when})")
        upgrade(settings.database_url)
        # In the same command, after the migrations: sealing needs the master key, which an
        # Alembic migration does not have (accounts.plain_secrets).
        moved = asyncio.run(_seal_plain_secrets(settings))
    typer.echo(f"データベースを最新のスキーマにしました: {display_url(settings.database_url)}")
    for account_id, kept in sorted({(m.account_id, m.kept_sealed) for m in moved}):
        same = [m for m in moved if (m.account_id, m.kept_sealed) == (account_id, kept)]
        typer.echo(
            f"外部連携アカウント(ID: {account_id})の平文で保存されていた秘密情報を"
            f"{same[0].done}: {', '.join(m.field for m in same)}"
        )


async def _seal_plain_secrets(settings: Settings) -> "list[Moved]":
    """Secrets saved in plain settings before their field became secret, sealed."""
    from kessai.accounts.plain_secrets import seal_plain_secrets
    from kessai.services import build_services

    services = build_services(settings)
    try:
        return await seal_plain_secrets(
            services.sessions, lambda: services.keyring, services.clock.now()
        )
    finally:
        await services.close()


def _run_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """work(session) in one transaction on the configured database."""
    from kessai.core.db import create_engine, session_factory, transaction

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as s:
                return await work(s)
        finally:
            await engine.dispose()

    with _friendly(settings):
        return asyncio.run(run())


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="キーの名前 (例: storefront)")],
    scope: Annotated[
        str,
        typer.Option(
            help="権限: storefront (受注登録・オーソリ) / operator (すべての決済処理) / "
            "admin (外部連携アカウント・設定・APIキー・サンドボックスの時計)"
        ),
    ] = "admin",
) -> None:
    """APIキーを発行する。キーはこの一度しか表示されません (保存されるのはハッシュのみ)."""
    from kessai.apikeys.service import create_key, parse_scope
    from kessai.core.clock import utcnow

    settings = _settings()
    with _friendly(settings):
        chosen = parse_scope(scope)
    key = _run_db(settings, lambda s: create_key(s, name, utcnow(), chosen))
    typer.echo(key)  # alone on stdout, so KEY=$(kessai apikey create NAME) works
    typer.echo("このキーは再表示できません。安全な場所に保管してください。", err=True)


@apikey_app.command("list")
def apikey_list() -> None:
    """APIキーの一覧: ID・名前・権限・発行・最終利用・失効の日時 (キー自体は表示されません)."""
    from kessai.apikeys.scopes import Scope
    from kessai.apikeys.service import list_keys
    from kessai.core.clock import to_tokyo

    def when(at: datetime | None) -> str:
        return "-" if at is None else f"{to_tokyo(at):%Y-%m-%d %H:%M}"

    keys = _run_db(_settings(), list_keys)
    typer.echo("ID\t名前\t権限\tキー\t発行日時\t最終利用\t失効")
    for k in keys:
        typer.echo(
            f"{k.id}\t{k.name}\t{Scope(k.scope).label}\tks_{k.prefix}_…\t{when(k.created_at)}"
            f"\t{when(k.last_used_at)}\t{when(k.revoked_at)}"
        )


@apikey_app.command("revoke")
def apikey_revoke(
    key: Annotated[str, typer.Argument(help="失効させるキーのID (kessai apikey list) または名前")],
) -> None:
    """APIキーを失効させる。すべてのプロセスで直ちに使えなくなります."""
    from kessai.apikeys.service import revoke_key, revoke_key_id
    from kessai.core.clock import utcnow

    async def revoke(s: AsyncSession) -> int:
        if key.isdigit():
            found = await revoke_key_id(s, int(key), utcnow())
            return 1 if found.revoked_at is not None else 0
        return await revoke_key(s, key, utcnow())

    count = _run_db(_settings(), revoke)
    if count == 0:
        _fail(f"有効なAPIキー「{key}」はありません")
    typer.echo(f"APIキーを{count}件失効させました")


@app.command()
def demo(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """デモデータ (支払い方法・受注) を登録し、APIキーと試し方を表示する (サンドボックスのみ)."""
    from kessai.demo import seed_demo
    from kessai.welcome import banner

    settings = _settings()
    with _friendly(settings):
        seed = asyncio.run(seed_demo(settings, host, port))
    typer.echo(banner(f"http://{host}:{port}", seed, settings.database_url))


if __name__ == "__main__":
    app()


@app.command()
def simulate(
    provider: Annotated[str, typer.Argument(help="決済代行会社 (例: gmo-pg)")],
    host: Host = "127.0.0.1",
    port: Port = 8101,
) -> None:
    """決済代行会社のシミュレーターを単独で起動する (サンドボックスでは /sim/<名前> にもある).

    取引・会員は KESSAI_DATABASE_URL のデータベースに保存され、再起動後も残る."""
    import uvicorn

    from kessai.core.db import create_engine, session_factory
    from kessai.providers.installed import PROVIDERS
    from kessai.providers.kit import SimulatorContext

    simulated = {p.sim_path: p for p in PROVIDERS if p.simulator and p.sim_path}
    chosen = simulated.get(provider) or simulated.get(provider.replace("_", "-"))
    if chosen is None or chosen.simulator is None:
        _fail(
            f"「{provider}」のシミュレーターはありません (あるもの: {', '.join(sorted(simulated))})"
        )
    typer.echo(f"{chosen.title} シミュレーター: http://{host}:{port}/")
    if chosen.simulator_help:
        typer.echo(chosen.simulator_help)
    settings = _settings()
    sessions = session_factory(create_engine(settings.database_url))
    app = chosen.simulator(SimulatorContext(sessions=sessions))
    uvicorn.run(app, host=host, port=port, log_level="warning")


admin_app = typer.Typer(help="管理画面のユーザー", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@admin_app.command("create-user")
def admin_create_user(
    email: Annotated[str, typer.Argument(help="ログインに使うメールアドレス")],
    role: Annotated[
        str, typer.Option(help="admin (管理者)・operator (運用担当)・viewer (閲覧のみ)")
    ] = "admin",
    name: Annotated[str, typer.Option(help="画面に表示する名前")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="パスワードを標準入力の1行目から読む")
    ] = False,
) -> None:
    """管理画面のユーザーを登録する。パスワードは入力を求めます (コマンドラインには書かない)."""
    import sys

    from kessai.core.clock import utcnow
    from kessai.core.db import create_engine, session_factory, transaction
    from kessai.users.service import check_password_rules, create_user, parse_role

    settings = _settings()
    with _friendly(settings):
        chosen = parse_role(role)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("パスワード", hide_input=True, confirmation_prompt=True)
        check_password_rules(password)

    async def run() -> tuple[str, str]:
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as s:
                user = await create_user(
                    s, email=email, name=name, password=password, role=chosen, now=utcnow()
                )
                return user.email, user.name
        finally:
            await engine.dispose()

    with _friendly(settings):
        address, shown_name = asyncio.run(run())
    typer.echo(f"管理画面のユーザーを登録しました: {address} ({shown_name}、{chosen.label})")


secrets_app = typer.Typer(help="秘密情報の暗号化 (マスターキー)", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("generate-key")
def secrets_generate_key() -> None:
    """新しいマスターキーを生成して表示する (KESSAI_SECRET_KEY に設定します)."""
    from kessai.core.crypto import generate_key

    typer.echo(generate_key())  # alone on stdout, so KEY=$(kessai secrets generate-key) works
    typer.echo(
        "この鍵を失うと保存済みの秘密情報は復号できません。安全な場所に保管してください。",
        err=True,
    )


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """保存済みの秘密情報をすべて新しいマスターキーで暗号化し直す (全件か、何もしないか).

    新しい鍵を KESSAI_SECRET_KEY (または KESSAI_SECRET_KEY_FILE) に、旧鍵を
    KESSAI_SECRET_KEY_PREVIOUS に指定して実行します。
    """
    from kessai.accounts.secrets import RotationReport, rotate_all
    from kessai.core.db import create_engine, session_factory, transaction
    from kessai.core.keyring import load_keyring

    settings = _settings()
    if settings.secret_key is None and settings.secret_key_file is None:
        _fail(
            "新しいマスターキーを KESSAI_SECRET_KEY (または KESSAI_SECRET_KEY_FILE) に"
            "指定してください (生成: kessai secrets generate-key)"
        )
    if not settings.previous_secret_keys:
        _fail("これまでのマスターキーを KESSAI_SECRET_KEY_PREVIOUS に指定してください")

    async def run() -> RotationReport:
        keyring = load_keyring(settings)
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as s:
                return await rotate_all(s, keyring)
        finally:
            await engine.dispose()

    with _friendly(settings):
        report = asyncio.run(run())
    typer.echo(
        f"{report.resealed}件の秘密情報を新しいマスターキー (鍵ID {report.key_id}) で"
        f"暗号化し直しました (外部連携アカウント {report.accounts}件"
        + (f"、既に新しい鍵で暗号化済み {report.unchanged}件" if report.unchanged else "")
        + ")"
    )
    typer.echo(
        "動作中のサーバーは新しい鍵で再起動してください。その後 KESSAI_SECRET_KEY_PREVIOUS は"
        "外せます。",
        err=True,
    )
