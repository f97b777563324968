"""The generated webhook certificate is trusted by a TLS client exactly for the hosts asked for."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509

from quarantine.admission.certificates import (
    WebhookCertificate,
    subject_alternative_names,
    write_webhook_certificate,
)


@contextmanager
def tls_server(files: WebhookCertificate) -> Iterator[int]:
    """A one-connection TLS server on 127.0.0.1 serving `files`; yields its port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert_path, files.key_path)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            with context.wrap_socket(connection, server_side=True) as tls:
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError):
            pass  # the client refused us: that is what some tests expect

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(timeout=5)
        listener.close()


def handshake(port: int, ca: Path, server_name: str) -> bytes:
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return tls.recv(2)


def test_a_client_trusting_the_ca_accepts_the_ip_address_it_dials(tmp_path: Path) -> None:
    files = write_webhook_certificate(tmp_path / "tls", ["127.0.0.1"])
    with tls_server(files) as port:
        assert handshake(port, files.ca_path, "127.0.0.1") == b"ok"


def test_a_host_not_in_the_certificate_is_refused(tmp_path: Path) -> None:
    files = write_webhook_certificate(tmp_path / "tls", ["127.0.0.1"])
    with tls_server(files) as port, pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, files.ca_path, "quarantine.example")


def test_a_client_trusting_another_ca_refuses_the_server(tmp_path: Path) -> None:
    files = write_webhook_certificate(tmp_path / "one", ["127.0.0.1"])
    other = write_webhook_certificate(tmp_path / "other", ["127.0.0.1"])
    with tls_server(files) as port, pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, other.ca_path, "127.0.0.1")


def test_service_names_become_dns_sans_and_addresses_ip_sans(tmp_path: Path) -> None:
    hosts = ["quarantine-operator.quarantine.svc", "10.0.0.7", "::1"]
    files = write_webhook_certificate(tmp_path, hosts)
    certificate = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["quarantine-operator.quarantine.svc"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["10.0.0.7", "::1"]


def test_the_serving_certificate_is_signed_by_the_ca_and_is_no_ca_itself(tmp_path: Path) -> None:
    files = write_webhook_certificate(tmp_path, ["127.0.0.1"])
    ca = x509.load_pem_x509_certificate(files.ca_path.read_bytes())
    leaf = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    leaf.verify_directly_issued_by(ca)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_the_private_key_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    files = write_webhook_certificate(tmp_path / "tls", ["127.0.0.1"])
    assert stat.S_IMODE(files.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    # Only the files a kubernetes.io/tls Secret has; the CA key is not kept.
    assert sorted(path.name for path in (tmp_path / "tls").iterdir()) == [
        "ca.crt",
        "tls.crt",
        "tls.key",
    ]


def test_a_certificate_for_no_host_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one host"):
        subject_alternative_names([])


def test_missing_files_of_a_mounted_secret_are_named(tmp_path: Path) -> None:
    (tmp_path / "tls.crt").write_text("x")
    files = WebhookCertificate.in_directory(tmp_path)
    assert files.missing_files() == [tmp_path / "ca.crt", tmp_path / "tls.key"]
