"""Behind a proxy (issue 21): the client's address comes from X-Forwarded-For only through
the trusted proxies, and failed logins cannot lock out an account that is not the attacker's."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import User
from hubcourse.clientip import client_ip
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"
ATTACKER = "203.0.113.9"
VICTIM_HOME = "198.51.100.7"


def _request(remote: str, forwarded: str = ""):
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request("192.0.2.1", "1.2.3.4")) == "192.0.2.1"


def test_a_proxy_count_takes_the_address_the_nearest_proxy_saw(settings):
    settings.TRUSTED_PROXIES = ["1"]
    assert client_ip(_request(PROXY, f"1.2.3.4, {ATTACKER}")) == ATTACKER
    assert client_ip(_request(PROXY)) == PROXY


def test_proxy_addresses_are_believed_only_when_the_request_comes_through_them(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(_request(PROXY, f"6.6.6.6, {ATTACKER}, 10.0.0.7")) == ATTACKER
    # Straight from the internet, a made-up header changes nothing.
    assert client_ip(_request(ATTACKER, "10.0.0.9")) == ATTACKER


def test_a_hundred_failed_logins_from_one_address_do_not_lock_another_user_out(settings):
    settings.TRUSTED_PROXIES = ["1"]
    cache.clear()
    victim = User.objects.create_user("victim@example.edu", PASSWORD)
    url = reverse("account_login")
    attacker = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
    refused = 0
    for attempt in range(100):
        response = attacker.post(url, {"login": victim.email, "password": f"guess-{attempt}"})
        assert response.status_code in (200, 429)
        refused += response.status_code == 429 or "Too many" in response.content.decode()
    assert refused > 0  # the attacker's own address is throttled

    owner = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=VICTIM_HOME)
    response = owner.post(url, {"login": victim.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    assert owner.get(reverse("api:tokens")).status_code == 200
