"""Running shards: launching pytest in a subprocess (`runner`), in a process group of its own that a CI cancel
reaches whole and that dies with sharder (`supervision`), `sharder run`'s modes and passes (`modes`), the files a
shard's run owns and clears (`outputs`), how many xdist workers fit (`workers`), `[tool.sharder]` run settings
(`config`), replaying a CI shard here (`replay`), bisecting the test that pollutes another (`bisect`), whether a
job joins a Redis queue (`queue_mode`) and a private redis-server for a run without one (`redis_server`).

Starts processes; reads and writes reports only through `sharder.reports`.
"""
