"""An API Gateway (REST, proxy integration) in front of the in-process handlers.

Routes, the authorizer and the auth-free routes come from template.yaml; the API answers only under
its stage (``/{Stage}/...`` as the template names it), as an execute-api endpoint does. Each request
becomes the proxy event API Gateway would send: ``path`` without the stage, ``requestContext.path``
with it, ``domainName`` the host the client asked for, path and query parameters, headers, base64
bodies and the authorizer's principal."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.lambdas import FunctionRegistry
from local.template import ACCOUNT_ID, REGION, LocalTemplate, Route

_log = logging.getLogger("autocall.local.gateway")
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


def _error(
    status: int, code: str, message: str, field: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": code, "message": message, "field": field}).encode()
    return status, {"Content-Type": "application/json"}, body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 resets connections under a burst of requests


class Gateway:
    def __init__(
        self, template: LocalTemplate, registry: FunctionRegistry, host: str = "127.0.0.1", port: int = 0
    ):
        self.template = template
        self.registry = registry
        self.stage = template.stage
        self.api_id = template.ref("Api")
        self.routes: list[Route] = template.routes()
        self.authorizer = template.authorizer_function()
        self._auth_cache: dict[str, tuple[float, str]] = {}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    status, headers, body = _error(413, "payload_too_large", "the body exceeds 10 MB", "body")
                else:
                    raw = self.rfile.read(length) if length else b""
                    status, headers, body = gateway.handle(
                        self.command,
                        self.path,
                        {k: v for k, v in self.headers.items()},
                        raw,
                        self.client_address[0],
                    )
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.server = _Server((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        """The API's base URL on loopback, stage included."""
        return f"http://{self.address}/{self.stage}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- one request -------------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str = "127.0.0.1"
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        prefix = f"/{self.stage}"
        if not parts.path.startswith(prefix + "/"):
            # what an execute-api endpoint answers outside its stages
            body = json.dumps({"message": "Missing Authentication Token"}).encode()
            return (
                403,
                {
                    "Content-Type": "application/json",
                    "x-amzn-ErrorType": "MissingAuthenticationTokenException",
                },
                body,
            )
        path = parts.path[len(prefix) :]
        route, params = self._match(method, path)
        if route is None:
            if any(r.matches(r.method, path) is not None for r in self.routes):
                return _error(405, "method_not_allowed", f"{method} is not allowed on {path}")
            return _error(404, "not_found", f"no route for {method} {path}")
        principal = None
        if route.authorized and self.authorizer:
            verdict = self._authorize(headers, method, path)
            if verdict is not None:
                return verdict
            principal = "api-client"
        event = self.proxy_event(
            route, method, path, parts.query, headers, body, params, principal, source_ip
        )
        try:
            result = self.registry.invoke(route.function, event)
        except Exception:
            _log.exception("function %s failed on %s %s", route.function, method, path)
            return _error(502, "internal_error", "the function failed")
        return self._to_http(result)

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            params = route.matches(method, path)
            if params is not None:
                return route, params
        return None, {}

    def _authorize(
        self, headers: dict[str, str], method: str, path: str
    ) -> tuple[int, dict[str, str], bytes] | None:
        token = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not token:
            return _error(401, "unauthorized", "a valid bearer token is required", "Authorization")
        cached = self._auth_cache.get(token)
        if cached and cached[0] > time.monotonic():
            effect = cached[1]
        else:
            assert self.authorizer is not None
            method_arn = (
                f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self.api_id}/{self.stage}/{method}{path}"
            )
            try:
                policy = self.registry.invoke(
                    self.authorizer, {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
                )
                effect = policy["policyDocument"]["Statement"][0]["Effect"]
            except Exception:
                return _error(401, "unauthorized", "a valid bearer token is required", "Authorization")
            self._auth_cache[token] = (time.monotonic() + 300, effect)
        if effect != "Allow":
            return _error(403, "forbidden", "the bearer token is not valid", "Authorization")
        return None

    def proxy_event(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        params: dict[str, str],
        principal: str | None,
        source_ip: str,
    ) -> dict[str, Any]:
        multi_query = parse_qs(query, keep_blank_values=True)
        host = next((v for k, v in headers.items() if k.lower() == "host"), "127.0.0.1")
        try:
            text: str | None = body.decode("utf-8") if body else None
            is_b64 = False
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(body).decode(), True
        # API Gateway's edge terminates TLS: the function always sees https on port 443
        headers = {**headers, "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"}
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "domainName": host.split(":")[0] if host.endswith(":443") else host,
                "domainPrefix": host.split(".")[0],
                "requestId": str(uuid.uuid4()),
                "accountId": ACCOUNT_ID,
                "apiId": self.api_id,
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
                "authorizer": {"principalId": principal} if principal else None,
            },
            "body": text,
            "isBase64Encoded": is_b64,
        }

    @staticmethod
    def _to_http(result: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        status = int(result.get("statusCode", 200))
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key] = ", ".join(str(v) for v in values)
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return status, headers, body
