"""Passwords, temporary passwords and single-use tokens.

Passwords are stored as argon2id hashes (argon2-cffi's defaults, RFC 9106's second
recommended option); reset tokens are stored as their SHA-256, so a copy of the database opens
nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from portal_stub.passwords import strength_problem

TEMPORARY_PASSWORD_LENGTH = 14
# No look-alike characters (0/O/o, 1/l/I) in a password people copy from a mail.
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"
_ALPHABET = _LOWER + _UPPER + _DIGITS

DEFAULT_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash that verifies nothing: checked against when the identifier is unknown, so that
    an unknown address costs the same time as a wrong password. Computed on first use, not at
    import (an argon2 hash is about 0.1 s of CPU, which every process importing the portal
    stand-in, the daemon included, paid at start)."""
    return DEFAULT_HASHER.hash(secrets.token_urlsafe(16))


def temporary_password(length: int = TEMPORARY_PASSWORD_LENGTH) -> str:
    """A random password with at least one lower-case letter, one capital and one digit."""
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if (
            any(c in _LOWER for c in candidate)
            and any(c in _UPPER for c in candidate)
            and any(c in _DIGITS for c in candidate)
        ):
            return candidate


def verify_password(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    try:
        return hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(
    hasher: PasswordHasher,
    new_password: str,
    identifier: str,
    current_hash: str | None,
    names: tuple[str, ...] = (),
) -> str | None:
    """Why `new_password` is refused (French, for the form), or None when it is acceptable:
    too weak (`portal_stub.passwords`, which also knows the person's `names` and the portal's),
    or the current (or temporary) password again."""
    if problem := strength_problem(new_password, identifier, *names):
        return problem
    if current_hash and verify_password(hasher, current_hash, new_password):
        return "Choisissez un mot de passe différent de votre mot de passe actuel ou provisoire."
    return None


def new_token() -> tuple[str, str]:
    """A URL-safe single-use token and the hash that is stored for it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
