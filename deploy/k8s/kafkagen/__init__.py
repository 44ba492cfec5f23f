"""Generates the Strimzi objects of deploy/k8s/components/strimzi and state-agencies (``make k8s``).

Topics, their sizes and every Kafka permission come from one source: libs/events (topics, partitions, retention,
group names) and each service's ``topics.py`` (what it produces and consumes, the same tuples its app is built
from). Nothing here is written by hand in YAML; tests/deploy/test_kafka_topics_and_acls.py fails when the committed
files differ from what this writes.
"""
