"""Seed the NANP area-code table, layers/common/autocall/domain/compliance/nanp_area_codes.json (a
one-off tool; the JSON is the source of truth and is edited by hand when NANPA opens an area code).

The seed reads phonenumbers' geocoder once, on a developer machine, to name the state or province of
each geographic area code, and its time-zone data for the zones of each region. The runtime never
reads the geocoder (the Lambda layer does not ship it); it reads the JSON this writes.

    .venv/bin/python scripts/build_nanp_area_codes.py \
        > layers/common/autocall/domain/compliance/nanp_area_codes.json
"""

from __future__ import annotations

import json
import sys

import phonenumbers
from phonenumbers import geocoder, tzdata

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Washington D.C.": "DC", "Florida": "FL",
    "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO",
    "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ",
    "New Mexico": "NM", "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH",
    "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI",
    "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT",
    "Vermont": "VT", "Virginia": "VA", "Washington State": "WA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip
CA_PROVINCES = {
    "Alberta": "AB", "British Columbia": "BC", "British Colombia": "BC", "Manitoba": "MB",
    "New Brunswick": "NB", "Newfoundland and Labrador": "NL", "Nova Scotia": "NS",
    "Ontario": "ON", "Prince Edward Island": "PE",
    "Quebec": "QC", "Saskatchewan": "SK", "Yukon": "YT", "Northwest Territories": "NT", "Nunavut": "NU",
}  # fmt: skip
SHARED = {  # one area code, several provinces: every one of them applies
    "Nova Scotia/Prince Edward Island": ["CA-NS", "CA-PE"],
    "Northwest Territories/Nunavut/Yukon": ["CA-NT", "CA-NU", "CA-YT"],
}
US_ABBREVIATIONS = set(US_STATES.values())
CA_ABBREVIATIONS = set(CA_PROVINCES.values())


def regions_of(npa: str) -> tuple[list[str], bool]:
    """(ISO 3166-2 codes, empty for a non-geographic code; the number is a valid US/CA number)."""
    number = phonenumbers.parse(f"+1{npa}2345678")
    country = phonenumbers.region_code_for_number(number)
    if country not in ("US", "CA") or not phonenumbers.is_valid_number(number):
        return [], False
    label = geocoder.description_for_valid_number(number, "en")
    if label in SHARED:
        return SHARED[label], True
    if label in US_STATES:
        return [f"US-{US_STATES[label]}"], True
    if label in CA_PROVINCES:
        return [f"CA-{CA_PROVINCES[label]}"], True
    if ", " in label:
        abbreviation = label.rsplit(", ", 1)[1]
        if country == "US" and abbreviation in US_ABBREVIATIONS:
            return [f"US-{abbreviation}"], True
        if country == "CA" and abbreviation in CA_ABBREVIATIONS:
            return [f"CA-{abbreviation}"], True
    return [], True


def zones_of(npa: str) -> set[str]:
    """Every zone phonenumbers knows for any exchange of the area code (a few exchanges of an
    Eastern area code sit in the Central zone, and so on)."""
    prefix = "1" + npa
    return {
        zone
        for key, names in tzdata.TIMEZONE_DATA.items()
        if key.startswith(prefix)
        for zone in names
        if zone != "Etc/Unknown"
    }


def main() -> None:
    area_codes: dict[str, list[str]] = {}
    non_geographic: list[str] = []
    zones: dict[str, set[str]] = {}
    for code in range(200, 1000):
        npa = str(code)
        regions, valid = regions_of(npa)
        if not valid:
            continue
        if not regions:
            non_geographic.append(npa)
            continue
        area_codes[npa] = regions
        for region in regions:
            zones.setdefault(region, set()).update(zones_of(npa))
    document = {
        "version": "2026-12-03.1",
        "read_on": "2026-12-03",
        "source": "NANPA area code assignments as carried by the phonenumbers 9.0.43 metadata "
        "(seeded by scripts/build_nanp_area_codes.py, then reviewed by hand)",
        "area_codes": dict(sorted(area_codes.items())),
        "non_geographic": sorted(non_geographic),
        "region_zones": {region: sorted(names) for region, names in sorted(zones.items())},
    }
    sys.stdout.write(compact_json(document))


def compact_json(document: dict[str, object]) -> str:
    """One area code (or region) a line: a reviewer reads the diff of a new overlay at a glance."""
    lines = ["{"]
    items = list(document.items())
    for i, (key, value) in enumerate(items):
        tail = "," if i < len(items) - 1 else ""
        if isinstance(value, dict):
            lines.append(f"  {json.dumps(key)}: {{")
            entries = list(value.items())
            for j, (inner, inner_value) in enumerate(entries):
                comma = "," if j < len(entries) - 1 else ""
                lines.append(f"    {json.dumps(inner)}: {json.dumps(inner_value)}{comma}")
            lines.append("  }" + tail)
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{tail}")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
