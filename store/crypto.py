"""Encryption at rest for the household's personal data and every free text (Fernet: AES-128-CBC +
HMAC). Several keys (comma separated, MultiFernet) allow rotation: the first one encrypts,
every one of them decrypts. The columns that hold such tokens are marked in store/models.py
(`encrypted_columns()`)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class InvalidKey(ValueError):
    """REGIEBOT_SECRET_KEY (or the key file) is not a Fernet key."""


class DecryptionFailed(ValueError):
    """A stored value cannot be decrypted with any of the configured keys."""


def parse_keys(keys: str) -> list[Fernet]:
    try:
        fernets = [Fernet(k.strip()) for k in keys.split(",") if k.strip()]
    except ValueError as exc:
        raise InvalidKey(
            "REGIEBOT_SECRET_KEY is geen geldige sleutel (32 bytes, url-safe base64)") from exc
    if not fernets:
        raise InvalidKey("REGIEBOT_SECRET_KEY is leeg")
    return fernets


class PersonalDataCipher:
    """Encrypts text fields. Several keys (comma separated) allow rotation: the first encrypts."""

    def __init__(self, keys: str) -> None:
        fernets = parse_keys(keys)
        self._first = fernets[0]
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken as exc:
            raise DecryptionFailed("persoonsgegevens konden niet worden ontsleuteld") from exc

    def encrypt_optional(self, value: str | None) -> bytes | None:
        """An optional free text: None stays None."""
        return None if value is None else self.encrypt(value)

    def decrypt_optional(self, token: bytes | None) -> str | None:
        return None if token is None else self.decrypt(token)

    def encrypt_json(self, value: Any) -> bytes:
        return self.encrypt(json.dumps(value))

    def decrypt_json(self, token: bytes) -> Any:
        return json.loads(self.decrypt(token))

    def encrypted_with_first_key(self, token: bytes) -> bool:
        """True when the first key alone decrypts the token (nothing to rotate)."""
        try:
            self._first.decrypt(bytes(token))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: bytes) -> bytes:
        """The same value, encrypted again with the first key."""
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken as exc:
            raise DecryptionFailed("een waarde kon niet worden ontsleuteld") from exc
