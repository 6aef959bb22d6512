"""Shared fixtures. Unit tests need nothing; integration tests get moto in-process with the
template's resources; e2e tests (run in their own pytest process) get the whole local stack."""

from __future__ import annotations

import os

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Autocall")
os.environ.pop("OPENAI_API_KEY", None)
