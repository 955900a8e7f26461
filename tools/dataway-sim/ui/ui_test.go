package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		path     string
		status   int
		ctype    string
		contains string
	}{
		{"/", http.StatusOK, "text/html", `<script src="/ui/app.js"`},
		{"/ui/", http.StatusOK, "text/html", `id="trace-list"`},
		{"/ui/app.js", http.StatusOK, "javascript", "/v1/_sim/traces"},
		{"/ui/style.css", http.StatusOK, "text/css", ".span-row"},
		{"/ui/missing.js", http.StatusNotFound, "", ""},
		{"/elsewhere", http.StatusNotFound, "", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + tc.path)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, tc.status, res.StatusCode)
			if tc.status != http.StatusOK {
				return
			}
			assert.Contains(t, res.Header.Get("Content-Type"), tc.ctype)
			assert.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'")
			assert.Contains(t, string(body), tc.contains)
		})
	}
}

// The page must work offline: no asset may load anything from another origin.
func TestAssetsAreSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|@import\s+url\(\s*["']?(https?:)?//|fetch\(\s*["'](https?:)?//`)
	n := 0
	require.NoError(t, fs.WalkDir(Assets(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(Assets(), path)
		require.NoError(t, err)
		assert.Falsef(t, external.Match(b), "%s loads something from another origin: %s", path, external.Find(b))
		if strings.HasSuffix(path, ".js") {
			assert.NotContains(t, string(b), "innerHTML", "%s: API values must reach the page as text", path)
		}
		return nil
	}))
	assert.Equal(t, 3, n)
}
