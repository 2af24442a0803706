"""Errors that the CLI turns into one clear line (no traceback)."""


class Pet2RepError(Exception):
    """Base of every expected error: the message is one line naming the file/line/tag and the problem."""


class InputError(Pet2RepError, ValueError):
    """Bad input data (a file, a record, a DICOM tag)."""
