"""The auditor's room: export a signed bundle of the log and verify it offline
(``bundle``), prove a record's inclusion and a head's consistency (``bundle.prove``,
``bundle.prove_consistency`` from a head the auditor kept, both on the Merkle tree of
``infra.merkle`` and checked offline by ``bundle.verify_proof``), and replay the event
stream into a scratch read model to compare it with the live one (``replay``).  The
tamper-evident chain itself is written by the store adapters (``infra.integrity``).
"""
