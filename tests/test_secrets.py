"""Secrets are never shown: not in ``ask``'s notes, the command's errors, connectors' or logs.

The first tests are the leaks a probe found, written as they were found; then the patterns of
:func:`factorybrain.secrets.redact` one by one, and its properties.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets as stdlib_secrets
import socket
import string
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from click.testing import Result
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from factorybrain.ask import LLMConfig, ask
from factorybrain.cli import app
from factorybrain.exceptions import IngestError
from factorybrain.secrets import (
    LOG_FILTER,
    MASK,
    install_log_filter,
    is_secret_name,
    redact,
    secret_values,
)
from factorybrain.store import DuckDBStore, open_store

runner = CliRunner()

MACHINES = """\
entity: asset
space: mes
fields:
  external_id: code
  level: {value: equipment}
source: {table: machines}
"""


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _output(result: Result) -> str:
    """Everything a command printed, stdout and stderr."""
    return result.output


@pytest.fixture
def empty_store() -> Iterator[DuckDBStore]:
    with open_store(":memory:", migrate=True) as opened:
        yield opened


@pytest.fixture(autouse=True)
def _no_configured_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the secrets it is about; none leak in from the environment running it."""
    for name in list(os.environ):
        if name.startswith("FACTORYBRAIN_"):
            monkeypatch.delenv(name)


