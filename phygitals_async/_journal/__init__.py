"""The job record of bulk sellback: the Journal protocol and its backends."""
