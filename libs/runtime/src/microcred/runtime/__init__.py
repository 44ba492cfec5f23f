"""Plumbing every Microcred service shares. No domain knowledge lives here."""
