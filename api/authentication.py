"""``Authorization: Bearer hc_...``: a personal API token acts as its owner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.tokens import token_authenticate

# DRF imports this module from its settings, possibly before the apps are ready: models are
# imported when a request comes.
if TYPE_CHECKING:
    from rest_framework.request import Request

    from accounts.models import ApiToken, User

KEYWORD = "Bearer"


class BearerTokenAuthentication(BaseAuthentication):
    """Personal API tokens; a request without an ``Authorization`` header falls through
    to the next class (the browser's session)."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer' followed by one token, with no "
                "spaces in the token."
            )
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The token in the Authorization header is not text; copy it again from "
                "/settings/tokens/."
            ) from None

        token = token_authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(
                "This API token is not valid: it may have been revoked or mistyped. Create a "
                "new one at /settings/tokens/."
            )
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes unauthenticated requests answer 401 (with this challenge) rather than 403.
        return f'{KEYWORD} realm="api"'
