package filter

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the filter's Prometheus collectors. The per-query counters are resolved once into
// an array, so counting a query is one atomic add, not a label lookup.
type Metrics struct {
	queries       [numTransports][numResults]prometheus.Counter
	policyVersion prometheus.Gauge
}

// NewMetrics registers the filter's collectors on reg (nil: not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	qv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kidshield_dns_queries_total",
		Help: "DNS queries answered, by transport and result (allowed, cached, blocked, rewritten, stale, refused, servfail, formerr, ratelimited, dropped).",
	}, []string{"transport", "result"})
	m := &Metrics{
		policyVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kidshield_policy_version", Help: "Version of the policy snapshot in use (increments on every successful reload).",
		}),
	}
	for t := range m.queries {
		for r := range m.queries[t] {
			m.queries[t][r] = qv.WithLabelValues(transportNames[t], resultNames[r])
		}
	}
	if reg != nil {
		reg.MustRegister(qv, m.policyVersion)
	}
	return m
}
