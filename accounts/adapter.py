"""hubcourse's allauth adapter: the client's address through the trusted proxies, and login
throttling that an attacker cannot turn against someone else's account."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from hubcourse.clientip import client_ip


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth is untyped
    def get_client_ip(self, request: HttpRequest) -> str:
        return client_ip(request)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        # allauth counts failures per account ("5 in 5 minutes"), so anyone could lock a
        # named person out; counted per account *and* address, the failures lock out only
        # the address that made them (the per-address limit still holds on its own).
        return (
            f"{super()._get_login_attempts_cache_key(request, **credentials)}:{client_ip(request)}"
        )
