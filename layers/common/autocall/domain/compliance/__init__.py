"""Per-jurisdiction calling rules as data (``rules.json``) and the pure engine that applies them."""

from autocall.domain.compliance.engine import (
    AllowedStretch,
    CampaignWindow,
    Check,
    Decision,
    PriorAttempt,
    Resolution,
    check,
    next_allowed_moments,
    resolve,
)
from autocall.domain.compliance.rules import RulesFile, load_rules

__all__ = [
    "AllowedStretch",
    "CampaignWindow",
    "Check",
    "Decision",
    "PriorAttempt",
    "Resolution",
    "RulesFile",
    "check",
    "load_rules",
    "next_allowed_moments",
    "resolve",
]
