// Package config is tracekit's one TOML file: DataKit-compatible sections, defaults,
// environment overrides and validation that names the offending key.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is the whole file. Every service reads the same file and uses its own sections.
type Config struct {
	Bus        Bus               `toml:"bus"`
	HTTP       HTTP              `toml:"http"`
	HTTPAPI    HTTPAPI           `toml:"http_api"`
	Log        Log               `toml:"log"`
	GlobalTags map[string]string `toml:"global_tags"`
	Inputs     Inputs            `toml:"inputs"`
	IO         IO                `toml:"io"`
	Dataway    Dataway           `toml:"dataway"`
	Aggregator Aggregator        `toml:"aggregator"`
}

// Bus selects the NATS server and how durable the subjects are.
type Bus struct {
	// URL of an external NATS server or cluster (comma separated); empty starts nats-server
	// inside the process.
	URL string `toml:"url"`
	// StoreDir holds the embedded server's JetStream files.
	StoreDir string `toml:"store_dir"`
	// Mode is "jetstream" (durable, at-least-once) or "core" (at-most-once, faster).
	Mode string `toml:"mode"`
	// Listen, when set, makes the embedded server also accept clients on this address
	// (e.g. 127.0.0.1:4222) so the nats CLI or split services can connect to it.
	Listen string `toml:"listen"`
	// MaxBytes bounds each stream; a full stream refuses new data (the client gets 429)
	// rather than discarding data that was already acknowledged.
	MaxBytes int64 `toml:"max_bytes"`
	// MaxAge drops data nobody consumed after this long.
	MaxAge Duration `toml:"max_age"`
	// Replicas of each stream in a NATS cluster (1 for the embedded server).
	Replicas int `toml:"replicas"`
	// MaxPayload caps one message on the embedded server; larger batches are split.
	MaxPayload int32 `toml:"max_payload"`
}

// Bus modes.
const (
	BusModeJetStream = "jetstream"
	BusModeCore      = "core"
)

// HTTP is the shared listener every HTTP receiver, the gateway and the admin routes use.
type HTTP struct {
	Listen string `toml:"listen"`
	// ShutdownTimeout bounds the drain of in-flight requests on stop.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
}

// HTTPAPI is DataKit's [http_api] section: limits of the write API (/v1/write/:category).
type HTTPAPI struct {
	// RequestRateLimit is requests per second over all clients; beyond it the API answers
	// 429 datakit.reachMaxAPILimit. Negative disables the limiter.
	RequestRateLimit float64 `toml:"request_rate_limit"`
	// RequestRateBurst is how many requests may arrive at once above the rate.
	RequestRateBurst int `toml:"request_rate_burst"`
	// MaxBodyBytes caps a request body, as sent and decompressed (413 beyond).
	MaxBodyBytes int64 `toml:"max_body_bytes"`
}

// Validate checks the http_api section.
func (h *HTTPAPI) Validate() error {
	var errs []error
	if h.RequestRateLimit == 0 {
		errs = append(errs, errors.New("request_rate_limit: must not be 0 (negative disables the limiter)"))
	}
	if h.RequestRateBurst < 1 {
		errs = append(errs, fmt.Errorf("request_rate_burst: must be >= 1, got %d", h.RequestRateBurst))
	}
	if h.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("max_body_bytes: must be >= 1024, got %d", h.MaxBodyBytes))
	}
	return errors.Join(errs...)
}

// Log configures log/slog output on stderr.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // json or text
}

// IO is DataKit's [io] section: when the sender flushes.
type IO struct {
	FlushInterval Duration `toml:"flush_interval"`
	MaxCacheCount int      `toml:"max_cache_count"`
}

