"""Errors that mean "the user asked for something wrong", shown as one line by the CLI."""


class UserError(Exception):
    """A mistake in the user's input (missing file, bad config key, ...).

    The CLI prints ``error: <message>`` and exits non-zero without a traceback.
    """


class AudioError(Exception):
    """One audio file cannot be used; the message is the reason written to ``failures.csv``."""
