"""Seed 001, 後払い and コンビニ決済: 2 GMO 後払い, 5 ヤマト後払い, 11 スコア後払い, 12 NP 後払い,
13 NP 後払いリアルタイム, 14 後払い.com, 15 アトディーネ, 16 atone, 17 Paidy, 21 電算システム."""

from kessai.accounts.integrations.fields import (
    ALL_CHANNELS,
    FieldKind,
    FieldSpec,
    IntegrationSpec,
    SectionSpec,
    hostname,
    pattern,
)

TEXT, SECRET, FLAG, URL, CHOICE = (
    FieldKind.TEXT,
    FieldKind.SECRET,
    FieldKind.FLAG,
    FieldKind.URL,
    FieldKind.CHOICE,
)

# --- 2. GMO 後払い ---------------------------------------------------------------------------

GMO_ATOBARAI = IntegrationSpec(
    number=2,
    code="gmo_ps",
    name="GMO 後払い",
    description="GMOペイメントサービス株式会社が提供する「後払い決済」を利用する際に設定します。",
    provider="gmo_ps",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "GMO 後払い 認証情報",
            (
                FieldSpec(
                    "site_id",
                    "認証 ID / サイト ID",
                    TEXT,
                    "数字10桁のサイトIDを設定します。",
                    required=True,
                    # [0-9], not \d: full-width digits are not a サイトID.
                    rules=(
                        pattern(
                            r"[0-9]{10}",
                            "not_10_digits",
                            "認証 ID / サイト IDは数字10桁で入力してください",
                        ),
                    ),
                ),
                FieldSpec(
                    "merchant_code",
                    "加盟店コード",
                    TEXT,
                    "abから始まる加盟店コードを設定します。",
                    required=True,
                    rules=(
                        pattern(
                            r"ab\S+",
                            "not_ab_prefix",
                            "加盟店コードはabから始まるコードを入力してください",
                        ),
                    ),
                ),
                FieldSpec(
                    "password", "接続パスワード", SECRET, "自動連携パスワードを設定します。", True
                ),
            ),
        ),
    ),
)

# --- 5. ヤマト後払い -------------------------------------------------------------------------

YAMATO_ATOBARAI = IntegrationSpec(
    number=5,
    code="yamato_atobarai",
    name="ヤマト後払い",
    description="ヤマトフィナンシャル株式会社が提供する「後払い決済」を利用する際に設定します。",
    provider="yamato",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "ヤマト後払い 認証情報",
            (
                FieldSpec(
                    "merchant_code", "加盟店コード", TEXT, "加盟店コードを設定します。", True
                ),
                FieldSpec("password", "パスワード", SECRET, "パスワードを設定します。", True),
            ),
        ),
    ),
)

# --- 11. スコア後払い ------------------------------------------------------------------------

SCORE = IntegrationSpec(
    number=11,
    code="score",
    name="スコア後払い(ニッセン後払い)",
    description="株式会社SCOREが提供する「後払い決済」を利用する際に設定します。",
    provider="score",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "スコア後払い 認証情報",
            (
                FieldSpec(
                    "host",
                    "ホスト",
                    TEXT,
                    "スコア後払いの接続先ホストです。",
                    required=True,
                    default="collect-operation.nissen.co.jp",
                    rules=(hostname("ホスト"),),
                ),
                FieldSpec("shop_id", "ショップID", TEXT, "ショップIDを設定します。", True),
                FieldSpec(
                    "shop_password",
                    "ショップパスワード",
                    SECRET,
                    "ショップパスワードを設定します。",
                    required=True,
                ),
                FieldSpec("source_id", "接続元ID", TEXT, "接続元IDを設定します。", True),
            ),
        ),
    ),
)

# --- 12. NP 後払い / 13. NP 後払いリアルタイム -----------------------------------------------


def np_codes(sp_help: str) -> tuple[FieldSpec, ...]:
    return (
        # NP後払い's API takes SP_CODE as its Basic-auth password: kept like one.
        FieldSpec("sp_code", "SP_CODE", SECRET, sp_help + "※SP_CODEとは「SPコード」です。", True),
        FieldSpec(
            "terminal_id",
            "端末ID",
            TEXT,
            "連携するシステムを特定するための端末IDを設定します。"
            "設定する値は、決済代行会社から通知された内容を入力してください。",
            required=True,
        ),
    )


