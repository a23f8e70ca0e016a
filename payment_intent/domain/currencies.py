"""ISO 4217: the active currency codes, their minor units and the CasaPay minimum amounts."""

from __future__ import annotations

from decimal import Decimal

_ZERO_DECIMAL = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMAL = "BHD IQD JOD KWD LYD OMR TND"
_FOUR_DECIMAL = "CLF UYW"
_TWO_DECIMAL = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
    "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK "
    "LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK "
    "NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD "
    "SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG "
    "YER ZAR ZMW ZWG ZWL"
)

#: Minor-unit exponent of every active ISO 4217 currency, keyed by the lower-case code.
MINOR_UNITS: dict[str, int] = {
    **{code.lower(): 2 for code in _TWO_DECIMAL.split()},
    **{code.lower(): 0 for code in _ZERO_DECIMAL.split()},
    **{code.lower(): 3 for code in _THREE_DECIMAL.split()},
    **{code.lower(): 4 for code in _FOUR_DECIMAL.split()},
}

#: Stripe's published minimum charge amounts, in minor units, where a currency has its own.
#: Other currencies use 0.50 of their major unit (see docs/decisions.md).
_MINIMUMS: dict[str, int] = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500,
    "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000,
    "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip

MAXIMUM_AMOUNT = 99_999_999


def is_currency(code: str) -> bool:
    """Whether ``code`` (any case) is an active ISO 4217 currency."""
    return code.lower() in MINOR_UNITS


def minimum_amount(code: str) -> int:
    """The smallest chargeable amount in ``code``'s minor unit (the equivalent of 0.50)."""
    code = code.lower()
    if code in _MINIMUMS:
        return int(_MINIMUMS[code])
    exponent: int = MINOR_UNITS[code]
    return max(1, int((5 * 10**exponent + 9) // 10))  # 0.50 of the major unit, rounded up


def in_major_units(amount: int, code: str) -> str:
    """``amount`` (in ``code``'s minor unit) as a person reads it: ``4999, "eur"`` is
    ``"49.99 EUR"``, ``5000, "jpy"`` is ``"5000 JPY"`` (yen have no minor unit)."""
    exponent = MINOR_UNITS[code.lower()]
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f} {code.upper()}"
