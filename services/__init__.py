"""The service layer (the application): what the ledger's users ask of it.

``commands`` (the msgspec commands, validated at the edge), ``handlers`` (one function
per command type: which aggregates it asks, in which order, and what it changed),
``ledger`` (the eventsourcing application: the decision loop, one atomic save per command
or batch, idempotency by command id), ``queries`` (the pool query).  It loads aggregates
through the recorder ports of ``infra`` (``infra.event_store`` for bulk reads and writes)
and lets ``domain`` decide.
"""
