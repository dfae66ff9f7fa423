"""The wire format: the cattrs converter and the msgspec fast path."""
