"""Errors a user sees. Each message says what is wrong and what to do.

Every error storynb raises on purpose is a StorynbError (catch that one to catch them all):
NotFound, InvalidInput (also a ValueError), PromptError, StageFailed, and the provider errors
of storynb.providers.base (ProviderError and its classes: RateLimited, AuthError …)."""


class StorynbError(Exception):
    """Base class for errors meant for the user (the CLI prints them as one line)."""


class NotFound(StorynbError):
    """A project, shot, provider, prompt set … that does not exist (the message says what does)."""


class InvalidInput(StorynbError, ValueError):
    """A value a user gave that cannot be used (the message says what to give instead)."""


class PromptError(StorynbError):
    """A prompt template that does not render (an undefined variable, a syntax error …)."""


class StageFailed(StorynbError):
    """A stage that could not finish."""
