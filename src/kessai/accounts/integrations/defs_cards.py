"""Seed 001, クレジットカード・キャリア決済 gateways: 1 GMO PG, 3 GMO Epsilon, 4 ヤマト,
6 Paygent, 7 SBPS, 8 Zeus, 9 Veritrans, 10 SBPSキャリア."""

from collections.abc import Mapping
from typing import Any

from kessai.accounts.integrations.defs_card_updater import (
    HOST_KEY_FINGERPRINT,
    recurring_file_fields,
    updater_file_fields,
)
from kessai.accounts.integrations.fields import (
    ALL_CHANNELS,
    FieldError,
    FieldKind,
    FieldSpec,
    FileFormat,
    IntegrationSpec,
    SectionSpec,
    hostname,
    ip_address,
)
from kessai.accounts.integrations.files import public_key_of_certificate, public_key_of_private_key

TEXT, SECRET, FILE, FLAG, URL, NUMBER = (
    FieldKind.TEXT,
    FieldKind.SECRET,
    FieldKind.FILE,
    FieldKind.FLAG,
    FieldKind.URL,
    FieldKind.NUMBER,
)
SECURITY_CODE_HELP = (
    "「有効」に設定している場合は、購入フォームでセキュリティーコードの入力を要求します。"
)


def security_code(label: str = "セキュリティコードの入力", **kw: Any) -> FieldSpec:
    return FieldSpec(
        "security_code", label, FLAG, help=kw.pop("help", SECURITY_CODE_HELP), default=False, **kw
    )


def sbps_credentials() -> tuple[FieldSpec, ...]:
    """SBPS and SBPSキャリア ask for the same values: five, and the 3DES key and IV."""
    return (
        FieldSpec("merchant_id", "マーチャントID", TEXT, "マーチャントIDを設定します。", True),
        FieldSpec("service_id", "サービスID", TEXT, "サービスIDを設定します。", True),
        FieldSpec("basic_auth_id", "Basic認証ID", TEXT, "Basic認証IDを設定します。", True),
        FieldSpec(
            "basic_auth_password",
            "Basic認証Password",
            SECRET,
            "Basic認証Passwordを設定します。",
            True,
        ),
        FieldSpec("hash_key", "ハッシュキー", SECRET, "ハッシュキーを設定します。", True),
        # The 3DES key and IV SBPS issues for encrypted_flg=1: secrets like the hash key.
        FieldSpec(
            "encryption_key",
            "3DES暗号化キー",
            SECRET,
            "3DES暗号化を利用する場合に、SBPSから発行された暗号化キー(24文字)を設定します。",
            False,
        ),
        FieldSpec(
            "encryption_iv",
            "3DES初期化ベクトル",
            SECRET,
            "3DES暗号化を利用する場合に、SBPSから発行された初期化ベクトル(8文字)を設定します。",
            False,
        ),
    )


# --- 1. GMO PG -------------------------------------------------------------------------------

SFTP_NEEDED_BY = ("auto_card_update", "epos_enabled")
SFTP_NOTE = (
    "※SFTP 連携オプションのご契約時に発行される「SFTPサーバ設定のお知らせ」をご参照ください。"
)


def epos_needs_auto_card_update(values: Mapping[str, Any]) -> list[FieldError]:
    """エポスカード即時発行スキーム: 「GMO ペイメントゲートウェイ 自動洗替」機能を
    「有効」にする必要があります。"""
    if values.get("epos_enabled") is True and values.get("auto_card_update") is not True:
        return [
            FieldError(
                "epos_enabled",
                "エポス連携",
                "auto_card_update_required",
                "エポス連携を有効にするには「GMO ペイメントゲートウェイ 自動洗替」を"
                "有効にしてください",
            )
        ]
    return []


