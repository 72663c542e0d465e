"""Ending PostgreSQL sessions as a server restart does, without stopping a shared server.

A restart (or a crash, or the network) ends each client's session with "terminating connection
due to administrator command"; ``pg_terminate_backend`` ends a session the same way, so tests
can cut exactly the connections they mean to, at the moment they mean to.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def database(url: str) -> str:
    """The database a PostgreSQL URL names."""
    return urlsplit(url).path.lstrip("/")


def terminate_sessions(url: str, where: str = "TRUE") -> list[int]:
    """End the sessions on ``url``'s database that match ``where`` (all of them: a restart)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = %s AND pid <> pg_backend_pid() AND ({where})",
            (database(url),),
        ).fetchall()
    return [pid for pid, _ in rows]


def sessions(url: str) -> list[int]:
    """The sessions open on ``url``'s database, but the one asking."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database(url),),
        ).fetchall()
    return sorted(pid for (pid,) in rows)
