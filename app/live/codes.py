"""Class codes, teacher tokens and student ids; :class:`LiveError`, the refusal every live
route answers with.

A class code is read aloud and typed on a phone: 9 symbols from an alphabet without the
look-alikes 0/O, 1/I/l and L (written ``K7M-Q2X-9TB``), drawn with :mod:`secrets`: 9·log2(31) =
44.6 bits, so guessing one of 1,000 live classes takes ~2.6e10 tries on average.  Typing is
forgiving: lower case, spaces and dashes are accepted.  The teacher token is 256 random bits;
only its SHA-256 is stored and a presented token is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/l, L
CODE_LENGTH = 9
CODE_GROUP = 3  # symbols per group when written: K7M-Q2X-9TB
CODE_BITS = CODE_LENGTH * math.log2(len(ALPHABET))
TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
STUDENT_BYTES = 12
_STUDENT = re.compile(r"[A-Za-z0-9_-]{16}")


class LiveError(Exception):
    """A refusal: HTTP ``status``, a message that names the problem and the ``field`` at fault.

    Example:
        >>> LiveError(404, "no class K7M-Q2X-9TB", "code").body()
        {'error': 'no class K7M-Q2X-9TB', 'field': 'code'}
    """

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict:
        return {"error": self.message, "field": self.field}


def new_code() -> str:
    """A fresh class code in its canonical form (9 symbols, no separators)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def show_code(code: str) -> str:
    """The code as it is written and read aloud: ``K7MQ2X9TB`` -> ``K7M-Q2X-9TB``."""
    return "-".join(code[i:i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


def read_code(text) -> str:
    """The canonical code from what someone typed; :class:`LiveError` (404) when it cannot be one.

    Example:
        >>> read_code(" k7m-q2x 9tb ")
        'K7MQ2X9TB'
    """
    raw = str(text)[:64]
    code = re.sub(r"[\s-]", "", raw).upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise LiveError(404, f"no class {raw!r}: a class code is {CODE_LENGTH} symbols from "
                        f"{ALPHABET} (like {show_code('K7MQ2X9TB')})", "code")
    return code


def new_token() -> str:
    """A teacher token: 256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_matches(token, digest: str) -> bool:
    """Whether ``token`` is the one whose digest was stored (constant-time comparison)."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return False
    return hmac.compare_digest(token_digest(token), digest)


def new_student() -> str:
    """An anonymous student id: random, tied to nothing about the student (16 characters)."""
    return secrets.token_urlsafe(STUDENT_BYTES)


def is_student_id(text) -> bool:
    return isinstance(text, str) and bool(_STUDENT.fullmatch(text))
