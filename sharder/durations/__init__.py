"""The durations store's formats, pure: sharder's `durations.json` and pytest-split's `.test_durations`
(`store`), the fast column reader `sharder plan` uses (`planning_input`), and keys of other runners matched to
node ids (`foreign_ids`).

Reads and writes the path it is given; where that path is (the project root, a CI cache) is `sharder.stores`' job.
"""
