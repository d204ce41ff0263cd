"""Names of the `<property>` entries sharder's plugin writes into JUnit reports (no imports, so the plugin,
the readers and the CI layer can share them cheaply)."""

NODEID_PROPERTY = "sharder_nodeid"
SHARD_PROPERTY = "sharder_shard"
ORDER_PROPERTY = "sharder_order"
PEAK_RSS_PROPERTY = "sharder_peak_rss_mb"
SETUP_PROPERTY = "sharder_setup_seconds"
PLAN_ID_PROPERTY = "sharder_plan_id"
# On the suite: how many tests each shard of the plan holds ("12,12,11"), so a merge without the plan file
# still knows how big a shard that sent nothing was; and the plan's predicted seconds for this shard.
PLAN_SIZES_PROPERTY = "sharder_plan_sizes"
PREDICTED_SECONDS_PROPERTY = "sharder_predicted_seconds"
# Written by `sharder merge` on its output, so a later merge of the same directory skips it.
MERGED_PROPERTY = "sharder_merged"
# On a merged case that came from a progress log, not a JUnit report (its shard died before writing one).
RECOVERED_PROPERTY = "sharder_recovered_from"
# On the suite: the seed pytest-randomly used, so `sharder replay` reseeds every test as CI did.
RANDOMLY_SEED_PROPERTY = "sharder_randomly_seed"
