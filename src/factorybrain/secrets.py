"""Secrets are never shown: every message that leaves the process goes through :func:`redact`.

:func:`redact` masks, wherever they appear in a text:

* the password of a URL: ``scheme://user:password@host`` -> ``scheme://user:***@host``;
* secret parameters of a URL query, a key=value DSN or a ``repr``: ``password=``, ``pwd=``,
  ``passwd=``, ``...token=``, ``...secret=``, ``key=``, ``api_key=``, ``apikey=``, ``sig=``,
  ``signature=``, ``auth=`` and their quoted ``'name': 'value'`` forms (``password=***``);
* ``Authorization:`` header values and ``Bearer`` tokens (``Bearer ***``);
* our API tokens and dashboard sessions (``fb_...``, ``fbs_...`` -> ``fb_***``) and
  OpenAI-style keys (``sk-...``);
* the values of the configured secrets: every ``FACTORYBRAIN_*`` environment variable whose name
  contains ``KEY``, ``TOKEN``, ``SECRET`` or ``PASSWORD`` (``FACTORYBRAIN_LLM_KEY``...), except
  :data:`NOT_SECRETS`, and any value passed in ``extra``; also their URL-encoded form. A value
  shorter than :data:`SHORT_SECRET` is masked only where it stands alone.

Where messages leave, they pass through here: the command's error lines, MCP's tool errors,
``ask``'s answers and notes, the connectors' errors, and logging: :func:`install_log_filter`
(run when ``factorybrain`` is imported) redacts every record of factorybrain's loggers.

This module is the bottom layer of the package: it imports nothing of factorybrain.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote

#: What a secret is replaced with.
MASK = "***"
#: Words that make a ``FACTORYBRAIN_*`` variable a secret.
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
#: Variables whose names hold a secret word but whose values are not secrets.
NOT_SECRETS = frozenset({"FACTORYBRAIN_TOKENS"})  # the path of the token file
#: A configured secret shorter than this is masked only where it stands alone (not inside a
#: longer word or number), so that a short value does not mask every word it is part of.
SHORT_SECRET = 8

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*://"
#: ``scheme://user:password@``; the password runs to the last ``@`` before the host.
_URL_PASSWORD = re.compile(rf"(?P<head>{_SCHEME}[^\s/?#@:'\"<>]*:)(?P<secret>[^\s/?#'\"<>]*)(?=@)")
_NAME = (
    r"(?:[\w.\-]*(?:passw(?:or)?d|pwd|secret|token|signature)"
    r"|(?:[\w.\-]*[_.\-])?(?:api)?key|sig|auth)"
)
_QUOTED = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
#: ``name=value``: URL query parameters, key=value DSNs, ``repr`` of keyword arguments.
_ASSIGNED = re.compile(
    rf"(?<![\w.\-])(?P<head>{_NAME}\s*=\s*)(?P<secret>{_QUOTED}|[^\s&;,#'\"<>)\]}}]+)",
    re.IGNORECASE,
)
#: ``'name': 'value'`` and ``"name": "value"``: dictionaries and JSON (quoted values only).
_MAPPED = re.compile(
    rf"(?<![\w.\-])(?P<head>[\"']?{_NAME}[\"']?\s*:\s*)(?P<secret>{_QUOTED})", re.IGNORECASE
)
_HEADER = re.compile(
    r"(?<![\w\-])(?P<head>(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:basic|bearer|digest|token|negotiate)\s+)?)"
    # A scheme named without a value ("Authorization: Bearer <token>") is no secret.
    r"(?!(?:basic|bearer|digest|token|negotiate)(?:[\s\"',;<>]|$))(?P<secret>[^\s\"',;<>]+)",
    re.IGNORECASE,
)
#: ``Bearer <value>``, unless the value is one of the words that follow "bearer" in prose.
_BEARER = re.compile(
    r"\b(?P<head>bearer\s+)(?!(?:tokens?|auth|authentication|authorization|credentials?|scheme"
    r"|header|realm)(?![A-Za-z0-9\-._~+/=]))(?P<secret>[A-Za-z0-9\-._~+/]+=*)",
    re.IGNORECASE,
)
#: ``fb_`` + ``secrets.token_urlsafe(32)`` (API tokens), ``fbs_`` (dashboard sessions);
#: ``sk-...`` (OpenAI-style keys of language-model endpoints).
_KNOWN_TOKENS = re.compile(r"(?<![\w\-])(?P<head>fbs?_|sk-)(?P<secret>[\w\-]{20,})")
_PATTERNS = (_URL_PASSWORD, _HEADER, _BEARER, _ASSIGNED, _MAPPED, _KNOWN_TOKENS)


def is_secret_name(name: str) -> bool:
    """Whether the environment variable ``name`` holds a secret (see the module docstring)."""
    upper = name.upper()
    return (
        upper.startswith("FACTORYBRAIN_")
        and upper not in NOT_SECRETS
        and any(word in upper for word in SECRET_WORDS)
    )


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the configured secrets (non-empty), from ``environ`` or the environment."""
    environ = os.environ if environ is None else environ
    return [value for name, value in environ.items() if value and is_secret_name(name)]


