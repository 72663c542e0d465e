"""API tokens: a small JSON file of hashed tokens, each with a name and a role.

The file holds only SHA-256 hashes, never a token itself; a token is shown once, when created.
By default it sits next to the store (``factory.duckdb`` -> ``factory.duckdb.tokens.json``), or
where ``$FACTORYBRAIN_TOKENS`` says.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from factorybrain.agents import ROLES, role_rank
from factorybrain.exceptions import ParameterError

_PREFIX = "fb_"


@dataclass(frozen=True)
class TokenInfo:
    """Who a token belongs to.

    Args:
        name: Person or system the token was issued to (shown in the audit log).
        role: One of ``viewer``, ``engineer``, ``planner``, ``admin``.
        created_at: When it was issued (ISO, UTC).
    """

    name: str
    role: str
    created_at: str

    @property
    def actor(self) -> str:
        """How the audit log names the holder."""
        return f"user:{self.name}"


def default_tokens_path(db: str | Path | None) -> Path | None:
    """``$FACTORYBRAIN_TOKENS``, else ``<db>.tokens.json``; None for an in-memory store."""
    env = os.environ.get("FACTORYBRAIN_TOKENS")
    if env:
        return Path(env)
    if db is None or str(db) == ":memory:":
        return None
    return Path(f"{db}.tokens.json")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Issue, check and revoke API tokens.

    Args:
        path: JSON file of the tokens; None keeps them in memory (tests, ``:memory:`` stores).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenInfo] = {}
        self._mtime: float | None = None
        self._load()

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        mtime = self.path.stat().st_mtime
        if mtime == self._mtime:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._tokens = {h: TokenInfo(**info) for h, info in data.get("tokens", {}).items()}
        except (OSError, ValueError, TypeError) as error:
            raise ParameterError(f"cannot read the token file {self.path}: {error}") from error
        self._mtime = mtime

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"tokens": {h: asdict(info) for h, info in self._tokens.items()}}
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        os.chmod(temporary, 0o600)
        temporary.replace(self.path)
        self._mtime = self.path.stat().st_mtime

    def create(self, name: str, role: str) -> str:
        """Issue a token for ``name`` with ``role``; return the token (shown only now).

        Raises:
            ParameterError: If the role is unknown or the name is empty.
        """
        role_rank(role)
        if not name or not name.strip():
            raise ParameterError("a token needs the name of its holder; got an empty name")
        token = _PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            self._load()
            self._tokens[_hash(token)] = TokenInfo(
                name.strip(), role, datetime.now(UTC).isoformat(timespec="seconds")
            )
            self._save()
        return token

    def check(self, token: str) -> TokenInfo | None:
        """Return who holds ``token``, or None if it is not a valid token."""
        with self._lock:
            self._load()
            # Only hashes are compared, so the lookup time reveals nothing about the token.
            return self._tokens.get(_hash(token))

    def revoke(self, name: str) -> int:
        """Revoke every token of ``name``; return how many there were."""
        with self._lock:
            self._load()
            doomed = [h for h, info in self._tokens.items() if info.name == name]
            for digest in doomed:
                del self._tokens[digest]
            self._save()
        return len(doomed)

    def list(self) -> list[TokenInfo]:
        """The holders of tokens (never the tokens), by name."""
        with self._lock:
            self._load()
            return sorted(self._tokens.values(), key=lambda i: (i.name, i.created_at))


__all__ = ["ROLES", "TokenInfo", "TokenStore", "default_tokens_path"]
