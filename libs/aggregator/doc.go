// Package aggregator is DataKit's [aggregator] (datakit-spec §4): metric aggregation rules
// from aggr.toml fork selected fields into AggregationBatches posted to /v1/aggregate, and
// tail sampling from tail-sampling.toml groups tracing (by trace_id) and logging/RUM (by
// group_dimensions) points into DataPackets posted to /v1/tail_sampling. Dataway computes
// the aggregations and takes the sampling decisions; this package only selects, packs and
// forwards. Configs come from local_config_dir or are pulled from Dataway, and are re-read
// every minute and on reload.
//
// Unlike DataKit, a 412 from /v1/tail_sampling pushes the config and resends the packet
// once, and a packet that could not be delivered fails Process so the sender keeps the
// points in JetStream instead of writing or dropping them.
package aggregator
