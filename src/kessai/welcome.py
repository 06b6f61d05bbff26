"""What `make run` prints before serving: the URLs, a demo API key and a short tour."""

import argparse
import asyncio

from kessai.core.settings import Settings
from kessai.demo import seed_demo


def tour(base: str, key: str) -> str:
    auth = f'-H "Authorization: Bearer {key}"'
    return f"""
kessai (サンドボックス: 擬似決済が有効です)
  API        {base}/api/v1
  API docs   {base}/docs   (OpenAPI: {base}/openapi.json)

デモ用APIキー (この一度だけ表示されます):
  {key}

デモ受注 DEMO-0002 (仮売上完了) を売上にして、決済履歴を見る:
  ID=$(curl -s {auth} '{base}/api/v1/orders?number=DEMO-0002' | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  curl -s -X POST {auth} -H 'Content-Type: application/json' -d '{{"shipped_on":"2026-11-22","tracking_number":"1234-5678-9012"}}' {base}/api/v1/orders/$ID/payment/capture
  curl -s {auth} {base}/api/v1/orders/$ID/payment-history

新しい受注で オーソリ → 売上 (README の「ツアー」に拒否・与信審査・応答不明の例があります):
  curl -s -X POST {auth} -H 'Content-Type: application/json' -d '{{"payment_method":"gmo-pg-credit-card","amount":5500,"tax":500,"customer":{{"name":"山田 花子"}},"payment_source":{{"token":"tok_demo"}}}}' {base}/api/v1/orders
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = Settings.from_env()
    key = asyncio.run(seed_demo(settings))
    print(tour(f"http://{args.host}:{args.port}", key))


if __name__ == "__main__":
    main()
