"""``nlihw norm``: the RMSNorm / LayerNorm unit's group, defined with the softmax's in
``rowop.py`` (the CLI loads one ``command`` per module)."""
from .rowop import norm_group as command

__all__ = ["command"]
