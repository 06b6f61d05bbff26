"""Uploaded PEM keys, PEM certificates and PKCS#12 bundles are parsed before saving."""

from datetime import UTC, datetime

import pytest

from kessai.accounts.integrations import FileFormat, integration, validate, validate_file
from kessai.core.errors import InvalidInput
from tests.accounts.pki import (
    EXPIRED_AT,
    NOW,
    PNG,
    VALID_UNTIL,
    cert_pem,
    certificate,
    key_pem,
    new_key,
    p12,
)

KEY = new_key()
CERT = certificate(KEY, name="shop")
EXPIRED = certificate(KEY, not_before=datetime(2020, 1, 1, tzinfo=UTC), not_after=EXPIRED_AT)
FUTURE = certificate(
    KEY,
    not_before=datetime(2026, 4, 1, tzinfo=UTC),
    not_after=datetime(2027, 4, 1, tzinfo=UTC),
)
EXPIRED_MESSAGE = "証明書の有効期限が切れています(有効期限: 2023年3月31日)"


def refusal(file_format: FileFormat, data: bytes, password: str | None = None) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as exc:
        validate_file(file_format, data, password, now=NOW)
    return exc.value.code, exc.value.message


# --- PEM private keys ---------------------------------------------------------------------


def test_a_pem_private_key_is_accepted() -> None:
    summary = validate_file(FileFormat.PEM_PRIVATE_KEY, key_pem(KEY), now=NOW)
    assert summary.file_format is FileFormat.PEM_PRIVATE_KEY


def test_an_encrypted_private_key_opens_with_its_password() -> None:
    data = key_pem(KEY, "right")
    assert validate_file(FileFormat.PEM_PRIVATE_KEY, data, "right", now=NOW)
    assert refusal(FileFormat.PEM_PRIVATE_KEY, data, "wrong") == (
        "wrong_password",
        "秘密鍵のパスワードが正しくありません",
    )
    assert refusal(FileFormat.PEM_PRIVATE_KEY, data) == (
        "password_required",
        "秘密鍵がパスワードで保護されています。パスワードが必要です",
    )


@pytest.mark.parametrize(
    "data",
    [
        b"not a key",
        cert_pem(CERT),
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
)
def test_anything_else_is_not_a_private_key(data: bytes) -> None:
    assert refusal(FileFormat.PEM_PRIVATE_KEY, data)[0] == "invalid_private_key"


# --- PEM certificates ---------------------------------------------------------------------


def test_a_pem_certificate_is_accepted_and_summarised() -> None:
    summary = validate_file(FileFormat.PEM_CERTIFICATE, cert_pem(CERT), now=NOW)
    assert summary.subject == "CN=shop"
    assert summary.not_after == VALID_UNTIL


def test_an_expired_certificate_names_its_expiry_date_in_tokyo() -> None:
    assert refusal(FileFormat.PEM_CERTIFICATE, cert_pem(EXPIRED)) == (
        "certificate_expired",
        EXPIRED_MESSAGE,
    )


def test_a_bundle_with_one_expired_certificate_is_refused() -> None:
    bundle = cert_pem(CERT) + cert_pem(EXPIRED)
    assert refusal(FileFormat.PEM_CERTIFICATE, bundle)[0] == "certificate_expired"


def test_a_certificate_not_yet_valid_is_refused() -> None:
    assert refusal(FileFormat.PEM_CERTIFICATE, cert_pem(FUTURE)) == (
        "certificate_not_yet_valid",
        "証明書はまだ有効期間前です(有効期間の開始: 2026年4月1日)",
    )


@pytest.mark.parametrize("data", [b"garbage", key_pem(KEY)])
def test_anything_else_is_not_a_certificate(data: bytes) -> None:
    assert refusal(FileFormat.PEM_CERTIFICATE, data)[0] == "invalid_certificate"


# --- PKCS#12 ------------------------------------------------------------------------------


def test_a_pkcs12_bundle_opens_with_its_password() -> None:
    summary = validate_file(FileFormat.PKCS12, p12(KEY, CERT, "pw"), "pw", now=NOW)
    assert summary.subject == "CN=shop"


@pytest.mark.parametrize("password", ["wrong", None])
def test_a_pkcs12_bundle_with_a_wrong_password_is_refused(password: str | None) -> None:
    assert refusal(FileFormat.PKCS12, p12(KEY, CERT, "pw"), password) == (
        "wrong_password",
        "PKCS#12ファイルのパスワードが正しくありません",
    )


def test_a_pkcs12_bundle_with_an_expired_certificate_is_refused() -> None:
    assert refusal(FileFormat.PKCS12, p12(KEY, EXPIRED, "pw"), "pw") == (
        "certificate_expired",
        EXPIRED_MESSAGE,
    )


def test_a_pkcs12_bundle_without_its_key_is_refused() -> None:
    assert refusal(FileFormat.PKCS12, p12(None, CERT, "pw"), "pw")[0] == "pkcs12_incomplete"


@pytest.mark.parametrize("data", [cert_pem(CERT), b"\x30\x03\x02\x01\x01", PNG])
def test_anything_else_is_not_pkcs12(data: bytes) -> None:
    assert refusal(FileFormat.PKCS12, data, "pw")[0] == "invalid_pkcs12"


def test_empty_and_oversized_files_are_refused() -> None:
    assert refusal(FileFormat.PEM_CERTIFICATE, b"")[0] == "empty_file"
    assert refusal(FileFormat.IMAGE, PNG + b"\x00" * (1024 * 1024))[0] == "file_too_large"


# --- through the integration schemas ------------------------------------------------------


def paygent(**files: bytes) -> dict[str, object]:
    base: dict[str, object] = {
        "private_key": key_pem(KEY),
        "client_certificate": cert_pem(CERT),
        "ca_certificate": cert_pem(certificate(new_key(), name="ca")),
    }
    return base | files


def test_paygent_refuses_an_expired_client_certificate_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate(integration("paygent"), paygent(client_certificate=cert_pem(EXPIRED)), now=NOW)
    assert exc.value.detail["errors"] == [
        {
            "field": "client_certificate",
            "label": "クライアント証明書",
            "code": "certificate_expired",
            "message": f"クライアント証明書: {EXPIRED_MESSAGE}",
        }
    ]


def test_paygent_refuses_a_certificate_of_another_key() -> None:
    other = cert_pem(certificate(new_key(), name="someone else"))
    with pytest.raises(InvalidInput) as exc:
        validate(integration("paygent"), paygent(client_certificate=other), now=NOW)
    assert [(e["field"], e["code"]) for e in exc.value.detail["errors"]] == [
        ("client_certificate", "key_certificate_mismatch")
    ]


def test_paygent_reports_every_bad_file_at_once() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate(
            integration("paygent"),
            paygent(private_key=b"junk", ca_certificate=cert_pem(EXPIRED)),
            now=NOW,
        )
    assert [(e["field"], e["code"]) for e in exc.value.detail["errors"]] == [
        ("private_key", "invalid_private_key"),
        ("ca_certificate", "certificate_expired"),
    ]


def test_veritrans_ac_certificate_must_be_a_certificate() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate(integration("veritrans4g"), {"ac_certificate": key_pem(KEY)}, now=NOW)
    assert [(e["field"], e["code"]) for e in exc.value.detail["errors"]] == [
        ("ac_certificate", "invalid_certificate")
    ]
