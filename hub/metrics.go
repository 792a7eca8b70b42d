package hub

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are a server's Prometheus collectors, on a registry of its own so
// that several servers (tests) never share counters.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec   // route, code
	latency   *prometheus.HistogramVec // route
	revisions *prometheus.CounterVec   // status
	authFails prometheus.Counter
	inFlight  prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccmhub_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ccmhub_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"route"}),
		revisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccmhub_revisions_total",
			Help: "Pushed revisions by outcome: applied, duplicate, conflict (applied with several live leaves) or rejected.",
		}, []string{"status"}),
		authFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccmhub_auth_failures_total",
			Help: "Requests with a missing, unknown or revoked token.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ccmhub_http_requests_in_flight",
			Help: "Requests being served now.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.revisions, m.authFails, m.inFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
