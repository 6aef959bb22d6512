"""Phone numbers: parsing to E.164 and the callee's time zone and country from the number.

phonenumbers and its metadata are imported where first used: a conversation turn, whose contact
already has a time zone, never needs them."""

from __future__ import annotations

from autocall.errors import ValidationFailed


def to_e164(raw: str, field: str = "phone", default_region: str = "US") -> str:
    import phonenumbers

    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"{field} is not a phone number: {exc}", field) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationFailed(f"{field} is not a valid phone number", field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def time_zone_of(e164: str) -> str | None:
    """The IANA zone of a number when the number pins one down (a US area code does)."""
    import phonenumbers
    from phonenumbers import timezone as phone_timezone

    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in phone_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    return zones[0] if zones else None


def country_of(e164: str) -> str | None:
    import phonenumbers

    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
