"""The declared parameter policy: passthrough, or MAPPED / DROPPED / REJECTED by table."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import errors
from gateway.providers.params import ALWAYS, TRANSLATED_DEFAULTS, Support, check
from gateway.schemas.openai import ChatCompletionRequest

M, D, R = Support.MAPPED, Support.DROPPED, Support.REJECTED
TABLE = {"temperature": M, "n": M, "seed": D, "user": D, "logit_bias": D, "logprobs": R}


def chat(**kwargs: Any) -> ChatCompletionRequest:
    kwargs.setdefault("model", "m")
    kwargs.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return ChatCompletionRequest.model_validate(kwargs)


def rejected(request: ChatCompletionRequest, table: Any = TABLE) -> errors.GatewayError:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        check(request, table)
    return caught.value


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"n": 4, "logprobs": True, "top_logprobs": 3},
        {"top_k": 20, "repetition_penalty": 1.1, "chat_template_kwargs": {"x": 1}},
        {"web_search_options": {}, "audio": {"voice": "alloy", "format": "mp3"}},
    ],
)
def test_passthrough_accepts_anything(kwargs: dict[str, Any]) -> None:
    assert check(chat(**kwargs), None) == ()


@pytest.mark.parametrize(
    ("kwargs", "dropped"),
    [
        ({}, ()),
        ({"temperature": 0.5}, ()),
        ({"stream": True, "stream_options": {"include_usage": True}}, ()),
        ({"seed": 1}, ("seed",)),
        ({"user": "u", "seed": 1, "logit_bias": {"1": 5}}, ("logit_bias", "seed", "user")),
        ({"temperature": 0.2, "user": "u"}, ("user",)),
    ],
)
def test_mapped_and_dropped(kwargs: dict[str, Any], dropped: tuple[str, ...]) -> None:
    assert check(chat(**kwargs), TABLE) == dropped


def test_rejected_param_names_itself() -> None:
    error = rejected(chat(logprobs=True, seed=1))
    assert error.status == 400
    assert error.body()["error"] == {
        "message": "'logprobs' is not supported by this model's provider.",
        "type": "invalid_request_error",
        "param": "logprobs",
        "code": "unsupported_parameter",
    }


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"top_p": 0.5}, "top_p"),  # a known field the table does not list
        ({"top_k": 40}, "top_k"),  # an unknown (extra) field
        ({"metadata": {"k": "v"}}, "metadata"),
        ({"top_k": 40, "frequency_penalty": 0.1}, "frequency_penalty"),  # first in sorted order
    ],
)
def test_unlisted_param_is_rejected(kwargs: dict[str, Any], param: str) -> None:
    assert rejected(chat(**kwargs)).param == param


@pytest.mark.parametrize("kwargs", [{"logprobs": None}, {"top_p": None}, {"top_k": None}])
def test_explicit_null_counts_as_absent(kwargs: dict[str, Any]) -> None:
    assert check(chat(**kwargs), TABLE) == ()


def test_always_fields_need_no_table_entry() -> None:
    assert {"model", "messages", "stream", "stream_options"} == ALWAYS
    request = chat(stream=True, stream_options={"include_usage": True})
    assert check(request, {}) == ()


@pytest.mark.parametrize(("n", "ok"), [(1, True), (2, False), (128, False)])
def test_n(n: int, ok: bool) -> None:
    if ok:
        assert check(chat(n=n), TABLE) == ()
    else:
        error = rejected(chat(n=n))
        assert error.param == "n"
        assert error.message == "Only n=1 is supported by this model's provider."


def test_n_above_one_is_rejected_even_when_n_is_mapped_by_defaults() -> None:
    assert TRANSLATED_DEFAULTS["n"] is M
    assert rejected(chat(n=2), TRANSLATED_DEFAULTS).param == "n"


def test_translated_defaults() -> None:
    dropped = check(
        chat(user="u", seed=1, frequency_penalty=0.1, presence_penalty=0.1, store=True),
        TRANSLATED_DEFAULTS,
    )
    assert dropped == ("frequency_penalty", "presence_penalty", "seed", "store", "user")
    for name in ("logprobs", "modalities", "functions", "audio", "prediction"):
        assert TRANSLATED_DEFAULTS[name] is R, name
        assert rejected(chat(**{name: {}}), TRANSLATED_DEFAULTS).param == name
