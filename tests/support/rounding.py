"""Rounding a rational to an integer, written from the definitions of the rounding modes."""
import math
from fractions import Fraction


def ref_round(fr: Fraction, mode: str) -> int:
    """Round a rational to an integer, written from the definitions."""
    fl = math.floor(fr)
    rem = fr - fl
    if mode == "floor":
        return fl
    if mode == "toward-zero":
        return math.trunc(fr)
    if mode == "nearest-away":
        if rem != Fraction(1, 2):
            return fl + (rem > Fraction(1, 2))
        return fl + 1 if fr > 0 else fl
    if rem != Fraction(1, 2):
        return fl + (rem > Fraction(1, 2))
    return fl if fl % 2 == 0 else fl + 1
