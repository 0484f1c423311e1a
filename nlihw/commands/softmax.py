"""``nlihw softmax``: the softmax unit's group, defined with the norm's in ``rowop.py`` (the CLI
loads one ``command`` per module)."""
from .rowop import softmax_group as command

__all__ = ["command"]
