"""The pytest side: the plugin pytest loads (`plugin`, the `pytest11` entry point through `sharder.plugin`), its
option names (`options`, importable without pytest), choosing one shard's tests (`selection`), the collection
footprint (`footprint`, `footprint_filter`), the progress log and shard identity it writes (`shard_outputs`), the
run identity and user arguments recorded with them (`run_facts`), `sharder run`'s run-time filters
(`run_filter`), and queue mode's run loop, which leases batches and runs them in this session (`queue_loop`).

Imported by pytest; imports only the queue, the stores and the pure core.
"""
