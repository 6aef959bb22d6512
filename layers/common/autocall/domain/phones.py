"""Phone numbers: parsing to E.164, which numbers may be dialed, and the zones and country a number
can be in.

A number is dialed only when it is an ordinary subscriber number in a country the deployment calls
(``ALLOWED_COUNTRIES``; empty means the caller id's own country): premium rate, shared cost, UAN,
personal, pager and voicemail-access numbers cost the business or reach nobody in particular; a
non-geographic number (+881/+870 satellite, +882/+883 international networks, +800, +808, +979) is
toll-fraud territory; emergency numbers and short codes are never ours to call; and the caller id
calling itself is a loop. The same check runs when a contact is written, when a call is triggered and
again at dial time (a setting may have changed, a contact may predate the rule).

phonenumbers and its metadata are imported where first used: a conversation turn, whose contact
already has its zones, never needs them."""

from __future__ import annotations

import re
from typing import Any

from autocall.config import get_settings
from autocall.errors import ValidationFailed

NON_GEOGRAPHIC = "001"  # phonenumbers' region of the +8xx/+9xx global services


class NumberNotDialable(ValidationFailed):
    """A valid number the business must not call; ``reason`` is the short token the dialer records."""

    code = "number_not_dialable"

    def __init__(self, reason: str, message: str, field: str = "phone") -> None:
        super().__init__(message, field)
        self.reason = reason

    def to_body(self) -> dict[str, str | None]:
        return {**super().to_body(), "reason": self.reason}


def _parse(raw: str, region: str | None) -> Any:
    import phonenumbers

    return phonenumbers.parse(raw, region)


def to_e164(raw: str, field: str = "phone", default_region: str = "US") -> str:
    import phonenumbers

    try:
        parsed = _parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"{field} is not a phone number: {exc}", field) from exc
    if not phonenumbers.is_valid_number(parsed):
        _refuse_short_number(raw, parsed, field, default_region)
        raise ValidationFailed(f"{field} is not a valid phone number", field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _refuse_short_number(raw: str, parsed: Any, field: str, region: str) -> None:
    """An emergency number or a short code is not a phone number to call: say which it is."""
    from phonenumbers import shortnumberinfo

    if shortnumberinfo.is_emergency_number(raw, region):
        raise NumberNotDialable("emergency_number", f"{field} is an emergency number: never dialed", field)
    if shortnumberinfo.is_valid_short_number(parsed):
        raise NumberNotDialable("short_code", f"{field} is a short code, not a subscriber number", field)


def time_zones_of(e164: str) -> tuple[str, ...]:
    """Every IANA zone the number can be in, as phonenumbers knows them (+1 212 → New York alone;
    +1 800 → every North American zone; a Russian or Australian mobile → several). Empty when the
    number says nothing about its zone. Never pick the first: the callee may be in any of them."""
    import phonenumbers
    from phonenumbers import timezone as phone_timezone

    try:
        parsed = _parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in phone_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")


def country_of(e164: str) -> str | None:
    import phonenumbers

    try:
        return phonenumbers.region_code_for_number(_parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def allowed_countries() -> frozenset[str]:
    """``ALLOWED_COUNTRIES`` (ISO 3166 codes, comma-separated), else the caller id's country."""
    settings = get_settings()
    listed = {code.upper() for code in re.split(r"[\s,;]+", settings.allowed_countries) if code}
    if listed:
        return frozenset(listed)
    home = country_of(settings.required("caller_id"))
    return frozenset({home} if home else ())


def _refused_types() -> dict[int, tuple[str, str]]:
    from phonenumbers import PhoneNumberType as Type

    return {
        Type.PREMIUM_RATE: ("premium_rate", "a premium-rate number"),
        Type.SHARED_COST: ("shared_cost", "a shared-cost number"),
        Type.UAN: ("uan", "a universal access number (UAN)"),
        Type.PERSONAL_NUMBER: ("personal_number", "a personal (follow-me) number"),
        Type.PAGER: ("pager", "a pager number"),
        Type.VOICEMAIL: ("voicemail_access", "a voicemail access number"),
    }


def check_dialable(e164: str, field: str = "phone", subject: str | None = None) -> str:
    """``e164`` when the business may dial it; else ``NumberNotDialable`` naming ``field`` and saying
    why (of ``subject``: "the contact's phone" when the field is not the number itself)."""
    import phonenumbers

    what = subject or field
    try:
        parsed = _parse(e164, None)
    except phonenumbers.NumberParseException as exc:
        raise NumberNotDialable("invalid_number", f"{what} is not a phone number: {exc}", field) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise NumberNotDialable("invalid_number", f"{what} is not a valid phone number", field)
    region = phonenumbers.region_code_for_number(parsed)
    if region == NON_GEOGRAPHIC:
        raise NumberNotDialable(
            "non_geographic",
            f"{what} is a satellite, international-network or global service number "
            f"(+{parsed.country_code}): never dialed",
            field,
        )
    refused = _refused_types().get(phonenumbers.number_type(parsed))
    if refused is not None:
        raise NumberNotDialable(refused[0], f"{what} is {refused[1]}: never dialed", field)
    caller_id = _parse(get_settings().required("caller_id"), None)
    if (parsed.country_code, parsed.national_number) == (caller_id.country_code, caller_id.national_number):
        raise NumberNotDialable("caller_id", f"{what} is the caller id calls come from", field)
    allowed = allowed_countries()
    if region not in allowed:
        listed = ", ".join(sorted(allowed)) or "none"
        raise NumberNotDialable(
            "country_not_allowed",
            f"{what} is in {region or 'an unknown country'}; this deployment calls {listed} "
            "(AllowedCountries)",
            field,
        )
    return e164
