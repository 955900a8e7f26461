package httpgateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// rawBody is the request body the edge already read (under the size cap), with the
// Content-Type the decoder must keep: grpc-gateway hands the decoder only the reader.
type rawBody struct {
	*bytes.Reader
	data        []byte
	contentType string
}

func (*rawBody) Close() error { return nil }

// marshaler is the only marshaler of the mux (registered for "*"), because a write body is
// never JSON to grpc-gateway: it is bytes for the service to decode. Inbound, it fills the
// google.api.HttpBody of WriteRequest with the raw body and its Content-Type; outbound, an
// HttpBody response body (the echo) is written as is and other messages (ping) as protojson
// with DataKit's field names.
type marshaler struct {
	json protojson.MarshalOptions
}

func newMarshaler() *marshaler {
	return &marshaler{json: protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}}
}

var _ runtime.Marshaler = (*marshaler)(nil)

func (m *marshaler) ContentType(v any) string {
	if rb, ok := v.(interface{ XXX_ResponseBody() any }); ok {
		v = rb.XXX_ResponseBody()
	}
	if hb, ok := v.(*httpbody.HttpBody); ok {
		return hb.GetContentType()
	}
	return "application/json"
}

func (m *marshaler) Marshal(v any) ([]byte, error) {
	switch x := v.(type) {
	case *httpbody.HttpBody:
		return x.GetData(), nil
	case proto.Message:
		return m.json.Marshal(x)
	default:
		return json.Marshal(v)
	}
}

func (m *marshaler) Unmarshal(data []byte, v any) error {
	msg, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("cannot unmarshal into %T", v)
	}
	return protojson.Unmarshal(data, msg)
}

func (m *marshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		dst, ok := v.(**httpbody.HttpBody)
		if !ok {
			return fmt.Errorf("request body cannot be decoded into %T", v)
		}
		if rb, ok := r.(*rawBody); ok {
			*dst = &httpbody.HttpBody{ContentType: rb.contentType, Data: rb.data}
			return nil
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		*dst = &httpbody.HttpBody{Data: data}
		return nil
	})
}

func (m *marshaler) NewEncoder(w io.Writer) runtime.Encoder {
	return runtime.EncoderFunc(func(v any) error {
		b, err := m.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}
