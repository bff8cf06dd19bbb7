"""The one exception type users of convcore need to know about, and how it quotes values."""


class ConvError(ValueError):
    """A convolution was asked for with arguments that break a rule.

    The message names the parameter (by its API name), states the rule and the value received,
    so that it can be shown to a user as is.
    """


def shown(value, limit: int = 200) -> str:
    """``repr(value)`` cut to ``limit`` characters: how a message quotes any received value."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the user's real mistake
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "…"