NP_ATOBARAI = IntegrationSpec(
    number=12,
    code="np_atobarai",
    name="NP 後払い",
    description="株式会社ネットプロテクションズホールディングスが提供する「後払い決済」を利用する際に設定します。",
    provider="net_protections",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "NP 後払い 認証情報",
            (
                *np_codes("株式会社ネットプロテクションズより発番されるSP_CODEを設定します。"),
                FieldSpec(
                    "endpoint_url",
                    "環境接続先URL",
                    URL,
                    "NP後払いの接続先URLです。",
                    required=True,
                    default="https://www.getsafety-online.com/np_set3/npcb1/services/NPConnectPro?wsdl",
                ),
            ),
        ),
    ),
    notes=(
        "「NP後払いサービス」利用時に必要となる指定バナーの設置と規定文言(NP後払い説明文)の"
        "表示設定が必要です。",
    ),
)

NP_ATOBARAI_REALTIME = IntegrationSpec(
    number=13,
    code="np_atobarai_realtime",
    name="NP 後払いリアルタイム",
    description="株式会社ネットプロテクションズホールディングスが提供する「後払い決済」を利用する際に設定します。",
    provider="net_protections",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "NP 後払いリアルタイム 認証情報",
            (
                FieldSpec(
                    "shop_code",
                    "SHOP_CODE",
                    TEXT,
                    "連携に使用するSHOP_CODE(加盟店コード)を設定します。株式会社ネットプロテクションズ"
                    "より付与されたaktから始まる10桁のコードです。(例:akt0000000)",
                    required=True,
                    rules=(
                        pattern(
                            r"akt[0-9]{7}",
                            "not_akt_code",
                            "SHOP_CODEはaktから始まる10桁のコードを入力してください(例:akt0000000)",
                        ),
                    ),
                ),
                *np_codes(
                    "株式会社ネットプロテクションズより発番される連携に使用するSP_CODEを設定します。"
                ),
                FieldSpec(
                    "endpoint_url",
                    "環境接続先URL",
                    URL,
                    "NP後払いAPIの接続先URLです。未設定のときはテスト環境"
                    "(https://ctcp.np-payment-gateway.com/v1)に接続します。本番環境は"
                    "https://cp.np-payment-gateway.com/v1 です。",
                ),
                FieldSpec(
                    "carrier_codes",
                    "配送業者コード",
                    TEXT,
                    "出荷報告で送る配送業者コード(pd_company_code)の対応を「配送業者名=コード」で"
                    "追加します。複数はカンマで区切ります(例: ペンギン便=55555)。ヤマト運輸・"
                    "佐川急便・日本郵便(ゆうパック)などは設定なしで送れます。",
                ),
            ),
        ),
    ),
)

# --- 14. 後払い.com --------------------------------------------------------------------------

ATOBARAI_COM = IntegrationSpec(
    number=14,
    code="atobarai_com",
    name="後払い.com",
    description="株式会社キャッチボールが提供する「後払い.com」を利用する際に設定します。",
    provider="catchball",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "後払い.com 認証情報",
            (
                FieldSpec(
                    "enterprise_id", "受付事業者ID", TEXT, "受付事業者IDを設定します。", True
                ),
                FieldSpec("site_id", "受付サイトID", TEXT, "受付サイトIDを設定します。", True),
                FieldSpec(
                    "api_user_id", "APIユーザーID", TEXT, "APIユーザーIDを設定します。", True
                ),
            ),
        ),
    ),
)

# --- 15. アトディーネ ------------------------------------------------------------------------

