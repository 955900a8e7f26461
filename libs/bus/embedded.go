package bus

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/tracekit/tracekit/libs/config"
)

// startEmbedded runs nats-server inside the process. Without bus.listen it opens no port:
// clients reach it through an in-process pipe.
func startEmbedded(cfg config.Bus) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "tracekit-embedded",
		DontListen: cfg.Listen == "",
		JetStream:  cfg.Mode == config.BusModeJetStream,
		StoreDir:   cfg.StoreDir,
		MaxPayload: cfg.MaxPayload,
		// The process owns signals (graceful shutdown drains services first).
		NoSigs: true,
		NoLog:  true,
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("bus.listen: %w", err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("bus.listen: port %q: %w", port, err)
		}
		if p == 0 {
			// nats-server reads port 0 as its default 4222; -1 is its "any free port".
			p = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, p
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("create embedded nats-server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats-server did not become ready within 30s")
	}
	return ns, nil
}
