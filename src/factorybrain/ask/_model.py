"""The language-model agent: an OpenAI-compatible endpoint chooses among the router's tools.

A model that is down, slow or answers nonsense (an unknown tool, malformed arguments) never
breaks ``ask``: the router answers and says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from factorybrain.ask._answer import Answer
from factorybrain.ask._router import route
from factorybrain.ask._tools import TOOL_SCHEMAS, TOOLS, schema
from factorybrain.secrets import install_log_filter, redact
from factorybrain.store import Store


@dataclass(frozen=True)
class LLMConfig:
    """An OpenAI-compatible chat endpoint."""

    url: str
    model: str
    key: str | None = None
    timeout: float = 20.0

    @classmethod
    def from_environment(cls) -> LLMConfig | None:
        """Read ``FACTORYBRAIN_LLM_URL``, ``_MODEL`` and ``_KEY``; None when no URL is set."""
        url = os.environ.get("FACTORYBRAIN_LLM_URL")
        if not url:
            return None
        return cls(
            url.rstrip("/"),
            os.environ.get("FACTORYBRAIN_LLM_MODEL", "default"),
            os.environ.get("FACTORYBRAIN_LLM_KEY"),
        )


def ask(
    store: Store,
    question: str,
    *,
    llm: LLMConfig | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Answer:
    """Answer a question from the factory model.

    Args:
        store: The factory store.
        question: The question in plain language.
        llm: An OpenAI-compatible endpoint; by default from the environment, and without one the
            deterministic router answers.
        transport: An httpx transport (tests use a scripted one).
    """
    config = llm or LLMConfig.from_environment()
    if config is None:
        return _redacted(route(store, question))
    try:
        return _redacted(_ask_model(store, question, config, transport), config.key)
    except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as error:
        answer = route(store, question)
        # Redacted before it is cut short: a secret cut in half would no longer be recognised.
        reason = redact(str(error), [config.key])[:160]
        answer.note = (
            f"The language model at {config.url} could not answer "
            f"({type(error).__name__}: {reason}); the built-in router answered instead."
        )
        return _redacted(answer, config.key)


def _redacted(answer: Answer, key: str | None = None) -> Answer:
    """The answer with the secrets in its text and note masked (:mod:`factorybrain.secrets`)."""
    answer.answer = redact(answer.answer, [key])
    answer.note = redact(answer.note, [key])
    return answer


def _credentials(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """The URL without its ``user:password@``, and that as basic authentication.

    httpx would take them from the URL the same way, but keep them in the URL it logs and puts
    in its errors.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    netloc = parts.netloc.rsplit("@", 1)[-1]
    auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=netloc)), auth


def _ask_model(
    store: Store, question: str, config: LLMConfig, transport: httpx.BaseTransport | None
) -> Answer:
    headers = {"Authorization": f"Bearer {config.key}"} if config.key else {}
    url, auth = _credentials(config.url)
    install_log_filter("httpx")  # httpx logs each request's URL, which may hold a key
    body = {
        "model": config.model,
        "messages": [
            {
                "role": "system",
                "content": "You answer questions about a factory by calling "
                "exactly one of the tools. Reply with a tool call.",
            },
            {"role": "user", "content": question},
        ],
        "tools": [{"type": "function", "function": schema} for schema in TOOL_SCHEMAS],
        "tool_choice": "auto",
    }
    with httpx.Client(transport=transport, timeout=config.timeout) as client:
        response = client.post(
            f"{url}/chat/completions",
            json=body,
            headers=headers,
            auth=auth or httpx.USE_CLIENT_DEFAULT,
        )
        response.raise_for_status()
        message = response.json()["choices"][0]["message"]
    calls = message.get("tool_calls") or []
    if not calls:
        raise ValueError("the model answered without calling a tool")
    call = calls[0]["function"]
    name = call["name"]
    if name not in TOOLS:
        raise ValueError(f"the model called an unknown tool {name!r}")
    arguments = json.loads(call.get("arguments") or "{}")
    if not isinstance(arguments, dict):
        raise ValueError("the model's tool arguments are not an object")
    allowed = set(schema(name)["parameters"]["properties"])
    unknown = set(arguments) - allowed
    missing = set(schema(name)["parameters"].get("required", [])) - set(arguments)
    if unknown or missing:
        raise ValueError(
            f"the model called {name} with bad arguments (unknown {sorted(unknown)}, "
            f"missing {sorted(missing)})"
        )
    answer = TOOLS[name](store, **arguments)
    answer.question, answer.via = question, f"language model {config.model}"
    return answer


__all__ = ["LLMConfig", "ask"]
