// Package dockertest runs WhisperNet as a real deployment would: it builds
// the static binary and the container image from the repository's
// Dockerfile, brings up deploy/compose.yaml (3 seeds named by hostname and
// scaled peers, each container a host with its own address) and injects
// faults with the Docker engine: a peer container killed (SIGKILL, a crash)
// and one paused (frozen by the cgroup freezer: sockets open, nothing
// answered).
//
// The test reads the network only from outside, as an operator would: the
// seeds' peer lists over their published line-protocol ports, the peers'
// /status over their published HTTP ports, and every node's log lines from
// "docker logs" (the image is FROM scratch: there is no shell to exec into).
// It is skipped, with the reason, where no Docker engine or docker-compose
// is available, and under -short.
package dockertest
