package stats

import "github.com/prometheus/client_golang/prometheus"

var (
	descDropped = prometheus.NewDesc("kidshield_filter_stats_events_dropped_total",
		"Events dropped because the statistics queue was full.", nil, nil)
	descFlushed = prometheus.NewDesc("kidshield_filter_stats_events_flushed_total",
		"Events whose statistics were written to the store.", nil, nil)
	descDiscarded = prometheus.NewDesc("kidshield_filter_stats_events_discarded_total",
		"Events whose statistics were discarded after a failed flush and a failed retry.", nil, nil)
	descFlushErrors = prometheus.NewDesc("kidshield_filter_stats_flush_errors_total",
		"Failed writes of statistics or query log entries to the store.", nil, nil)
	descOverflow = prometheus.NewDesc("kidshield_filter_stats_domains_overflow_total",
		"Events counted under the \"(other)\" domain because the per-flush domain bound was reached.", nil, nil)
	descLogFlushed = prometheus.NewDesc("kidshield_filter_stats_querylog_flushed_total",
		"Query log entries written to the store.", nil, nil)
	descLogDropped = prometheus.NewDesc("kidshield_filter_stats_querylog_dropped_total",
		"Query log entries lost to the per-flush bound or a failed retry.", nil, nil)
	descQueueLen = prometheus.NewDesc("kidshield_filter_stats_queue_length",
		"Events waiting in the statistics queue.", nil, nil)
	descQueueCap = prometheus.NewDesc("kidshield_filter_stats_queue_capacity",
		"Capacity of the statistics queue.", nil, nil)
	descPending = prometheus.NewDesc("kidshield_filter_stats_retry_pending_events",
		"Events of a failed flush waiting for their retry.", nil, nil)
)

var _ prometheus.Collector = (*Recorder)(nil)

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDropped, descFlushed, descDiscarded, descFlushErrors,
		descOverflow, descLogFlushed, descLogDropped, descQueueLen, descQueueCap, descPending} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: register the Recorder itself.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(descDropped, r.dropped.Load())
	counter(descFlushed, r.flushed.Load())
	counter(descDiscarded, r.discarded.Load())
	counter(descFlushErrors, r.flushErrors.Load())
	counter(descOverflow, r.overflow.Load())
	counter(descLogFlushed, r.logFlushed.Load())
	counter(descLogDropped, r.logDropped.Load())
	gauge(descQueueLen, len(r.queue))
	gauge(descQueueCap, cap(r.queue))
	gauge(descPending, int(r.pendingEvents.Load()))
}
