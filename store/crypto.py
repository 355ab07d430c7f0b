"""Encryption at rest for the household's personal data (Fernet: AES-128-CBC + HMAC)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class PersonalDataCipher:
    """Encrypts text fields. Several keys (comma separated) allow rotation: the first encrypts."""

    def __init__(self, keys: str) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])
        except ValueError as exc:
            raise ValueError(
                "REGIEBOT_SECRET_KEY is geen geldige sleutel (32 bytes, url-safe base64)"
            ) from exc

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken as exc:
            raise ValueError("persoonsgegevens konden niet worden ontsleuteld") from exc

    def encrypt_json(self, value: Any) -> bytes:
        return self.encrypt(json.dumps(value))

    def decrypt_json(self, token: bytes) -> Any:
        return json.loads(self.decrypt(token))
