"""Settings from the environment, parsed once.

On AWS the template sets these variables, per function; on the embedded local stack ``local/`` sets
them to the local endpoints through the same template. A variable the template does not give a
function is empty here, never a stand-in value: code that cannot work without a setting reads it with
``Settings.required``, which raises ``MissingSetting`` naming the variable
(tests/unit/test_settings_reach.py checks that every function has what its code reads). Secrets are
not here: see ``autocall.secrets``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


class MissingSetting(RuntimeError):
    """A setting the code needs is empty: the function's environment (template.yaml) lacks it."""

    def __init__(self, name: str, env: str) -> None:
        super().__init__(
            f"{env} is not set: this function needs it (Settings.{name}); give the function {env} "
            "in template.yaml (Globals or its own Environment)"
        )
        self.setting = name
        self.env = env


@dataclass(frozen=True)
class Settings:
    # tables
    contacts_table: str = field(default_factory=lambda: _env("CONTACTS_TABLE"))
    calls_table: str = field(default_factory=lambda: _env("CALLS_TABLE"))
    campaigns_table: str = field(default_factory=lambda: _env("CAMPAIGNS_TABLE"))
    crm_table: str = field(default_factory=lambda: _env("CRM_TABLE"))
    suppression_table: str = field(default_factory=lambda: _env("SUPPRESSION_TABLE"))
    idempotency_table: str = field(default_factory=lambda: _env("IDEMPOTENCY_TABLE"))
    pacing_table: str = field(default_factory=lambda: _env("PACING_TABLE"))
    consent_table: str = field(default_factory=lambda: _env("CONSENT_TABLE"))
    numbers_table: str = field(default_factory=lambda: _env("NUMBERS_TABLE"))
    dial_audit_table: str = field(default_factory=lambda: _env("DIAL_AUDIT_TABLE"))
    realtime_connections_table: str = field(default_factory=lambda: _env("REALTIME_CONNECTIONS_TABLE"))
    # realtime voice mode (ConversationRelay): the WebSocket URL Twilio opens, the @connections
    # endpoint replies are posted to when it is not the event's own (the local stack), and the voice
    # mode of a call that names none ("gather" | "realtime")
    realtime_url: str = field(default_factory=lambda: _env("REALTIME_URL", ""))
    realtime_callback_url: str = field(default_factory=lambda: _env("REALTIME_CALLBACK_URL", ""))
    default_voice_mode: str = field(default_factory=lambda: _env("DEFAULT_VOICE_MODE", "gather"))
    # scheduling
    schedule_group: str = field(default_factory=lambda: _env("SCHEDULE_GROUP"))
    scheduler_function_arn: str = field(default_factory=lambda: _env("SCHEDULER_FUNCTION_ARN"))
    scheduler_role_arn: str = field(default_factory=lambda: _env("SCHEDULER_ROLE_ARN"))
    schedule_dlq_arn: str = field(default_factory=lambda: _env("SCHEDULE_DLQ_ARN", ""))
    post_call_state_machine_arn: str = field(default_factory=lambda: _env("POST_CALL_STATE_MACHINE_ARN", ""))
    # the campaign worker's ARN: a campaign's fan-out and steering sweeps go on in it, page by page
    # (the API starts them there; the worker hands the rest on to itself)
    campaign_worker_function_arn: str = field(default_factory=lambda: _env("CAMPAIGN_WORKER_FUNCTION_ARN"))
    # business identity and the agent
    business_name: str = field(default_factory=lambda: _env("BUSINESS_NAME"))
    agent_name: str = field(default_factory=lambda: _env("AGENT_NAME"))
    caller_id: str = field(default_factory=lambda: _env("TWILIO_CALLER_ID"))
    transfer_number: str = field(default_factory=lambda: _env("TRANSFER_NUMBER", ""))
    # product names the agent may say aloud (comma-separated); a call's product_interest that names
    # none of them is spoken as the purpose's neutral wording
    product_catalogue: str = field(default_factory=lambda: _env("PRODUCT_CATALOGUE"))
    team_email: str = field(default_factory=lambda: _env("TEAM_EMAIL"))
    sender_email: str = field(default_factory=lambda: _env("SENDER_EMAIL"))
    # public URL of the API (used for Twilio callbacks); empty → built from the request
    public_base_url: str = field(default_factory=lambda: _env("PUBLIC_BASE_URL", ""))
    # a custom domain's base path mapping in front of the API (e.g. "voice"); empty on the
    # execute-api host. Routes are matched with it stripped; webhook URLs keep it.
    api_base_path: str = field(default_factory=lambda: _env("API_BASE_PATH", ""))
    # DynamoDB requests inside a voice turn's budget (see stores/tables.py)
    dynamodb_connect_timeout_s: int = field(default_factory=lambda: _int("DYNAMODB_CONNECT_TIMEOUT_S", 1))
    dynamodb_read_timeout_s: int = field(default_factory=lambda: _int("DYNAMODB_READ_TIMEOUT_S", 2))
    # Twilio
    twilio_account_sid: str = field(default_factory=lambda: _env("TWILIO_ACCOUNT_SID"))
    twilio_api_base_url: str = field(default_factory=lambda: _env("TWILIO_API_BASE_URL", ""))  # local sim
    # the LLM
    openai_model: str = field(default_factory=lambda: _env("OPENAI_MODEL", "gpt-4o-mini"))
    openai_base_url: str = field(default_factory=lambda: _env("OPENAI_BASE_URL", ""))
    llm_turn_deadline_s: float = field(default_factory=lambda: _float("LLM_TURN_DEADLINE_S", 4.0))
    llm_temperature: float = field(default_factory=lambda: _float("LLM_TEMPERATURE", 0.3))
    # calling rules
    calling_window_start: str = field(default_factory=lambda: _env("CALLING_WINDOW_START", "09:00"))
    calling_window_end: str = field(default_factory=lambda: _env("CALLING_WINDOW_END", "20:00"))
    max_attempts: int = field(default_factory=lambda: _int("MAX_ATTEMPTS", 3))
    # follow-up calls the post-call chain books in a row for one contact ("call me back later"...)
    max_follow_ups: int = field(default_factory=lambda: _int("MAX_FOLLOW_UPS", 3))
    calls_per_second: float = field(default_factory=lambda: _float("CALLS_PER_SECOND", 1.0))
    max_concurrent_calls: int = field(default_factory=lambda: _int("MAX_CONCURRENT_CALLS", 50))
    # the numbers that may be called: ISO 3166 codes, comma-separated; empty → the caller id's country
    allowed_countries: str = field(default_factory=lambda: _env("ALLOWED_COUNTRIES"))
    # dials to one number in any rolling 24 h and 7 days, whatever call or contact they belong to
    max_dials_per_number_day: int = field(default_factory=lambda: _int("MAX_DIALS_PER_NUMBER_DAY", 3))
    max_dials_per_number_week: int = field(default_factory=lambda: _int("MAX_DIALS_PER_NUMBER_WEEK", 7))
    # integrations
    event_bus_name: str = field(default_factory=lambda: _env("EVENT_BUS_NAME", "default"))
    sales_topic_arn: str = field(default_factory=lambda: _env("SALES_TOPIC_ARN", ""))
    crm_webhook_url: str = field(default_factory=lambda: _env("CRM_WEBHOOK_URL", ""))
    # secrets: names of parameters / secrets (values fetched by autocall.secrets)
    secrets_prefix: str = field(default_factory=lambda: _env("SECRETS_PREFIX", "/autocall"))

    def required(self, name: str) -> str:
        """The setting ``name``; ``MissingSetting`` (naming its variable) when it is empty."""
        value = getattr(self, name)
        if value in ("", None):
            raise MissingSetting(name, env_var(name))
        return str(value)


