package otlp

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
)

// maxNesting is ingest's limit on nested attribute values.
const maxNesting = 100

// The nesting limit used to be a pre-check (checkNesting) run before
// pdata's decoder; ingest's protobuf decoder now enforces it itself, and
// these tests check it through the decoder.
var (
	errTooDeep = ingest.ErrTooDeep
	errGroup   = ingest.ErrGroup
)

// checkNesting decodes b as the receivers do.
func checkNesting(b []byte) error {
	_, err := ingest.NewConverter(ingest.Limits{}).DecodeProto(b, time.Now())
	return err
}

func uvarint(b []byte) (uint64, int) { return binary.Uvarint(b) }

// nest fills v with levels nested values, alternating arrays and maps.
func nest(v pcommon.Value, levels int) {
	for i := 1; i < levels; i++ {
		if i%2 == 0 {
			v = v.SetEmptySlice().AppendEmpty()
		} else {
			v = v.SetEmptyMap().PutEmpty("k")
		}
	}
	v.SetStr("leaf")
}

func TestCheckNesting(t *testing.T) {
	places := map[string]func(td ptrace.Traces) pcommon.Map{
		"resource": func(td ptrace.Traces) pcommon.Map { return td.ResourceSpans().At(0).Resource().Attributes() },
		"scope": func(td ptrace.Traces) pcommon.Map {
			return td.ResourceSpans().At(0).ScopeSpans().At(0).Scope().Attributes()
		},
		"span": func(td ptrace.Traces) pcommon.Map {
			return td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
		},
		"event": func(td ptrace.Traces) pcommon.Map {
			return td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Events().AppendEmpty().Attributes()
		},
		"link": func(td ptrace.Traces) pcommon.Map {
			return td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Links().AppendEmpty().Attributes()
		},
	}
	for name, place := range places {
		t.Run(name, func(t *testing.T) {
			for _, levels := range []int{1, 2, maxNesting} {
				td := traces(nil)
				nest(place(td).PutEmpty("v"), levels)
				require.NoError(t, checkNesting(protoBody(t, td)), "%d levels", levels)
			}
			td := traces(nil)
			nest(place(td).PutEmpty("v"), maxNesting+1)
			require.ErrorIs(t, checkNesting(protoBody(t, td)), errTooDeep)
		})
	}
}

func TestCheckNestingMalformedAndUnknown(t *testing.T) {
	deep := deepProto(maxNesting)
	require.Error(t, checkNesting(deep))
	// Malformed input is refused, as by pdata.
	for _, b := range [][]byte{{0x0a}, {0x0a, 0x05, 0x01}, {0xff}, {0x0f}, {0x09, 1, 2}, {0x0d, 1}} {
		require.Error(t, checkNesting(b), "%x", b)
		require.Error(t, ptraceotlp.NewExportRequest().UnmarshalProto(b), "%x", b)
	}
	// Unknown fields are skipped like the decoder does.
	unknown := append([]byte{0x9a, 0x01, 0x01, 0x00, 0xa1, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, deep...)
	require.ErrorIs(t, checkNesting(unknown), errTooDeep)
	require.NoError(t, checkNesting(unknown[:14]))
	require.NoError(t, ptraceotlp.NewExportRequest().UnmarshalProto(unknown[:14]))
	// Groups are refused: pdata would decode a group's fields after a
	// varint inside it as fields of the enclosing message.
	group := []byte{0xa3, 0x01, 0x08, 0x01, 0xa4, 0x01}
	require.ErrorIs(t, checkNesting(group), errGroup)
	require.ErrorIs(t, checkNesting(append(deepProto(1)[:0:0], 0x0a, 0x02, 0x0b, 0x0c)), errGroup)
	// The deprecated instrumentation_library_spans field is walked too.
	td := traces(nil)
	nest(td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutEmpty("v"), maxNesting+1)
	rs := protoBody(t, td)
	// Re-tag ResourceSpans.scope_spans (2) as field 1000 inside the one
	// ResourceSpans: rebuild it from its fields.
	require.Error(t, checkNesting(retagScopeSpans(t, rs)))
}

// retagScopeSpans moves the scope_spans of the first ResourceSpans to
// field 1000.
func retagScopeSpans(t *testing.T, req []byte) []byte {
	// req = field 1 (ResourceSpans) only.
	l, n := uvarint(req[1:])
	rs := req[1+n : 1+n+int(l)]
	var out []byte
	for len(rs) > 0 {
		tag, n := uvarint(rs)
		require.Equal(t, uint64(2), tag&7)
		l, m := uvarint(rs[n:])
		payload := rs[n+m : n+m+int(l)]
		field := int(tag >> 3)
		if field == 2 {
			field = 1000
		}
		out = appendField(out, field, payload)
		rs = rs[n+m+int(l):]
	}
	return appendField(nil, 1, out)
}
