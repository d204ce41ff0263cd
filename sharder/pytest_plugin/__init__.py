"""The pytest side: the plugin pytest loads (`plugin`, the `pytest11` entry point through `sharder.plugin`), its
option names (`options`, importable without pytest), choosing one shard's tests (`selection`), the collection
footprint (`footprint`, `footprint_filter`), the progress log and shard identity it writes (`shard_outputs`), the
run identity and user arguments recorded with them (`run_facts`), and `sharder run`'s run-time filters
(`run_filter`).

Imported by pytest; imports only the pure core and the stores.
"""
