"""Submission service: teachers gather evidence for a micro-credential and submit it for review."""
