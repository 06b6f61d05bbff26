"""What `kessai demo` (and so `make run`) prints: the URLs, the demo API key and three curl
lines that take the tour order through オーソリ → 売上 and show its 決済履歴."""

import textwrap

from sqlalchemy.engine import make_url

from kessai.demo import DemoSeed

RULE = "─" * 72


def display_url(database_url: str) -> str:
    """The database URL with any password hidden, fit to print."""
    return make_url(database_url).render_as_string(hide_password=True)


def tour_lines(base: str, key: str, order_id: int) -> list[str]:
    """Copy-paste bash: authorize, capture, then the order's 決済履歴."""
    auth = f'-H "Authorization: Bearer {key}"'
    order = f"{base}/api/v1/orders/{order_id}"
    return [
        f"curl -s -w '\\n' -X POST {auth} {order}/payment/authorize",
        f"curl -s -w '\\n' -X POST {auth} {order}/payment/capture",
        f"curl -s -w '\\n' {auth} {order}/payment-history",
    ]


def banner(base: str, seed: DemoSeed, database_url: str) -> str:
    statuses = textwrap.fill(
        ", ".join(f"{label} {n}" for label, n in seed.statuses.items()),
        width=60,  # Japanese characters are two columns wide
        initial_indent="  ",
        subsequent_indent="  ",
    )
    held = (
        f"\n  応答不明で照会待ち / unknown outcome, held: {seed.held} (次の処理の前に決済照会)"
        if seed.held
        else ""
    )
    curls = "\n".join(f"  {line}" for line in tour_lines(base, seed.api_key, seed.tour_order_id))
    return f"""{RULE}
 kessai — サンドボックス / sandbox: 決済は決済代行会社のシミュレーター (/sim/…) で
 行います。シミュレーターのない支払い方法は擬似決済です (simulated payments)
{RULE}
  API docs  {base}/docs
  OpenAPI   {base}/openapi.json
  API       {base}/api/v1
  DB        {display_url(database_url)}

デモ用APIキー / demo API key (表示はこの一度だけ / shown once):
  export KESSAI_KEY={seed.api_key}

受注 {seed.tour_order_number} を オーソリ → 売上 → 決済履歴 (authorize → capture → payment history):
{curls}

デモ受注 / demo orders (決済状況ごと / by 決済状況):
{statuses}{held}
  一覧 / list: curl -s -w '\\n' -H "Authorization: Bearer {seed.api_key}" '{base}/api/v1/orders?payment_status=credit_check_pending'
拒否・与信審査・応答不明・サンドボックス時計 / declines, credit checks, unknown outcomes,
the sandbox clock: README.md「ツアー / Tour」.  停止 / stop: Ctrl+C
{RULE}"""
