"""The embedded local stack: moto's server with the template's resources, the API gateway, the
carrier simulator and the schedule pump, all in one process on loopback."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from local.template import ACCOUNT_ID, REGION, LocalTemplate

LOCAL_API_TOKEN_DEFAULT = "local-dev-token"
# Values the local stack gives template variables where moto is not DynamoDB: on a shared 2-core
# machine under hundreds of concurrent requests moto answers in seconds, not milliseconds, and a
# request timed out there would be retried although it had been applied (a conditional write then
# fails against itself).
LOCAL_ENV_OVERRIDES = {"DYNAMODB_CONNECT_TIMEOUT_S": "5", "DYNAMODB_READ_TIMEOUT_S": "30"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_secrets() -> dict[str, Any]:
    """The local stack's secrets: env vars with documented defaults."""
    import json

    from local.resources import LOCAL_SECRET_DEFAULTS

    forms = os.environ.get("FORM_SECRETS")
    return {
        "api_token": os.environ.get("AUTOCALL_API_TOKEN", LOCAL_SECRET_DEFAULTS["api_token"]),
        "twilio_auth_token": os.environ.get("TWILIO_AUTH_TOKEN", LOCAL_SECRET_DEFAULTS["twilio_auth_token"]),
        "openai_api_key": os.environ.get("OPENAI_API_KEY", ""),
        "form_secrets": json.loads(forms) if forms else LOCAL_SECRET_DEFAULTS["form_secrets"],
        "crm_webhook_secret": os.environ.get(
            "CRM_WEBHOOK_SECRET", LOCAL_SECRET_DEFAULTS["crm_webhook_secret"]
        ),
    }


def apply_environment(env: dict[str, str]) -> None:
    """Set the process environment and make the parsed settings, the secrets and the tables re-read
    it (the package's clients key their caches on the environment they are built from)."""
    os.environ.update(env)
    from autocall.config import reset_settings
    from autocall.secrets import reset_secrets
    from autocall.stores.tables import bind_tables

    reset_settings()
    reset_secrets()
    bind_tables()


