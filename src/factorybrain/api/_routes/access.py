"""Who may use the API: dashboard sessions and, for admins, the tokens.

``POST /session`` trades a token for a session: an HttpOnly, SameSite=Strict cookie the browser
sends by itself (never readable by scripts) and a CSRF token every write must send in
``X-CSRF-Token``; ``DELETE /session`` signs out. Admins issue, rotate and revoke tokens here
while the server runs; every change is an audit entry naming the admin.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Cookie, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from factorybrain.api._deps import SESSION_COOKIE, Admin, Viewer
from factorybrain.api._schemas import SessionBody, SessionOut, TokenBody, TokenHolder, TokenOut
from factorybrain.api._tokens import TokenInfo, TokenStore, csrf_for
from factorybrain.exceptions import ParameterError

router = APIRouter(tags=["access"])


def _tokens(request: Request) -> TokenStore:
    tokens: TokenStore = request.app.state.tokens
    return tokens


def _who(holder: TokenInfo, *, expires_at: str | None, csrf: str | None = None) -> SessionOut:
    return SessionOut(
        name=holder.name,
        role=holder.role,
        scopes=list(holder.scopes),
        expires_at=expires_at,
        csrf_token=csrf,
    )


@router.post("/session", response_model=SessionOut, status_code=201)
def start_session(request: Request, body: SessionBody) -> JSONResponse:
    """Sign the dashboard in with a token: a session cookie, and the CSRF token for writes."""
    try:
        session = _tokens(request).start_session(body.token)
    except ParameterError:
        raise HTTPException(
            401, "invalid, expired or revoked token", headers={"WWW-Authenticate": "Bearer"}
        ) from None
    expires = session.expires_at.isoformat(timespec="seconds")
    answer = JSONResponse(
        _who(session.holder, expires_at=expires, csrf=session.csrf).model_dump(), status_code=201
    )
    answer.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=session.seconds_left,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.get("/session", response_model=SessionOut)
def whoami(
    holder: Viewer, session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
) -> SessionOut:
    """Who the caller is and what they may do; a session also gets its CSRF token back."""
    return _who(holder, expires_at=holder.expires_at, csrf=csrf_for(session) if session else None)


@router.delete("/session", status_code=204)
def end_session(
    request: Request,
    _: Viewer,
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> Response:
    """Sign out: end the session and clear its cookie."""
    if session:
        _tokens(request).end_session(session)
    answer = Response(status_code=204)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(request: Request, _: Admin) -> list[TokenOut]:
    """Every token issued, live, expired or revoked (never a token itself)."""
    return [TokenOut(**info.dump()) for info in _tokens(request).list()]


@router.post("/tokens", response_model=TokenOut, status_code=201)
def issue_token(request: Request, holder: Admin, body: TokenBody) -> TokenOut:
    """Issue a token (shown once, in this answer); audited with the admin's name."""
    expires = None if body.expires_in_days is None else timedelta(days=body.expires_in_days)
    tokens = _tokens(request)
    token = tokens.create(
        body.name, body.role, scopes=body.scopes, expires_in=expires, created_by=holder.actor
    )
    info = tokens.check(token)
    if info is None:  # issued a moment ago: only a clock that jumped could say otherwise
        raise HTTPException(500, "the token just issued does not check")
    return TokenOut(**info.dump(), token=token)


@router.post("/tokens/{name}/rotate", response_model=TokenOut, status_code=201)
def rotate_token(request: Request, holder: Admin, name: TokenHolder) -> TokenOut:
    """Replace a holder's live tokens by a new one (shown once); the old ones stop at once."""
    tokens = _tokens(request)
    token = tokens.rotate(name, by=holder.actor)
    info = tokens.check(token)
    if info is None:
        raise HTTPException(500, "the token just issued does not check")
    return TokenOut(**info.dump(), token=token)


@router.delete("/tokens/{name}")
def revoke_token(request: Request, holder: Admin, name: TokenHolder) -> dict[str, int]:
    """Revoke every live token of a holder (or one token by its id); sessions end with them."""
    revoked = _tokens(request).revoke(name, by=holder.actor)
    if not revoked:
        raise HTTPException(404, f"no live token of {name!r}")
    return {"revoked": revoked}