ATODINE = IntegrationSpec(
    number=15,
    code="atodine",
    name="アトディーネ",
    description="ジャックス・ペイメント・ソリューションズ株式会社が提供する「アトディーネ」を利用する際に設定します。",
    provider=None,
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "アトディーネ認証情報",
            (
                FieldSpec(
                    "merchant_code", "加盟店コード", TEXT, "加盟店コードを設定します。", True
                ),
                FieldSpec(
                    "connection_id", "接続先特定ID", TEXT, "接続先特定IDを設定します。", True
                ),
                FieldSpec(
                    "connection_password",
                    "接続パスワード",
                    SECRET,
                    "接続パスワードを設定します。",
                    required=True,
                ),
            ),
        ),
    ),
)

# --- 16. atone -------------------------------------------------------------------------------

ATONE = IntegrationSpec(
    number=16,
    code="atone",
    name="atone",
    description="株式会社ネットプロテクションズホールディングスが提供する「atone」を利用する際に設定します。",
    provider="atone",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "atone 認証情報",
            (
                # Embedded in the purchase page to open atone's widget: not a secret.
                FieldSpec("public_key", "公開鍵", TEXT, "連携に使用する公開鍵を設定します。", True),
                FieldSpec(
                    "secret_key", "秘密鍵", SECRET, "連携に使用する秘密鍵を設定します。", True
                ),
                FieldSpec(
                    "amount_update_option",
                    "金額更新オプション",
                    FLAG,
                    "課金額を契約時に設定した金額分まで上方更新を可能にする設定です。",
                    default=False,
                ),
            ),
        ),
    ),
)

# --- 17. Paidy -------------------------------------------------------------------------------

PAIDY = IntegrationSpec(
    number=17,
    code="paidy",
    name="Paidy",
    description="株式会社Paidyが提供する「paidy」を利用する際に設定します。",
    provider="paidy",
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "Paidy 認証情報",
            (
                FieldSpec(
                    "public_key",
                    "パブリックキー",
                    TEXT,
                    "連携に使用するパブリックキーを設定します。",
                    required=True,
                ),
                FieldSpec(
                    "secret_key",
                    "シークレットキー",
                    SECRET,
                    "連携に使用するパスワードを設定します。",
                    required=True,
                ),
                FieldSpec(
                    "logo_url",
                    "ロゴURL",
                    URL,
                    "Paidyサービス利用時にモーダルで表示されるロゴを指定できます。"
                    "指定しない場合は、Paidyのデフォルトのロゴが表示されます。",
                ),
                FieldSpec(
                    "modal_page",
                    "モーダル表示",
                    CHOICE,
                    "Paidyで支払う場合に必要な情報を入力するモーダル表示を設定します。",
                    required=True,
                    default="input",
                    choices=(("input", "入力ページ"), ("confirm", "確認ページ")),
                ),
            ),
        ),
    ),
    notes=(
        "入力ページ: 購入フォームから、確認ページに遷移するときにPaidyのモーダルが表示されます。",
        "確認ページ: 確認ページから、購入完了ページに遷移するときにPaidyのモーダルが表示されます。",
        "「確認画面スキップ:有効」に設定している場合、Paidyは広告 URLに表示されません。",
    ),
)

# --- 21. 電算システム ------------------------------------------------------------------------

DENSAN = IntegrationSpec(
    number=21,
    code="densan",
    name="電算システム",
    description="株式会社電算システムが提供する「コンビニ決済」(コンビニ郵貯後払い)を利用する際に設定します。",
    provider=None,
    channels=ALL_CHANNELS,
    sections=(
        SectionSpec(
            "電算システム 認証情報",
            (
                FieldSpec(
                    "unique_value",
                    "固有値7桁(数字)",
                    TEXT,
                    "連携に必要な7桁の数字を設定します。「固有値 7 桁」は自由に入力できます。",
                    required=True,
                    rules=(
                        pattern(
                            r"[0-9]{7}",
                            "not_7_digits",
                            "固有値7桁(数字)は7桁の半角数字で入力してください",
                        ),
                    ),
                ),
            ),
        ),
    ),
    notes=(
        "「コンビニ郵貯後払い:有効」の場合、受注の取引IDに「固有値 7 桁 + 乱数 10 桁」の"
        "計 17 桁の取引 ID が自動で生成されます。",
    ),
)
