"""The portal: server-rendered pages over the five services' public HTTP APIs (see services/portal/README.md)."""
