"""Password hashing (Argon2id) and the password policy."""

from __future__ import annotations

import secrets
import string
from functools import lru_cache
from importlib import resources

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from arrears.kit.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 256  # Argon2 takes any length; this bounds the work an attacker can ask for
GENERATED_LENGTH = 20
_TRAILING_NOISE = string.digits + string.punctuation + " "

# Module state, not a constant: tests swap in a cheaper hasher.
hasher = PasswordHash((Argon2Hasher(),))

# A real hash to verify against when the user does not exist, so that an unknown user
# name takes as long to refuse as a wrong password.
_DUMMY_HASH: str | None = None


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password``."""
    return hasher.hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches; plus a fresh hash when the stored one uses old parameters."""
    if len(password) > MAX_LENGTH:
        return False, None
    try:
        return hasher.verify_and_update(password, password_hash)
    except Exception:  # an unreadable stored hash is a wrong password, not a crash
        return False, None


def burn_time(password: str) -> None:
    """Spend what a password check costs, for a user that does not exist."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
    verify_password(password, _DUMMY_HASH)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The list of common passwords shipped with the package, lower case."""
    text = resources.files("arrears.auth").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def policy_problems(password: str, username: str) -> list[str]:
    """Why ``password`` is not acceptable for ``username``; empty when it is."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    lowered = password.lower()
    if username and username.lower() in lowered:
        problems.append("must not contain the user name")
    base = lowered.rstrip(_TRAILING_NOISE)
    if lowered in common_passwords() or (len(base) >= 4 and base in common_passwords()):
        problems.append("is one of the most common passwords")
    elif len(set(password)) < 4:
        problems.append("must use more than three different characters")
    return problems


def check_password_policy(password: str, username: str) -> None:
    """Raise ``weak_password`` unless ``password`` satisfies the policy for ``username``."""
    problems = policy_problems(password, username)
    if problems:
        raise ValidationFailed(
            "The password " + "; ".join(problems) + ".", code="weak_password", problems=problems
        )


def generate_password(username: str = "") -> str:
    """A strong random password (letters and digits, easy to read out and type)."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "lIO0o1")
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(GENERATED_LENGTH))
        if not policy_problems(candidate, username):
            return candidate
