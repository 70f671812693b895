"""Every error kvar raises on purpose.

::

    KvarError                      base class: catch this to catch them all
    ├── InputError                 the user's data or arguments are not what kvar expects
    │   ├── FileFormatError        a file cannot be read at all (missing, unknown format, no header)
    │   ├── MappingError           a required column is missing after applying ``--map``
    │   ├── ValidationError        rows broke table rules and nothing was loaded (e.g. mixed currencies)
    │   ├── ParameterError         an argument is out of range (unknown period, bad window string)
    │   └── ModelFitError          a model cannot be fitted on these data (says why, and what to use instead)
    │       └── ConvergenceError   the optimiser found no maximum of the likelihood
    ├── NotFittedError             a model was asked to predict before ``fit`` (also an ``AttributeError``,
    │                              as scikit-learn's is)
    └── WorkspaceError             the embedded workspace is missing or not a kvar workspace

Messages say *what, where, expected, got, hint*, so that the CLI can print them as one line.
"""

from __future__ import annotations


class KvarError(Exception):
    """Base class of all errors raised by kvar."""


class InputError(KvarError):
    """The user's data or arguments are not what kvar expects."""


class FileFormatError(InputError):
    """A file cannot be read: missing, empty, unknown format or unreadable header."""


class MappingError(InputError):
    """A required canonical column is missing after mapping the user's column names."""


class ValidationError(InputError):
    """Rows broke a table rule that makes the whole load meaningless (nothing was loaded)."""


class ParameterError(InputError):
    """An argument is outside its allowed values."""


class ModelFitError(InputError):
    """A model cannot be fitted on these data: its assumptions do not hold, or there is too little to learn."""


class ConvergenceError(ModelFitError):
    """The optimiser did not reach a maximum of the likelihood."""


class NotFittedError(KvarError, AttributeError):
    """A model was asked for predictions, parameters or a summary before it was fitted."""


class WorkspaceError(KvarError):
    """The workspace file is missing, or is not a kvar workspace."""
