"""Where the durations store lives and how it is changed: the project root pytest would choose and the durations
file in it (`location`), one writer at a time (`lock`), and the one read-modify-write every command goes through
(`update`).

The formats are `sharder.durations`'; this package decides which file a command reads and writes.
"""
