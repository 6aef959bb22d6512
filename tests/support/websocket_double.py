"""The local WebSocket API with the realtime function swapped for a test double
(``tests.support.fakes.relay_double``): the template's WebSocket API, routes and stage as they are,
the function behind them the double. No moto: the double touches nothing but its connections."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from local.lambdas import FunctionRegistry
from local.template import LocalTemplate, load_template
from local.websocket_gateway import WebSocketGateway
from tests.support.fakes.relay_double import DOUBLE, RelayDouble

REALTIME_FUNCTION = "RealtimeFunction"


def double_template() -> LocalTemplate:
    """template.yaml with the realtime function's code swapped for the double's."""
    template = copy.deepcopy(load_template())
    props = template["Resources"][REALTIME_FUNCTION]["Properties"]
    props["CodeUri"] = "tests/support/fakes/"
    props["Handler"] = "relay_double.lambda_handler"
    return LocalTemplate(template=template)


@dataclass
class RealtimeDouble:
    gateway: WebSocketGateway
    registry: FunctionRegistry
    double: RelayDouble


@contextmanager
def realtime_double(instances: int = 8, **settings: float) -> Iterator[RealtimeDouble]:
    """The WebSocket gateway in front of the double, started; the double reset with ``settings``."""
    DOUBLE.reset(**settings)
    template = double_template()
    (api,) = template.websocket_apis()
    registry = FunctionRegistry(template, instances=instances)
    gateway = WebSocketGateway(api, registry).start()
    registry.add_local_variables(REALTIME_FUNCTION, {"REALTIME_CALLBACK_URL": gateway.callback_url})
    try:
        yield RealtimeDouble(gateway, registry, DOUBLE)
    finally:
        gateway.stop()
        registry.shutdown()
