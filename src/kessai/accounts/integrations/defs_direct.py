"""Providers kessai connects to directly that seed 001 does not list: 31 PayPay
(30 KOMOJU is in defs_komoju).

Numbered after the seed's 29; the fields are the ones the provider issues on onboarding
(PayPay: API key and secret, merchant id, the webhook setup and client IP allow-list)."""

import ipaddress
import re

from kessai.accounts.integrations.fields import (
    ALL_CHANNELS,
    FieldKind,
    FieldSpec,
    IntegrationSpec,
    Rule,
    SectionSpec,
    pattern,
)

TEXT, SECRET, URL, NUMBER = FieldKind.TEXT, FieldKind.SECRET, FieldKind.URL, FieldKind.NUMBER


def _addresses(value: str) -> bool:
    items = [i for i in re.split(r"[\s,]+", value) if i]
    try:
        for item in items:
            ipaddress.ip_network(item, strict=False)
    except ValueError:
        return False
    return bool(items)


WEBHOOK_SOURCES = Rule(
    "invalid_ip_address",
    "通知元IPアドレスはIPアドレスまたはCIDR(例: 192.0.2.0/24)をカンマ区切りで入力してください",
    _addresses,
)
NO_COLON = pattern(
    r"[\x21-\x39\x3b-\x7e]{1,128}",
    "invalid_api_key",
    "128文字以内の半角英数記号(: を除く)で入力してください",
)

# --- 31. PayPay ------------------------------------------------------------------------------

PAYPAY = IntegrationSpec(
    number=31,
    code="paypay",
    name="PayPay",
    description="PayPay株式会社が提供する「PayPay決済」(オープンペイメントAPI)を利用する際に"
    "設定します。",
    provider="paypay",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "PayPay 認証情報",
            (
                FieldSpec(
                    "api_key",
                    "APIキー",
                    TEXT,
                    "PayPay for Developers(加盟店管理画面)で発行されたAPIキーです。",
                    required=True,
                    rules=(NO_COLON,),
                ),
                FieldSpec(
                    "api_secret",
                    "APIシークレット",
                    SECRET,
                    "APIキーと一緒に発行されたシークレットです。すべてのリクエストの署名に使います。",
                    required=True,
                    rules=(NO_COLON,),
                ),
                FieldSpec(
                    "merchant_id",
                    "加盟店ID",
                    TEXT,
                    "PayPayの加盟店ID(MerchantID)です。X-ASSUME-MERCHANT として送ります。",
                    rules=(
                        pattern(
                            r"[A-Za-z0-9_-]{1,64}",
                            "invalid_merchant_id",
                            "加盟店IDは64文字以内の半角英数字で入力してください",
                        ),
                    ),
                ),
                FieldSpec(
                    "endpoint",
                    "接続先URL",
                    URL,
                    "本番: https://apigw.paypay.ne.jp、"
                    "サンドボックス: https://apigw.sandbox.paypay.ne.jp",
                    default="https://apigw.sandbox.paypay.ne.jp",
                ),
            ),
        ),
        SectionSpec(
            "PayPay 通知・決済の設定",
            (
                FieldSpec(
                    "webhook_sources",
                    "通知元IPアドレス",
                    TEXT,
                    "PayPayのWebhookは署名されないため、ここに入力したIPアドレス(CIDR可)"
                    "からの通知だけを受け付けます。",
                    required=True,
                    rules=(WEBHOOK_SOURCES,),
                    max_length=1000,
                ),
                FieldSpec(
                    "authorization_days",
                    "与信期間(日)",
                    NUMBER,
                    "QRコード決済のオーソリ(仮売上)を保持する日数です(PayPayの上限: 30日)。",
                    min_value=1,
                    max_value=30,
                ),
                FieldSpec(
                    "redirect_url",
                    "支払い後の戻り先URL",
                    URL,
                    "PayPayアプリでの支払い後にお客様を戻すURLです。",
                ),
            ),
        ),
    ),
)
