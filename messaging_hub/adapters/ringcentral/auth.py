"""RingCentral OAuth: the JWT-bearer and password grants, refresh and revoke.

``POST /restapi/oauth/token`` takes a form-encoded body and authenticates
the app with ``Authorization: Basic base64(client_id:client_secret)``:

* JWT bearer: ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=...``
* password (legacy ROPC, still in the official Postman collection):
  ``grant_type=password&username=...&password=...&extension=...``
* refresh: ``grant_type=refresh_token&refresh_token=...``

``POST /restapi/oauth/revoke`` with ``token=...`` ends the OAuth session.
Every token request is in the ``Auth`` throttling group. The core
:class:`~messaging_hub.transport.OAuth2` strategy drives these grants
(single-flight renewal, one retry after a 401, revoke on close).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from ...errors import AuthenticationError, ProviderError, RateLimited
from ...secret import Secret
from ...transport import Token, Transport
from ...transport.auth import basic_header
from .wire import TokenInfo, converter

__all__ = ["JWT_GRANT_TYPE", "JwtGrant", "PasswordGrant", "RingCentralGrant"]

JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/restapi/oauth/token"  # noqa: S105 - a path, not a secret
REVOKE_PATH = "/restapi/oauth/revoke"
AUTH_GROUP = "Auth"


@attrs.frozen
class RingCentralGrant:
    """What every RingCentral grant shares: the app's credentials and the
    refresh/revoke calls. Subclasses say how to obtain the first token."""

    client_id: str
    client_secret: Secret = attrs.field(repr=False)
    rate_group: ClassVar[str] = AUTH_GROUP
    """Token requests are paced in the Auth group: OAuth2 renews a still-valid
    token only when that group has a slot free, so sends never wait on it."""

    def client_headers(self) -> dict[str, str]:
        """The headers that authenticate the app at the token and revoke endpoints."""
        return {
            "Authorization": basic_header(self.client_id, self.client_secret),
            "Accept": "application/json",
        }

    async def request_token(self, transport: Transport, form: dict[str, str]) -> Token:
        """POST ``form`` to the token endpoint and return the token it grants."""
        refused: ProviderError | None = None
        try:
            response = await transport.request(
                "POST",
                TOKEN_PATH,
                data=form,
                headers=self.client_headers(),
                authenticate=False,
                idempotent=False,
                rate_group=self.rate_group,
            )
        except RateLimited:
            raise
        except ProviderError as exc:
            if exc.status is None or not 400 <= exc.status < 500:
                raise
            refused = exc
        if refused is not None:
            # A refused grant is an authentication failure, whatever the status.
            # Raised outside the except block: the original error (whose text
            # the provider wrote) does not ride along as __context__.
            raise AuthenticationError(
                refused.message,
                provider=refused.provider,
                status=refused.status,
                code=refused.code,
                details=refused.details,
            )
        info = response.decode(converter, TokenInfo)
        return Token.issued(
            info.access_token,
            refresh_token=info.refresh_token,
            expires_in=info.expires_in,
            refresh_token_expires_in=info.refresh_token_expires_in,
            raw=info,
        )

    async def obtain(self, transport: Transport) -> Token:
        """Get a first token (implemented by each grant)."""
        raise NotImplementedError

    async def refresh(self, transport: Transport, token: Token) -> Token:
        """Exchange the refresh token for a new token pair."""
        if token.refresh_token is None:
            raise AuthenticationError("no refresh token", provider=transport.provider)
        return await self.request_token(
            transport,
            {"grant_type": "refresh_token", "refresh_token": token.refresh_token.reveal()},
        )

    async def revoke(self, transport: Transport, token: Token) -> None:
        """End the OAuth session the token belongs to (access and refresh token)."""
        await transport.request(
            "POST",
            REVOKE_PATH,
            data={"token": token.access_token.reveal()},
            headers=self.client_headers(),
            authenticate=False,
            idempotent=True,  # revoking twice is harmless (RFC 7009)
            rate_group=self.rate_group,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r})"


@attrs.frozen(repr=False)
class JwtGrant(RingCentralGrant):
    """The JWT-bearer grant: the app's credentials and a user's JWT credential."""

    assertion: Secret = attrs.field(kw_only=True, repr=False)

    async def obtain(self, transport: Transport) -> Token:
        """Log in with the JWT assertion."""
        return await self.request_token(
            transport, {"grant_type": JWT_GRANT_TYPE, "assertion": self.assertion.reveal()}
        )


@attrs.frozen(repr=False)
class PasswordGrant(RingCentralGrant):
    """The legacy password grant: username (phone number or email), password, extension."""

    username: str = attrs.field(kw_only=True)
    password: Secret = attrs.field(kw_only=True, repr=False)
    extension: str | None = attrs.field(default=None, kw_only=True)

    async def obtain(self, transport: Transport) -> Token:
        """Log in with the user's password."""
        form: dict[str, str] = {
            "grant_type": "password",
            "username": self.username,
            "password": self.password.reveal(),
        }
        if self.extension:
            form["extension"] = self.extension
        return await self.request_token(transport, form)
