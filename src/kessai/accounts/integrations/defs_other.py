"""Seed 001, wallets and services: 18/19 Amazon Pay, 20 LINE Pay, 22 Re:lation,
23 MailDealer, 24 LINE ID, 25 PayPal, 26 1d color, 27 商品データフィード,
28 ルミーズテンキーパッド, 29 at score."""

from kessai.accounts.integrations.fields import (
    ALL_CHANNELS,
    ActionSpec,
    FieldKind,
    FieldSpec,
    FileFormat,
    IntegrationSpec,
    SectionSpec,
    pattern,
)

TEXT, SECRET, FILE, FLAG, URL, NUMBER = (
    FieldKind.TEXT,
    FieldKind.SECRET,
    FieldKind.FILE,
    FieldKind.FLAG,
    FieldKind.URL,
    FieldKind.NUMBER,
)
ON_OFF = ("ON", "OFF")

# --- 18. / 19. Amazon Pay --------------------------------------------------------------------

AMAZON_PAY = IntegrationSpec(
    number=18,
    code="amazon_pay",
    name="Amazon Pay(v1)",
    description="アマゾンジャパン合同会社が提供する「クレジットカード決済」を利用する際に設定します。",
    provider="amazon",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "Amazon Pay 認証情報",
            (
                FieldSpec("seller_id", "出品者 ID", TEXT, "出品者IDを設定します。", True),
                FieldSpec(
                    "client_id", "クライアント ID", TEXT, "クライアントIDを設定します。", True
                ),
                FieldSpec(
                    "client_secret",
                    "クライアントシークレット",
                    SECRET,
                    "クライアントシークレットを設定します。",
                    required=True,
                ),
                FieldSpec(
                    "access_key_id", "アクセスキー ID", TEXT, "アクセスキーIDを設定します。", True
                ),
                FieldSpec(
                    "secret_access_key",
                    "シークレットアクセスキー",
                    SECRET,
                    "シークレットアクセスキーを設定します。",
                    required=True,
                ),
                FieldSpec(
                    "show_furigana",
                    "フリガナ入力欄の表示",
                    FLAG,
                    "ON: Amazon Payによる注文時に、入力必須のフリガナフィールドを表示させます。"
                    "OFF: 表示させません。",
                    default=False,
                    flag_labels=ON_OFF,
                ),
            ),
        ),
    ),
    notes=(
        "Amazonでは「氏名」という1カラムで名前を管理しているため、「フリガナ」情報は保持していません。",
    ),
)

AMAZON_PAY_V2 = IntegrationSpec(
    number=19,
    code="amazon_pay_v2",
    name="Amazon Pay(v2)",
    description="アマゾンジャパン合同会社が提供する「クレジットカード決済」を利用する際に設定します。",
    provider="amazon",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "Amazon Pay 認証情報(連携で設定)",
            (
                FieldSpec(
                    "merchant_id", "出品者 ID", TEXT, "連携したAmazon Payの出品者IDです。", True
                ),
                FieldSpec(
                    "store_id",
                    "ストア ID",
                    TEXT,
                    "連携したAmazon PayのストアID(クライアントID)です。",
                    True,
                ),
                FieldSpec(
                    "public_key_id",
                    "公開鍵 ID",
                    TEXT,
                    "連携で登録した公開鍵のIDです(SANDBOX- / LIVE- で始まります)。",
                    True,
                ),
                FieldSpec(
                    "private_key",
                    "秘密鍵",
                    FILE,
                    "連携で作成した鍵ペアの秘密鍵(PEM形式)です。",
                    required=True,
                    file_format=FileFormat.PEM_PRIVATE_KEY,
                ),
                FieldSpec(
                    "ipn_certificate",
                    "IPN 署名証明書(Sandbox)",
                    FILE,
                    "Sandboxで受け取るIPNの署名証明書(PEM形式)です。"
                    "本番ではAmazon SNSの証明書を使います。",
                    file_format=FileFormat.PEM_CERTIFICATE,
                ),
            ),
        ),
    ),
    actions=(
        ActionSpec(
            "link_account",
            "Amazonアカウント新規登録・連携",
            "認証情報は「Amazonアカウント新規登録・連携」より連携されます。",
        ),
    ),
    notes=("認証情報は入力欄ではなく「Amazonアカウント新規登録・連携」で連携されます。",),
)