GMO_PG = IntegrationSpec(
    number=1,
    code="gmo_pg",
    name="GMO PG",
    description="GMO ペイメントゲートウェイ株式会社が提供する「クレジットカード決済」を"
    "利用する際に設定します。",
    provider="gmo_pg",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "GMO PG 認証情報",
            (
                FieldSpec(
                    "shop_id",
                    "ショップ ID",
                    TEXT,
                    "ショップ管理画面にアクセスするために必要なIDです。",
                    required=True,
                ),
                FieldSpec(
                    "shop_password",
                    "ショップパスワード",
                    SECRET,
                    "ショップ管理画面にアクセスするために必要なパスワードです。",
                    required=True,
                ),
                FieldSpec(
                    "site_id",
                    "サイト ID",
                    TEXT,
                    "サイト管理画面にアクセスするために必要なIDです。",
                    required=True,
                ),
                FieldSpec(
                    "site_password",
                    "サイトパスワード",
                    SECRET,
                    "サイト管理画面にアクセスするために必要なパスワードです。",
                    required=True,
                ),
                FieldSpec(
                    "sftp_host",
                    "SFTP 接続先 IP アドレス",
                    TEXT,
                    "GMO PGのSFTPサーバと接続するために必要なIP アドレスです。" + SFTP_NOTE,
                    required_if=SFTP_NEEDED_BY,
                    rules=(ip_address("SFTP 接続先 IP アドレス"),),
                ),
                FieldSpec(
                    "sftp_login_id",
                    "SFTP ログインID",
                    TEXT,
                    "GMO PGのSFTPサーバと接続するために必要なログイン IDです。" + SFTP_NOTE,
                    required_if=SFTP_NEEDED_BY,
                ),
                FieldSpec(
                    "sftp_password",
                    "SFTP パスワード",
                    SECRET,
                    "GMO PGのSFTPサーバと接続するために必要なパスワードです。" + SFTP_NOTE,
                    required_if=SFTP_NEEDED_BY,
                ),
                security_code(),
                FieldSpec(
                    "epos_enabled",
                    "エポス連携",
                    FLAG,
                    "エポスカード即時発行スキームの利用有無を設定します。",
                    default=False,
                ),
                FieldSpec(
                    "epos_partner_code",
                    "エポス提携店コード",
                    TEXT,
                    "エポスカードお申込画面にアクセスするために必要なIDです。",
                    required_if=("epos_enabled",),
                ),
                FieldSpec(
                    "epos_banner",
                    "バナーURL",
                    FILE,
                    "「ファイル選択」から、作成したバナーを取り込み設定することができます。",
                    file_format=FileFormat.IMAGE,
                ),
                FieldSpec(
                    "epos_banner_reset",
                    "デフォルトバナーに戻す",
                    FLAG,
                    "チェックして保存すると、デフォルトバナーに戻します。",
                    resets="epos_banner",
                ),
            ),
        ),
        SectionSpec(
            "GMOペイメントゲートウェイ 自動洗替",
            (
                FieldSpec(
                    "auto_card_update",
                    "自動洗替",
                    FLAG,
                    "kessaiに登録されている更新が必要なクレジットカード情報を自動で更新します。"
                    "「SFTP 連携オプション」の契約が必要です。",
                    default=False,
                ),
                FieldSpec(
                    "sftp_port",
                    "SFTP ポート番号",
                    NUMBER,
                    "SFTPサーバのポート番号です(空欄のときは22)。" + SFTP_NOTE,
                    min_value=1,
                    max_value=65535,
                ),
                FieldSpec(
                    "sftp_host_key_fingerprint",
                    "SFTP ホスト鍵フィンガープリント",
                    TEXT,
                    "接続先が GMO PG のSFTPサーバであることを確かめるホスト鍵の"
                    "フィンガープリント(SHA256:で始まる値)です。一致しないサーバには接続しません"
                    "(未設定のあいだ自動洗替は実行されません)。" + SFTP_NOTE,
                    rules=(HOST_KEY_FINGERPRINT,),
                ),
            ),
        ),
        SectionSpec(
            "自動洗替 ファイル設定",
            updater_file_fields(),
        ),
        SectionSpec(
            "継続課金 ファイル設定",
            recurring_file_fields(),
        ),
    ),
    checks=(epos_needs_auto_card_update,),
    notes=(
        "エポスカード即時発行スキームを利用する場合はショップにて株式会社エポスカードとのご契約が"
        "必要です。また「SFTP 連携オプション」も契約いただく必要があります。",
    ),
)

