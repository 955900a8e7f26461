package dataway

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestAppendPointMatchesProtoMarshal(t *testing.T) {
	s := testSpan(3, 50)
	s.Fields = map[string]*spanv1.FieldValue{
		"i": {Kind: &spanv1.FieldValue_I{I: -7}}, "u": {Kind: &spanv1.FieldValue_U{U: math.MaxUint64}},
		"f": {Kind: &spanv1.FieldValue_F{F: 0.5}}, "b": {Kind: &spanv1.FieldValue_B{B: false}},
		"d": {Kind: &spanv1.FieldValue_D{D: nil}}, "s": {Kind: &spanv1.FieldValue_S{S: ""}},
	}
	points := []*pointpb.PBPoint{
		SpanToPoint(s, PointOptions{Hostname: "h", GlobalTags: map[string]string{"g": "1"}}),
		SpanToPoint(testSpan(0, 0), PointOptions{}),
		{},
		{Name: "n", Time: -1},
		{Fields: []*pointpb.Field{
			{}, {Key: "k", IsTag: true}, {Key: "t", Type: pointpb.MetricType_HISTOGRAM_BUCKET_BOUNDS, Unit: "ms", Description: "d"},
			{Key: "s", Val: &pointpb.Field_S{S: "v"}, IsTag: true, Type: pointpb.MetricType_COUNT, Unit: "u", Description: "x"},
			{Key: "b", Val: &pointpb.Field_B{B: true}}, {Key: "d", Val: &pointpb.Field_D{D: []byte{0, 1}}},
			{Key: "f", Val: &pointpb.Field_F{F: math.Inf(-1)}}, {Key: "i", Val: &pointpb.Field_I{I: math.MinInt64}},
			{Key: "it", Val: &pointpb.Field_I{I: 1}, IsTag: true, Type: pointpb.MetricType_GAUGE, Unit: "s", Description: "x"},
			{Val: &pointpb.Field_U{U: 0}, IsTag: true}, {Val: &pointpb.Field_D{D: []byte{}}, Description: "d"},
		}},
	}
	for i, p := range points {
		want, err := proto.Marshal(p)
		require.NoError(t, err)
		got, ok := appendPoint([]byte("prefix"), p)
		require.True(t, ok, "point %d", i)
		assert.Equal(t, want, bytes.TrimPrefix(got, []byte("prefix")), "point %d", i)
	}
}

func TestAppendPointLeavesTheRestToProto(t *testing.T) {
	anyVal, err := anypb.New(&pointpb.AnyDemo{Demo: "x"})
	require.NoError(t, err)
	withUnknown := &pointpb.PBPoint{Name: "n"}
	withUnknown.ProtoReflect().SetUnknown([]byte{0xf8, 0x01, 0x01})
	for name, p := range map[string]*pointpb.PBPoint{
		"warns":      {Warns: []*pointpb.Warn{{Type: "w"}}},
		"debugs":     {Debugs: []*pointpb.Debug{{Info: "d"}}},
		"any":        {Fields: []*pointpb.Field{{Key: "a", Val: &pointpb.Field_A{A: anyVal}}}},
		"nil field":  {Fields: []*pointpb.Field{nil}},
		"unknown":    withUnknown,
		"bad name":   {Name: "\xff"},
		"bad key":    {Fields: []*pointpb.Field{{Key: "\xff"}}},
		"bad string": {Fields: []*pointpb.Field{{Key: "k", Val: &pointpb.Field_S{S: "\xfe"}}}},
		"bad unit":   {Fields: []*pointpb.Field{{Unit: "\xfe"}}},
	} {
		_, ok := appendPoint(nil, p)
		assert.False(t, ok, name)
	}
}

func TestEncodeDropsInvalidUTF8AsBefore(t *testing.T) {
	e := Encoder{Encoding: EncodingV2, MaxRawBodySize: 1 << 20}
	good := SpanToPoint(testSpan(1, 10), PointOptions{})
	bad := &pointpb.PBPoint{Name: "tracing", Fields: []*pointpb.Field{{Key: "k", Val: &pointpb.Field_S{S: "\xff"}}}}
	bodies, drops, err := e.Encode([]*pointpb.PBPoint{good, bad, good})
	require.NoError(t, err)
	require.Len(t, bodies, 1)
	assert.Equal(t, []int{0, 2}, bodies[0].Index)
	require.Len(t, drops, 1)
	assert.Equal(t, ReasonMarshal, drops[0].Reason)
	want, err := proto.Marshal(&pointpb.PBPoints{Arr: []*pointpb.PBPoint{good, good}})
	require.NoError(t, err)
	assert.Equal(t, want, bodies[0].Data)
}