# --- 20. LINE Pay ----------------------------------------------------------------------------

LINE_PAY = IntegrationSpec(
    number=20,
    code="line_pay",
    name="LINE Pay",
    description="LINE Pay株式会社が提供する「LINE Pay決済」を利用する際に設定します。",
    provider=None,
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "LINE Pay 連携情報",
            (
                FieldSpec(
                    "channel_id",
                    "チャンネルID",
                    TEXT,
                    "LINE Developersの「TOP > (アカウントマイページ) > Basic settings > "
                    "Basic information」の「Channel ID」欄が該当します。",
                    required=True,
                ),
                FieldSpec(
                    "channel_secret",
                    "チャンネルシークレットキー",
                    SECRET,
                    "LINE Developersの「TOP > (アカウントマイページ) > Basic settings > "
                    "Basic information」の「Channel secret」欄が該当します。",
                    required=True,
                ),
            ),
        ),
    ),
)

# --- 22. Re:lation / 23. MailDealer ----------------------------------------------------------

SUBDOMAIN = pattern(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    "invalid_subdomain",
    "サブドメインは半角英数字とハイフンで入力してください(例: myshop)",
)
# 本項目にはメッセージボックスIDが1つ設定可能です: a list (comma, space …) is refused.
ONE_MESSAGE_BOX = pattern(
    r"[^,、，;\s]+", "multiple_message_box_ids", "メッセージボックスIDは1つだけ設定できます"
)


def mail_tool(number: int, code: str, name: str, description: str) -> IntegrationSpec:
    return IntegrationSpec(
        number=number,
        code=code,
        name=name,
        description=description,
        provider=None,
        switch="enabled",
        sections=(
            SectionSpec(
                f"{name} 連携情報",
                (
                    FieldSpec(
                        "subdomain",
                        "サブドメイン",
                        TEXT,
                        "契約時に登録したサブドメインを設定します。",
                        required=True,
                        required_if=("enabled",),
                        rules=(SUBDOMAIN,),
                    ),
                    FieldSpec(
                        "message_box_id",
                        "メッセージボックスID",
                        TEXT,
                        "契約時に登録したメッセージボックスIDを設定します。"
                        "本項目にはメッセージボックスIDが1つ設定可能です。",
                        required=True,
                        required_if=("enabled",),
                        rules=(ONE_MESSAGE_BOX,),
                    ),
                    FieldSpec(
                        "enabled",
                        "有効・無効",
                        FLAG,
                        f"{name}との連携の有効・無効を設定します。有効にすると顧客管理画面に"
                        f"{name}のタイムラインへのリンクが表示されます。",
                        default=False,
                    ),
                ),
            ),
        ),
    )


RELATION = mail_tool(
    22,
    "relation",
    "Re:lation",
    "メール共有管理ツール「Re:lation(リレーション)」の連携利用有無を設定します。",
)
MAIL_DEALER = mail_tool(
    23,
    "mail_dealer",
    "MailDealer",
    "メール共有管理ツール「MailDealer(メールディーラー)」の連携利用有無を設定します。",
)

# --- 24. LINE ID -----------------------------------------------------------------------------

LINE_ID = IntegrationSpec(
    number=24,
    code="line_id",
    name="LINE ID",
    description="LINEアカウントと連携したLINEログイン機能をショップで使用する際に設定します。",
    provider=None,
    notes=("詳細は、LINE ID 連携をご確認ください。",),
)

# --- 25. PayPal ------------------------------------------------------------------------------

