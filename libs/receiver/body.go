package receiver

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/tracekit/tracekit/libs/pipeline"
)

// ErrTooLarge is returned (wrapped) when a body passes the configured cap: HTTP 413.
var ErrTooLarge = errors.New("payload too large")

// ReadBody reads r's body, undoing Content-Encoding (gzip, deflate, zstd, identity), and
// refuses bodies whose raw or decoded size passes max bytes (max <= 0: no cap).
func ReadBody(r *http.Request, max int64) ([]byte, error) {
	return Decode(r.Body, r.Header.Get("Content-Encoding"), max)
}

// Decode is ReadBody for any reader and encoding name.
func Decode(body io.Reader, encoding string, max int64) ([]byte, error) {
	raw, err := readCapped(body, max)
	if err != nil {
		return nil, err
	}
	enc := strings.ToLower(strings.TrimSpace(encoding))
	switch enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("invalid gzip body: %w", err))
		}
		defer zr.Close()
		return decoded(zr, max, "gzip")
	case "deflate":
		fr := flate.NewReader(bytes.NewReader(raw))
		defer fr.Close()
		return decoded(fr, max, "deflate")
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("invalid zstd body: %w", err))
		}
		defer zr.Close()
		return decoded(zr, max, "zstd")
	default:
		return nil, pipeline.Permanent(fmt.Errorf("unsupported Content-Encoding %q (want gzip, deflate, zstd or identity)", encoding))
	}
}

func decoded(r io.Reader, max int64, name string) ([]byte, error) {
	out, err := readCapped(r, max)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, pipeline.Permanent(fmt.Errorf("invalid %s body: %w", name, err))
	}
	return out, nil
}

func readCapped(r io.Reader, max int64) ([]byte, error) {
	if max <= 0 {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > max {
		return nil, pipeline.Permanent(fmt.Errorf("body exceeds %d bytes: %w", max, ErrTooLarge))
	}
	return b, nil
}
