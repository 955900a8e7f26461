package receiver

import (
	"fmt"
	"net/http"
)

// Mount registers h on mux for pattern and reports a conflicting pattern (two inputs on the
// same path) as an error instead of http.ServeMux's panic, so a bad config fails at start
// with a message.
func Mount(mux *http.ServeMux, pattern string, h http.HandlerFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mount %q: %v", pattern, r)
		}
	}()
	mux.HandleFunc(pattern, h)
	return nil
}
