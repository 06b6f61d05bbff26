"""KOMOJU, a provider kessai connects to directly that seed 001 does not list (numbered after
the seed's): the keys KOMOJU's dashboard issues and the webhook's secret token."""

from kessai.accounts.integrations.fields import (
    ALL_CHANNELS,
    FieldKind,
    FieldSpec,
    IntegrationSpec,
    SectionSpec,
    pattern,
)

KOMOJU = IntegrationSpec(
    number=30,
    code="komoju",
    name="KOMOJU",
    description="株式会社DEGICAが提供する「KOMOJU」(WeChat Pay・Alipay)を利用する際に設定します。",
    provider="komoju",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "KOMOJU 認証情報",
            (
                FieldSpec(
                    "secret_key",
                    "シークレットキー",
                    FieldKind.SECRET,
                    "KOMOJUの管理画面で発行されたシークレットキー(sk_…)です。",
                    required=True,
                ),
                FieldSpec(
                    "publishable_key",
                    "パブリッシャブルキー",
                    FieldKind.TEXT,
                    "カード情報のトークン化に使う公開キー(pk_…)です。",
                    rules=(
                        pattern(
                            r"pk_(?:test|live)_[A-Za-z0-9]{8,64}",
                            "invalid_publishable_key",
                            "パブリッシャブルキーは pk_test_ / pk_live_ で始まる値を"
                            "入力してください",
                        ),
                    ),
                ),
                FieldSpec(
                    "webhook_secret",
                    "Webhook シークレットトークン",
                    FieldKind.SECRET,
                    "KOMOJUのWebhook設定のシークレットトークンです。通知の署名"
                    "(X-Komoju-Signature)を確かめます。",
                    required=True,
                ),
            ),
        ),
    ),
)
