"""The one exception type users of convcore need to know about."""


class ConvError(ValueError):
    """A convolution was asked for with arguments that break a rule.

    The message names the parameter (by its API name), states the rule and the value received,
    so that it can be shown to a user as is.
    """
