"""Microcred's dashboards and alerts as code: the one source for Grafana JSON and Prometheus rules.

``python -m opsgen`` (``make observability``) writes ``deploy/observability/dashboards/*.json``,
``deploy/observability/rules/*.yaml`` (mounted by docker-compose), and for Kubernetes
``deploy/k8s/components/monitoring/prometheusrule.yaml`` (the same groups as a kube-prometheus-stack
PrometheusRule) beside a copy of the dashboards (``dashboards/*.json``, turned into ConfigMaps there).
Tests assert the committed files equal what this package generates, so an edit by hand fails the build.
Every metric named here is in docs/operations/metrics.md.
"""
