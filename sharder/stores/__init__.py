"""Where the project's files live: the project root pytest would choose and the durations file in it
(`location`), and the project's own settings, `[tool.sharder]` in pyproject.toml (`pyproject`).

The formats are `sharder.durations`'; this package decides which file a command reads and writes.
"""