# -- the leaks -------------------------------------------------------------------------------
def test_the_ask_note_of_a_failing_model_shows_no_password_of_its_url(
    empty_store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORYBRAIN_LLM_URL", f"http://user:s3cret@127.0.0.1:{_closed_port()}/v1")
    answer = ask(empty_store, "status of Press 3")
    assert answer.via == "router" and "could not answer" in answer.note
    assert "s3cret" not in answer.note and "s3cret" not in str(answer.as_dict())
    assert "http://user:***@127.0.0.1" in answer.note


def test_the_ask_command_prints_no_password_of_the_model_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "f.duckdb"
    open_store(db, migrate=True).close()
    monkeypatch.setenv("FACTORYBRAIN_LLM_URL", f"https://user:s3cret@127.0.0.1:{_closed_port()}/v1")
    monkeypatch.setenv("FACTORYBRAIN_LLM_KEY", "sk-test-key-0123456789abcdef")
    for args in (["ask", "status of Press 3"], ["ask", "status of Press 3", "--json"]):
        result = runner.invoke(app, [*args, "--db", str(db)])
        assert result.exit_code == 0, result.output
        printed = _output(result)
        assert "could not answer" in printed
        assert "s3cret" not in printed and "0123456789abcdef" not in printed


def test_a_model_that_echoes_the_key_has_it_masked_in_the_note(empty_store: DuckDBStore) -> None:
    key = "key-" + stdlib_secrets.token_hex(12)

    def echo(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.headers['Authorization']}", request=request)

    config = LLMConfig("http://llm.test/v1", "m", key)
    answer = ask(empty_store, "status of Press 3", llm=config, transport=httpx.MockTransport(echo))
    assert "could not answer" in answer.note and key not in answer.note
    assert "Bearer ***" in answer.note


def test_the_model_url_is_sent_without_its_credentials_which_go_as_basic_auth(
    empty_store: DuckDBStore, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[httpx.Request] = []

    def down(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, text="down")

    config = LLMConfig("http://user:s3cret@llm.test/v1", "m")
    with caplog.at_level(logging.INFO):
        answer = ask(
            empty_store, "status of Press 3", llm=config, transport=httpx.MockTransport(down)
        )
    assert "503" in answer.note and "s3cret" not in answer.note
    [request] = seen
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"user:s3cret").decode()
    assert "s3cret" not in caplog.text


def test_a_failed_database_ingest_prints_no_password(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MACHINES)
    db = tmp_path / "f.duckdb"
    for url in (
        "postgresql://u:pw@127.0.0.1:1/db",
        "postgresql://u@127.0.0.1:1/db?password=pw&sslmode=bogus",
        "postgresql://u:pw@[::1/db",  # a malformed URL: once a traceback
        "mysql://u:pw@127.0.0.1:1/db",
    ):
        result = runner.invoke(app, ["ingest", url, "-m", str(mapping), "--db", str(db)])
        printed = _output(result)
        assert result.exit_code == 1, printed
        assert "error:" in printed and "Traceback" not in printed
        assert "pw" not in printed.replace(str(tmp_path), ""), printed


def test_the_command_masks_secrets_in_every_error_it_prints() -> None:
    from factorybrain.cli._common import friendly_errors

    command = typer.Typer()

    @command.command()
    @friendly_errors
    def fail() -> None:
        raise IngestError("cannot reach https://mes:hunter22@erp.local/api?token=abcdef")

    result = runner.invoke(command, [])
    printed = _output(result)
    assert result.exit_code == 1
    assert "hunter22" not in printed and "abcdef" not in printed
    assert "https://mes:***@erp.local/api?token=***" in printed


def test_a_broker_url_with_a_password_is_named_without_it() -> None:
    from factorybrain.connectors import BrokerAddress

    with pytest.raises(IngestError) as raised:
        BrokerAddress.parse("ftp://user:hunter22@broker:21")
    assert "hunter22" not in str(raised.value) and "user:***@broker" in str(raised.value)


# -- logging ---------------------------------------------------------------------------------
def test_a_logged_url_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    assert LOG_FILTER in logging.getLogger("factorybrain").filters
    # A logger created after the filter was installed is covered too.
    later = logging.getLogger(f"factorybrain.test_secrets.{uuid.uuid4().hex}")
    with caplog.at_level(logging.INFO):
        logging.getLogger("factorybrain").warning("store at %s", "postgresql://u:s3cret@db/mes")
        later.info("connecting to %s with %s", "mqtt://plant:s3cret@broker", "Bearer abcdefgh")
        try:
            raise ValueError("https://u:s3cret@llm.example/v1 refused")
        except ValueError:
            later.exception("the model failed")
    assert "s3cret" not in caplog.text and "abcdefgh" not in caplog.text
    assert "postgresql://u:***@db/mes" in caplog.text and "mqtt://plant:***@broker" in caplog.text
    assert "the model failed" in caplog.text and "ValueError: https://u:***@llm" in caplog.text


def test_other_loggers_are_left_alone_and_installing_twice_adds_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("factorybrain")
    assert install_log_filter("factorybrain") is LOG_FILTER
    assert logger.filters.count(LOG_FILTER) == 1
    with caplog.at_level(logging.INFO):
        logging.getLogger("somebody.else").info("password=plain")
    assert "password=plain" in caplog.text


def test_a_record_that_cannot_be_formatted_is_kept_as_it_is() -> None:
    record = logging.LogRecord("factorybrain", logging.INFO, __file__, 1, "%d", ("x",), None)
    assert LOG_FILTER.filter(record) and record.msg == "%d"


# -- the patterns ----------------------------------------------------------------------------
TOKEN = "fb_" + stdlib_secrets.token_urlsafe(32)  # an API token (factorybrain.api._tokens)
SESSION = "fbs_" + stdlib_secrets.token_urlsafe(32)  # a dashboard session


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:s3cret@llm.example/v1", "https://user:***@llm.example/v1"),
        ("postgresql://u:p@ss@db:5432/mes", "postgresql://u:***@db:5432/mes"),
        ("mysql://mes:@db/erp", "mysql://mes:***@db/erp"),
        ("postgresql://mes@db/mes", "postgresql://mes@db/mes"),
        (
            "GET http://h/x?password=a&token=b&api_key=c&key=d&apikey=e&page=2#top",
            "GET http://h/x?password=***&token=***&api_key=***&key=***&apikey=***&page=2#top",
        ),
        (
            "host=db dbname=mes user=u password=s3cret port=5432",
            "host=db dbname=mes user=u password=*** port=5432",
        ),
        ("host=db password='a b c' sslmode=require", "host=db password='***' sslmode=require"),
        ("Server=db;Uid=u;Pwd=s3cret;", "Server=db;Uid=u;Pwd=***;"),
        ("Config(url='x', client_secret='s3')", "Config(url='x', client_secret='***')"),
        ('{"api_key": "abc", "name": "n"}', '{"api_key": "***", "name": "n"}'),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("{'Authorization': 'Basic dXNlcjpwYXNz'}", "{'Authorization': 'Basic ***'}"),
        ("curl -H 'bearer eyJhbGciOi.x.y'", "curl -H 'bearer ***'"),
        (f"token {TOKEN} and session {SESSION}.", "token fb_*** and session fbs_***."),
        ("sk-proj-" + "x" * 40, "sk-***"),
    ],
)
def test_redact_masks(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "missing token: send 'Authorization: Bearer <token>'",
        "a Bearer token is required",
        "duplicate key (space=erp, external_id=M1) in the same file: superseded by row 3",
        "monkey=banana; turkey is not a key",
        "postgresql://mes@db:5432/mes#machines",
        "fb_short is not a token",
        "",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def test_configured_secrets_are_masked_wherever_they_appear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FACTORYBRAIN_LLM_KEY", "k3y/with+chars")
    monkeypatch.setenv("FACTORYBRAIN_HISTORIAN_PASSWORD", "pw")
    monkeypatch.setenv("FACTORYBRAIN_TOKENS", "/srv/factory.duckdb.tokens.json")
    monkeypatch.setenv("FACTORYBRAIN_DB", "/srv/factory.duckdb")
    assert is_secret_name("FACTORYBRAIN_LLM_KEY") and is_secret_name("factorybrain_api_token")
    assert not is_secret_name("FACTORYBRAIN_TOKENS") and not is_secret_name("LLM_KEY")
    assert sorted(secret_values()) == ["k3y/with+chars", "pw"]
    text = "sent k3y/with+chars (k3y%2Fwith%2Bchars in a URL); pw, pwned; tokens at /srv/"
    assert redact(text) == "sent *** (*** in a URL); ***, pwned; tokens at /srv/"
    assert redact("tokens in /srv/factory.duckdb.tokens.json") == (
        "tokens in /srv/factory.duckdb.tokens.json"
    )
    assert redact("the key is abc123", ["abc123", None, ""]) == "the key is ***"


# -- properties ------------------------------------------------------------------------------
_PASSWORD = st.text(
    alphabet=string.ascii_letters + string.digits + "!$%&()*+,;=-._~@:", min_size=6, max_size=30
)
_WORDS = st.text(alphabet=string.ascii_letters + string.digits + " ,.()-/", min_size=0, max_size=80)


@given(password=_PASSWORD, user=st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True))
def test_no_url_password_survives(password: str, user: str) -> None:
    text = f"cannot connect to postgresql://{user}:{password}@db.local:5432/mes: refused"
    shown = redact(text)
    assert password not in shown.replace(f"{user}:***@db.local", "")
    assert shown == f"cannot connect to postgresql://{user}:***@db.local:5432/mes: refused"


#: Words that "bearer" or an Authorization scheme is followed by in prose, not tokens.
_PROSE = {"token", "tokens", "auth", "authentication", "authorization", "credential"}
_PROSE |= {"credentials", "scheme", "header", "realm", "basic", "bearer", "digest", "negotiate"}


@given(
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-._~", min_size=1).filter(
        lambda s: s.lower() not in _PROSE
    )
)
def test_no_bearer_token_or_query_secret_survives(secret: str) -> None:
    shown = redact(f"GET /x?access_token={secret}&x=1 with Authorization: Bearer {secret}")
    assert shown == "GET /x?access_token=***&x=1 with Authorization: Bearer ***"


@given(text=st.text(max_size=200))
def test_redacting_twice_changes_nothing_more(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@given(text=_WORDS)
def test_text_without_secrets_is_unchanged(text: str) -> None:
    # Words, numbers and punctuation without '=', ':' or '@': nothing there looks like a secret,
    # unless it spells a bearer token or one of our token prefixes.
    if "bearer" in text.lower() or "fb_" in text or "sk-" in text:
        return
    assert redact(text) == text


def test_the_mask_is_three_stars() -> None:
    assert MASK == "***"
