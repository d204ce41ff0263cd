"""CI providers and generated CI: which shard this job is from the environment and GitHub's output file
(`providers`), the GitHub Actions workflow (`workflow`) and the GitLab CI pipeline (`gitlab`) that `sharder init`
writes, both rendered as YAML by `yaml_text`.

Knows CI conventions, no algorithms.
"""
