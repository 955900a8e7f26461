package aggregator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/dataway"
)

// loadLocal reads aggr.toml and tail-sampling.toml from local_config_dir. A missing file
// means that feature is off; an invalid one is an error naming the file, rule and key.
func loadLocal(c config.Aggregator) (configs, error) {
	var out configs
	metricFile := c.LocalMetricConfigFile
	if metricFile == "" {
		metricFile = "aggr.toml"
	}
	tailFile := c.LocalTailSamplingConfigFile
	if tailFile == "" {
		tailFile = "tail-sampling.toml"
	}
	var errs []error
	if data, ok, err := readOptional(filepath.Join(c.LocalConfigDir, metricFile)); err != nil {
		errs = append(errs, err)
	} else if ok {
		m, err := ParseMetricTOML(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(c.LocalConfigDir, metricFile), err))
		}
		out.metric = m
	}
	if data, ok, err := readOptional(filepath.Join(c.LocalConfigDir, tailFile)); err != nil {
		errs = append(errs, err)
	} else if ok {
		t, err := ParseTailSamplingTOML(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(c.LocalConfigDir, tailFile), err))
		}
		out.tail = t
	}
	if err := errors.Join(errs...); err != nil {
		return configs{}, err
	}
	return out, nil
}

func readOptional(path string) ([]byte, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return data, true, nil
}

// puller fetches the configs from Dataway (use_local_config = false):
// GET /v1/datakit/pull?token=...&aggr=true and ...&tail-sampling=true.
type puller struct {
	endpoints []dataway.Endpoint
	hc        *http.Client
	timeout   time.Duration
}

func newPuller(eps []dataway.Endpoint, hc *http.Client, timeout time.Duration) *puller {
	if hc == nil {
		hc = http.DefaultClient
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &puller{endpoints: eps, hc: hc, timeout: timeout}
}

func (p *puller) pull(ctx context.Context, prev *configs) (configs, error) {
	var out configs
	data, err := p.get(ctx, "aggr=true")
	if err != nil {
		return configs{}, fmt.Errorf("pull aggr config: %w", err)
	}
	if data != nil {
		if out.metric, err = ParseMetricJSON(data); err != nil {
			return configs{}, fmt.Errorf("pulled aggr config: %w", err)
		}
	}
	data, err = p.get(ctx, "tail-sampling=true")
	if err != nil {
		return configs{}, fmt.Errorf("pull tail sampling config: %w", err)
	}
	if data != nil {
		if out.tail, err = ParseTailSamplingJSON(data); err != nil {
			return configs{}, fmt.Errorf("pulled tail sampling config: %w", err)
		}
	}
	// DataKit replaces the tail-sampling config only when its version changes.
	if prev != nil && prev.tail.Enabled() && out.tail.Enabled() && prev.tail.Version == out.tail.Version {
		out.tail = prev.tail
	}
	return out, nil
}

// get asks each Dataway in turn; nil data means "no config".
func (p *puller) get(ctx context.Context, param string) ([]byte, error) {
	var errs []error
	for _, ep := range p.endpoints {
		u := ep.URL(PathPull)
		if ep.Query == "" {
			u += "?" + param
		} else {
			u += "&" + param
		}
		data, err := p.fetch(ctx, u)
		if err == nil {
			return data, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (p *puller) fetch(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	switch {
	case res.StatusCode == http.StatusNotFound:
		return nil, nil
	case res.StatusCode/100 != 2:
		return nil, fmt.Errorf("GET %s: dataway answered %d: %s", req.URL.Path, res.StatusCode, bytes.TrimSpace(body))
	}
	return unwrapContent(body), nil
}

// unwrapContent accepts the config itself or DataKit API's {"content": ...} envelope;
// an empty body, null or {} mean no config.
func unwrapContent(body []byte) []byte {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body // let the parser report it
	}
	if len(m) == 0 {
		return nil
	}
	if c, ok := m["content"]; ok && len(m) <= 2 {
		return unwrapContent(c)
	}
	return body
}
