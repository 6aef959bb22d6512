"""Reads template.yaml the way CloudFormation would for the local stack: resources, the functions'
handlers and environment, the API's routes, with intrinsic functions resolved to local values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@lru_cache(maxsize=1)
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    template, errors = decode_str(path.read_text())
    if errors or template is None:
        raise ValueError(f"cannot read {path}: {errors}")
    return _plain(template)


def _plain(value: Any) -> Any:
    """cfn-lint's node types → plain dicts, lists and strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. /calls/{call_id}
    function: str  # logical id
    authorized: bool

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method.upper():
            return None
        pattern = "^" + re.sub(r"\\{([^}]+)\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class WebSocketApi:
    """An API Gateway WebSocket API of the template: its stage, its route selection and the
    function behind each route key (``$connect``, ``$default``, ``$disconnect``, custom keys)."""

    logical_id: str
    api_id: str
    stage: str
    route_selection: str  # e.g. "$request.body.type"
    routes: dict[str, str]  # route key → function logical id

    @property
    def domain(self) -> str:
        """The API's execute-api host name, as AWS names it."""
        return f"{self.api_id}.execute-api.{REGION}.amazonaws.com"

    @property
    def url(self) -> str:
        """The public URL clients open: ``wss://{domain}/{stage}``."""
        return f"wss://{self.domain}/{self.stage}"


@dataclass
class LocalTemplate:
    """The template bound to a local stack name, with the values the local resources really have."""

    stack_name: str = "autocall"
    overrides: dict[str, str] = field(default_factory=dict)  # logical id or param → value
    template: dict[str, Any] = field(default_factory=load_template)

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.template["Resources"])

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {lid: res for lid, res in self.resources.items() if res["Type"] == kind}

    # --- intrinsic functions ------------------------------------------------------------------
    def pseudo(self, name: str) -> str:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }[name]

    def ref(self, name: str) -> str:
        if name in self.overrides:
            return self.overrides[name]
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name.endswith(".Alias"):  # SAM's AutoPublishAlias reference: the alias ARN
            return self.get_att(name.removesuffix(".Alias"), "Alias")
        params = self.template.get("Parameters", {})
        if name in params:
            return str(params[name].get("Default", ""))
        resource = self.resources[name]
        props = self.resolve(resource.get("Properties", {}))
        kind = resource["Type"]
        if kind == "AWS::DynamoDB::Table":
            return str(props["TableName"])
        if kind == "AWS::Scheduler::ScheduleGroup":
            return str(props["Name"])
        if kind == "AWS::Serverless::Function":
            return self.function_name(name)
        if kind == "AWS::Serverless::Api":
            return "local"
        if kind == "AWS::ApiGatewayV2::Api":  # an API id is a lowercase host label
            return name.lower()
        return f"{self.stack_name}-{name}"

    def get_att(self, name: str, attribute: str) -> str:
        key = f"{name}.{attribute}"
        if key in self.overrides:
            return self.overrides[key]
        kind = self.resources[name]["Type"]
        if kind == "AWS::Serverless::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name(name)}"
        if kind == "AWS::Serverless::Function" and attribute == "Alias":
            alias = self.resources[name]["Properties"].get("AutoPublishAlias", "live")
            return f"{self.get_att(name, 'Arn')}:{alias}"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT_ID}:role/{self.stack_name}-{name}"
        if kind == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{self.stack_name}-{name}"
        if kind == "AWS::SNS::Topic" and attribute == "TopicArn":
            return self.ref(name)
        if kind == "AWS::Serverless::StateMachine" and attribute == "Arn":
            return self.ref(name)
        return f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{self.stack_name}-{name}/{attribute}"

    def function_name(self, logical_id: str) -> str:
        props = self.resources[logical_id].get("Properties", {})
        if "FunctionName" in props:
            return str(self.resolve(props["FunctionName"]))
        return f"{self.stack_name}-{logical_id}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(parts[0], parts[1])
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub_var(m.group(1), variables), text)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in arg[1])
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        return {k: self.resolve(v) for k, v in value.items()}

    def condition(self, name: str) -> bool:
        """A named condition of the template, evaluated with the stack's parameter values."""
        return self._truth(self.template.get("Conditions", {})[name])

    def _truth(self, expression: Any) -> bool:
        ((key, arg),) = expression.items()
        if key == "Fn::Equals":
            return bool(str(self.resolve(arg[0])) == str(self.resolve(arg[1])))
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(a) for a in arg)
        if key == "Fn::Or":
            return any(self._truth(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        raise ValueError(f"unsupported condition {key}")

    def _sub_var(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            logical, attribute = name.split(".", 1)
            return self.get_att(logical, attribute)
        return self.ref(name)

    # --- what the local stack needs -----------------------------------------------------------
    def globals_environment(self) -> dict[str, str]:
        """The variables every function gets (Globals), resolved."""
        globals_env = self.template.get("Globals", {}).get("Function", {}).get("Environment", {})
        return {k: str(v) for k, v in self.resolve(globals_env.get("Variables", {})).items()}

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """What the template gives one function: Globals' variables plus its own, resolved."""
        env = self.globals_environment()
        props = self.resources[logical_id].get("Properties", {})
        variables = props.get("Environment", {}).get("Variables", {})
        env.update({k: str(v) for k, v in self.resolve(variables).items()})
        return env

    def memory_size(self, logical_id: str) -> int:
        props = self.resources[logical_id].get("Properties", {})
        globals_fn = self.template.get("Globals", {}).get("Function", {})
        return int(self.resolve(props.get("MemorySize", globals_fn.get("MemorySize", 128))))

    @property
    def stage(self) -> str:
        """The API's stage name, as the template gives it (every route is served under it)."""
        for res in self.of_type("AWS::Serverless::Api").values():
            return str(self.resolve(res["Properties"]["StageName"]))
        return "Prod"

    @property
    def api_domain(self) -> str:
        """The API's execute-api host name, as AWS names it."""
        return f"{self.ref('Api')}.execute-api.{REGION}.amazonaws.com"

    def functions(self) -> dict[str, tuple[Path, str]]:
        """logical id → (code folder, handler 'module.function')."""
        out = {}
        for lid, res in self.of_type("AWS::Serverless::Function").items():
            props = res["Properties"]
            out[lid] = (ROOT / str(props["CodeUri"]), str(props["Handler"]))
        return out

    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for lid, res in self.of_type("AWS::Serverless::Function").items():
            for event in res["Properties"].get("Events", {}).values():
                if event["Type"] != "Api":
                    continue
                props = event["Properties"]
                auth = props.get("Auth", {}).get("Authorizer")
                routes.append(Route(str(props["Method"]).upper(), str(props["Path"]), lid, auth != "NONE"))
        return routes

    def websocket_apis(self) -> list[WebSocketApi]:
        """Every ``AWS::ApiGatewayV2::Api`` with ProtocolType WEBSOCKET, with the function behind
        each of its routes (Route → Integration → the function its IntegrationUri names) and its
        stage's name."""
        apis: list[WebSocketApi] = []
        integrations = self.of_type("AWS::ApiGatewayV2::Integration")
        for lid, res in self.of_type("AWS::ApiGatewayV2::Api").items():
            props = res.get("Properties", {})
            if str(props.get("ProtocolType", "")).upper() != "WEBSOCKET":
                continue
            routes: dict[str, str] = {}
            for route in self.of_type("AWS::ApiGatewayV2::Route").values():
                route_props = route["Properties"]
                if _referenced(route_props.get("ApiId")) != lid:
                    continue
                integration = _referenced(route_props.get("Target"))
                if integration not in integrations:
                    raise ValueError(f"route {route_props.get('RouteKey')} of {lid} has no integration")
                function = _referenced(integrations[integration]["Properties"].get("IntegrationUri"))
                if function not in self.functions():
                    raise ValueError(f"integration {integration} does not invoke a function of the template")
                routes[str(route_props["RouteKey"])] = function
            stages = [
                str(self.resolve(stage["Properties"]["StageName"]))
                for stage in self.of_type("AWS::ApiGatewayV2::Stage").values()
                if _referenced(stage["Properties"].get("ApiId")) == lid
            ]
            if not stages:
                raise ValueError(f"the WebSocket API {lid} has no stage")
            apis.append(
                WebSocketApi(
                    lid, self.ref(lid), stages[0], str(props.get("RouteSelectionExpression", "")), routes
                )
            )
        return apis

    def authorizer_function(self) -> str | None:
        for res in self.of_type("AWS::Serverless::Api").values():
            auth = res["Properties"].get("Auth", {})
            default = auth.get("DefaultAuthorizer")
            if default:
                arn = auth["Authorizers"][default]["FunctionArn"]
                return str(
                    arn["Fn::GetAtt"].split(".")[0]
                    if isinstance(arn["Fn::GetAtt"], str)
                    else arn["Fn::GetAtt"][0]
                )
        return None

    def event_rules(self) -> list[tuple[str, dict[str, Any]]]:
        """(function logical id, event pattern) of every EventBridgeRule event."""
        rules = []
        for lid, res in self.of_type("AWS::Serverless::Function").items():
            for event in res["Properties"].get("Events", {}).values():
                if event["Type"] == "EventBridgeRule":
                    rules.append((lid, self.resolve(event["Properties"]["Pattern"])))
        return rules


def _referenced(value: Any) -> str | None:
    """The logical id a reference names: ``!Ref X``, ``!GetAtt X.Attr``, or the one resource a
    ``!Sub`` string interpolates (``integrations/${X}``, ``.../functions/${X.Alias}/invocations``)."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((key, arg),) = value.items()
    if key == "Ref":
        return str(arg).split(".")[0]
    if key == "Fn::GetAtt":
        return str(arg.split(".")[0] if isinstance(arg, str) else arg[0])
    if key == "Fn::Sub":
        text = arg if isinstance(arg, str) else arg[0]
        found = re.findall(r"\$\{([^}!]+)\}", str(text))
        names = [n.split(".")[0] for n in found if not n.startswith("AWS::")]
        return names[0] if len(names) == 1 else None
    return None