def env_var(name: str) -> str:
    """The environment variable the setting ``name`` is read from (the literal its field reads)."""
    for item in fields(Settings):
        if item.name == name:
            code = getattr(item.default_factory, "__code__", None)
            consts = code.co_consts if code is not None else ()
            return next(c for c in consts if isinstance(c, str) and c.isupper())
    raise AttributeError(f"Settings has no field {name!r}")


_SETTINGS: dict[tuple[str, str], Settings] = {}


def get_settings() -> Settings:
    """The settings of the function this code runs in, parsed once per function version.

    Keyed by ``AWS_LAMBDA_FUNCTION_NAME`` and ``AWS_LAMBDA_FUNCTION_VERSION`` (set by Lambda,
    constant for an execution environment; a configuration change starts new environments), so on
    AWS this is one parse per container. The local stack runs several functions in one process, each
    thread with only its own function's environment, and each gets its own settings."""
    environ = os.environ
    key = (environ.get("AWS_LAMBDA_FUNCTION_NAME", ""), environ.get("AWS_LAMBDA_FUNCTION_VERSION", ""))
    settings = _SETTINGS.get(key)
    if settings is None:
        settings = _SETTINGS[key] = Settings()
    return settings


def reset_settings() -> None:
    """Forget the parsed settings (tests and the local stack change the environment)."""
    _SETTINGS.clear()
