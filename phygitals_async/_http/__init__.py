"""The seam: every request leaves through ``Transport`` here."""
