"""The dev identity provider: RS256 tokens signed with a key kept in .local/, its public half as a JWKS document,
verified as the HTTP API's JWT authorizer would verify them (signature, expiry, issuer, audience). Which claims
a token carries besides ``sub``, ``iss``, ``aud``, ``iat`` and ``exp`` (roles, groups...) is the app's to say."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aws_emulator.template import ROOT

if TYPE_CHECKING:
    from pathlib import Path

# An app run on the emulator points its JWT authorizer (the template's issuer and audience) at these.
ISSUER = "https://aws-emulator.local/dev"
AUDIENCE = "aws-emulator-local"
KEY_FILE = ROOT / ".local" / "dev-jwt-key.pem"
KEY_ID = "aws-emulator-local"


def signing_key(path: Path = KEY_FILE) -> rsa.RSAPrivateKey:
    """The dev signing key, created on first use. Local only: it signs nothing that reaches AWS."""
    try:
        return _load(path, path.stat().st_mtime_ns)  # one stat per request that checks a token
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.replace(path)
    return _load(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: Path, _mtime_ns: int) -> rsa.RSAPrivateKey:
    """Parsing and checking an RSA key takes tens of milliseconds: once per key file (and version) only."""
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise TypeError(f"{path} does not hold an RSA private key")
    return loaded


def mint(sub: str, *, claims: dict[str, Any] | None = None, ttl_seconds: int = 3600, key_file: Path = KEY_FILE) -> str:
    """A token for ``sub`` from the dev issuer; ``claims`` are added (and may replace the standard ones)."""
    now = int(time.time())
    payload = {
        "sub": sub,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
        **(claims or {}),
    }
    return jwt.encode(payload, signing_key(key_file), algorithm="RS256", headers={"kid": KEY_ID})


class TokenRejected(Exception):
    """The token is missing, malformed, wrongly signed, expired, or for another issuer or audience."""


def verify(authorization: str | None, *, key_file: Path = KEY_FILE) -> dict[str, Any]:
    """The token's claims once its signature, issuer, audience and expiry hold; else TokenRejected.

    A token whose signature was checked once with the current key is not checked again (PyJWT's decode, mostly
    its base64 alphabet check, was most of the front's CPU per request): only its expiry, which is what can
    change. Rejections are never remembered, and a new key (the file changed) checks every token afresh."""
    if not authorization:
        raise TokenRejected("missing token")
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims = _verified(token, signing_key(key_file))
    except jwt.PyJWTError as exc:
        raise TokenRejected(str(exc)) from exc
    if claims["exp"] <= time.time():  # as PyJWT: expired from its ``exp`` on (no leeway)
        raise TokenRejected("Signature has expired")
    return dict(claims)


@lru_cache(maxsize=4096)
def _verified(token: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The token's claims, checked in full (``_load`` gives one key object per key file version). Raises PyJWT's
    errors; lru_cache keeps no answer of a call that raised. Callers copy the claims they hand on."""
    claims: dict[str, Any] = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "iss", "aud", "sub"]},
    )
    return claims


def as_authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """HTTP API passes every claim on as a string, and arrays as "[a b]"."""
    out: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list):
            out[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            out[name] = str(value).lower()
        else:
            out[name] = str(value)
    return out


def jwks(key_file: Path = KEY_FILE) -> dict[str, Any]:
    """The dev key's public half as a JWKS document, as an issuer publishes it at /.well-known/jwks.json."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key(key_file).public_key()))
    jwk.update({"kid": KEY_ID, "use": "sig", "alg": "RS256"})
    return {"keys": [jwk]}
