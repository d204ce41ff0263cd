"""Names of the plugin's command-line options, shared by the plugin and the code that launches pytest.

Kept apart from the plugin so that launching code (and `sharder plan`) need not import pytest.
"""

SHARD_OPTION = "--shard"
PLAN_OPTION = "--sharder-plan"
DURATIONS_OPTION = "--sharder-durations"
STORE_OPTION = "--sharder-store-durations"
GROUP_BY_OPTION = "--sharder-group-by"
COLLECT_TO_OPTION = "--sharder-collect-to"
IDS_OPTION = "--sharder-ids-file"
PYTEST_SPLIT_PLUGIN = "pytest-split"
PROGRESS_LOG_OPTION = "--sharder-progress-log"
FULL_COLLECTION_OPTION = "--sharder-full-collection"
# The run identity `sharder run` gives every pass of one shard (default: a new one per pytest session).
RUN_ID_OPTION = "--sharder-run-id"
# The user's own pytest arguments, as a JSON list, recorded in the shard's outputs for `sharder replay`.
PYTEST_ARGS_OPTION = "--sharder-pytest-args"
# Queue mode (`sharder run --queue URL`): the queue run's namespace on Redis and the lease length; the URL itself
# comes from $SHARDER_QUEUE_URL only, so a password never stands on a command line.
QUEUE_RUN_OPTION = "--sharder-queue-run"
QUEUE_LEASE_OPTION = "--sharder-queue-lease"
QUEUE_URL_ENV = "SHARDER_QUEUE_URL"
# Which attempt of the CI job this is (`sharder run` reads it from the CI's environment), stamped beside the run id.
CI_ATTEMPT_OPTION = "--sharder-ci-attempt"
