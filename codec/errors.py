"""Exceptions raised by the engine. Each carries one human sentence, fit for a status line."""


class CodecError(Exception):
    """Base class of every error the engine raises on purpose."""


class UnsupportedBandwidthError(CodecError, ValueError):
    """A bandwidth the chosen model does not offer."""


class UnknownModelError(CodecError, ValueError):
    """A model name the engine does not know."""


class CheckpointError(CodecError):
    """A checkpoint that is missing, malformed or does not fit the model."""


class EcdcFormatError(CodecError):
    """A `.ecdc` file that cannot be decoded."""


class AudioFormatError(CodecError):
    """An audio file that cannot be read or written."""


class WeightsError(CodecError):
    """Model weights that are not installed, cannot be downloaded or fail verification."""


class Cancelled(CodecError):
    """The job was cancelled through its `CancelToken`."""
