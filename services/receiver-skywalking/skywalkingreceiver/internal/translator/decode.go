package translator

import (
	"bytes"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"

	"github.com/tracekit/tracekit/libs/jsonwire"
)

// ErrDecode is wrapped by every payload that does not parse.
var ErrDecode = errors.New("undecodable payload")

// OAP's HTTP receiver ignores fields it does not know, so newer agents keep working.
var jsonOpts = protojson.UnmarshalOptions{DiscardUnknown: true}

// DecodeSegment reads one protobuf SegmentObject (DataKit's /v3/trace body).
func DecodeSegment(b []byte) (*agentv3.SegmentObject, error) {
	seg := &agentv3.SegmentObject{}
	if err := proto.Unmarshal(b, seg); err != nil {
		return nil, fmt.Errorf("%w: protobuf SegmentObject: %w", ErrDecode, err)
	}
	return seg, nil
}

// DecodeJSONSegment reads one SegmentObject in OAP's JSON form (/v3/segment): the proto
// field names (traceId, spanId, ...), enums by name or number, int64 as number or string,
// with protojson's rules (see jsondecode.go). protojson also takes an exponent without
// digits ("1e}"), which RFC 8259 does not: a payload the reader refuses is handed to
// protojson, so that its verdict (and its error message) stays the one given.
func DecodeJSONSegment(b []byte) (*agentv3.SegmentObject, error) {
	d := jsonDecoder{r: jsonwire.NewReader(b, jsonwire.Strict)}
	seg := &agentv3.SegmentObject{}
	err := d.readSegment(seg)
	if err == nil {
		err = d.r.End()
	}
	d.r.Release()
	if err == nil {
		return seg, nil
	}
	seg = &agentv3.SegmentObject{}
	if err := jsonOpts.Unmarshal(b, seg); err != nil {
		return nil, fmt.Errorf("%w: JSON SegmentObject: %w", ErrDecode, err)
	}
	return seg, nil
}

// DecodeJSONSegments reads OAP's /v3/segments body: a JSON array of SegmentObjects, as
// encoding/json into []json.RawMessage then protojson on each element would (the array
// must be RFC 8259 JSON, so protojson's leniency does not arise).
func DecodeJSONSegments(b []byte) ([]*agentv3.SegmentObject, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, fmt.Errorf("%w: JSON segments: want an array of SegmentObject", ErrDecode)
	}
	d := jsonDecoder{r: jsonwire.NewReader(trimmed, jsonwire.Strict)}
	defer d.r.Release()
	segs, bad, err := d.readJSONSegments()
	switch {
	case err != nil && bad >= 0:
		return nil, fmt.Errorf("%w: JSON segments[%d]: %w", ErrDecode, bad, err)
	case err != nil:
		return nil, fmt.Errorf("%w: JSON segments: %w", ErrDecode, err)
	}
	return segs, nil
}
