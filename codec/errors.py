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


class WeightsMissing(WeightsError):
    """Weights are not installed and the caller did not allow a download (`codec.model_pool.ModelPool`).

    `name` is the `codec.weights` registry entry to download or import, e.g. "encodec_lm_24khz".
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class UnsupportedOptionError(CodecError, ValueError):
    """A job option the chosen model cannot honour (e.g. LM coding with a model that has no LM)."""


class Cancelled(CodecError):
    """The job was cancelled through its `CancelToken`."""
