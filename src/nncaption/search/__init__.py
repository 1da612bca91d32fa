"""The run loop: proposals, validation, deduplication, trials, resume."""
