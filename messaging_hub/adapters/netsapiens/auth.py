"""NetSapiens OAuth: the v2 token endpoint's password and refresh grants.

``POST /ns-api/v2/tokens`` takes a JSON body ``{grant_type: "password",
client_id, client_secret, username, password}`` and answers an
``AccessToken``; the refresh grant sends ``refresh_token`` instead of the
user's credentials. NetSapiens documents no revocation for these tokens.
"""

from __future__ import annotations

from typing import Any

import attrs

from ...errors import AuthenticationError, BadRequest
from ...secret import Secret
from ...transport import Token, Transport
from .wire import AccessToken, converter

__all__ = ["PasswordGrant"]


@attrs.frozen
class PasswordGrant:
    """Obtains and refreshes tokens with a client id/secret and user credentials."""

    client_id: str
    client_secret: Secret
    username: str
    password: Secret

    async def _token(self, transport: Transport, body: dict[str, Any]) -> Token:
        refused: BadRequest | None = None
        try:
            response = await transport.request(
                "POST", "/tokens", json_body=body, authenticate=False, idempotent=False
            )
        except BadRequest as exc:
            refused = exc
        if refused is not None:
            # A refused grant is an authentication failure, whatever the status.
            # Raised outside the except block: the BadRequest (whose text the
            # provider wrote) does not ride along as __context__.
            raise AuthenticationError(
                refused.message,
                provider=refused.provider,
                status=refused.status,
                code=refused.code,
                details=refused.details,
            )
        token = response.decode(converter, AccessToken)
        return Token.issued(
            token.access_token,
            refresh_token=token.refresh_token,
            expires_in=token.expires_in,
            raw=token,
        )

    async def obtain(self, transport: Transport) -> Token:
        """Log in with the password grant."""
        return await self._token(
            transport,
            {
                "grant_type": "password",
                "client_id": self.client_id,
                "client_secret": self.client_secret.reveal(),
                "username": self.username,
                "password": self.password.reveal(),
            },
        )

    async def refresh(self, transport: Transport, token: Token) -> Token:
        """Exchange the refresh token for a new access token."""
        assert token.refresh_token is not None
        return await self._token(
            transport,
            {
                "grant_type": "refresh_token",
                "client_id": self.client_id,
                "client_secret": self.client_secret.reveal(),
                "refresh_token": token.refresh_token.reveal(),
            },
        )

    async def revoke(self, transport: Transport, token: Token) -> None:
        """NetSapiens has no revocation endpoint for OAuth tokens: nothing to do."""
