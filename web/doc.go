// Package web is WhisperNet's live dashboard: an http.Handler that shows a
// running local network (a [localnet.Network]) in the browser and lets a
// person poke it.
//
// The page draws the overlay as a force-directed graph (nodes sized and
// coloured by degree), the degree distribution as a log-log CCDF with the
// current power-law fit, the gossip messages with their coverage, hops and
// spread times, and the event feed (joins, dead reports, removals,
// replacement links). Its controls publish a message from a chosen or a
// random peer, kill a peer (a crash: its sockets close), freeze one (a
// silent failure: sockets open, nothing answered), thaw it, and stop or
// start a seed.
//
// Everything the page needs is embedded with go:embed — plain JavaScript
// and a canvas, no CDN — so the dashboard works offline. State reaches the
// browser as JSON from the /api endpoints and, once the page is open, as
// Server-Sent Events from /api/stream. One goroutine samples the network's
// [localnet.Tracker] at most every Options.Interval (250 ms by default) and
// hands each stream a coalesced update: the graph only when it changed,
// new feed events, changed message coverage and the receipts of the message
// that browser watches. A slow browser never blocks the network or the
// other browsers: its pending update is merged in place, not queued.
//
// docs/dashboard.md documents every endpoint. The handler serves only /,
// /assets/ and /api/; the CLI mounts /metrics, /status and the like beside
// it on the same mux.
package web
