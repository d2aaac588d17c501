"""Entry points: how the ledger is driven from outside, each thin.

``cli`` (the ``cultivation`` command; ``cli_audit``, ``cli_report``, ``cli_generate`` its
subcommand groups; ``console`` what they share), ``nats_service`` (commands and queries
over NATS micro), ``serve`` (the process that composes the NATS server, the service, the
relay and the projector).  They parse, call the service layer, audit or reports, and
print; no rule is decided here.
"""
