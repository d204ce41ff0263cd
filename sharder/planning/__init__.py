"""From ids and timings to shards, pure: estimating unknown tests (`estimate`), grouping classes and modules
(`grouping`), packing (`partition`), the plan model and `plan.json` (`plan`), the planner that joins them
(`planner`), choosing N for a target time (`shard_count`), memory peaks per shard (`memory`) and the predicted
drift of a plan under new timings (`forecast`), a queue run's units (`queue_units`) and batches
(`queue_batches`), and the order within a shard (`order`: failed-first, fast-first).

Knows numbers, ids and formats; nothing of pytest, JUnit or CI.
"""
