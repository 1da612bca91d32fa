"""Runs untrusted candidate code in a separate, killable child process."""

from nncaption.sandbox.runner import SandboxLimits, SandboxResult, run_in_sandbox

__all__ = ["SandboxLimits", "SandboxResult", "run_in_sandbox"]
