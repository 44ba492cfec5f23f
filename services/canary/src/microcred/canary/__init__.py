"""Microcred canary: one synthetic submission through the real flow every interval, submit to state credit.

It is an outside client of the platform's public HTTP APIs (no database, no broker, no service's code) and
keeps everything it makes apart from real work: its own issuer and credential, reviewers certified for that
credential only, and a teacher licensed only in ZZ, the reserved state no real report or feed reads.
"""