// Dataway is DataKit's [dataway] section.
type Dataway struct {
	URLs            []string `toml:"urls"`
	ContentEncoding string   `toml:"content_encoding"`
	GZip            bool     `toml:"gzip"`
	MaxRawBodySize  int      `toml:"max_raw_body_size"`
	MaxRetryCount   int      `toml:"max_retry_count"`
	RetryDelay      Duration `toml:"retry_delay"`
	Timeout         Duration `toml:"timeout_v2"`
	// MaxRetryDelay caps the jittered exponential backoff between attempts.
	MaxRetryDelay Duration `toml:"max_retry_delay"`
}

// Content encodings accepted by Dataway.
const (
	EncodingV1 = "v1"
	EncodingV2 = "v2"
)

// Aggregator is DataKit's [aggregator] section.
type Aggregator struct {
	Endpoints                   []string `toml:"endpoints"`
	Timeout                     Duration `toml:"timeout"`
	MaxRawBodySize              int      `toml:"max_raw_body_size"`
	UseLocalConfig              bool     `toml:"use_local_config"`
	LocalConfigDir              string   `toml:"local_config_dir"`
	LocalMetricConfigFile       string   `toml:"local_metric_config_file"`
	LocalTailSamplingConfigFile string   `toml:"local_tail_sampling_config_file"`
}

// NewDefaultConfig returns the configuration used for every key the file leaves out.
// It enables no input: an input is enabled by its section.
func NewDefaultConfig() *Config {
	return &Config{
		Bus: Bus{
			StoreDir:   "data/nats",
			Mode:       BusModeJetStream,
			MaxBytes:   1 << 30,
			MaxAge:     Duration(72 * time.Hour),
			Replicas:   1,
			MaxPayload: 8 << 20,
		},
		HTTP:    HTTP{Listen: "0.0.0.0:9529", ShutdownTimeout: Duration(10 * time.Second)},
		HTTPAPI: HTTPAPI{RequestRateLimit: 100, RequestRateBurst: 500, MaxBodyBytes: 32 << 20},
		Log:     Log{Level: "info", Format: "json"},
		IO:      IO{FlushInterval: Duration(10 * time.Second), MaxCacheCount: 1000},
		Dataway: Dataway{
			URLs:            []string{"http://127.0.0.1:9528?token=tkn_local"},
			ContentEncoding: EncodingV2,
			GZip:            true,
			MaxRawBodySize:  1 << 20,
			MaxRetryCount:   1,
			RetryDelay:      Duration(time.Second),
			MaxRetryDelay:   Duration(30 * time.Second),
			Timeout:         Duration(30 * time.Second),
		},
		Aggregator: Aggregator{
			UseLocalConfig:              true,
			LocalConfigDir:              "conf.d/aggr",
			LocalMetricConfigFile:       "aggr.toml",
			LocalTailSamplingConfigFile: "tail-sampling.toml",
		},
	}
}

// Validate checks every section and returns all problems, each prefixed with its key.
func (c *Config) Validate() error {
	var errs []error
	add := func(key string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	add("bus", c.Bus.Validate())
	add("http", c.HTTP.Validate())
	add("http_api", c.HTTPAPI.Validate())
	add("log", c.Log.Validate())
	add("io", c.IO.Validate())
	add("dataway", c.Dataway.Validate())
	add("aggregator", c.Aggregator.Validate())
	add("inputs", c.Inputs.Validate())
	return errors.Join(errs...)
}

// Validate checks the bus section.
func (b *Bus) Validate() error {
	var errs []error
	switch b.Mode {
	case BusModeJetStream, BusModeCore:
	default:
		errs = append(errs, fmt.Errorf("mode: %q is not %q or %q", b.Mode, BusModeJetStream, BusModeCore))
	}
	if b.URL == "" && b.Mode == BusModeJetStream && b.StoreDir == "" {
		errs = append(errs, errors.New("store_dir: required for the embedded server in jetstream mode"))
	}
	for _, u := range splitList(b.URL) {
		if _, err := url.Parse(u); err != nil {
			errs = append(errs, fmt.Errorf("url: %w", err))
		}
	}
	if b.Listen != "" {
		if err := checkHostPort(b.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen: %w", err))
		}
	}
	if b.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_bytes: must be > 0, got %d", b.MaxBytes))
	}
	if b.MaxAge < 0 {
		errs = append(errs, errors.New("max_age: must not be negative"))
	}
	if b.Replicas < 1 || b.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas: must be 1..5, got %d", b.Replicas))
	}
	if b.MaxPayload < 1024 {
		errs = append(errs, fmt.Errorf("max_payload: must be >= 1024, got %d", b.MaxPayload))
	}
	return errors.Join(errs...)
}

