package spanmodel

// JSONEnum holds the JSON strings json.Marshal writes for a thrift enum's values 0..n-1 (the
// generated types marshal as their String(), HTML-escaped), so that a hand-built message
// appends a constant rather than escaping the same few names span after span.
type JSONEnum[T ~int32 | ~int64] struct {
	names  []string
	String func(T) string
}

// NewJSONEnum prints the names of 0..n-1 with str (the enum's String method).
func NewJSONEnum[T ~int32 | ~int64](n int, str func(T) string) JSONEnum[T] {
	e := JSONEnum[T]{names: make([]string, n), String: str}
	for i := range e.names {
		e.names[i] = string(AppendJSONString(nil, str(T(i)), true))
	}
	return e
}

// Append appends v's name as a JSON string.
func (e JSONEnum[T]) Append(b []byte, v T) []byte {
	if v >= 0 && int64(v) < int64(len(e.names)) {
		return append(b, e.names[v]...)
	}
	return AppendJSONString(b, e.String(v), true)
}