# --- 3. GMO Epsilon --------------------------------------------------------------------------

GMO_EPSILON = IntegrationSpec(
    number=3,
    code="gmo_epsilon",
    name="GMO Epsilon",
    description="GMOイプシロン株式会社が提供する「クレジットカード決済」を利用する際に設定します。",
    provider=None,
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "GMO Epsilon 認証情報",
            (
                FieldSpec(
                    "host",
                    "ホスト",
                    TEXT,
                    "ホスト名を設定します。",
                    required=True,
                    rules=(hostname("ホスト"),),
                ),
                FieldSpec(
                    "token_url",
                    "トークン取得 URL",
                    URL,
                    "トークンを取得するURLを設定します。",
                    required=True,
                ),
                FieldSpec("contract_code", "契約コード", TEXT, "契約コードを設定します。", True),
                security_code("セキュリティーコードの入力"),
            ),
        ),
    ),
)

# --- 4. ヤマト -------------------------------------------------------------------------------

YAMATO = IntegrationSpec(
    number=4,
    code="yamato",
    name="ヤマト",
    description="ヤマトフィナンシャル株式会社が提供する「クレジットカード決済」を利用する際に設定します。",
    provider="yamato",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "ヤマト 認証情報",
            (
                FieldSpec(
                    "merchant_code", "加盟店コード", TEXT, "加盟店コードを設定します。", True
                ),
                FieldSpec("password", "パスワード", SECRET, "パスワードを設定します。", True),
                FieldSpec("access_key", "アクセスキー", SECRET, "アクセスキーを設定します。", True),
            ),
        ),
    ),
)

# --- 6. Paygent ------------------------------------------------------------------------------


def paygent_key_matches_certificate(values: Mapping[str, Any]) -> list[FieldError]:
    """The client certificate must carry the public half of the uploaded 秘密鍵, or every
    request fails the TLS handshake."""
    key, certificate = values.get("private_key"), values.get("client_certificate")
    if not isinstance(key, bytes) or not isinstance(certificate, bytes):
        return []
    public_key = public_key_of_private_key(key)
    certified = public_key_of_certificate(certificate)
    if public_key is None or certified is None or public_key == certified:
        return []
    return [
        FieldError(
            "client_certificate",
            "クライアント証明書",
            "key_certificate_mismatch",
            "クライアント証明書が秘密鍵と対応していません。同じ組の秘密鍵と証明書を選択してください",
        )
    ]


PAYGENT = IntegrationSpec(
    number=6,
    code="paygent",
    name="Paygent",
    description="株式会社ペイジェントが提供する「クレジットカード決済」を利用する際に設定します。",
    provider="paygent",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "Paygent 認証情報",
            (
                FieldSpec(
                    "private_key",
                    "秘密鍵",
                    FILE,
                    "ファイルを選択し、秘密鍵を設定します。",
                    required=True,
                    file_format=FileFormat.PEM_PRIVATE_KEY,
                ),
                FieldSpec(
                    "client_certificate",
                    "クライアント証明書",
                    FILE,
                    "ファイルを選択し、クライアント証明書を設定します。",
                    required=True,
                    file_format=FileFormat.PEM_CERTIFICATE,
                ),
                FieldSpec(
                    "ca_certificate",
                    "認証済み CA",
                    FILE,
                    "ファイルを選択し、認証済みCAを設定します。",
                    required=True,
                    file_format=FileFormat.PEM_CERTIFICATE,
                ),
                FieldSpec("connection_id", "接続 ID", TEXT, "接続IDを設定します。", True),
                FieldSpec(
                    "connection_password",
                    "接続パスワード",
                    SECRET,
                    "接続パスワードを設定します。",
                    required=True,
                ),
                FieldSpec(
                    "merchant_id", "マーチャント ID", TEXT, "マーチャントIDを設定します。", True
                ),
                # Published in the purchase page's JavaScript to tokenise cards: not a secret.
                FieldSpec(
                    "token_key", "トークン生成鍵", TEXT, "トークン生成鍵を設定します。", True
                ),
            ),
        ),
    ),
    checks=(paygent_key_matches_certificate,),
)

