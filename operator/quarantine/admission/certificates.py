"""A private CA and a serving certificate for the admission webhook, made with `cryptography`.

Used when Quarantine registers its own webhook (local runs): the API server must trust the
webhook's certificate, so we make a throw-away CA, sign a serving certificate for the addresses
the API server dials, and hand the CA to kopf, which puts it into the webhook configuration's
caBundle. In a cluster the chart (Helm's genCA or cert-manager) makes these files instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Clocks of the API server and this process may differ slightly.
_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class WebhookCertificate:
    """Paths of the PEM files a webhook server needs, named as in a kubernetes.io/tls Secret."""

    ca_path: Path
    cert_path: Path
    key_path: Path

    @classmethod
    def in_directory(cls, directory: Path) -> WebhookCertificate:
        """The files `ca.crt`, `tls.crt` and `tls.key` in `directory` (a mounted TLS Secret)."""
        return cls(directory / "ca.crt", directory / "tls.crt", directory / "tls.key")

    def missing_files(self) -> list[Path]:
        return [
            path for path in (self.ca_path, self.cert_path, self.key_path) if not path.is_file()
        ]


def subject_alternative_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """IP addresses become IP SANs (TLS clients check those), everything else a DNS SAN."""
    if not hosts:
        raise ValueError("a webhook certificate needs at least one host name or IP address")
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def write_webhook_certificate(
    directory: Path,
    hosts: Sequence[str],
    *,
    valid_for: timedelta = timedelta(days=365),
    common_name: str = "quarantine-webhook",
) -> WebhookCertificate:
    """Create a CA and a serving certificate for `hosts` as ca.crt, tls.crt, tls.key in `directory`.

    The private keys never leave the directory, which is created private (0700); the CA key is
    not written at all, since nothing needs to sign with it again.
    """
    sans = subject_alternative_names(hosts)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name}-ca")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now, valid_for)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    server_cert = (
        _builder(server_name, ca_name, server_key.public_key(), now, valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    files = WebhookCertificate.in_directory(directory)
    files.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.key_path.touch(mode=0o600)
    files.key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
    valid_for: timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + valid_for)
    )