PAYPAL = IntegrationSpec(
    number=25,
    code="paypal",
    name="PayPal",
    description="PayPal株式会社が提供する「クレジットカード決済」を利用する際に設定します。",
    provider="paypal",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "PayPal 認証情報",
            (
                FieldSpec(
                    "seller_merchant_id",
                    "Seller Merchant ID",
                    TEXT,
                    "Seller Merchant IDを設定します。",
                    required=True,
                ),
            ),
        ),
        SectionSpec(
            "PayPal サンドボックス",
            (
                FieldSpec(
                    "sandbox",
                    "Sandbox 環境",
                    FLAG,
                    "PayPalでSandbox 環境を利用するかを設定します。デフォルトは「ON」です。",
                    default=True,
                    flag_labels=ON_OFF,
                ),
            ),
        ),
    ),
    actions=(
        ActionSpec(
            "link_account",
            "PayPalアカウントと連携",
            "Seller Merchant IDを設定した後に選択します。",
            requires=("seller_merchant_id",),
        ),
        ActionSpec(
            "unlink_account",
            "連携削除",
            "Seller Merchant ID を削除します。",
            requires=("seller_merchant_id",),
        ),
    ),
)

# --- 26. 1d color ----------------------------------------------------------------------------

ONE_D_COLOR = IntegrationSpec(
    number=26,
    code="one_d_color",
    name="1d color",
    description="パーソナライズD2Cシステム「1d color」を連携利用する際に設定します。",
    provider=None,
    sections=(
        SectionSpec(
            "1d color 認証情報",
            (
                FieldSpec(
                    "api_key",
                    "APIキー",
                    SECRET,
                    "1d colorで発行したAPI認証キーを設定します。",
                    True,
                ),
            ),
        ),
    ),
    notes=("※別途1d-colorの契約が必要です。",),
)

# --- 27. 商品データフィード ------------------------------------------------------------------

FACEBOOK_FEED_PATH = "/feeds/facebook.csv"


def facebook_feed_url(base_url: str) -> str:
    """The CSV link Facebook's catalog fetches, under the shop's public URL."""
    return base_url.rstrip("/") + FACEBOOK_FEED_PATH


PRODUCT_DATA_FEED = IntegrationSpec(
    number=27,
    code="product_data_feed",
    name="商品データフィード",
    description="Facebook のカタログ機能との連携に使用する商品データを出力できます。",
    provider=None,
    sections=(
        SectionSpec(
            "商品データフィード",
            (
                FieldSpec(
                    "facebook",
                    "Facebook",
                    URL,
                    "Facebookのカタログで登録可能なcsvのリンクが表示されます。",
                    read_only=True,
                    derive=facebook_feed_url,
                ),
            ),
        ),
    ),
    actions=(
        ActionSpec(
            "create_feed", "データフィード作成", "商品データフィード(csv)を即時作成します。"
        ),
    ),
)

# --- 28. ルミーズテンキーパッド --------------------------------------------------------------

REMISE_TENKEY = IntegrationSpec(
    number=28,
    code="remise_tenkey",
    name="ルミーズテンキーパッド",
    description="ルミーズ株式会社が提供する「ルミーズテンキーパッド」の利用有無を設定します。",
    provider=None,
    switch="enabled",
    requires_any=("gmo_pg", "zeus", "sbps", "paygent", "veritrans4g"),
    sections=(
        SectionSpec(
            "ルミーズテンキーパッド 設定情報",
            (
                FieldSpec(
                    "enabled",
                    "有効・無効",
                    FLAG,
                    "ルミーズテンキーパッドの有効・無効を設定します。",
                    default=False,
                ),
                FieldSpec(
                    "port",
                    "ポート番号",
                    NUMBER,
                    "接続に必要なポート番号を設定します。",
                    required=True,
                    required_if=("enabled",),
                    min_value=1,
                    max_value=65535,
                ),
                FieldSpec(
                    "holder_name",
                    "名義人の固定値",
                    TEXT,
                    "ルミーズテンキーパッドを通して登録されたクレジットカード情報の名義人の値です。"
                    "※ Zeus決済でのみ表示されます。",
                    only_with=("zeus",),
                ),
            ),
        ),
    ),
    notes=(
        "対応の決済サービス: GMO PG・ZEUS・SBPS・Paygent・ベリトランス"
        "(ベリトランスは2022年01月リリース以降で利用可能です。)",
    ),
)

# --- 29. at score ----------------------------------------------------------------------------

AT_SCORE = IntegrationSpec(
    number=29,
    code="at_score",
    name="at score",
    description="インフォコム株式会社が提供する不正注文検知サービス「at score」を"
    "連携利用する際に設定します。",
    provider=None,
    notes=("詳細は、at scoreとの連携をご確認ください。",),
)
