"""Secrets: from one Secrets Manager secret (JSON) on AWS and on the local stack; from env vars
when no secret is configured (unit tests).

The secret named by ``SECRETS_ARN`` holds keys: ``api_token``, ``twilio_auth_token``,
``openai_api_key``, ``form_secrets`` (a JSON object form_id → HMAC key) and ``crm_webhook_secret``.
Values are read with Powertools Parameters and cached for five minutes (``max_age``), so a rotated
secret is picked up without a redeploy. A value left empty in the secret falls back to its env
var, so a developer can set OPENAI_API_KEY locally.
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

_ENV_FALLBACK = {
    "api_token": "AUTOCALL_API_TOKEN",
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
    "openai_api_key": "OPENAI_API_KEY",
    "form_secrets": "FORM_SECRETS",
    "crm_webhook_secret": "CRM_WEBHOOK_SECRET",
}
_MAX_AGE_S = 300  # seconds a read value is used before the secret is read again
_lock = threading.Lock()
# A provider (and its cache) per function: one on Lambda; the local stack runs every function in
# one process, and each reads the secret with its own permissions, as on AWS.
_providers: dict[str, SecretsProvider] = {}


def _provider() -> SecretsProvider:
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    with _lock:
        provider = _providers.get(function)
        if provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            provider = _providers[function] = SecretsProvider()
        return provider


def _load() -> dict[str, Any]:
    arn = os.environ.get("SECRETS_ARN", "")
    if not arn:
        return {key: os.environ.get(env, "") for key, env in _ENV_FALLBACK.items()}
    values = _provider().get(arn, transform="json", max_age=int(_MAX_AGE_S))
    return values if isinstance(values, dict) else {}


def get_secret(name: str) -> str:
    """The secret's value; an empty one falls back to its env var (local development)."""
    value = _load().get(name, "")
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value or "") or os.environ.get(_ENV_FALLBACK.get(name, ""), "")


def form_secret(form_id: str) -> str | None:
    raw = get_secret("form_secrets")
    if not raw:
        return None
    secrets = json.loads(raw)
    secret = secrets.get(form_id)
    return str(secret) if secret else None


def reset_secrets() -> None:
    """Forget every function's provider and what it read (the local stack's reset, tests)."""
    with _lock:
        _providers.clear()
