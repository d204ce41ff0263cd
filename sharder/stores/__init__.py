"""Where the project's files live and how the durations store is changed: the project root pytest would choose
and the durations file in it (`location`), the project's `[tool.sharder]` settings (`pyproject`), where a plan's
timings come from and who wrote them (`timings_source`), one writer at a time (`lock`), and the one
read-modify-write every command goes through (`update`).

The formats are `sharder.durations`'; this package decides which file a command reads and writes.
"""
