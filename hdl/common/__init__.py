"""Building blocks shared by the designs: fixed-point rounding and saturation, engines with side bands."""
