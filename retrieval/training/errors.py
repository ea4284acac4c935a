"""What goes wrong in training: bad data or a model that cannot be trained."""


class TrainingError(ValueError):
    pass
