"""Gemini deployments at config load: the dialect's `configure`, the catalog rows, and the
endpoint and credentials each deployment ends up with."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from gateway import errors
from gateway.config import ConfigError, parse_config
from gateway.providers import gemini
from gateway.providers.catalog import CATALOG
from gateway.providers.gemini.target import GRANT, auth, url
from gateway.providers.oauth import GOOGLE_SCOPE
from gateway.providers.spec import Target

KEY = {
    "type": "service_account",
    "project_id": "acme-prod",
    "private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n",
    "client_email": "gateway@acme-prod.iam.gserviceaccount.com",
    "token_uri": "http://127.0.0.1:9/token",
}


def vertex(**extra: Any) -> Target:
    fields = {"vertex_project": "acme-prod", "vertex_credentials": json.dumps(KEY)} | extra
    return Target("m", "vertex_ai", "gemini", "gemini-2.5-flash", "", extra=fields)


def studio(**fields: Any) -> Target:
    fields.setdefault("api_base", CATALOG["gemini"].api_base)
    fields.setdefault("api_key", "AIza-k")
    return Target("m", "gemini", "gemini", fields.pop("model", "gemini-2.5-flash"), **fields)


def entry(model: str, **params: Any) -> dict[str, Any]:
    return {"model_name": "m", "litellm_params": {"model": model, **params}}


# ---- the catalog -----------------------------------------------------------------------------


def test_rows() -> None:
    assert CATALOG["gemini"].dialect == "gemini"
    assert CATALOG["gemini"].api_base == "https://generativelanguage.googleapis.com"
    assert CATALOG["gemini"].key_env == "GEMINI_API_KEY"
    assert CATALOG["vertex_ai"].dialect == "gemini"
    assert CATALOG["vertex_ai"].api_base == ""
    assert CATALOG["gemini"].prices == CATALOG["vertex_ai"].prices == "google"


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"])
def test_google_prices_gemini_models(model: str) -> None:
    from genai_prices import data_snapshot

    provider = next(p for p in data_snapshot.get_snapshot().providers if p.id == "google")
    assert provider.find_model(model) is not None


# ---- AI Studio ------------------------------------------------------------------------------


def test_studio_key_comes_from_the_catalog_variable() -> None:
    config = parse_config(
        {"model_list": [entry("gemini/gemini-2.5-flash")]}, {"GEMINI_API_KEY": "AIza-env"}.get
    )
    [deployment] = config.deployments
    assert deployment.target.api_key == "AIza-env"
    assert deployment.prices_provider == "google"
    upstream = gemini.build_request(_chat(), deployment.target)
    assert upstream.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert upstream.headers["x-goog-api-key"] == "AIza-env"


@pytest.mark.parametrize(
    "api_base",
    ["http://127.0.0.1:4010", "http://127.0.0.1:4010/", "http://127.0.0.1:4010/v1beta"],
)
def test_studio_api_base(api_base: str) -> None:
    configured = gemini.configure(studio(api_base=api_base))
    assert url(configured, stream=True) == (
        "http://127.0.0.1:4010/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )


def test_studio_model_may_be_written_as_a_resource_name() -> None:
    assert gemini.configure(studio(model="models/gemini-2.5-pro")).model == "gemini-2.5-pro"


def test_an_unset_studio_key_is_not_a_config_error() -> None:
    """One missing secret must not take down every model (config.py's rule); the
    deployment's requests fail as upstream_auth_failed, which the router moves past."""
    config = parse_config({"model_list": [entry("gemini/gemini-2.5-flash")]}, lambda _: None)
    [deployment] = config.deployments
    with pytest.raises(errors.UpstreamAuthError):
        gemini.build_request(_chat(), deployment.target)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (studio(model="models/"), "model id"),
        (studio(api_base=""), "api_base"),
    ],
)
def test_studio_config_errors(target: Target, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gemini.configure(target)


# ---- Vertex AI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "host"),
    [
        (None, "https://us-central1-aiplatform.googleapis.com"),
        ("europe-west4", "https://europe-west4-aiplatform.googleapis.com"),
        ("global", "https://aiplatform.googleapis.com"),
        ("us", "https://aiplatform.us.rep.googleapis.com"),
    ],
)
def test_vertex_endpoint(location: str | None, host: str) -> None:
    extra = {"vertex_location": location} if location else {}
    configured = gemini.configure(vertex(**extra))
    where = location or "us-central1"
    assert url(configured, stream=False) == (
        f"{host}/v1/projects/acme-prod/locations/{where}/publishers/google/models/"
        "gemini-2.5-flash:generateContent"
    )
    assert configured.extra["vertex_location"] == where


