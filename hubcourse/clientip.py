"""The client's address, behind the proxies named in settings.TRUSTED_PROXIES.

``X-Forwarded-For`` is believed only as far as a trusted proxy wrote it: with a count ``n``,
the address ``n`` places from its end; with addresses (or networks), the last one that is not
a trusted proxy, and only when the request itself came from one. Anyone else's header is
ignored, so nobody picks their own address by sending one.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4)
def _parse(value: tuple[str, ...]) -> tuple[int, tuple[Network, ...]]:
    """(proxy count, trusted networks) from the setting's entries."""
    if len(value) == 1 and value[0].isdigit():
        return int(value[0]), ()
    return 0, tuple(ipaddress.ip_network(entry, strict=False) for entry in value if entry)


def trusted_proxies() -> tuple[int, tuple[Network, ...]]:
    raw = getattr(settings, "TRUSTED_PROXIES", ())
    entries = (str(raw),) if isinstance(raw, int) else tuple(str(e).strip() for e in raw)
    return _parse(entries)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR", ""))
    count, networks = trusted_proxies()
    forwarded = [h for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    if count:
        if len(forwarded) >= count:
            found = _address(forwarded[-count])
            if found is not None:
                return str(found)
        return remote
    if not networks or not forwarded:
        return remote

    def trusted(text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in network for network in networks)

    if not trusted(remote):
        return remote
    for hop in reversed(forwarded):
        if not trusted(hop):
            found = _address(hop)
            return str(found) if found is not None else remote
    found = _address(forwarded[0])
    return str(found) if found is not None else remote
