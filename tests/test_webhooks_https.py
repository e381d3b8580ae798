"""HTTPS deliveries connect to the checked address and still verify the certificate against the
URL's host name (sent as the TLS server name and in Host). A throwaway CA, trusted through
SSL_CERT_FILE; the host name resolves to loopback by a replaced getaddrinfo."""

import datetime
import ipaddress
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from django_liveness import services, webhooks
from django_liveness.models import WebhookDelivery
from django_liveness.testing import SubjectFactory

from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def certificates(tmp_path, host):
    """A CA (written to ca.pem) and a server certificate for ``host`` signed by it; returns the
    server's SSLContext."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("webhook tests CA"))
        .issuer_name(_name("webhook tests CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(
        server.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem")
    return context


@pytest.fixture
def hooks_test_resolves_to_loopback(monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in ("hooks.test", "other.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]
        ipaddress.ip_address(host)  # nothing else is looked up
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def trusted_ca(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # read by OpenSSL's default verify paths


def deliver_to(url, receiver):
    _endpoint, secret = webhooks.create_endpoint(url, events=["session.created"])
    receiver.secrets.append(secret)
    services.start_session(SubjectFactory(), verify=False)
    webhooks.wait_for_deliveries()
    return WebhookDelivery.objects.get()


def test_https_goes_to_the_checked_address_with_the_host_name_for_tls(
    tmp_path, hooks_test_resolves_to_loopback, trusted_ca, settings
):
    settings.LIVENESS = {**settings.LIVENESS, "WEBHOOKS": {"ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}}  # https only
    with Receiver(tls=certificates(tmp_path, "hooks.test")) as receiver:
        delivery = deliver_to(f"https://hooks.test:{receiver.port}/hooks/liveness", receiver)
        [request] = receiver.requests
    assert (delivery.status, delivery.last_response_status) == ("succeeded", 200)
    assert request["headers"]["Host"] == f"hooks.test:{receiver.port}" and request["verified"]


def test_a_certificate_for_another_name_is_refused_and_tried_again(tmp_path, hooks_test_resolves_to_loopback, trusted_ca):
    with Receiver(tls=certificates(tmp_path, "other.test")) as receiver:
        delivery = deliver_to(f"https://hooks.test:{receiver.port}/hooks/liveness", receiver)
        assert receiver.requests == []
    assert (delivery.status, delivery.last_response_status) == ("pending", None)
    assert "SSLError" in delivery.last_error or "certificate" in delivery.last_error.lower()
