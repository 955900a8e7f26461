package dataway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/buildinfo"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/telemetry"
)

// Options configure a Client. NewOptions fills them from [dataway].
type Options struct {
	// URLs are the configured Dataway URLs (with ?token=...); every one gets every body.
	URLs    []string
	Encoder Encoder
	// Timeout bounds one HTTP attempt (timeout_v2).
	Timeout time.Duration
	// MaxRetryCount is the number of retries after the first attempt (0..10).
	MaxRetryCount int
	// RetryDelay is the first backoff; each retry doubles it up to MaxRetryDelay.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// HTTPClient overrides the transport (tests); its Timeout is left alone.
	HTTPClient *http.Client
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// UserAgent defaults to buildinfo.UserAgent(), DataKit's format.
	UserAgent string
}

// NewOptions maps the [dataway] section to Options.
func NewOptions(cfg config.Dataway) (Options, error) {
	enc, err := ParseEncoding(cfg.ContentEncoding)
	if err != nil {
		return Options{}, err
	}
	return Options{
		URLs:          cfg.URLs,
		Encoder:       Encoder{Encoding: enc, MaxRawBodySize: cfg.MaxRawBodySize, Gzip: cfg.GZip},
		Timeout:       cfg.Timeout.D(),
		MaxRetryCount: cfg.MaxRetryCount,
		RetryDelay:    cfg.RetryDelay.D(),
		MaxRetryDelay: cfg.MaxRetryDelay.D(),
	}, nil
}

// Endpoint is one configured Dataway.
type Endpoint struct {
	// Base is scheme://host.
	Base string
	// Query is the configured URL's query, token included, sent on every API.
	Query string
	Token string
}

// URL is the address of an API path on this endpoint.
func (e Endpoint) URL(path string) string {
	if e.Query == "" {
		return e.Base + path
	}
	return e.Base + path + "?" + e.Query
}

// ParseEndpoint splits a configured Dataway URL the way DataKit does: the path is replaced
// by each API's, the query (token and anything else) is kept.
func ParseEndpoint(raw string) (Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Endpoint{}, fmt.Errorf("dataway url %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Endpoint{}, fmt.Errorf("dataway url %q: want http(s)://host", raw)
	}
	return Endpoint{Base: u.Scheme + "://" + u.Host, Query: u.RawQuery, Token: u.Query().Get("token")}, nil
}

// Client posts to every configured Dataway with DataKit's headers, retrying what may
// succeed later. It is safe for concurrent use.
type Client struct {
	o         Options
	endpoints []Endpoint
	hc        *http.Client
	log       *slog.Logger
	m         *clientMetrics
	pkgSeq    atomic.Uint64
	pkgSalt   uint64
}

// NewClient validates o and builds the client.
func NewClient(o Options) (*Client, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("dataway: no urls")
	}
	if o.Encoder.MaxRawBodySize <= 0 {
		o.Encoder.MaxRawBodySize = 1 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.MaxRetryDelay < o.RetryDelay {
		o.MaxRetryDelay = max(o.RetryDelay, 30*time.Second)
	}
	o.MaxRetryCount = min(max(o.MaxRetryCount, 0), 10)
	if o.UserAgent == "" {
		o.UserAgent = buildinfo.UserAgent()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{o: o, log: o.Logger, m: newClientMetrics(o.Registerer), pkgSalt: rand.Uint64()}
	for _, raw := range o.URLs {
		ep, err := ParseEndpoint(raw)
		if err != nil {
			return nil, err
		}
		c.endpoints = append(c.endpoints, ep)
	}
	c.hc = o.HTTPClient
	if c.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		tr.IdleConnTimeout = 90 * time.Second
		c.hc = &http.Client{Transport: tr}
	}
	return c, nil
}

// Endpoints lists the configured Dataways, in config order.
func (c *Client) Endpoints() []Endpoint { return c.endpoints }

// Encoder is the body encoder from the config.
func (c *Client) Encoder() *Encoder { return &c.o.Encoder }

// Request is one POST to a Dataway API.
type Request struct {
	Path   string // e.g. /v1/write/tracing
	Header http.Header
	Body   []byte
	// Category and Points label the metrics.
	Category string
	Points   int
}

