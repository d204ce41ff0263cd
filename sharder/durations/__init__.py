"""The durations store's formats, pure: sharder's `durations.json` and pytest-split's `.test_durations`
(`store`), the fast column reader `sharder plan` uses (`planning_input`), keys of other runners matched to
node ids (`foreign_ids`), which runs of a test may teach the store (`trust`), what the store remembers of the
runs that updated it (`history`), and each test's last outcome (`outcomes`).

Reads and writes the path it is given; where that path is (the project root, a CI cache) is `sharder.stores`' job.
"""
