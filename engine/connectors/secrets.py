"""Connector credentials at rest: a JSON object encrypted with Fernet (AES-128-CBC with an
HMAC-SHA256, from the ``cryptography`` package) under ``SIFT_CONNECTOR_KEY``. The API accepts
credentials and never shows them back; only a run or a reply decrypts them.

``cryptography`` is imported when credentials are first encrypted or decrypted: a server with
no connector credentials never loads it (about 6 MB resident)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine.config import get_settings
from engine.errors import InvalidInput

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

KEY_HELP = (
    "Set SIFT_CONNECTOR_KEY to a Fernet key (32 url-safe base64-encoded bytes, e.g. from "
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") '
    "to store connector credentials."
)


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted with the configured key (missing or changed)."""


def _fernet() -> Fernet | None:
    key = get_settings().connector_key
    if not key:
        return None
    from cryptography.fernet import Fernet

    try:
        return Fernet(key.encode())
    except ValueError as err:
        raise CredentialsUnreadable("SIFT_CONNECTOR_KEY is not a valid Fernet key") from err


def encrypt(credentials: dict[str, Any]) -> str:
    try:
        fernet = _fernet()
    except CredentialsUnreadable as err:
        raise InvalidInput(
            f"{err}. {KEY_HELP}", fields=[{"field": "credentials", "message": str(err)}]
        ) from err
    if fernet is None:
        raise InvalidInput(
            KEY_HELP, fields=[{"field": "credentials", "message": "SIFT_CONNECTOR_KEY is not set"}]
        )
    return fernet.encrypt(json.dumps(credentials, separators=(",", ":")).encode()).decode()


def decrypt(token: str | None) -> dict[str, Any]:
    if not token:
        return {}
    fernet = _fernet()
    if fernet is None:
        raise CredentialsUnreadable("credentials are stored but SIFT_CONNECTOR_KEY is not set")
    from cryptography.fernet import InvalidToken

    try:
        return dict(json.loads(fernet.decrypt(token.encode())))
    except InvalidToken as err:
        raise CredentialsUnreadable("credentials cannot be decrypted with SIFT_CONNECTOR_KEY") from err
