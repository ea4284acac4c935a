"""What can go wrong with a collection as a whole."""


class ModelMismatch(RuntimeError):
    """A collection used with a model other than the one it was built with."""


class CollectionError(RuntimeError):
    pass


class CollectionBusy(CollectionError):
    """Another process (or job) is writing this collection."""