# --- 7. SBPS ---------------------------------------------------------------------------------

SBPS = IntegrationSpec(
    number=7,
    code="sbps",
    name="SBPS",
    description="ソフトバンク・ペイメント・サービス株式会社が提供する「クレジットカード決済」を利用する際に設定します。",
    provider="sbps",
    channels=ALL_CHANNELS,
    sections=(SectionSpec("SBPS 認証情報", (*sbps_credentials(), security_code())),),
)

# --- 8. Zeus ---------------------------------------------------------------------------------

ZEUS = IntegrationSpec(
    number=8,
    code="zeus",
    name="Zeus",
    description="株式会社ゼウスが提供する「クレジットカード決済」を利用する際に設定します。",
    provider="zeus",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "Zeus 情報",
            (
                FieldSpec("client_ip", "ClientIp", TEXT, "ClientIpを設定します。", True),
                FieldSpec(
                    "client_ip_zkey", "ClientIpZkey", SECRET, "ClientIpZkeyを設定します。", True
                ),
                security_code(),
            ),
        ),
    ),
    notes=("ZEUS 本人認証サービスを導入する場合の注意点をご確認ください。",),
)

# --- 9. Veritrans ----------------------------------------------------------------------------

VERITRANS_CAUTION = (
    "SHOP構築の際、クレジットカード決済をVeritransに選択した場合、トークン生成鍵とセキュリティコード"
    "の入力項目が表示されます(その他のクレジットカードを選択してる場合は、非表示になります)。"
)

VERITRANS = IntegrationSpec(
    number=9,
    code="veritrans4g",
    name="Veritrans(クレジットカード・後払い)",
    description="株式会社DGフィナンシャルテクノロジーが提供する「クレジットカード決済」「後払い決済」を利用する際に設定します。",
    provider="veritrans4g",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "Veritrans 認証情報",
            (
                FieldSpec(
                    "ac_certificate",
                    "AC証明書",
                    FILE,
                    "ファイルを選択し、AC証明書を設定します。",
                    required=True,
                    file_format=FileFormat.PEM_CERTIFICATE,
                ),
                FieldSpec(
                    "merchant_ccid",
                    "マーチャントCCID",
                    TEXT,
                    "MAP(https://pay.veritrans.co.jp/maps/)で取得したマーチャントCCIDを設定します。",
                    required=True,
                ),
                FieldSpec(
                    "merchant_password",
                    "マーチャントパスワード",
                    SECRET,
                    "MAP(https://pay.veritrans.co.jp/maps/)で取得したマーチャント認証鍵を設定します。",
                    required=True,
                ),
                # The 「Token Api Key」 is used by the purchase page's JavaScript: not a secret.
                # Only shown (and needed) when the shop's クレジットカード決済 is Veritrans.
                FieldSpec(
                    "token_api_key",
                    "トークン生成鍵",
                    TEXT,
                    "MAP(https://pay.veritrans.co.jp/maps/)で取得した「Token Api Key」を"
                    "入力します。",
                ),
                security_code(
                    help="購入フォームにセキュリティコード入力欄の「表示/非表示」を設定します。",
                    flag_labels=("表示", "非表示"),
                ),
            ),
        ),
    ),
    notes=(VERITRANS_CAUTION, "Veritrans後払いの設定も本画面で行います。"),
)

# --- 10. SBPSキャリア ------------------------------------------------------------------------

SBPS_CARRIER = IntegrationSpec(
    number=10,
    code="sbps_carrier",
    name="SBPSキャリア",
    description="SBペイメントサービス株式会社が提供する「キャリア決済」を利用する際に設定します。",
    provider="sbps",
    channels=ALL_CHANNELS,
    sections=(SectionSpec("SBPS 認証情報", sbps_credentials()),),
    notes=(
        "キャリアごとに支払い方法の「有効/無効」を設定する場合は「設定 > 支払い方法 > "
        "支払い方法管理」で設定します。",
    ),
)

__all__ = [
    "GMO_EPSILON",
    "GMO_PG",
    "PAYGENT",
    "SBPS",
    "SBPS_CARRIER",
    "VERITRANS",
    "YAMATO",
    "ZEUS",
]
