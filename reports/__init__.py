"""The statistics report (统计报告): ``figures`` computes it from the read model and the
policy book (counts, expiring, review due, rewards, series), ``render`` draws it (table,
JSON, CSV, HTML with an SVG chart).
"""
