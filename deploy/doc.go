// Package deploy holds the Dockerfile, the docker compose support files and the Kubernetes
// manifests. Docker and a cluster are not available where tests run, so its tests validate
// them statically: every image, command, port, config path and reference must match the
// binaries and config keys that exist.
package deploy
