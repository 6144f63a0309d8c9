"""Who is calling: `Authorization: Bearer <token>` → a Principal (or anonymous).

Reads are public (embargo aside), so no header means anonymous. A header that is present but
malformed, unknown or revoked is refused with 401 before anything runs — a client that meant to
authenticate must not silently get the anonymous view.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bioimage_hub.auth.tokens import Principal, averify_token, parse_bearer
from bioimage_hub.graph.query.access import Viewer


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def viewer_of(principal: Principal | None) -> Viewer:
    if principal is None:
        return Viewer.anonymous()
    return Viewer(name=principal.name, sees_everything=principal.can_edit_any)


async def principal_from_headers(headers: Any, reader: Any) -> Principal | None:
    header = headers.get("authorization")
    if header is None:
        return None
    secret = parse_bearer(header)
    if secret is None:
        raise AuthError(401, "Authorization header must be `Bearer <token>`")
    principal = await averify_token(reader.driver, reader.database, secret)
    if principal is None:
        raise AuthError(401, "invalid or revoked API token")
    return principal


class AuthGate:
    """ASGI wrapper: resolve the principal once per request, refuse bad tokens with 401."""

    def __init__(self, app: ASGIApp, reader_of: Any) -> None:
        self.app = app
        self.reader_of = reader_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            principal = await principal_from_headers(headers, self.reader_of())
        except AuthError as exc:
            body = json.dumps({"errors": [{"message": exc.message, "extensions": {"code": "UNAUTHENTICATED"}}]}).encode()
            await send({"type": "http.response.start", "status": exc.status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"www-authenticate", b'Bearer realm="bioimage-hub"')]})
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
