"""What goes wrong when locating: a clear message, never a crash."""


class LocateError(ValueError):
    """Something cannot be located (bad input, or a model that cannot do it); the message says why."""


class DenseNotSupported(LocateError):
    """The dual encoder has no patch tokens to read a heat map from (a CNN tower such as
    ALIGN's, or a tower clipdex cannot take apart)."""