def _mask(match: re.Match[str]) -> str:
    secret = match.group("secret")
    quote_mark = secret[0] if secret[:1] in ("'", '"') and secret[-1:] == secret[:1] else ""
    return f"{match.group('head')}{quote_mark}{MASK}{quote_mark}"


@lru_cache(maxsize=32)
def _values_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for the known secret values, longest first (one may hold another)."""
    forms = {form for value in values for form in (value, quote(value, safe="")) if form}
    if not forms:
        return None
    alternatives = []
    for form in sorted(forms, key=len, reverse=True):
        escaped = re.escape(form)
        if len(form) < SHORT_SECRET:
            escaped = rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
        alternatives.append(escaped)
    return re.compile("|".join(alternatives))


def redact(text: str, extra: Iterable[str | None] = ()) -> str:
    """``text`` with every secret it holds masked as ``***`` (see the module docstring).

    Masking twice changes nothing more: ``redact(redact(t)) == redact(t)``.

    Args:
        text: A message about to leave the process (an error, a log line, an answer).
        extra: Further secret values to mask, e.g. a key given in code rather than the
            environment; None and empty values are ignored.

    Returns:
        The text with the secrets masked; the text itself when it holds none.
    """
    if not text:
        return text
    values = tuple(sorted({v for v in (*secret_values(), *extra) if v}))
    pattern = _values_pattern(values) if values else None
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for compiled in _PATTERNS:
        text = compiled.sub(_mask, text)
    return text


def redact_error(error: BaseException, extra: Iterable[str | None] = ()) -> str:
    """The message of ``error``, redacted (what a user may be shown of it)."""
    return redact(str(error), extra)


# -- logging ---------------------------------------------------------------------------------
class RedactingFilter(logging.Filter):
    """A logging filter that masks the secrets of a record's message, traceback and stack.

    It never drops a record. A record whose message it changes keeps the redacted message as
    ``msg`` (and no ``args``); a traceback is formatted and redacted into ``exc_text``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the logging module's to report
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


#: The one filter installed on the protected loggers.
LOG_FILTER = RedactingFilter()
_protected: set[str] = set()
_install_lock = threading.Lock()


def install_log_filter(name: str = "factorybrain") -> RedactingFilter:
    """Redact every record logged by the logger ``name`` and its descendants.

    A logger's filter sees only the records logged to that very logger, not those of its
    children, so :data:`LOG_FILTER` is added to ``name`` and to every descendant that exists now,
    and the log record factory passes the records of descendants created later through the same
    filter. Installing twice does nothing more.

    Args:
        name: The logger, e.g. ``"factorybrain"`` (run at import) or ``"httpx"`` (``ask``,
            whose requests go to a URL that may hold a key).

    Returns:
        The filter.
    """
    with _install_lock:
        if name in _protected:
            return LOG_FILTER
        if not _protected:
            _wrap_record_factory()
        _protected.add(name)
        prefix = name + "."
        loggers = [logging.getLogger(name)] + [
            logger
            for key, logger in list(logging.Logger.manager.loggerDict.items())
            if key.startswith(prefix) and isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            if LOG_FILTER not in logger.filters:
                logger.addFilter(LOG_FILTER)
    return LOG_FILTER


def _is_protected(logger_name: str) -> bool:
    return any(logger_name == name or logger_name.startswith(name + ".") for name in _protected)


def _wrap_record_factory() -> None:
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _is_protected(record.name):
            LOG_FILTER.filter(record)
        return record

    logging.setLogRecordFactory(factory)


__all__ = [
    "LOG_FILTER",
    "MASK",
    "NOT_SECRETS",
    "SECRET_WORDS",
    "RedactingFilter",
    "install_log_filter",
    "is_secret_name",
    "redact",
    "redact_error",
    "secret_values",
]
