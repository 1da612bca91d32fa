"""The one exception hierarchy of nncaption.

A candidate's failure is data (a status and a message in the store), never an
exception. These exceptions are for infrastructure and user input: a missing
data set, an unwritable run directory, an invalid config value.
"""


class NncaptionError(Exception):
    """Base class; the CLI prints the message of any subclass without a traceback."""


class UsageError(NncaptionError):
    """Invalid command-line or config input."""


class ConfigError(UsageError):
    """An unknown or invalid config key or value."""


class DataError(NncaptionError):
    """A data set that is missing, malformed or unusable."""


class StoreError(NncaptionError):
    """The run store cannot be opened, read or written."""


class SandboxError(NncaptionError):
    """The sandbox itself failed (not the candidate inside it)."""
