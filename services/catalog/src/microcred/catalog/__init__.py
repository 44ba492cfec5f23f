"""Catalog service: the source of truth for micro-credentials and their issuers."""
