"""A local OpenID Connect provider for the tests: discovery, a JWKS, the authorization-code flow with PKCE and
RS256-signed ID tokens, on 127.0.0.1 on a free port.

It signs in whoever `next_identity` names (like a provider where the person is already signed in), and can be told
to hand out one flawed token: signed with another key, for another audience, or expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "impact-dashboard"
CLIENT_SECRET = "a-local-client-secret"
FLAWS = ("bad_signature", "wrong_audience", "expired")


class Provider:
    """The provider; `issuer` is its URL once started. Use as a context manager."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.next_identity: dict = {"email": "nobody@example.org", "email_verified": True}
        self.flaw: str | None = None
        self.codes: dict[str, dict] = {}
        self.tokens_issued = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def metadata(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def jwks(self) -> dict:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "test-key", "use": "sig", "alg": "RS256"}]}

    def id_token(self, grant: dict) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": grant["identity"]["email"],
            "aud": "someone-else" if self.flaw == "wrong_audience" else CLIENT_ID,
            "iat": now - 7200 if self.flaw == "expired" else now,
            "exp": now - 3600 if self.flaw == "expired" else now + 600,
            "nonce": grant["nonce"],
            "name": grant["identity"].get("name", grant["identity"]["email"]),
            **grant["identity"],
        }
        key = self.other_key if self.flaw == "bad_signature" else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "test-key"})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _json(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    return self._json(provider.metadata())
                if url.path == "/jwks":
                    return self._json(provider.jwks())
                if url.path == "/authorize":
                    if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                        return self._json({"error": "invalid_request"}, 400)
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {
                        "identity": dict(provider.next_identity),
                        "nonce": query.get("nonce"),
                        "redirect_uri": query["redirect_uri"],
                        "challenge": query.get("code_challenge"),
                    }
                    back = urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", f"{query['redirect_uri']}?{back}")
                    self.end_headers()
                    return None
                return self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:
                if self.path != "/token":
                    return self._json({"error": "not_found"}, 404)
                body = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                client = (body.get("client_id"), body.get("client_secret"))
                if self.headers.get("Authorization", "").startswith("Basic "):
                    decoded = base64.b64decode(self.headers["Authorization"][6:]).decode()
                    client = tuple(urllib.parse.unquote(p) for p in decoded.split(":", 1))
                if client != (CLIENT_ID, CLIENT_SECRET):
                    return self._json({"error": "invalid_client"}, 401)
                grant = provider.codes.pop(body.get("code", ""), None)
                if grant is None or grant["redirect_uri"] != body.get("redirect_uri"):
                    return self._json({"error": "invalid_grant"}, 400)
                if grant["challenge"]:
                    digest = hashlib.sha256(body.get("code_verifier", "").encode()).digest()
                    if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                        return self._json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
                provider.tokens_issued += 1
                return self._json({
                    "access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 600,
                    "id_token": provider.id_token(grant), "scope": "openid email profile",
                })  # fmt: skip

        return Handler
