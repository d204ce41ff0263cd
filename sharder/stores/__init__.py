"""Where the durations store lives: the project root pytest would choose and the durations file in it
(`location`).

The formats are `sharder.durations`'; this package decides which file a command reads and writes.
"""
