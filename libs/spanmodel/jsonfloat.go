package spanmodel

import (
	"math"
	"strconv"
)

// AppendJSONFloat appends a finite f as encoding/json writes a float64 ('f' form, 'e' below
// 1e-6 and from 1e21, "e-09" shortened to "e-9"). encoding/json refuses NaN and the
// infinities: callers decide what those become.
func AppendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