// Response is the final answer to a Request after retries.
type Response struct {
	Status int // 0 when no HTTP answer was received
	// Body is the start of the response body, for error messages.
	Body     []byte
	Attempts int
	Err      error // transport error of the last attempt, or a non-2xx status
}

// OK reports a 2xx answer.
func (r Response) OK() bool { return r.Err == nil && r.Status/100 == 2 }

// Retryable reports statuses that may succeed if sent again unchanged.
func Retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// Do posts req to endpoint ep, retrying transport errors, 408, 429 and 5xx with jittered
// exponential backoff up to MaxRetryCount times. Any other answer is final and returned.
func (c *Client) Do(ctx context.Context, ep int, req *Request) Response {
	e := c.endpoints[ep]
	var resp Response
	delay := c.o.RetryDelay
	for attempt := 0; attempt <= c.o.MaxRetryCount; attempt++ {
		var retryAfter time.Duration
		resp, retryAfter = c.once(ctx, e, req)
		resp.Attempts = attempt + 1
		if resp.OK() || ctx.Err() != nil || (resp.Status != 0 && !Retryable(resp.Status)) {
			return resp
		}
		if attempt == c.o.MaxRetryCount {
			break
		}
		wait := jitter(delay)
		if retryAfter > 0 && retryAfter <= c.o.MaxRetryDelay {
			wait = retryAfter
		}
		c.log.Debug("dataway retry", "path", req.Path, "status", resp.Status, "err", resp.Err, "wait", wait)
		if !sleepCtx(ctx, wait) {
			return resp
		}
		delay = min(delay*2, c.o.MaxRetryDelay)
	}
	return resp
}

// jitter spreads retries of many senders over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func (c *Client) once(ctx context.Context, e Endpoint, req *Request) (Response, time.Duration) {
	actx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(actx, http.MethodPost, e.URL(req.Path), bytes.NewReader(req.Body))
	if err != nil {
		return Response{Err: fmt.Errorf("build request: %w", err)}, 0
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	hr.Header.Set("User-Agent", c.o.UserAgent)
	if hr.Header.Get("Referer") == "" {
		hr.Header.Set("Referer", "DataKit")
	}
	start := time.Now()
	res, err := c.hc.Do(hr)
	c.m.latency.WithLabelValues(req.Category).Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.requests.WithLabelValues(req.Category, "error").Inc()
		return Response{Err: fmt.Errorf("post %s: %w", req.Path, err)}, 0
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20)) // keep the connection reusable
	c.m.requests.WithLabelValues(req.Category, strconv.Itoa(res.StatusCode)).Inc()
	out := Response{Status: res.StatusCode, Body: body}
	if res.StatusCode/100 != 2 {
		out.Err = fmt.Errorf("post %s: dataway answered %d: %s", req.Path, res.StatusCode, bytes.TrimSpace(body))
	} else {
		c.m.bytes.WithLabelValues(req.Category).Add(float64(len(req.Body)))
	}
	return out, retryAfter(res.Header.Get("Retry-After"))
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// PkgID is a unique X-Pkg-Id with DataKit's dk_ prefix.
func (c *Client) PkgID() string {
	return fmt.Sprintf("dk_%016x%08x", c.pkgSalt, c.pkgSeq.Add(1))
}

// Result is the final outcome of one body across every endpoint.
type Result struct {
	Body *Body
	// Err is nil when every endpoint accepted the body. A pipeline.Permanent error means an
	// endpoint refused it for good (counted as dropped): the data must not be retried. Any
	// other error is transient: the caller keeps the data and tries again later.
	Err     error
	Sent    int // points accepted, summed over endpoints
	Dropped int // points refused for good, summed over endpoints
}

// Write posts one body to /v1/write/<category> on every endpoint. 413 splits the body in
// halves and posts each; other non-retryable 4xx drop it (counted).
func (c *Client) Write(ctx context.Context, category string, b *Body) Result {
	res := Result{Body: b}
	var transient, permanent []error
	for ep := range c.endpoints {
		sent, dropped, err := c.writeTo(ctx, ep, category, b)
		res.Sent += sent
		res.Dropped += dropped
		switch {
		case err == nil:
		case pipeline.IsPermanent(err):
			permanent = append(permanent, err)
		default:
			transient = append(transient, err)
		}
	}
	switch {
	case len(transient) > 0:
		res.Err = errors.Join(append(transient, permanent...)...)
	case len(permanent) > 0:
		res.Err = pipeline.Permanent(errors.Join(permanent...))
	}
	return res
}

