"""The address guard: webhooks never reach into the network they run in.

Name resolution is replaced here, and any connection to an address that is not loopback fails
the test (and is refused, so nothing leaves this machine): a broken guard fails loudly instead
of sending traffic. Only 127.0.0.1 is allow-listed (tests/settings.py).
"""

import ipaddress
import socket
import types

import pytest

from django_liveness import services, webhooks
from django_liveness.exceptions import WebhookURLRefused
from django_liveness.models import WebhookDelivery, WebhookEndpoint
from django_liveness.testing import SubjectFactory
from django_liveness.webhook_protocol import guard, signing

from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def network(monkeypatch):
    """``network.names[host] = [answer, answer ...]``: each lookup of ``host`` takes the next
    answer (the last one repeats). Unknown names do not resolve; addresses resolve to themselves."""

    network = types.SimpleNamespace(names={}, lookups=[], escaped=[])

    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, port, *args, **kwargs):
        network.lookups.append(host)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return real_getaddrinfo(host, port, *args, **kwargs)
        answers = network.names.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    def connect(sock, address):
        if isinstance(address, tuple) and not ipaddress.ip_address(address[0]).is_loopback:
            network.escaped.append(address)
            raise AssertionError(f"A connection to {address} left loopback.")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield network
    assert network.escaped == []


def endpoint_at(url, events=("session.created",)):
    """An endpoint row as if its URL had passed the check when it was saved (or an attacker wrote it)."""
    return WebhookEndpoint.objects.create(url=url, events=list(events), secret=signing.new_secret())


def send_one():
    services.start_session(SubjectFactory(), verify=False)  # session.created, sent after the commit
    webhooks.wait_for_deliveries()
    return WebhookDelivery.objects.get()


INSIDE = [
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.100.100.200/",  # a metadata service in the shared range
    "https://127.0.0.2/",  # loopback, but not the allow-listed address
    "https://[::1]/",
    "https://[fd00:ec2::254]/",  # a metadata service over IPv6
    "https://[::ffff:10.0.0.1]/",
    "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "https://[64:ff9b:1::a9fe:a9fe]/",  # local-use NAT64
    "https://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "https://[2001:0:4136:e378:8000:63bf:5601:5601]/",  # Teredo, client 169.254.169.254 (inverted)
    "https://[::127.0.0.1]/",  # IPv4-compatible loopback
    "https://[::a00:1]/",  # IPv4-compatible 10.0.0.1
    "https://0.0.0.0/",
    "https://internal.example/",
    "https://metadata.example/",
    "https://nat64.example/",
    "https://sixtofour.example/",
    "https://teredo.example/",
    "https://compatible.example/",
]
EMBEDDING_NAMES = {
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.example": ["2002:a9fe:a9fe::1"],
    "teredo.example": ["2001:0:4136:e378:8000:63bf:5601:5601"],
    "compatible.example": ["::127.0.0.1"],
}


@pytest.mark.parametrize("url", INSIDE)
def test_addresses_inside_the_network_are_refused_when_an_endpoint_is_saved(network, url):
    network.names.update({"internal.example": ["10.0.0.7"], "metadata.example": ["169.254.169.254"], **EMBEDDING_NAMES})
    with pytest.raises(WebhookURLRefused, match="inside the network"):
        webhooks.create_endpoint(url, events=["session.created"])
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(
    "url", ["https://10.1.2.3/hook", "https://169.254.169.254/latest/meta-data/", "https://internal.example/"]
)
def test_they_are_refused_at_send_time_too_without_a_connection(network, url):
    network.names["internal.example"] = ["10.0.0.7"]
    endpoint_at(url)
    delivery = send_one()
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("failed", 1, None)
    assert "inside the network" in delivery.last_error


@pytest.mark.parametrize("host", sorted(EMBEDDING_NAMES))
def test_a_name_resolving_to_an_ipv6_form_of_an_inside_ipv4_address_is_refused_at_send_time(network, host):
    network.names[host] = ["93.184.216.34", *EMBEDDING_NAMES[host]]  # public when saved, then rebound
    webhooks.create_endpoint(f"https://{host}/hook", events=["session.created"])
    delivery = send_one()
    assert (delivery.status, delivery.last_response_status) == ("failed", None)
    assert EMBEDDING_NAMES[host][0] in delivery.last_error and "inside the network" in delivery.last_error


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        ("64:ff9b::a9fe:a9fe", ["169.254.169.254"]),
        ("2002:a9fe:a9fe::", ["169.254.169.254"]),
        ("2001:0:4136:e378:8000:63bf:5601:5601", ["65.54.227.120", "169.254.169.254"]),
        ("::127.0.0.1", ["127.0.0.1"]),
        ("::ffff:10.0.0.1", ["10.0.0.1"]),
        ("::1", []),
        ("2606:4700::1111", []),
    ],
)
def test_the_ipv4_address_inside_an_ipv6_one_is_found(address, embedded):
    assert [str(ip) for ip in guard.embedded_ipv4(ipaddress.ip_address(address))] == embedded


