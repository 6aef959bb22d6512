"""The one Logger, Tracer and Metrics, plus masking of personal data in logs."""

from __future__ import annotations

import logging
import re

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="autocall")
# X-Ray patches only what we call: botocore and pynamodb (AWS), http.client (Twilio's REST client and
# any other HTTP). The default (patch_all) imports every library it can trace at cold start:
# requests (~15 ms with charset_normalizer and idna), sqlite3, and probes for a dozen absent ones.
tracer = Tracer(service="autocall", patch_modules=("botocore", "pynamodb", "httplib"))
metrics = Metrics(namespace="Autocall", service="autocall")


# Twilio's client logs every request's URL and query at INFO ("Calls.json?To=+1415…"): kept at
# WARNING whatever level the function (or Lambda's ApplicationLogLevel) sets for the root logger.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")


def mask_phone(phone: str | None) -> str:
    """'+14155550123' → '+1******0123': enough to tell calls apart, not enough to dial."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 4:
        return "****"
    return digits[:2] + "*" * max(len(digits) - 6, 2) + digits[-4:]


def scrub(message: str) -> str:
    """Mask phone numbers and e-mail addresses inside free text (error messages, reasons)."""
    message = _PHONE.sub(lambda m: mask_phone(re.sub(r"[^\d+]", "", m.group(0))), message)
    return _EMAIL.sub(r"\1***@\2", message)


def count(name: str, value: float = 1, unit: str = "Count", **dimensions: str) -> None:
    """One EMF metric; with dimensions it is flushed on its own so they don't leak to others."""
    if not dimensions:
        metrics.add_metric(name=name, unit=unit, value=value)
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():  # single_metric prints even when metrics are turned off
        return
    with single_metric(name=name, unit=MetricUnit(unit), value=value, namespace=metrics.namespace) as metric:
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=dim)
