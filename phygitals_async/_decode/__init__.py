"""The wire format: how JSON becomes models and models become JSON-ready builtins.

One cattrs converter defines the format (its value hooks, and a generated structure
function per model); the msgspec fast path (the ``speedups`` extra) decodes into the same
models with the same rules, or leaves a body to the converter. Strict decoding (unknown
response fields rejected) is a client setting whose default is ``PHYGITALS_STRICT_DECODING``.
Nothing here knows HTTP.
"""

from ._converter import (
    NOT_DECODED,
    SPEEDUPS_ENV,
    STRICT_ENV,
    FastDecoder,
    converter,
    explain,
    fast_decoder,
    from_builtins,
    make_converter,
    strict_default,
    to_builtins,
)

__all__ = [
    "NOT_DECODED",
    "SPEEDUPS_ENV",
    "STRICT_ENV",
    "FastDecoder",
    "converter",
    "explain",
    "fast_decoder",
    "from_builtins",
    "make_converter",
    "strict_default",
    "to_builtins",
]