@pytest.mark.parametrize("address", ["64:ff9b::5db8:d822", "93.184.216.34", "2606:4700::1111"])
def test_the_same_forms_of_a_public_address_stay_public(address):
    assert guard.is_public(address)


@pytest.mark.parametrize("address", ["2002:5db8:d822::1", "2001:0:5db8:d822::1"])
def test_6to4_and_teredo_relays_are_refused_even_around_a_public_address(address):
    # The same answer on every Python (3.13 counts 2002::/16 as private, 3.11 as global).
    assert not guard.is_public(address)


def test_a_name_that_resolved_outside_when_saved_is_refused_when_it_resolves_inside(network):
    network.names["rebind.example"] = ["93.184.216.34", "169.254.169.254"]  # DNS rebinding
    webhooks.create_endpoint("https://rebind.example/hook", events=["session.created"])  # checked: public
    delivery = send_one()
    assert delivery.status == "failed" and "169.254.169.254" in delivery.last_error


def test_a_name_with_one_address_inside_among_public_ones_is_refused(network, monkeypatch):
    def two_addresses(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("10.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    with pytest.raises(WebhookURLRefused):
        guard.resolve("https://mixed.example/")


def test_the_connection_goes_to_the_address_that_was_checked(network):
    """Resolved once: a second lookup (which would answer 10.0.0.1) is never made."""
    with Receiver() as receiver:
        network.names["rebind.example"] = ["127.0.0.1", "10.0.0.1"]
        endpoint = endpoint_at(f"http://rebind.example:{receiver.port}/hooks/liveness")
        receiver.secrets.append(endpoint.secret)
        delivery = send_one()
        assert delivery.status == "succeeded"
        [request] = receiver.requests
        assert request["headers"]["Host"] == f"rebind.example:{receiver.port}" and request["verified"]
    assert network.lookups.count("rebind.example") == 1


def test_a_redirect_is_not_followed(network):
    with Receiver(answers=[302], headers={"Location": "http://169.254.169.254/latest/meta-data/"}) as receiver:
        endpoint = endpoint_at(receiver.url)
        receiver.secrets.append(endpoint.secret)
        delivery = send_one()
        assert len(receiver.requests) == 1
    assert (delivery.status, delivery.last_response_status) == ("failed", 302)  # a redirect is an answer, not a retry
    assert "169.254.169.254" not in network.lookups


def test_http_is_refused_at_send_time_unless_allowed(network, settings):
    with Receiver() as receiver:
        endpoint_at(receiver.url)
        settings.LIVENESS = {**settings.LIVENESS, "WEBHOOKS": {"ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}}
        delivery = send_one()
        assert receiver.requests == []
    assert delivery.status == "failed" and "https" in delivery.last_error


def test_the_allow_list_takes_names_addresses_and_networks(network, settings):
    network.names.update({"hooks.internal": ["10.0.0.9"], "other.internal": ["10.2.0.1"], "far.internal": ["192.168.0.1"]})
    settings.LIVENESS = {
        **settings.LIVENESS,
        "WEBHOOKS": {"ALLOWED_PRIVATE_HOSTS": ["hooks.internal", "10.2.0.0/16", "172.16.0.5"]},
    }
    guard.check_url("https://hooks.internal/")
    guard.check_url("https://other.internal/")
    guard.check_url("https://172.16.0.5/")
    with pytest.raises(WebhookURLRefused):
        guard.check_url("https://far.internal/")
    with pytest.raises(WebhookURLRefused):
        guard.check_url("https://172.16.0.6/")


def test_a_name_that_does_not_resolve_is_accepted_when_saved_and_retried_when_sent(network):
    webhooks.create_endpoint("https://not-yet.example/hook", events=["session.created"])
    delivery = send_one()
    assert (delivery.status, delivery.attempts) == ("pending", 1) and "does not resolve" in delivery.last_error
