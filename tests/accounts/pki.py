"""Keys, certificates and PKCS#12 bundles made on the spot for the upload tests."""

from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

# The moment the tests validate at; certificates are placed around it.
NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
VALID_FROM = datetime(2024, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2030, 1, 1, tzinfo=UTC)
# 2023-03-31 00:00 in Tokyo: the message must name the Tokyo date 2023年3月31日.
EXPIRED_AT = datetime(2023, 3, 30, 15, 0, tzinfo=UTC)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey, password: str | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def certificate(
    key: ec.EllipticCurvePrivateKey,
    *,
    not_before: datetime = VALID_FROM,
    not_after: datetime = VALID_UNTIL,
    name: str = "kessai test",
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


def cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def p12(
    key: ec.EllipticCurvePrivateKey | None, certificate: x509.Certificate, password: str
) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"kessai",
        key,
        certificate,
        None,
        serialization.BestAvailableEncryption(password.encode()),
    )


# One PNG signature plus a few bytes: enough for the image check.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
