"""Errors a user sees. Each message says what is wrong and what to do."""


class StorynbError(Exception):
    """Base class for errors meant for the user (the CLI prints them as one line)."""


class NotFound(StorynbError):
    pass


class InvalidInput(StorynbError, ValueError):
    pass


class PromptError(StorynbError):
    pass


class StageFailed(StorynbError):
    pass
