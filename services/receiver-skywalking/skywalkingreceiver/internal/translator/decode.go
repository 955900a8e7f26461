package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
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
// field names (traceId, spanId, ...), enums by name or number, int64 as number or string.
func DecodeJSONSegment(b []byte) (*agentv3.SegmentObject, error) {
	seg := &agentv3.SegmentObject{}
	if err := jsonOpts.Unmarshal(b, seg); err != nil {
		return nil, fmt.Errorf("%w: JSON SegmentObject: %w", ErrDecode, err)
	}
	return seg, nil
}

// DecodeJSONSegments reads OAP's /v3/segments body: a JSON array of SegmentObjects.
func DecodeJSONSegments(b []byte) ([]*agentv3.SegmentObject, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, fmt.Errorf("%w: JSON segments: want an array of SegmentObject", ErrDecode)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(trimmed, &raws); err != nil {
		return nil, fmt.Errorf("%w: JSON segments: %w", ErrDecode, err)
	}
	segs := make([]*agentv3.SegmentObject, 0, len(raws))
	for i, raw := range raws {
		seg := &agentv3.SegmentObject{}
		if err := jsonOpts.Unmarshal(raw, seg); err != nil {
			return nil, fmt.Errorf("%w: JSON segments[%d]: %w", ErrDecode, i, err)
		}
		segs = append(segs, seg)
	}
	return segs, nil
}
