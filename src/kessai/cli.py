"""The kessai command: serve, db upgrade, apikey create, demo."""

import asyncio
from typing import Annotated

import typer

from kessai.core.settings import Settings

app = typer.Typer(help="kessai — 決済バックオフィス", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="データベース", no_args_is_help=True)
apikey_app = typer.Typer(help="APIキー", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="待ち受けアドレス")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="ポート")] = 8000,
) -> None:
    """APIサーバーを起動する (サンドボックスでは擬似決済も有効)."""
    import uvicorn

    from kessai.web.app import create_app

    uvicorn.run(create_app(), host=host, port=port, log_level="info")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """データベースを最新のスキーマにする."""
    from kessai.core.migrate import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    typer.echo(f"データベースを更新しました: {settings.database_url}")


@apikey_app.command("create")
def apikey_create(name: Annotated[str, typer.Argument(help="キーの名前 (例: storefront)")]) -> None:
    """APIキーを発行する。キーはこの一度しか表示されません."""
    from kessai.apikeys.service import create_key
    from kessai.core.clock import utcnow
    from kessai.core.db import create_engine, session_factory, transaction

    async def run() -> str:
        engine = create_engine(Settings.from_env().database_url)
        try:
            async with transaction(session_factory(engine)) as s:
                return await create_key(s, name, utcnow())
        finally:
            await engine.dispose()

    key = asyncio.run(run())
    typer.echo(key)
    typer.echo("このキーは再表示できません。安全な場所に保管してください。", err=True)


@app.command()
def demo() -> None:
    """デモデータ (支払い方法・受注) を登録し、デモ用APIキーを表示する."""
    from kessai.demo import seed_demo

    settings = Settings.from_env()
    if not settings.sandbox:
        typer.echo("デモデータはサンドボックス環境でのみ登録できます", err=True)
        raise typer.Exit(2)
    typer.echo(asyncio.run(seed_demo(settings)))
