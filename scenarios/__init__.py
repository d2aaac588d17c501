"""Scenario data, outside the runtime: the demo dataset (``demo``: Huludao and more, with
the figures it must reproduce) and the national history generator (``generate``).  Both
produce plain command dicts; ``cultivation demo`` and ``cultivation generate`` run them.
"""
