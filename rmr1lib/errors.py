"""Exceptions that speak to the user: each says what was wrong, where, and what to do."""


class RmR1Error(Exception):
    """Base class for every error rmr1lib raises on purpose."""


class ConfigError(RmR1Error, ValueError):
    """A profile key or value, or a function option, is not allowed."""


class DataError(RmR1Error, ValueError):
    """A data row, file or field does not match the expected schema."""


class RowError(DataError):
    """One row (line) of a file is malformed; the message names the file, the line and, where known, the key."""


class OfflineError(RmR1Error, RuntimeError):
    """Something would need the network (for example the Hugging Face hub) and we are offline."""
