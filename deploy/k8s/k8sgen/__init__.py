"""Generates the components of deploy/k8s that follow from the code (``make k8s``).

Topics, their sizes and every Kafka permission come from one source: libs/events (topics, partitions, retention,
group names) and each service's ``topics.py`` (what it produces and consumes, the same tuples its app is built
from); the autoscalers' triggers come from the same groups and their ceilings from the same partitions; the
databases are one template for every service. Nothing here is written by hand in YAML;
tests/deploy/test_generated_components.py fails when the committed files differ from what this writes.
"""
