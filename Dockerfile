# WhisperNet container image: the static whispernet binary and nothing else.
#
# No base image is pulled (the project's machines and CI reach no registry),
# so the binary is built on the host and copied into an empty image:
#
#   CGO_ENABLED=0 go build -trimpath -ldflags "-s -X github.com/whispernet/whispernet/cli.Commit=$(git rev-parse HEAD)" \
#     -o bin/whispernet ./cmd/whispernet
#   docker build -t whispernet .
#
# docs/deploy.md explains the image and how to run it; deploy/compose.yaml
# and deploy/k8s/ use it.
FROM scratch

# The binary, owned by root so that the node cannot rewrite it.
COPY bin/whispernet /usr/local/bin/whispernet

# The working directory holds config.txt (found by the default
# --config config.txt) and receives outputfile.log and freqtrack.log. COPY
# --chown creates it owned by the node's user, so the node can write its logs
# there; mount another config.txt over this one to name other seeds.
COPY --chown=65532:65532 deploy/config.txt /var/lib/whispernet/config.txt
WORKDIR /var/lib/whispernet

# A numeric user: scratch has no /etc/passwd to look a name up in.
USER 65532:65532

# Peers listen on 5000 and seeds on 8080 (TCP, the line protocol); every
# node serves /metrics, /status and /healthz on 9000; "whispernet watch" (the
# dashboard of deploy/compose.yaml) serves the page on 7070.
EXPOSE 5000 8080 9000 7070

# scratch has no shell and no curl: the binary checks its own /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/whispernet", "health", "127.0.0.1:9000"]

ENTRYPOINT ["/usr/local/bin/whispernet"]
# A peer that advertises its container's hostname (":5000": the host part is
# os.Hostname()) and registers with the seeds of config.txt.
CMD ["peer", "--listen", "0.0.0.0:5000", "--advertise", ":5000", "--http", "0.0.0.0:9000"]
