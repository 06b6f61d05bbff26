"""Uploaded key and certificate files, parsed before they are saved.

A file that a provider would reject at the first request (wrong format, wrong password, expired
certificate) is refused when the shop uploads it, with a message saying which of these it is.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from kessai.accounts.integrations.fields import FileFormat
from kessai.core.clock import to_tokyo
from kessai.core.errors import InvalidInput

MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FileSummary:
    """What the admin screen may show about a saved file (never its content)."""

    file_format: FileFormat
    subject: str | None = None
    not_after: datetime | None = None


def _fail(code: str, message: str) -> InvalidInput:
    return InvalidInput(message, code=code)


def japanese_date(moment: datetime) -> str:
    day = to_tokyo(moment)
    return f"{day.year}年{day.month}月{day.day}日"


def _check_period(certificates: list[x509.Certificate], now: datetime) -> None:
    for certificate in certificates:
        if certificate.not_valid_after_utc < now:
            expired = japanese_date(certificate.not_valid_after_utc)
            raise _fail(
                "certificate_expired", f"証明書の有効期限が切れています(有効期限: {expired})"
            )
        if certificate.not_valid_before_utc > now:
            start = japanese_date(certificate.not_valid_before_utc)
            raise _fail(
                "certificate_not_yet_valid",
                f"証明書はまだ有効期間前です(有効期間の開始: {start})",
            )


def _summary(file_format: FileFormat, certificates: list[x509.Certificate]) -> FileSummary:
    if not certificates:
        return FileSummary(file_format)
    first = certificates[0]
    return FileSummary(file_format, first.subject.rfc4514_string(), first.not_valid_after_utc)


def _private_key(data: bytes, password: str | None) -> FileSummary:
    if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
        raise _fail("invalid_private_key", "秘密鍵(PEM形式)のファイルを選択してください")
    encrypted = b"ENCRYPTED" in data
    if encrypted and not password:
        raise _fail(
            "password_required", "秘密鍵がパスワードで保護されています。パスワードが必要です"
        )
    secret = password.encode() if encrypted and password else None
    try:
        serialization.load_pem_private_key(data, password=secret)
    except ValueError as exc:
        if encrypted:
            raise _fail("wrong_password", "秘密鍵のパスワードが正しくありません") from exc
        raise _fail(
            "invalid_private_key", "秘密鍵(PEM形式)として読み込めません。ファイルを確認してください"
        ) from exc
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise _fail("invalid_private_key", "秘密鍵(PEM形式)として読み込めません") from exc
    return FileSummary(FileFormat.PEM_PRIVATE_KEY)


def _certificates(data: bytes, now: datetime) -> FileSummary:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise _fail(
            "invalid_certificate", "証明書(PEM形式)として読み込めません。ファイルを確認してください"
        ) from exc
    _check_period(certificates, now)
    return _summary(FileFormat.PEM_CERTIFICATE, certificates)


def _der_length(data: bytes, at: int) -> tuple[int, int] | None:
    """(length, offset of the content) of the DER length octets at `at`."""
    if at >= len(data):
        return None
    first = data[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    if count == 0 or count > 4 or at + 1 + count > len(data):
        return None
    return int.from_bytes(data[at + 1 : at + 1 + count], "big"), at + 1 + count


def _looks_like_pfx(data: bytes) -> bool:
    """A DER SEQUENCE starting with INTEGER 3: a PKCS#12 PFX, so a failure is the password."""
    if not data or data[0] != 0x30:
        return False
    header = _der_length(data, 1)
    if header is None:
        return False
    _, content = header
    return data[content : content + 3] == b"\x02\x01\x03"


def _pkcs12(data: bytes, password: str | None, now: datetime) -> FileSummary:
    if not _looks_like_pfx(data):
        raise _fail("invalid_pkcs12", "PKCS#12形式(.p12/.pfx)のファイルを選択してください")
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(
            data, password.encode() if password else None
        )
    except ValueError as exc:
        raise _fail("wrong_password", "PKCS#12ファイルのパスワードが正しくありません") from exc
    if key is None or certificate is None:
        raise _fail(
            "pkcs12_incomplete", "秘密鍵と証明書の両方を含むPKCS#12ファイルを選択してください"
        )
    certificates = [certificate, *extra]
    _check_period(certificates, now)
    return _summary(FileFormat.PKCS12, certificates)


_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def _image(data: bytes) -> FileSummary:
    if not data.startswith(_IMAGE_SIGNATURES):
        raise _fail("invalid_image", "PNG・JPEG・GIF形式の画像ファイルを選択してください")
    return FileSummary(FileFormat.IMAGE)


def validate_file(
    file_format: FileFormat,
    data: bytes,
    password: str | None = None,
    *,
    now: datetime | None = None,
) -> FileSummary:
    """Parse an uploaded file as `file_format`; raise InvalidInput saying what is wrong."""
    if not data:
        raise _fail("empty_file", "ファイルが空です")
    if len(data) > MAX_FILE_BYTES:
        raise _fail("file_too_large", "ファイルが大きすぎます(1MBまで)")
    moment = now if now is not None else datetime.now(UTC)
    if file_format is FileFormat.PEM_PRIVATE_KEY:
        return _private_key(data, password)
    if file_format is FileFormat.PEM_CERTIFICATE:
        return _certificates(data, moment)
    if file_format is FileFormat.PKCS12:
        return _pkcs12(data, password, moment)
    return _image(data)


def public_key_of_private_key(data: bytes) -> bytes | None:
    """The SubjectPublicKeyInfo of an unencrypted PEM private key, None when unreadable."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_of_certificate(data: bytes) -> bytes | None:
    """The SubjectPublicKeyInfo of the first certificate of a PEM file, None when unreadable."""
    try:
        certificate = x509.load_pem_x509_certificates(data)[0]
    except (ValueError, IndexError):
        return None
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
