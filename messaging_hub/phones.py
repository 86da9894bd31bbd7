"""Phone numbers to E.164, with the country a national number is dialled in.

A number that starts with ``+`` or ``00`` is international and read as it
is. Any other number is national: without a region it is refused, never
guessed (``858-555-1234`` is not ``+85 855 51234``). Parsing is libphonenumber
(the ``phonenumbers`` package); a number passes when it has a possible
length for its country. Validity (is the range allocated?) is not asked:
it refuses the fictional ranges used in documentation and tests
(``+44 7700 900123``, ``+1 555 ...``) and newly allocated ranges until the
package is updated, while the mistakes this guards against (a missing or
wrong country code, a digit too many) already fail on length.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from .errors import ConfigError, InvalidRequest

__all__ = ["check_region", "is_e164", "options_phone", "options_region", "to_e164"]

# ASCII digits only: \d and str.isdigit() also accept Arabic-Indic, fullwidth
# and other digits that no provider dials.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_DIGITS = re.compile(r"[0-9]+")
PUNCTUATION = re.compile(r"[\s().-]")
"""What people write between digits; removed before parsing."""
MAX_NATIONAL_DIGITS = 17
"""A national number with a trunk or exit code (``011 44 7624 800500``) stays under this."""

_WHY = {
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "has no area code",
    ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    ValidationResult.TOO_SHORT: "is too short",
    ValidationResult.INVALID_LENGTH: "has a length no number of its country has",
    ValidationResult.TOO_LONG: "is too long",
}


def is_e164(text: str) -> bool:
    """Whether ``text`` is ``+`` and 7-15 ASCII digits (shape only, no lookup)."""
    return _E164.fullmatch(text) is not None


def check_region(region: object, *, field: str = "region") -> str:
    """``region`` as an upper-case ISO 3166 code libphonenumber knows, or InvalidRequest."""
    if isinstance(region, str):
        code = region.strip().upper()
        if code in phonenumbers.SUPPORTED_REGIONS:
            return code
    raise InvalidRequest(
        f"{region!r} is not a country code such as 'US' or 'GB' (ISO 3166 alpha-2)",
        field=field,
    )


def to_e164(number: str, region: str | None = None, *, field: str = "to") -> str:
    """``number`` in E.164; a national number is read as dialled in ``region``.

    Raises InvalidRequest (``field`` names the input) for anything that is
    not ASCII digits with ``+``/``00`` or common punctuation, for a national
    number without a region, and for a number of impossible length.
    """
    compact = PUNCTUATION.sub("", number.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]  # the international prefix of most countries
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not _DIGITS.fullmatch(digits):
        raise InvalidRequest(
            f"{number!r} is not a phone number (digits, with + or 00 and the country code)",
            field=field,
        )
    if international:
        if not _E164.fullmatch(compact):  # cheap refusal before any lookup
            raise InvalidRequest(
                f"{number!r} is not a phone number in E.164 form (+ and 7-15 digits)", field=field
            )
        parsed = _parse(number, compact, None, field)
    else:
        if region is None:
            raise InvalidRequest(
                f"{number!r} has no country code: write it in E.164 (+ and the country "
                "code, e.g. +18585551234) or set default_region to the country it is "
                "dialled in",
                field=field,
            )
        if len(digits) > MAX_NATIONAL_DIGITS:
            raise InvalidRequest(f"{number!r} is too long for a phone number", field=field)
        region = check_region(region)
        parsed = _parse(number, digits, region, field)
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    # is_possible_number() also passes IS_POSSIBLE_LOCAL_ONLY (a number
    # without its area code), which has no E.164 form: refuse it too.
    if reason != ValidationResult.IS_POSSIBLE:
        where = f" for +{parsed.country_code}" if international else f" in {region}"
        why = _WHY.get(reason, "is not a possible number")
        raise InvalidRequest(f"{number!r}{where} {why}", field=field)
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    if not _E164.fullmatch(e164):  # E.164 caps numbers at 15 digits
        raise InvalidRequest(f"{number!r} is too long for E.164", field=field)
    return e164


def _parse(number: str, text: str, region: str | None, field: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        raise InvalidRequest(f"{number!r} is not a phone number", field=field) from None


def options_phone(number: str | None, region: str | None, *, key: str, provider: str) -> str | None:
    """An option's phone number in E.164, or ConfigError naming ``key``."""
    if number is None:
        return None
    if not isinstance(number, str):
        raise ConfigError(f"{key} must be a phone number", key=key, provider=provider)
    try:
        return to_e164(number, region, field=key)
    except InvalidRequest as exc:
        raise ConfigError(exc.message, key=key, provider=provider) from None


def options_region(region: str | None, *, provider: str) -> str | None:
    """The ``default_region`` option checked and upper-cased, or ConfigError."""
    if region is None:
        return None
    try:
        return check_region(region, field="default_region")
    except InvalidRequest as exc:
        raise ConfigError(
            f"default_region: {exc.message}", key="default_region", provider=provider
        ) from None
