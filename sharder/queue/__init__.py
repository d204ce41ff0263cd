"""The shared work queue of queue mode (`sharder run --queue URL`): one run's batches on Redis, leased atomically by
the run's jobs, heartbeated, requeued when a job dies (`lease_queue`), and the connection to it (`connection`).

Between the runners and the pytest side: the plugin's run loop (`sharder.pytest_plugin.queue_loop`) leases from
it, `sharder run` and `sharder merge` seed and read it. Knows redis-py (imported lazily), not pytest.
"""
