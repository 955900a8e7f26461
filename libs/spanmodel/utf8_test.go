package spanmodel

import (
	"testing"

	"github.com/stretchr/testify/assert"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

func TestValidString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"héllo", "héllo"},
		{"a\xffb", "a\uFFFDb"},
		{"\xc3", "\uFFFD"},
	}
	for _, tt := range tests {
		got := ValidString(tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
		_, err := Marshal(&spanv1.TraceBatch{Source: got})
		assert.NoError(t, err, "%q marshals", tt.in)
	}
}