// URLs returns the configured NATS URLs.
func (b *Bus) URLs() []string { return splitList(b.URL) }

// Validate checks the HTTP section.
func (h *HTTP) Validate() error {
	if err := checkHostPort(h.Listen); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if h.ShutdownTimeout <= 0 {
		return errors.New("shutdown_timeout: must be > 0")
	}
	return nil
}

// Validate checks the log section.
func (l *Log) Validate() error {
	var errs []error
	switch strings.ToLower(l.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		errs = append(errs, fmt.Errorf("level: %q is not debug, info, warn or error", l.Level))
	}
	switch l.Format {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("format: %q is not json or text", l.Format))
	}
	return errors.Join(errs...)
}

// Validate checks the io section.
func (o *IO) Validate() error {
	var errs []error
	if o.FlushInterval <= 0 {
		errs = append(errs, errors.New("flush_interval: must be > 0"))
	}
	if o.MaxCacheCount <= 0 {
		errs = append(errs, fmt.Errorf("max_cache_count: must be > 0, got %d", o.MaxCacheCount))
	}
	return errors.Join(errs...)
}

// Validate checks the dataway section.
func (d *Dataway) Validate() error {
	var errs []error
	if len(d.URLs) == 0 {
		errs = append(errs, errors.New("urls: at least one Dataway URL is required"))
	}
	for i, u := range d.URLs {
		if err := checkHTTPURL(u); err != nil {
			errs = append(errs, fmt.Errorf("urls[%d]: %w", i, err))
		}
	}
	switch d.ContentEncoding {
	case EncodingV1, "line-protocol", EncodingV2, "protobuf":
	default:
		errs = append(errs, fmt.Errorf("content_encoding: %q is not v1 or v2", d.ContentEncoding))
	}
	if d.MaxRawBodySize < 1024 {
		errs = append(errs, fmt.Errorf("max_raw_body_size: must be >= 1024, got %d", d.MaxRawBodySize))
	}
	if d.MaxRetryCount < 0 || d.MaxRetryCount > 10 {
		errs = append(errs, fmt.Errorf("max_retry_count: must be 0..10, got %d", d.MaxRetryCount))
	}
	if d.RetryDelay <= 0 {
		errs = append(errs, errors.New("retry_delay: must be > 0"))
	}
	if d.MaxRetryDelay < d.RetryDelay {
		errs = append(errs, errors.New("max_retry_delay: must be >= retry_delay"))
	}
	if d.Timeout <= 0 {
		errs = append(errs, errors.New("timeout_v2: must be > 0"))
	}
	return errors.Join(errs...)
}

// V2 reports whether bodies are protobuf (v2) rather than line protocol (v1).
func (d *Dataway) V2() bool {
	return d.ContentEncoding == EncodingV2 || d.ContentEncoding == "protobuf"
}

// Validate checks the aggregator section.
func (a *Aggregator) Validate() error {
	var errs []error
	for i, u := range a.Endpoints {
		if err := checkHTTPURL(u); err != nil {
			errs = append(errs, fmt.Errorf("endpoints[%d]: %w", i, err))
		}
	}
	if a.MaxRawBodySize < 0 {
		errs = append(errs, errors.New("max_raw_body_size: must not be negative"))
	}
	if a.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: missing host", raw)
	}
	return nil
}

func checkHostPort(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
