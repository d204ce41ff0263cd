"""The vocabulary every stage shares, pure: `SharderError`, atomic writes, node ids, `K/N` shards, durations as
typed (`10m`), text tables, the names sharder writes into JUnit reports, the progress log's format, and
test-derived text made safe to print into a CI log (`log_text`).

Imports nothing of sharder's and nothing of pytest, junitparser or CI: anything may import it.
"""