func (c *Client) writeTo(ctx context.Context, ep int, category string, b *Body) (sent, dropped int, err error) {
	n := b.Len()
	h := http.Header{}
	h.Set("Content-Type", b.ContentType)
	if b.ContentEncoding != "" {
		h.Set("Content-Encoding", b.ContentEncoding)
	}
	h.Set("X-Points", strconv.Itoa(n))
	h.Set("X-Pkg-Id", c.PkgID())
	resp := c.Do(ctx, ep, &Request{Path: "/v1/write/" + category, Header: h, Body: b.Data, Category: category, Points: n})
	switch {
	case resp.OK():
		c.m.points.WithLabelValues(category, "sent").Add(float64(n))
		c.m.rawBytes.WithLabelValues(category).Add(float64(b.RawSize))
		return n, 0, nil
	case resp.Status == http.StatusRequestEntityTooLarge:
		first, second, ok, serr := c.o.Encoder.Resplit(b)
		if serr != nil {
			c.countDropped(category, ReasonMarshal, n)
			return 0, n, pipeline.Permanent(serr)
		}
		if !ok {
			c.countDropped(category, "status_413", n)
			return 0, n, pipeline.Permanent(resp.Err)
		}
		c.log.Info("dataway body too large; splitting", "category", category, "points", n, "raw_bytes", b.RawSize)
		var errs []error
		for _, part := range []*Body{first, second} {
			s, d, perr := c.writeTo(ctx, ep, category, part)
			sent, dropped = sent+s, dropped+d
			if perr != nil {
				errs = append(errs, perr)
			}
		}
		return sent, dropped, joinKeepingClass(errs)
	case resp.Status != 0 && !Retryable(resp.Status):
		c.countDropped(category, "status_"+strconv.Itoa(resp.Status), n)
		c.log.Warn("dataway refused body; dropping it", "category", category, "points", n, "status", resp.Status, "body", string(resp.Body))
		return 0, n, pipeline.Permanent(resp.Err)
	}
	c.m.points.WithLabelValues(category, "failed").Add(float64(n))
	if resp.Err == nil {
		resp.Err = ctx.Err()
	}
	return 0, 0, resp.Err
}

// joinKeepingClass joins errors; the result is Permanent only if every error is.
func joinKeepingClass(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, e := range errs {
		if !pipeline.IsPermanent(e) {
			return errors.Join(errs...)
		}
	}
	return pipeline.Permanent(errors.Join(errs...))
}

// CountDropped records points dropped before sending (encoder drops, undecodable input).
func (c *Client) CountDropped(category, reason string, n int) { c.countDropped(category, reason, n) }

func (c *Client) countDropped(category, reason string, n int) {
	if n == 0 {
		return
	}
	c.m.points.WithLabelValues(category, "dropped").Add(float64(n))
	c.m.dropped.WithLabelValues(category, reason).Add(float64(n))
}

type clientMetrics struct {
	requests *prometheus.CounterVec
	points   *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	rawBytes *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newClientMetrics(reg prometheus.Registerer) *clientMetrics {
	return &clientMetrics{
		requests: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_dataway_requests_total", Help: "HTTP attempts to Dataway by category and status code (error: no answer).",
		}, []string{"category", "status"})),
		points: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_dataway_points_total", Help: "Points per endpoint by result: sent (2xx), failed (will be retried), dropped (never sent).",
		}, []string{"category", "result"})),
		dropped: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_dataway_dropped_points_total", Help: "Points dropped for good, by reason (too_large, no_fields, status_<code>, ...).",
		}, []string{"category", "reason"})),
		bytes: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_dataway_sent_bytes_total", Help: "Body bytes on the wire (after gzip) accepted by Dataway.",
		}, []string{"category"})),
		rawBytes: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_dataway_sent_raw_bytes_total", Help: "Body bytes before compression accepted by Dataway.",
		}, []string{"category"})),
		latency: telemetry.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tracekit_dataway_request_duration_seconds", Help: "Latency of one HTTP attempt to Dataway.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 13),
		}, []string{"category"})),
	}
}
