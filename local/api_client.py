"""The autocall REST API over HTTP, as a user's script calls it: the base URL with its stage (the
local stack's ``url``, or the ``ApiUrl`` that ``sam deploy`` prints), the bearer token, JSON bodies,
an ``Idempotency-Key`` where a trigger takes one. The demo, the benches and the e2e tests all call
the API through this one client.

    api = ApiClient(stack.url, stack.api_token)
    contact = api.expect(201, "POST", "/contacts", json={"name": "Dana", "phone": "+14155550123"})
    response = api.get("/nowhere")  # the exchange as it happened: response.status_code == 404

``request`` and its verbs (``get``, ``post``, ``delete``) return the ``requests.Response`` whatever
its status (tests assert statuses and bodies); ``expect`` returns the decoded JSON body when the
status is the one expected and raises ``ApiError`` (status and body) otherwise."""

from __future__ import annotations

import json
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class ApiError(Exception):
    """The API answered a status other than the one expected."""

    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {text[:400]}")
        self.method, self.path, self.status, self.text = method, path, status, text

    @property
    def body(self) -> Any:
        """The error body as the API sent it (``{"error": ..., "message": ...}``), or its text."""
        try:
            return json.loads(self.text)
        except ValueError:
            return self.text


class ApiClient:
    """One session to one API. ``token`` None sends no ``Authorization`` header (what the API's
    authorizer refuses); ``pool_size`` is the connections kept for threads sharing the client."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 30.0, pool_size: int = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, HTTPAdapter(pool_maxsize=pool_size))

    def request(
        self, method: str, path: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """``method`` on ``path`` (after the stage: ``/contacts``); ``kwargs`` as ``requests``
        takes them (``json``, ``data``, ``headers``, ``timeout``)."""
        if idempotency_key is not None:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Idempotency-Key": idempotency_key}
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def expect(self, status: int, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of ``method`` on ``path`` when it answers ``status``; ``ApiError`` otherwise."""
        response = self.request(method, path, **kwargs)
        if response.status_code != status:
            raise ApiError(method, path, response.status_code, response.text)
        return response.json()
