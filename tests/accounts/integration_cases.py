"""A valid input for each of seed 001's 29 integrations and the cleaned values expected back,
written out by hand."""

from tests.accounts.pki import PNG, cert_pem, certificate, key_pem, new_key

KEY = new_key()
KEY_PEM = key_pem(KEY)
CERT_PEM = cert_pem(certificate(KEY, name="paygent client"))
CA_PEM = cert_pem(certificate(new_key(), name="paygent ca"))
NP_URL = "https://www.getsafety-online.com/np_set3/npcb1/services/NPConnectPro?wsdl"

# code → (input as a form or API would send it, the cleaned values expected back).
CASES: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "gmo_pg": (
        {
            "shop_id": " tshop00012345 ",
            "shop_password": "shop-pass",
            "site_id": "tsite00012345",
            "site_password": "site-pass",
            "sftp_host": "192.0.2.10",
            "sftp_login_id": "sftpuser",
            "sftp_password": "sftp-pass",
            "security_code": "on",
            "epos_enabled": True,
            "epos_partner_code": "EP0001",
            "epos_banner": PNG,
            "auto_card_update": "1",
            "sftp_port": "2222",
            "sftp_host_key_fingerprint": " SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8 ",
            "updater_result_columns": "member_id,card_seq,skip,result",
            "updater_encoding": "utf-8",
            "updater_header": "あり",
            "updater_result_day": 26,
            "recurring_result_columns": "terminal_seq,skip,result,error_code",
            "recurring_send_day": "10",
        },
        {
            "shop_id": "tshop00012345",
            "shop_password": "shop-pass",
            "site_id": "tsite00012345",
            "site_password": "site-pass",
            "sftp_host": "192.0.2.10",
            "sftp_login_id": "sftpuser",
            "sftp_password": "sftp-pass",
            "security_code": True,
            "epos_enabled": True,
            "epos_partner_code": "EP0001",
            "epos_banner": PNG,
            "auto_card_update": True,
            "sftp_port": 2222,
            "sftp_host_key_fingerprint": "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
            "updater_result_columns": "member_id,card_seq,skip,result",
            "updater_encoding": "utf-8",
            "updater_header": True,
            "updater_result_day": 26,
            # Left blank: kessai's default layout and calendar (providers.gmo_pg.files).
            **dict.fromkeys(
                (
                    "updater_request_dir",
                    "updater_result_dir",
                    "updater_request_name",
                    "updater_result_name",
                    "updater_request_columns",
                    "updater_quoting",
                    "updater_request_day",
                    "updater_request_deadline_day",
                    "updater_result_hour",
                    "updater_result_wait_days",
                )
            ),
            "recurring_result_columns": "terminal_seq,skip,result,error_code",
            "recurring_send_day": 10,
            **dict.fromkeys(
                (
                    "recurring_send_dir",
                    "recurring_send_name",
                    "recurring_send_columns",
                    "recurring_result_dir",
                    "recurring_result_name",
                    "recurring_check_dir",
                    "recurring_check_name",
                    "recurring_check_columns",
                    "recurring_encoding",
                    "recurring_quoting",
                    "recurring_header",
                    "recurring_send_hour",
                    "recurring_result_day",
                    "recurring_result_hour",
                    "recurring_check_day",
                    "recurring_check_hour",
                    "recurring_send_until_day",
                    "recurring_result_wait_days",
                )
            ),
        },
    ),
    "gmo_ps": (
        {"site_id": "1234567890", "merchant_code": "ab00012345", "password": "p"},
        {"site_id": "1234567890", "merchant_code": "ab00012345", "password": "p"},
    ),
    "gmo_epsilon": (
        {
            "host": "secure.epsilon.jp",
            "token_url": "https://secure.epsilon.jp/js/token.js",
            "contract_code": "12345678",
            "security_code": "有効",
        },
        {
            "host": "secure.epsilon.jp",
            "token_url": "https://secure.epsilon.jp/js/token.js",
            "contract_code": "12345678",
            "security_code": True,
        },
    ),
    "yamato": (
        {"merchant_code": "123456789", "password": "pw", "access_key": "1111111"},
        {"merchant_code": "123456789", "password": "pw", "access_key": "1111111"},
    ),
    "yamato_atobarai": (
        {"merchant_code": "987654321", "password": "pw"},
        {"merchant_code": "987654321", "password": "pw"},
    ),
    "paygent": (
        {
            "private_key": KEY_PEM,
            "client_certificate": CERT_PEM.decode(),
            "ca_certificate": CA_PEM,
            "connection_id": "test_connect",
            "connection_password": "connect-pass",
            "merchant_id": "12345",
            "token_key": "tk_public",
        },
        {
            "private_key": KEY_PEM,
            "client_certificate": CERT_PEM,
            "ca_certificate": CA_PEM,
            "connection_id": "test_connect",
            "connection_password": "connect-pass",
            "merchant_id": "12345",
            "token_key": "tk_public",
        },
    ),
    "sbps": (
        {
            "merchant_id": "30132",
            "service_id": "002",
            "basic_auth_id": "30132002",
            "basic_auth_password": "basic-pass",
            "hash_key": "8435dbd48f2249807ec216c3d5ecab714264cc4a",
            "encryption_key": "kessaiSimulator3DESKey24",
            "encryption_iv": "kessaiIV",
            "security_code": "false",
        },
        {
            "merchant_id": "30132",
            "service_id": "002",
            "basic_auth_id": "30132002",
            "basic_auth_password": "basic-pass",
            "hash_key": "8435dbd48f2249807ec216c3d5ecab714264cc4a",
            "encryption_key": "kessaiSimulator3DESKey24",
            "encryption_iv": "kessaiIV",
            "security_code": False,
        },
    ),
    "zeus": (
        {"client_ip": "2019000000", "client_ip_zkey": "zkey"},
        {"client_ip": "2019000000", "client_ip_zkey": "zkey", "security_code": False},
    ),
    "veritrans4g": (
        {
            "ac_certificate": CA_PEM,
            "merchant_ccid": "A100000000000001069951cc",
            "merchant_password": "merchant-key",
            "token_api_key": "cd76ca65-7f54-4dec-8ba3-11c12e36a548",
            "security_code": "表示",
        },
        {
            "ac_certificate": CA_PEM,
            "merchant_ccid": "A100000000000001069951cc",
            "merchant_password": "merchant-key",
            "token_api_key": "cd76ca65-7f54-4dec-8ba3-11c12e36a548",
            "security_code": True,
        },
    ),
    "sbps_carrier": (
        {
            "merchant_id": "30132",
            "service_id": "101",
            "basic_auth_id": "30132101",
            "basic_auth_password": "basic-pass",
            "hash_key": "hash",
        },
        {
            "merchant_id": "30132",
            "service_id": "101",
            "basic_auth_id": "30132101",
            "basic_auth_password": "basic-pass",
            "hash_key": "hash",
            "encryption_key": None,
            "encryption_iv": None,
        },
    ),
    "score": (
        {"shop_id": "S001", "shop_password": "pw", "source_id": "ecforce"},
        {
            "host": "collect-operation.nissen.co.jp",
            "shop_id": "S001",
            "shop_password": "pw",
            "source_id": "ecforce",
        },
    ),
    "np_atobarai": (
        {"sp_code": "SP0001", "terminal_id": "T01"},
        {"sp_code": "SP0001", "terminal_id": "T01", "endpoint_url": NP_URL},
    ),
    "np_atobarai_realtime": (
        {"shop_code": "akt0000001", "sp_code": "SP0001", "terminal_id": "T01"},
        {
            "shop_code": "akt0000001",
            "sp_code": "SP0001",
            "terminal_id": "T01",
            "endpoint_url": None,
            "carrier_codes": None,
        },
    ),
    "atobarai_com": (
        {"enterprise_id": "E1", "site_id": "S1", "api_user_id": "U1"},
        {"enterprise_id": "E1", "site_id": "S1", "api_user_id": "U1"},
    ),
    "atodine": (
        {"merchant_code": "M1", "connection_id": "C1", "connection_password": "pw"},
        {"merchant_code": "M1", "connection_id": "C1", "connection_password": "pw"},
    ),
    "atone": (
        {"public_key": "pk_atone", "secret_key": "sk_atone"},
        {"public_key": "pk_atone", "secret_key": "sk_atone", "amount_update_option": False},
    ),
    "paidy": (
        {
            "public_key": "pk_test_1",
            "secret_key": "sk_test_1",
            "logo_url": "https://shop.example.com/logo.png",
            "modal_page": "confirm",
        },
        {
            "public_key": "pk_test_1",
            "secret_key": "sk_test_1",
            "logo_url": "https://shop.example.com/logo.png",
            "modal_page": "confirm",
        },
    ),
    "amazon_pay": (
        {
            "seller_id": "A2ABCDEF",
            "client_id": "amzn1.application-oa2-client.1",
            "client_secret": "client-secret",
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": "secret-access",
            "show_furigana": "ON",
        },
        {
            "seller_id": "A2ABCDEF",
            "client_id": "amzn1.application-oa2-client.1",
            "client_secret": "client-secret",
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": "secret-access",
            "show_furigana": True,
        },
    ),
    "amazon_pay_v2": (
        {
            "merchant_id": "A1B2C3D4E5F6G7",
            "store_id": "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
            "public_key_id": "SANDBOX-AHEGSJCM3FOVVDBQKHM2OXVT",
            "private_key": KEY_PEM,
        },
        {
            "merchant_id": "A1B2C3D4E5F6G7",
            "store_id": "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
            "public_key_id": "SANDBOX-AHEGSJCM3FOVVDBQKHM2OXVT",
            "private_key": KEY_PEM,
            "ipn_certificate": None,
        },
    ),
    "line_pay": (
        {"channel_id": "1234567890", "channel_secret": "line-secret"},
        {"channel_id": "1234567890", "channel_secret": "line-secret"},
    ),
    "densan": ({"unique_value": "0012345"}, {"unique_value": "0012345"}),
    "relation": (
        {"subdomain": "myshop", "message_box_id": "12", "enabled": True},
        {"subdomain": "myshop", "message_box_id": "12", "enabled": True},
    ),
    "mail_dealer": (
        {"subdomain": "my-shop", "message_box_id": "box1", "enabled": "有効"},
        {"subdomain": "my-shop", "message_box_id": "box1", "enabled": True},
    ),
    "line_id": ({}, {}),
    "paypal": (
        {"seller_merchant_id": "ABCDEFGHIJKLM"},
        {"seller_merchant_id": "ABCDEFGHIJKLM", "sandbox": True},
    ),
    "one_d_color": ({"api_key": "1d-api-key"}, {"api_key": "1d-api-key"}),
    "product_data_feed": ({}, {}),
    "remise_tenkey": (
        {"enabled": True, "port": "8080", "holder_name": "TENKEY"},
        {"enabled": True, "port": 8080, "holder_name": "TENKEY"},
    ),
    "at_score": ({}, {}),
    # 30 (kessai's own, not in the seed): KOMOJU
    "komoju": (
        {
            "secret_key": "sk_test_0123456789abcdef",
            "publishable_key": "pk_test_0123456789abcdef",
            "webhook_secret": "komoju-webhook-token",
        },
        {
            "secret_key": "sk_test_0123456789abcdef",
            "publishable_key": "pk_test_0123456789abcdef",
            "webhook_secret": "komoju-webhook-token",
        },
    ),
    # 31 (kessai's own, not in the seed): PayPay
    "paypay": (
        {
            "api_key": "a_ExampleKey_0001",
            "api_secret": "ExampleSecret+0001/=",
            "merchant_id": "000000000000012345",
            "endpoint": "https://apigw.paypay.ne.jp",
            "webhook_sources": "203.0.113.0/24, 198.51.100.7",
            "authorization_days": "30",
        },
        {
            "api_key": "a_ExampleKey_0001",
            "api_secret": "ExampleSecret+0001/=",
            "merchant_id": "000000000000012345",
            "endpoint": "https://apigw.paypay.ne.jp",
            "webhook_sources": "203.0.113.0/24, 198.51.100.7",
            "authorization_days": 30,
            "redirect_url": None,
        },
    ),
}
