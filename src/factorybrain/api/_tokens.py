"""API tokens and dashboard sessions, kept in the store: transactional, hashed, audited.

A token is shown once, when it is issued; the store keeps only its SHA-256 hash, its holder's
name, role and scopes, who issued it, when it expires, when it was last used and whether (and by
whom) it was revoked. Every issue, rotation and revocation is an audit entry with its actor.

Roles say which approvals a holder may give (:data:`factorybrain.agents.ROLES`); scopes narrow
what a token may do at all:

========  ==============================================================================
scope     allows
========  ==============================================================================
read      every read route, ``ask``, the dashboard
propose   proposing actions, running agents, changing a finding's status
decide    approving, rejecting and executing actions (within the role's policies)
admin     issuing, rotating and revoking tokens
========  ==============================================================================

A token gets the scopes of its role unless it is issued with fewer. The dashboard signs in with
a token once and then holds a short-lived session (an HttpOnly cookie and a CSRF token), which
the token's revocation ends too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from factorybrain.agents import ROLES, AgentRecords, AuditEntry, role_rank
from factorybrain.exceptions import ParameterError
from factorybrain.store import Store

_PREFIX = "fb_"
_SESSION_PREFIX = "fbs_"
#: Every scope, from least to most powerful.
SCOPES: tuple[str, ...] = ("read", "propose", "decide", "admin")
#: The scopes a role's token gets unless it is issued with fewer.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "viewer": ("read",),
    "engineer": ("read", "propose", "decide"),
    "planner": ("read", "propose", "decide"),
    "admin": SCOPES,
}
#: How long a dashboard session lasts.
SESSION_LIFETIME = timedelta(hours=8)
#: ``last_used_at`` is written at most this often per token (a write per request would cost).
_TOUCH_EVERY = timedelta(minutes=1)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """Who holds a token (never the token itself).

    Args:
        name: Person or system the token was issued to (shown in the audit log).
        role: One of ``viewer``, ``engineer``, ``planner``, ``admin``.
        created_at: When it was issued (ISO, UTC).
        scopes: What the token may do (see the module's table).
        token_id: Public id of the token (``tok-...``), to revoke one token of several.
        created_by: Who issued it.
        expires_at: When it stops working (ISO, UTC), or None.
        last_used_at: When it was last used (to the minute), or None.
        revoked_at: When it was revoked, or None.
    """

    name: str
    role: str
    created_at: str
    scopes: tuple[str, ...] = ()
    token_id: str = ""
    created_by: str = ""
    expires_at: str | None = None
    last_used_at: str | None = None
    revoked_at: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names the holder."""
        return f"user:{self.name}"

    def allows(self, scope: str) -> bool:
        """Whether the token may do what ``scope`` covers."""
        return scope in self.scopes

    def dump(self) -> dict[str, Any]:
        """A JSON-ready dict (no secret in it)."""
        return {
            "token_id": self.token_id,
            "name": self.name,
            "role": self.role,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class Session:
    """A dashboard session: its secret (for the cookie) and its CSRF token (for writes)."""

    secret: str
    csrf: str
    holder: TokenInfo
    expires_at: datetime

    @property
    def seconds_left(self) -> int:
        """Seconds until it expires (the cookie's ``Max-Age``)."""
        return max(0, int((self.expires_at - _now()).total_seconds()))


def csrf_for(session: str) -> str:
    """The CSRF token of a session: derived from its secret, which only its cookie holds.

    A page of another site can make the browser send the cookie, but cannot read it nor any
    answer of ours, so it can never know this value; the dashboard reads it from
    ``GET /session`` after a reload.
    """
    return hashlib.sha256(b"factorybrain-csrf\0" + session.encode()).hexdigest()


def default_tokens_path(db: str | Path | None) -> Path | None:
    """Where a token file of factorybrain 0.1 sits next to a store (imported once, then kept).

    ``$FACTORYBRAIN_TOKENS`` when set, else ``<db>.tokens.json``; None for an in-memory store.
    """
    import os

    env = os.environ.get("FACTORYBRAIN_TOKENS")
    if env:
        return Path(env)
    if db is None or str(db) == ":memory:":
        return None
    return Path(f"{db}.tokens.json")


def _scopes(role: str, scopes: Iterable[str] | None) -> tuple[str, ...]:
    allowed = ROLE_SCOPES[role]
    if scopes is None:
        return allowed
    chosen = tuple(dict.fromkeys(scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise ParameterError(f"unknown scope(s) {unknown}; scopes are {list(SCOPES)}")
    beyond = [s for s in chosen if s not in allowed]
    if beyond:
        raise ParameterError(
            f"a {role}'s token cannot have the scope(s) {beyond}; the role allows {list(allowed)}"
        )
    if not chosen:
        raise ParameterError("a token needs at least one scope")
    return tuple(s for s in SCOPES if s in chosen)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


class TokenStore:
    """Issue, check, rotate and revoke API tokens, and hold dashboard sessions, in the store.

    Safe to share between threads: it reads and writes through a handle of its own, one call
    at a time, and answers repeated checks from memory until a token or session changes.

    Args:
        store: The (migrated) store the tokens live in.
        legacy_file: A token file of factorybrain 0.1 to import once (its hashes keep working);
            by default the one next to the store (:func:`default_tokens_path`).
    """

    def __init__(self, store: Store, *, legacy_file: str | Path | None = None) -> None:
        handle = getattr(store, "handle", None)
        self._db: Store = handle() if callable(handle) else store
        self._records = AgentRecords(self._db)  # audited in the same transaction
        self._lock = threading.Lock()
        self._cache: dict[str, TokenInfo | None] = {}
        self._cache_generation: int | None = None
        self._touched: dict[str, datetime] = {}
        legacy = legacy_file or default_tokens_path(getattr(store, "path", None))
        if legacy is not None and Path(legacy).exists():
            self._import_legacy(Path(legacy))

    # -- issuing -----------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        role: str,
        *,
        scopes: Iterable[str] | None = None,
        expires_in: timedelta | None = None,
        created_by: str = "system",
    ) -> str:
        """Issue a token for ``name`` with ``role``; return the token (shown only now).

        Args:
            name: Who holds it.
            role: Their role.
            scopes: Fewer scopes than the role's (see :data:`ROLE_SCOPES`); all by default.
            expires_in: How long it works; forever by default.
            created_by: Who issues it (the authenticated admin, or ``os:<user>``), audited.

        Raises:
            ParameterError: If the role or a scope is unknown, or the name is empty.
        """
        role_rank(role)
        name = (name or "").strip()
        if not name:
            raise ParameterError("a token needs the name of its holder; got an empty name")
        if len(name) > 200:
            raise ParameterError(f"a holder's name has at most 200 characters; got {len(name)}")
        if expires_in is not None and expires_in <= timedelta(0):
            raise ParameterError(f"a token must expire in the future; got {expires_in}")
        token = _PREFIX + secrets.token_urlsafe(32)
        self._insert(
            token,
            name,
            role,
            _scopes(role, scopes),
            created_by,
            None if expires_in is None else _now() + expires_in,
        )
        return token

    def _insert(
        self,
        token: str,
        name: str,
        role: str,
        scopes: Sequence[str],
        created_by: str,
        expires_at: datetime | None,
        *,
        rotated_from: str | None = None,
        verb: str = "token.created",
    ) -> str:
        token_id = "tok-" + secrets.token_hex(6)
        now = _now()
        with self._lock, self._db.transaction():
            self._execute(
                "INSERT INTO api_token (token_id, token_hash, name, role, scopes, created_at, "
                "created_by, expires_at, rotated_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [token_id, _hash(token), name, role, list(scopes), now, created_by, expires_at,
                 rotated_from],
            )  # fmt: skip
            self._records.audit(
                AuditEntry(
                    created_by,
                    verb,
                    "token",
                    token_id,
                    now,
                    {
                        "name": name,
                        "role": role,
                        "scopes": list(scopes),
                        "expires_at": _iso(expires_at),
                        "rotated_from": rotated_from,
                    },
                )
            )
        return token_id

    def rotate(self, name: str, *, by: str) -> str:
        """Replace ``name``'s live tokens by one new token with the same role and scopes.

        The old tokens (and their sessions) stop working at once; the new one is returned
        (shown only now).

        Raises:
            ParameterError: If ``name`` holds no live token.
        """
        live = [t for t in self.list() if t.name == name and t.revoked_at is None]
        if not live:
            raise ParameterError(f"{name!r} holds no live token to rotate")
        newest = max(live, key=lambda t: t.created_at)
        token = _PREFIX + secrets.token_urlsafe(32)
        expires = None if newest.expires_at is None else datetime.fromisoformat(newest.expires_at)
        self._insert(
            token,
            newest.name,
            newest.role,
            newest.scopes,
            by,
            expires,
            rotated_from=newest.token_id,
            verb="token.rotated",
        )
        for old in live:
            self._revoke_one(old.token_id, by=by, reason="rotated")
        return token

    def revoke(self, name: str, *, by: str = "system") -> int:
        """Revoke every live token of ``name`` (or the one token whose id is ``name``).

        Returns:
            How many tokens were revoked.
        """
        doomed = [
            t.token_id for t in self.list() if t.revoked_at is None and name in (t.name, t.token_id)
        ]
        for token_id in doomed:
            self._revoke_one(token_id, by=by, reason="revoked")
        return len(doomed)

    def _revoke_one(self, token_id: str, *, by: str, reason: str) -> None:
        now = _now()
        with self._lock, self._db.transaction():
            self._execute(
                "UPDATE api_token SET revoked_at = ?, revoked_by = ? "
                "WHERE token_id = ? AND revoked_at IS NULL",
                [now, by, token_id],
            )
            self._execute(
                "UPDATE api_session SET ended_at = ? WHERE token_id = ? AND ended_at IS NULL",
                [now, token_id],
            )
            self._records.audit(
                AuditEntry(by, "token.revoked", "token", token_id, now, {"reason": reason})
            )

    # -- checking ----------------------------------------------------------------------------------
    def check(self, token: str) -> TokenInfo | None:
        """Return who holds ``token``, or None if it is unknown, expired or revoked."""
        if not token or not token.startswith(_PREFIX):
            return None
        digest = _hash(token)
        with self._lock:
            holder = self._cached(digest)
            if holder is None:
                return None
            self._touch(holder, digest)
            return holder

    def _cached(self, digest: str) -> TokenInfo | None:
        generation = self._db.generation_of(("api_token", "api_session"))
        if generation is None or generation != self._cache_generation:
            self._cache.clear()
            self._cache_generation = generation
        if digest not in self._cache:
            rows = self._db.query_rows("SELECT * FROM api_token WHERE token_hash = ?", [digest])
            self._cache[digest] = self._info(rows[0]) if rows else None
        holder = self._cache[digest]
        if holder is None or holder.revoked_at is not None:
            return None
        if holder.expires_at is not None and datetime.fromisoformat(holder.expires_at) <= _now():
            return None
        return holder

    def _touch(self, holder: TokenInfo, digest: str) -> None:
        now = _now()
        last = self._touched.get(holder.token_id)
        if last is not None and now - last < _TOUCH_EVERY:
            return
        # Never wait for a writer to know when a token was last used: skip while one writes.
        if self._db.execute(
            "UPDATE api_token SET last_used_at = ? WHERE token_id = ?",
            [now, holder.token_id],
            tables=(),
            wait=False,
        ):
            self._touched[holder.token_id] = now

    def list(self) -> list[TokenInfo]:
        """Every token issued (live, expired and revoked; never the tokens), by name."""
        with self._lock:
            rows = self._db.query_rows("SELECT * FROM api_token ORDER BY name, created_at")
        return [self._info(row) for row in rows]

    @staticmethod
    def _info(row: dict[str, Any]) -> TokenInfo:
        return TokenInfo(
            name=row["name"],
            role=row["role"],
            created_at=_iso(row["created_at"]) or "",
            scopes=tuple(row["scopes"] or ()),
            token_id=row["token_id"],
            created_by=row["created_by"] or "",
            expires_at=_iso(row["expires_at"]),
            last_used_at=_iso(row["last_used_at"]),
            revoked_at=_iso(row["revoked_at"]),
        )

    # -- dashboard sessions ------------------------------------------------------------------------
    def start_session(self, token: str, *, lifetime: timedelta = SESSION_LIFETIME) -> Session:
        """Open a dashboard session for the holder of ``token``.

        Raises:
            ParameterError: If the token is not valid.
        """
        holder = self.check(token)
        if holder is None:
            raise ParameterError("invalid, expired or revoked token")
        secret = _SESSION_PREFIX + secrets.token_urlsafe(32)
        csrf = csrf_for(secret)
        now = _now()
        expires = now + lifetime
        if holder.expires_at is not None:
            expires = min(expires, datetime.fromisoformat(holder.expires_at))
        with self._lock, self._db.transaction():
            self._execute(
                "INSERT INTO api_session (session_hash, token_id, csrf_hash, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?)",
                [_hash(secret), holder.token_id, _hash(csrf), now, expires],
            )
            self._records.audit(
                AuditEntry(holder.actor, "session.started", "token", holder.token_id, now)
            )
        return Session(secret, csrf, holder, expires)

    def check_session(self, secret: str, *, csrf: str | None = None) -> TokenInfo | None:
        """Who holds the session ``secret``; None when unknown, ended, expired, or its token is.

        With ``csrf``, the CSRF token must also be the session's (for writes).
        """
        if not secret or not secret.startswith(_SESSION_PREFIX):
            return None
        with self._lock:
            rows = self._db.query_rows(
                "SELECT s.csrf_hash, s.expires_at, t.token_hash FROM api_session s "
                "JOIN api_token t USING (token_id) "
                "WHERE s.session_hash = ? AND s.ended_at IS NULL",
                [_hash(secret)],
            )
            if not rows or rows[0]["expires_at"] <= _now():
                return None
            if csrf is not None and not secrets.compare_digest(csrf, csrf_for(secret)):
                return None
            return self._cached(rows[0]["token_hash"])

    def end_session(self, secret: str) -> bool:
        """Sign out: end the session ``secret``; return whether there was one."""
        holder = self.check_session(secret)
        if holder is None:
            return False
        now = _now()
        with self._lock, self._db.transaction():
            self._execute(
                "UPDATE api_session SET ended_at = ? WHERE session_hash = ?", [now, _hash(secret)]
            )
            self._records.audit(
                AuditEntry(holder.actor, "session.ended", "token", holder.token_id, now)
            )
        return True

    # -- internals ---------------------------------------------------------------------------------
    def _execute(self, sql: str, parameters: Sequence[Any]) -> None:
        self._db.execute(sql, parameters, tables=("api_token", "api_session"))

    def _import_legacy(self, path: Path) -> None:
        """Import a 0.1 token file: its hashes keep working, then it is renamed ``.imported``."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data.get("tokens", {}).items()
        except (OSError, ValueError, AttributeError) as error:
            raise ParameterError(f"cannot read the token file {path}: {error}") from error
        rows = self._db.query_rows("SELECT token_hash FROM api_token")
        known = {row["token_hash"] for row in rows}
        now = _now()
        with self._lock, self._db.transaction():
            for digest, info in entries:
                if digest in known or info.get("role") not in ROLES:
                    continue
                token_id = "tok-" + secrets.token_hex(6)
                created = info.get("created_at")
                self._execute(
                    "INSERT INTO api_token (token_id, token_hash, name, role, scopes, created_at, "
                    "created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [token_id, digest, info["name"], info["role"],
                     list(ROLE_SCOPES[info["role"]]),
                     datetime.fromisoformat(created).replace(tzinfo=None) if created else now,
                     f"import:{path.name}"],
                )  # fmt: skip
                self._records.audit(
                    AuditEntry(
                        "system",
                        "token.imported",
                        "token",
                        token_id,
                        now,
                        {"name": info["name"], "role": info["role"], "file": str(path)},
                    )
                )
        path.replace(path.with_name(path.name + ".imported"))


__all__ = [
    "ROLES",
    "ROLE_SCOPES",
    "SCOPES",
    "Session",
    "TokenInfo",
    "TokenStore",
    "csrf_for",
    "default_tokens_path",
]
