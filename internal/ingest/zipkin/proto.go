package zipkin

import (
	"encoding/hex"
	"fmt"
	"net"

	"google.golang.org/protobuf/encoding/protowire"
)

// DecodeProto decodes a zipkin.proto3 ListOfSpans.
func DecodeProto(b []byte) ([]Span, error) {
	var out []Span
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 {
			return nil // unknown field
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("spans: wire type %d, want bytes", typ)
		}
		s, err := decodeSpan(v)
		if err != nil {
			return fmt.Errorf("span %d: %v", len(out), err)
		}
		if err := s.validate(); err != nil {
			return fmt.Errorf("span %d: %v", len(out), err)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, bad("body is not a zipkin.proto3 ListOfSpans: %v", err)
	}
	return out, nil
}

// fields calls fn for each field of a message: v holds the bytes of a
// length-delimited field, n the value of a varint or fixed field.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error) error {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		var v []byte
		var n uint64
		switch typ {
		case protowire.VarintType:
			n, l = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			n, l = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var n32 uint32
			n32, l = protowire.ConsumeFixed32(b)
			n = uint64(n32)
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(b)
		default:
			l = protowire.ConsumeFieldValue(num, typ, b)
		}
		if l < 0 {
			return fmt.Errorf("field %d: %v", num, protowire.ParseError(l))
		}
		b = b[l:]
		if err := fn(num, typ, v, n); err != nil {
			return err
		}
	}
	return nil
}

// spanWireTypes are the wire types of zipkin.proto3 Span's fields.
var spanWireTypes = map[protowire.Number]protowire.Type{1: protowire.BytesType, 2: protowire.BytesType, 3: protowire.BytesType,
	4: protowire.VarintType, 5: protowire.BytesType, 6: protowire.Fixed64Type, 7: protowire.VarintType,
	8: protowire.BytesType, 9: protowire.BytesType, 10: protowire.BytesType, 11: protowire.BytesType,
	12: protowire.VarintType, 13: protowire.VarintType}

var protoKinds = map[uint64]string{0: "", 1: "CLIENT", 2: "SERVER", 3: "PRODUCER", 4: "CONSUMER"}

func decodeSpan(b []byte) (Span, error) {
	var s Span
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		if w, ok := spanWireTypes[num]; !ok {
			return nil
		} else if w != typ {
			return fmt.Errorf("field %d: wire type %d, want %d", num, typ, w)
		}
		var err error
		switch num {
		case 1:
			s.TraceID = hex.EncodeToString(v)
		case 2:
			s.ParentID = hex.EncodeToString(v)
		case 3:
			s.ID = hex.EncodeToString(v)
		case 4:
			k, ok := protoKinds[n]
			if !ok {
				return fmt.Errorf("kind %d: unknown", n)
			}
			s.Kind = k
		case 5:
			s.Name = string(v)
		case 6:
			s.Timestamp = n
		case 7:
			s.Duration = n
		case 8:
			s.LocalEndpoint, err = decodeEndpoint(v)
		case 9:
			s.RemoteEndpoint, err = decodeEndpoint(v)
		case 10:
			var a Annotation
			a, err = decodeAnnotation(v)
			s.Annotations = append(s.Annotations, a)
		case 11:
			var k, val string
			k, val, err = decodeTag(v)
			if s.Tags == nil {
				s.Tags = map[string]string{}
			}
			s.Tags[k] = val
		case 12:
			s.Debug = n != 0
		case 13:
			s.Shared = n != 0
		}
		return err
	})
	return s, err
}

func decodeEndpoint(b []byte) (*Endpoint, error) {
	e := &Endpoint{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch num {
		case 1:
			e.ServiceName = string(v)
		case 2:
			ip := net.IP(v).To4() // 4 bytes, or 16 of an IPv4-mapped address
			if ip == nil || len(v) != 4 && len(v) != 16 {
				return fmt.Errorf("endpoint ipv4: %d bytes, not an IPv4 address", len(v))
			}
			e.IPv4 = ip.String()
		case 3:
			if len(v) != 16 {
				return fmt.Errorf("endpoint ipv6: %d bytes, want 16", len(v))
			}
			e.IPv6 = net.IP(v).String()
		case 4:
			e.Port = int(int32(n))
		}
		return nil
	})
	return e, err
}

func decodeAnnotation(b []byte) (Annotation, error) {
	var a Annotation
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch num {
		case 1:
			a.Timestamp = n
		case 2:
			a.Value = string(v)
		}
		return nil
	})
	return a, err
}

func decodeTag(b []byte) (k, v string, err error) {
	err = fields(b, func(num protowire.Number, typ protowire.Type, val []byte, n uint64) error {
		switch num {
		case 1:
			k = string(val)
		case 2:
			v = string(val)
		}
		return nil
	})
	return k, v, err
}
