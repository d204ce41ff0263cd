"""Names of the `<property>` entries sharder's plugin writes into JUnit reports (no imports, so the plugin,
the readers and the CI layer can share them cheaply)."""

NODEID_PROPERTY = "sharder_nodeid"
SHARD_PROPERTY = "sharder_shard"
ORDER_PROPERTY = "sharder_order"
PEAK_RSS_PROPERTY = "sharder_peak_rss_mb"
SETUP_PROPERTY = "sharder_setup_seconds"
PLAN_ID_PROPERTY = "sharder_plan_id"
