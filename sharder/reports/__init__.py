"""Reports: JUnit XML read safely from any runner (`junit`; streamed by `junit_reader` through `safe_xml`'s defused
expat into `junit_cases`' records, each case's bytes kept for a writer by `case_xml`), a merge's inputs as test
attempts (`inputs`), which run of a shard that ran more than once is its verdict (`shard_attempts`), the verdict
(`verdict`), the merged JUnit report (`merged_xml`), terminal, Markdown and JSON summaries (`summary`; `markdown`
keeps test text inert in Markdown), the HTML report (`html_report`, its shard timeline laid out by `timeline`),
GitHub annotations and the step summary
(`annotations`), one shard's passes folded into one report (`shard_report`), coverage data combined (`coverage`),
and what a run's reports teach the durations store (`learning`, `junit_durations`).

Knows report formats; plans only through `sharder.planning`'s public functions.
"""
