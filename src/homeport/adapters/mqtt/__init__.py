"""MQTT telemetry ingest: ``homeport ingest --mqtt mqtt://host:1883``.

Gateways (or an MQTT bridge in front of them) publish one report per message on
``homeport/telemetry/<device_id>`` with QoS 1. The consumer keeps a persistent session, joins an
MQTT 5 shared subscription when given a group, and acknowledges a message only after the
transaction that stored its report has committed (``docs/mqtt.md``).
"""
