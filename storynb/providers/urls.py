"""Which addresses a provider may reach: the URL policy.

- A provider's URL must be a plain http(s) URL with a host: no spaces or control characters, no
  user:password (the URL is stored in clear; credentials belong in the encrypted key).
- Link-local addresses (169.254.0.0/16, fe80::/10) and the cloud metadata services
  (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal …) are always
  refused, whether written as an address, in another notation (0xA9FEA9FE, ::ffff:169.254.…) or
  reached through a name that resolves to one.
- Every request an adapter makes — API calls, result downloads, and each hop of a redirect
  (at most MAX_REDIRECTS) — goes to the provider's own host, or to a public address. A private or
  loopback address is allowed only when the provider itself is on one (a ComfyUI on the LAN, an
  Ollama on localhost), so a service's answer cannot point storynb at the user's network.

`check_provider_url` runs when a provider is added or edited; `check_request` runs for every hop
(an httpx request hook installed by storynb.providers.http).
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time

import httpx

from .base import BadRequest
from ..errors import InvalidInput

MAX_REDIRECTS = 5
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")}
METADATA_NAMES = {"metadata", "metadata.google.internal", "metadata.goog", "metadata.azure.internal",
                  "instance-data", "instance-data.ec2.internal"}
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_resolved: dict[tuple[str, int], tuple[float, list]] = {}
_RESOLVE_TTL = 30.0


class UnsafeURL(BadRequest):
    """A URL the policy refuses (not retried: the same request would be refused anywhere)."""


def parse_address(host: str):
    """The IP address a host names literally (any notation the resolver accepts), or None."""
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        try:  # 0xA9FEA9FE, 2852039166, 169.254.43518 …: what inet_aton (and so the resolver) reads
            address = ipaddress.ip_address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def forbidden(address) -> str:
    """Why an address is never reachable, or ''."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if address.is_link_local:
        return "a link-local address"
    if address.is_loopback:
        return ""
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "not a host address"
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour and forbidden(address.sixtofour):
        return forbidden(address.sixtofour)
    return ""


def is_private(address) -> bool:
    """Loopback or private (RFC 1918, unique local, carrier-grade NAT): the user's own network."""
    return not address.is_global and not forbidden(address)


def check_provider_url(url: str) -> str:
    """The URL cleaned, or InvalidInput-style ValueError saying what is wrong with it."""
    text = (url or "").strip()
    if _CONTROL.search(text):
        raise InvalidInput("the URL contains a space, a line break or another control character")
    if not re.match(r"^https?://", text, re.I):
        raise InvalidInput("the URL must start with http:// or https://")
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidInput(f"the URL cannot be read ({exc})") from None
    if not parsed.host:
        raise InvalidInput("the URL has no host (write it like https://api.example.com/v1)")
    if parsed.userinfo:
        raise InvalidInput("the URL contains a user name or password; put credentials in the key "
                         "(--key-stdin), which is stored encrypted, not in the URL")
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise InvalidInput("the URL's port is not a number from 1 to 65535")
    host = parsed.host.lower().rstrip(".")
    if host in METADATA_NAMES:
        raise InvalidInput(f"{host} is a cloud metadata service, which providers may never reach")
    address = parse_address(host)
    if address is not None and forbidden(address):
        raise InvalidInput(f"{address} is {forbidden(address)}, which providers may never reach")
    return text


async def _addresses(host: str, port: int) -> list:
    """The addresses a host name resolves to (cached briefly); [] when it does not resolve
    (the request then fails to connect on its own)."""
    literal = parse_address(host)
    if literal is not None:
        return [literal]
    cached = _resolved.get((host, port))
    if cached and time.monotonic() - cached[0] < _RESOLVE_TTL:
        return cached[1]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    found = []
    for info in infos:
        address = parse_address(str(info[4][0]))
        if address is not None and address not in found:
            found.append(address)
    _resolved[(host, port)] = (time.monotonic(), found)
    return found


async def provider_is_private(base_url: str) -> bool:
    """Whether the provider's own URL is on a loopback or private address."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, ValueError):
        return False
    if not url.host:
        return False
    found = await _addresses(url.host, url.port or (443 if url.scheme == "https" else 80))
    return bool(found) and all(is_private(a) for a in found)


async def check_request(name: str, base_url: str, url: httpx.URL, *, private_ok: bool | None = None) -> None:
    """Refuse a request (or a redirect hop) that the policy does not allow (raises UnsafeURL)."""
    shown = f"{url.scheme}://{url.host}{':' + str(url.port) if url.port else ''}{url.path[:60]}"
    if url.scheme not in ("http", "https"):
        raise UnsafeURL(f"{name}: refused to fetch {url.scheme}: URLs; only http(s) ({shown})")
    host = (url.host or "").lower().rstrip(".")
    if not host:
        raise UnsafeURL(f"{name}: refused a URL with no host")
    if host in METADATA_NAMES:
        raise UnsafeURL(f"{name}: refused {shown}: a cloud metadata service")
    found = await _addresses(host, url.port or (443 if url.scheme == "https" else 80))
    for address in found:
        why = forbidden(address)
        if why:
            raise UnsafeURL(f"{name}: refused {shown}: {address} is {why}, which providers may "
                            "never reach")
    try:
        own = httpx.URL(base_url).host.lower().rstrip(".") if base_url else ""
    except (httpx.InvalidURL, ValueError):
        own = ""
    if host == own or not found or all(a.is_global for a in found):
        return
    if private_ok is None:
        private_ok = await provider_is_private(base_url)
    if private_ok and all(is_private(a) for a in found):
        return
    raise UnsafeURL(f"{name}: refused {shown}: {', '.join(map(str, found))} is on a private "
                    "network and the provider is not; a service's answer may only point to the "
                    "provider's own host or to a public address")
