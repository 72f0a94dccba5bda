"""Words for values and labels fitted to a width: the pictures drawn as inline SVG (the public
officer timeline and chart, the background check report's timeline) share them."""


def human(value: object) -> str:
    """``resigned_under_investigation`` -> ``resigned under investigation``; ``None`` -> ``""``."""
    if value is None:
        return ""
    return str(getattr(value, "value", value)).replace("_", " ")


def fit(text: str, width: float, char_width: float) -> str:
    """``text`` cut (with an ellipsis) to what fits in ``width`` at ``char_width`` per
    character; nothing when not even one character and the ellipsis fit."""
    room = int(width // char_width)
    if len(text) <= room:
        return text
    return text[:max(room - 1, 0)].rstrip() + "…" if room >= 2 else ""
