"""CI providers and generated CI: which shard this job is from the environment and GitHub's output file
(`providers`), and the workflow `sharder init github` writes (`workflow`).

Knows CI conventions, no algorithms.
"""