@dataclass
class LocalStack:
    port: int = field(default_factory=lambda: int(os.environ.get("AUTOCALL_PORT", "8787")))
    carrier_port: int = field(default_factory=lambda: int(os.environ.get("AUTOCALL_CARRIER_PORT", "8788")))
    moto_port: int = field(default_factory=lambda: int(os.environ.get("AUTOCALL_MOTO_PORT", "8789")))
    # the WebSocket API (ConversationRelay) and its @connections endpoint; 0 (the default) picks a
    # free port: clients reach the API by its public name, which the carrier resolves to it
    realtime_port: int = field(default_factory=lambda: int(os.environ.get("AUTOCALL_REALTIME_PORT") or 0))
    realtime_callback_port: int = field(
        default_factory=lambda: int(os.environ.get("AUTOCALL_REALTIME_CALLBACK_PORT") or 0)
    )
    stack_name: str = "autocall"
    # virtual time runs this many times faster than wall time (AUTOCALL_CLOCK_SPEED)
    clock_speed: float = field(default_factory=lambda: float(os.environ.get("AUTOCALL_CLOCK_SPEED") or 1.0))
    # when nothing is in flight, jump the clock to the next due schedule (AUTOCALL_SKIP_IDLE=1)
    skip_idle: bool = field(default_factory=lambda: os.environ.get("AUTOCALL_SKIP_IDLE", "") == "1")
    # template parameters set for this stack (e.g. {"CallsPerSecond": "20"}), as `sam deploy
    # --parameter-overrides` would
    parameters: dict[str, str] = field(default_factory=dict)
    # values given to a variable in every function that has it (see FunctionRegistry.env_overrides)
    # (on top of LOCAL_ENV_OVERRIDES)
    env_overrides: dict[str, str] = field(default_factory=dict)
    # execution environments per function: concurrent invocations of one function run in distinct
    # copies of its handler module, up to this many (AUTOCALL_LAMBDA_INSTANCES; see local/lambdas.py)
    instances: int = field(default_factory=lambda: int(os.environ.get("AUTOCALL_LAMBDA_INSTANCES") or 4))

    def start(self) -> LocalStack:
        from moto.server import ThreadedMotoServer

        from local.carrier import CarrierSimulator
        from local.gateway import Gateway
        from local.lambdas import FunctionRegistry, route_moto_lambda
        from local.pump import SchedulePump
        from local.resources import LOCAL_PARAMETERS, configure_moto, create_resources
        from local.websocket_gateway import WebSocketGateway

        configure_moto()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self.moto.start()
        self.moto_url = f"http://127.0.0.1:{self.moto_port}"
        self.secrets = local_secrets()
        apply_environment(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_METRICS_NAMESPACE": "Autocall",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
            }
        )
        self.template = LocalTemplate(stack_name=self.stack_name)
        self.template.overrides.update({**LOCAL_PARAMETERS, **self.parameters})
        overrides = create_resources(self.template, self.secrets)
        self.template.overrides.update(overrides)
        self.carrier = CarrierSimulator(
            self.secrets["twilio_auth_token"], host="127.0.0.1", port=self.carrier_port
        )
        self.carrier.start()
        # the process (tests, pump, carrier) shares what every function has; each function sees
        # only its own environment (FunctionRegistry.function_env), as on AWS
        self.env_overrides = {**LOCAL_ENV_OVERRIDES, **self.env_overrides}
        shared = self.template.globals_environment()
        shared.update({k: v for k, v in self.env_overrides.items() if k in shared})
        apply_environment({**shared, "TWILIO_API_BASE_URL": self.carrier.base_url})
        self.registry = FunctionRegistry(
            self.template, instances=self.instances, env_overrides=self.env_overrides
        )
        route_moto_lambda(self.registry)
        self.gateway = Gateway(self.template, self.registry, port=self.port)
        # Twilio reaches the API at its public execute-api address; here that name resolves to the
        # gateway on loopback (as a hosts-file entry would), so every signed URL is the public one
        self.carrier.resolve(self.template.api_domain, self.gateway.address)
        self.gateway.start()
        self.websockets: list[Any] = []
        for api in self.template.websocket_apis():
            websocket = WebSocketGateway(
                api, self.registry, port=self.realtime_port, management_port=self.realtime_callback_port
            ).start()
            self.websockets.append(websocket)
            # the functions behind it reply through the local @connections endpoint (on AWS: the
            # API's own https://{domain}/{stage}); clients open the public wss:// URL the template
            # gives (REALTIME_URL), whose name resolves to the local socket like the REST API's
            for function in set(api.routes.values()):
                self.registry.add_local_variables(function, {"REALTIME_CALLBACK_URL": websocket.callback_url})
            self.carrier.resolve(api.domain, websocket.address)
        self.pump = SchedulePump(self.registry.invoke, skip_idle=self.skip_idle, idle=self.idle)
        self.pump.start()
        from autocall.clock import CLOCK

        if self.clock_speed != 1.0:
            CLOCK.set_speed(self.clock_speed)
        return self

    @property
    def url(self) -> str:
        """The API's base URL, stage included (what `sam deploy` prints as ApiUrl)."""
        return self.gateway.url

    @property
    def realtime(self) -> Any:
        """The WebSocket API's local gateway (``local.websocket_gateway.WebSocketGateway``)."""
        return self.websockets[0]

    @property
    def public_url(self) -> str:
        """The same API as Twilio calls it: https, the execute-api host, the stage."""
        return f"https://{self.template.api_domain}/{self.template.stage}"

    def set_env(self, values: dict[str, str]) -> dict[str, str]:
        """Give ``values`` to every function that has those variables (from the next invocation);
        returns the previous overrides, for ``restore_env``."""
        previous = dict(self.registry.env_overrides)
        self.registry.env_overrides.update(values)
        self.registry.refresh_environments()
        return previous

    def restore_env(self, previous: dict[str, str]) -> None:
        self.registry.env_overrides = dict(previous)
        self.registry.refresh_environments()

    def idle(self) -> bool:
        """Nothing in flight: no invocation running or queued, no call on the carrier, no post-call
        workflow running. The pump only jumps the clock then."""
        return not self.registry.busy and self.carrier.wait_idle(0) and not _workflows_running()

    @property
    def api_token(self) -> str:
        return str(self.secrets["api_token"])

    def stop(self) -> None:
        self.pump.stop()
        self.gateway.stop()
        for websocket in self.websockets:
            websocket.stop()
        self.carrier.stop()
        self.registry.shutdown()
        self.moto.stop()

    def banner(self) -> str:
        return (
            f"autocall local stack is up\n"
            f"  API        {self.url}\n"
            f"  API token  {self.api_token}\n"
            f"  carrier    {self.carrier.base_url}  (Twilio-compatible simulator)\n"
            + "".join(
                f"  realtime   {ws.url}  (WebSocket API; @connections at {ws.callback_url})\n"
                for ws in self.websockets
            )
            + f"  moto       {self.moto_url}\n\n"
            f"Try:\n"
            f"  curl -s -X POST {self.url}/contacts -H 'Authorization: Bearer {self.api_token}' "
            f"-H 'Content-Type: application/json' "
            f'-d \'{{"name": "John Smith", "phone": "+14155550123", "consent": true}}\'\n'
        )


def _workflows_running() -> bool:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
    return any(
        getattr(execution.status, "value", execution.status) == "RUNNING"
        for machine in list(backend.state_machines)
        for execution in list(machine.executions)
    )


def main() -> None:
    stack = LocalStack().start()
    print(stack.banner(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stack.stop()
