// Package status makes WhisperNet nodes observable over HTTP: Prometheus
// metrics at /metrics (every series named whispernet_*), a typed JSON
// status document at /status, a liveness probe at /healthz and the Go
// profiler at /debug/pprof. One Registry covers every node of a process, so
// `whispernet net` serves a single endpoint with a "node" label per node.
//
// Metrics are pulled: a scrape reads each node's counters, so the nodes'
// hot paths pay nothing for being observed, except the delivery-latency
// histogram, which a Deliver hook feeds.
package status
