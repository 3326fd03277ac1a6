"""Encryption at rest for client free text (journal, reflections, notes).

Fernet (AES-128-CBC + HMAC) from `cryptography`. A MultiFernet keeps old keys readable during
`supportbot rotate-key`. The key comes from DATA_KEY, or from a key file created on first run with
mode 0600 beside the database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class DataKeyError(ValueError):
    """The data key is malformed or does not open the stored data."""


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise DataKeyError(
            "DATA_KEY must be a Fernet key: run `supportbot keygen` to make one"
        ) from None


@dataclass(frozen=True, slots=True)
class TextCipher:
    """Encrypts with the first key, decrypts with any of them."""

    keys: tuple[str, ...]

    @classmethod
    def from_keys(cls, *keys: str) -> TextCipher:
        for key in keys:
            _fernet(key)
        return cls(keys=tuple(keys))

    @property
    def _multi(self) -> MultiFernet:
        return MultiFernet([_fernet(k) for k in self.keys])

    def encrypt(self, text: str) -> bytes:
        return self._multi.encrypt(text.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._multi.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise DataKeyError("stored text cannot be opened with this DATA_KEY") from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the first key (used by rotate-key)."""
        return self._multi.rotate(token)


def load_or_create_key(data_key: str | None, key_file: Path) -> tuple[str, bool]:
    """Return (key, created). A created key file is written 0600 before any data exists."""
    if data_key:
        _fernet(data_key)
        return data_key, False
    if key_file.exists():
        key = key_file.read_text(encoding="ascii").strip()
        _fernet(key)
        return key, False
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key, True