def test_vertex_api_base_replaces_scheme_and_host() -> None:
    configured = gemini.configure(dataclasses.replace(vertex(), api_base="http://127.0.0.1:4010/"))
    assert url(configured, stream=True) == (
        "http://127.0.0.1:4010/v1/projects/acme-prod/locations/us-central1/publishers/google/"
        "models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )


@pytest.mark.parametrize("as_text", [True, False])
def test_vertex_credentials_become_a_grant(as_text: bool) -> None:
    credentials = json.dumps(KEY) if as_text else dict(KEY)
    configured = gemini.configure(vertex(vertex_credentials=credentials))
    assert "vertex_credentials" not in configured.extra  # the key text is not kept twice
    headers, grant = auth(configured)
    assert headers == {}
    assert grant is configured.extra[GRANT]
    assert grant.kind == "google_service_account"
    assert grant.client_id == KEY["client_email"]
    assert grant.token_url == KEY["token_uri"]
    assert grant.scope == GOOGLE_SCOPE
    assert KEY["private_key"] not in repr(configured)


def test_vertex_through_the_config_with_a_secret_reference() -> None:
    raw = {
        "model_list": [
            entry(
                "vertex_ai/gemini-2.5-pro",
                vertex_project="acme-prod",
                vertex_location="global",
                vertex_credentials="os.environ/VERTEX_SA",
            )
        ]
    }
    config = parse_config(raw, {"VERTEX_SA": json.dumps(KEY)}.get)
    [deployment] = config.deployments
    assert deployment.target.api_base == "https://aiplatform.googleapis.com"
    assert deployment.prices_provider == "google"
    upstream = gemini.build_request(_chat(stream=True), deployment.target)
    assert upstream.url.endswith(
        "/locations/global/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    )
    assert upstream.oauth is not None
    assert "authorization" not in upstream.headers  # the transport adds the minted token


def test_unset_vertex_secret_fails_its_requests_not_the_config() -> None:
    raw = {
        "model_list": [
            entry(
                "vertex_ai/gemini-2.5-pro",
                vertex_project="acme-prod",
                vertex_credentials="os.environ/UNSET",
            )
        ]
    }
    [deployment] = parse_config(raw, lambda _: None).deployments
    with pytest.raises(errors.UpstreamAuthError):
        gemini.build_request(_chat(), deployment.target)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"vertex_project": None}, "vertex_project"),
        ({"vertex_credentials": None}, "vertex_credentials"),
        ({"vertex_credentials": "/secrets/sa.json"}, "not a file path"),
        ({"vertex_credentials": json.dumps({**KEY, "type": "authorized_user"})}, "service_account"),
        ({"vertex_credentials": json.dumps([KEY])}, "service_account"),
        ({"vertex_credentials": json.dumps({**KEY, "private_key": ""})}, "private_key"),
        (
            {"vertex_credentials": {k: v for k, v in KEY.items() if k != "client_email"}},
            "client_email",
        ),
        ({"vertex_location": 5}, "strings"),
    ],
)
def test_vertex_config_errors(extra: dict[str, Any], message: str) -> None:
    fields = {"vertex_project": "acme-prod", "vertex_credentials": json.dumps(KEY)} | extra
    fields = {k: v for k, v in fields.items() if not (v is None and k in extra)}
    target = Target("m", "vertex_ai", "gemini", "gemini-2.5-flash", "", extra=fields)
    with pytest.raises(ValueError, match=message):
        gemini.configure(target)


@pytest.mark.parametrize("model", ["claude-sonnet-4-5@20250929", "meta/llama-4-maverick"])
def test_vertex_other_publishers_are_refused(model: str) -> None:
    with pytest.raises(ValueError, match="Gemini"):
        gemini.configure(dataclasses.replace(vertex(), model=model))


def test_config_errors_name_the_model() -> None:
    raw = {"model_list": [entry("vertex_ai/gemini-2.5-flash", vertex_project="p")]}
    with pytest.raises(ConfigError, match=r"model 'm'.*vertex_credentials"):
        parse_config(raw, lambda _: None)


def _chat(**fields: Any) -> Any:
    from gateway.schemas.openai import ChatCompletionRequest

    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "Hi"}], **fields}
    )


@pytest.mark.parametrize("build", [vertex, studio])
def test_configure_is_idempotent(build: Any) -> None:
    once = gemini.configure(build())
    assert gemini.configure(once) == once
