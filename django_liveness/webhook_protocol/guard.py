"""The address guard: a webhook goes to the public internet only, unless allow-listed.

A URL's host is resolved once, every address it resolves to is checked, and the connection goes
to the checked address (``transport`` connects to it, sending the original Host and TLS server
name). Checking at send time, not only when the endpoint is saved, is what stops DNS rebinding: a
name that resolved to a public address yesterday and to 169.254.169.254 today is refused today.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..conf import liveness_settings
from ..exceptions import WebhookURLRefused

DEFAULT_PORTS = {"https": 443, "http": 80}


class AddressUnresolved(Exception):
    """The host name does not resolve (now): worth another try later."""


@dataclass(frozen=True)
class Target:
    """Where one request goes: the checked ``address``, and what the URL said."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def host_header(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse(url):
    """Split ``url`` into (scheme, host, port, path), refusing what is never allowed."""
    parts = urlsplit(url)
    allowed = ("https", "http") if liveness_settings.WEBHOOKS["ALLOW_HTTP"] else ("https",)
    if parts.scheme not in allowed:
        raise WebhookURLRefused("Webhook URLs must use https (LIVENESS['WEBHOOKS']['ALLOW_HTTP'] allows http, for development).")
    if parts.username or parts.password:
        raise WebhookURLRefused("Webhook URLs must not carry a user name or password.")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise WebhookURLRefused("The webhook URL has an invalid port.") from None
    if not parts.hostname:
        raise WebhookURLRefused("The webhook URL has no host.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname.lower().rstrip("."), port, path


def resolve(url):
    """The Target of ``url``: resolved once, every address checked. Raises WebhookURLRefused
    (never worth a retry) or AddressUnresolved (may be)."""
    scheme, host, port, path = parse(url)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressUnresolved(f"{host} does not resolve: {error}") from None
    addresses = [info[4][0] for info in found]
    if not addresses:
        raise AddressUnresolved(f"{host} does not resolve.")
    for address in addresses:  # all of them: a name with one private address among public ones is refused
        check_address(host, address)
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


def check_url(url):
    """For saving an endpoint: refuse what ``resolve`` would refuse today; a name that does not
    resolve yet is accepted (it is checked again at every send)."""
    try:
        resolve(url)
    except AddressUnresolved:
        pass


# IPv6 forms that carry an IPv4 address a gateway or tunnel would connect to: NAT64 (the
# well-known prefix and the local-use one, RFC 6052 / 8215), 6to4 (RFC 3056, bits 16-47),
# Teredo (RFC 4380: the server in bits 32-63, the client inverted in the last 32 bits) and the
# deprecated IPv4-compatible ::a.b.c.d. ::ffff:a.b.c.d (IPv4-mapped) is the IPv4 address itself.
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Relay prefixes refused whatever they carry: 6to4 is deprecated (RFC 7526), and Teredo reaches a
# tunnel, not a web server. Python 3.13 counts both as private, older Pythons 6to4 as global: say it
# here so that the answer does not depend on the Python.
RELAY_PREFIXES = (ipaddress.ip_network("2002::/16"), ipaddress.ip_network("2001::/32"))


def embedded_ipv4(ip):
    """The IPv4 addresses an IPv6 address ``ip`` leads to (none for a plain IPv6 address)."""
    if ip.version == 4:
        return []
    last_32_bits = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)  # (server, client), the client already un-inverted
    if any(ip in prefix for prefix in NAT64_PREFIXES):
        found.append(last_32_bits)
    if ip in IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are themselves, not 0.0.0.0 and 0.0.0.1
        found.append(last_32_bits)
    return found


def is_public(address):
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:10.0.0.1 is 10.0.0.1
        ip = ip.ipv4_mapped
    # is_global is False for loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, where
    # the cloud metadata services live), shared (100.64/10), reserved and unspecified addresses.
    # An IPv6 address that embeds an IPv4 one is public only if that IPv4 address is too.
    if any(ip in prefix for prefix in RELAY_PREFIXES):
        return False
    return all(each.is_global and not each.is_multicast for each in [ip, *embedded_ipv4(ip)])


def check_address(host, address):
    if is_public(address) or _allow_listed(host, address):
        return
    raise WebhookURLRefused(
        f"The webhook host {host} resolves to {address}, inside the network (loopback, private, "
        "link-local or metadata); LIVENESS['WEBHOOKS']['ALLOWED_PRIVATE_HOSTS'] can allow it."
    )


def _allow_listed(host, address):
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    for allowed in liveness_settings.WEBHOOKS["ALLOWED_PRIVATE_HOSTS"]:
        allowed = allowed.lower()
        if "/" in allowed:
            if ip in ipaddress.ip_network(allowed, strict=False):
                return True
        elif allowed in (host, str(ip)):
            return True
    return False
