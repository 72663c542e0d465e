"""Sending a command to a running server instead of opening the store (``--api URL``).

A DuckDB store is open in one process at a time: while ``factorybrain serve`` holds it, a
command that would open it sends its request to that server's REST API instead, with the
caller's token (``--token`` or ``$FACTORYBRAIN_TOKEN``), and prints the answer as it would
have printed what it read itself. Only 200-range answers are used; any other is one error line
naming the server, the status and the server's own words.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Annotated, Any

import typer

from factorybrain.exceptions import StoreError

ApiOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        help="Send the request to the factorybrain server at this URL (e.g. "
        "http://127.0.0.1:8000) instead of opening the store: for a store a running "
        "'factorybrain serve' holds. Needs a token (--token or $FACTORYBRAIN_TOKEN).",
        envvar="FACTORYBRAIN_API",
        show_default=False,
    ),
]

#: Seconds a request to the server may take (an ingest of a large file, a backup).
TIMEOUT_S = 600.0


class ApiRequestError(StoreError):
    """A request sent to a server with ``--api`` failed; the message says where and why."""


class ApiClient:
    """The REST API of one server, called with one token.

    Args:
        url: The server's URL (``http://host:port``, with or without ``/api/v1``).
        token: The API token to send (``Authorization: Bearer``).

    Raises:
        ApiRequestError: The URL is not http(s), or no token is given.
    """

    def __init__(self, url: str, token: str | None) -> None:
        import httpx

        base = url.strip().rstrip("/")
        if base.endswith("/api/v1"):
            base = base[: -len("/api/v1")]
        if not base.startswith(("http://", "https://")):
            raise ApiRequestError(
                f"--api expects the server's URL, such as http://127.0.0.1:8000; found {url!r}"
            )
        if not token:
            raise ApiRequestError(
                f"--api {base} needs an API token: pass --token or set $FACTORYBRAIN_TOKEN "
                "(an admin issues one: 'factorybrain token create', or POST /api/v1/tokens "
                "while the server runs)"
            )
        self.url = base
        self._client = httpx.Client(
            base_url=base + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_S,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._client.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` (below ``/api/v1``) and return the answer's JSON."""
        kept = {k: v for k, v in (params or {}).items() if v is not None}
        return self._send("GET", path, params=kept).json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST a JSON body to ``path`` and return the answer's JSON."""
        return self._send("POST", path, json=body or {}).json()

    def upload(self, path: str, files: dict[str, Path]) -> Any:
        """POST files as ``multipart/form-data`` (field name -> file) and return the JSON."""
        handles = {name: file.open("rb") for name, file in files.items()}
        try:
            parts = {name: (files[name].name, handle) for name, handle in handles.items()}
            return self._send("POST", path, files=parts).json()
        finally:
            for handle in handles.values():
                handle.close()

    def download(self, path: str, target: Path) -> int:
        """POST to ``path`` and write the answer's body to ``target``; the bytes written."""
        import httpx

        written = 0
        partial = target.with_name(f".{target.name}.part")
        try:
            with self._client.stream("POST", path) as answer:
                if answer.status_code >= 300:
                    answer.read()
                    raise self._failure(answer, path)
                with partial.open("wb") as out:
                    for chunk in answer.iter_bytes(1 << 20):
                        out.write(chunk)
                        written += len(chunk)
        except httpx.HTTPError as error:
            partial.unlink(missing_ok=True)
            raise self._unreachable(error) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return written

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            answer = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise self._unreachable(error) from None
        if answer.status_code >= 300:
            raise self._failure(answer, path)
        return answer

    def _unreachable(self, error: Exception) -> ApiRequestError:
        return ApiRequestError(
            f"cannot reach the factorybrain server at {self.url} ({type(error).__name__}: "
            f"{error}); is 'factorybrain serve' running there? Its URL is the one it printed "
            "when it started, and the one the store's lock message names."
        )

    def _failure(self, answer: Any, path: str) -> ApiRequestError:
        try:
            found = answer.json()
            detail = found.get("detail") if isinstance(found, dict) else None
        except ValueError:
            detail = None
        detail = detail or answer.text[:300] or answer.reason_phrase
        where = f"{self.url}/api/v1{path}"
        if answer.status_code == 401:
            hint = " Pass a valid token with --token or $FACTORYBRAIN_TOKEN."
        elif answer.status_code == 404 and detail == "Not Found":
            hint = (
                " The server has no such route: it may run an older factorybrain, or lack "
                "the layer this command needs."
            )
        else:
            hint = ""
        return ApiRequestError(
            f"the server answered {answer.status_code} to {where}: {detail}.{hint}"
        )


def no_route(command: str, url: str) -> ApiRequestError:
    """The error of a command that has no API route to go through."""
    return ApiRequestError(
        f"'factorybrain {command}' has no route in the REST API, so it cannot go through the "
        f"server at {url}; run it while no server holds the store (stop the server, or run it "
        "on a copy restored from 'factorybrain backup')"
    )
