"""Licensure service: licenses, state rule sets, and the ledger that turns awards into renewal credit."""
