package loadgen

import (
	"encoding/binary"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// OTLP field tags (field number << 3 | wire type) used by the encoder. See
// opentelemetry/proto/trace/v1/trace.proto and common/v1/common.proto.
const (
	tagResourceAttr = 1<<3 | 2 // Resource.attributes
	tagScopeAttr    = 3<<3 | 2 // InstrumentationScope.attributes
	tagSpanAttr     = 9<<3 | 2 // Span.attributes
	tagEventAttr    = 3<<3 | 2 // Span.Event.attributes
)

const schemaURL = "https://opentelemetry.io/schemas/1.26.0"

var schemaField = protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), schemaURL)

// appendKV appends one KeyValue with a string value as field tag.
func appendKV[T string | []byte](b []byte, tag byte, key string, val T) []byte {
	anyLen := 1 + protowire.SizeVarint(uint64(len(val))) + len(val)
	kvLen := 1 + protowire.SizeVarint(uint64(len(key))) + len(key) + 1 + protowire.SizeVarint(uint64(anyLen)) + anyLen
	b = append(b, tag)
	b = protowire.AppendVarint(b, uint64(kvLen))
	b = append(b, 0x0a) // KeyValue.key
	b = protowire.AppendVarint(b, uint64(len(key)))
	b = append(b, key...)
	b = append(b, 0x12) // KeyValue.value
	b = protowire.AppendVarint(b, uint64(anyLen))
	b = append(b, 0x0a) // AnyValue.string_value
	b = protowire.AppendVarint(b, uint64(len(val)))
	return append(b, val...)
}

func appendKVInt(b []byte, tag byte, key string, v int64) []byte {
	anyLen := 1 + protowire.SizeVarint(uint64(v))
	kvLen := 1 + protowire.SizeVarint(uint64(len(key))) + len(key) + 1 + 1 + anyLen
	b = append(b, tag)
	b = protowire.AppendVarint(b, uint64(kvLen))
	b = append(b, 0x0a)
	b = protowire.AppendVarint(b, uint64(len(key)))
	b = append(b, key...)
	b = append(b, 0x12, byte(anyLen), 0x18) // AnyValue.int_value
	return protowire.AppendVarint(b, uint64(v))
}

func appendKVBool(b []byte, tag byte, key string, v bool) []byte {
	kvLen := 1 + protowire.SizeVarint(uint64(len(key))) + len(key) + 1 + 1 + 2
	b = append(b, tag)
	b = protowire.AppendVarint(b, uint64(kvLen))
	b = append(b, 0x0a)
	b = protowire.AppendVarint(b, uint64(len(key)))
	b = append(b, key...)
	x := byte(0)
	if v {
		x = 1
	}
	return append(b, 0x12, 2, 0x10, x) // AnyValue.bool_value
}

func appendKVDouble(b []byte, tag byte, key string, v float64) []byte {
	kvLen := 1 + protowire.SizeVarint(uint64(len(key))) + len(key) + 1 + 1 + 9
	b = append(b, tag)
	b = protowire.AppendVarint(b, uint64(kvLen))
	b = append(b, 0x0a)
	b = protowire.AppendVarint(b, uint64(len(key)))
	b = append(b, key...)
	b = append(b, 0x12, 9, 0x21) // AnyValue.double_value
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// appendMessage appends body as length-delimited field tag.
func appendMessage(b []byte, tag byte, body []byte) []byte {
	b = append(b, tag)
	b = protowire.AppendVarint(b, uint64(len(body)))
	return append(b, body...)
}

// buildInstances pre-encodes the Resource and InstrumentationScopes of
// every service instance. The deployment is fixed (not seeded) so that all
// generators describe the same pods.
func (g *Generator) buildInstances() {
	var r rng
	r.seed(0xa51adce)
	const alnum = "bcdfghjklmnpqrstvwxz2456789"
	str := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alnum[r.intn(len(alnum))]
		}
		return string(b)
	}
	nodes := make([]string, 6)
	for i := range nodes {
		nodes[i] = "ip-10-0-" + strconv.Itoa(16+r.intn(32)) + "-" + strconv.Itoa(1+r.intn(250)) + ".ec2.internal"
	}
	g.res = make([]instance, 0, numServices*g.pods)
	for si := range services {
		s := &services[si]
		deploy := str(10)
		for p := 0; p < g.pods; p++ {
			in := instance{svc: si}
			in.ip = "10.42." + strconv.Itoa(si*4+p/250) + "." + strconv.Itoa(2+p%250)
			var body []byte
			kv := func(k, v string) { body = appendKV(body, tagResourceAttr, k, v) }
			kv("service.name", s.name)
			kv("service.version", s.version)
			kv("service.namespace", "shop")
			kv("deployment.environment", "production")
			kv("host.name", nodes[r.intn(len(nodes))])
			kv("k8s.pod.name", s.name+"-"+deploy+"-"+str(5))
			kv("k8s.namespace.name", "shop")
			body = appendKVInt(body, tagResourceAttr, "process.pid", int64(1+r.intn(32767)))
			kv("telemetry.sdk.name", "opentelemetry")
			kv("telemetry.sdk.language", s.lang)
			kv("telemetry.sdk.version", s.sdkVersion)
			kv("cloud.region", "us-east-1")
			in.resource = appendMessage(nil, 1<<3|2, body) // ResourceSpans.resource

			sc := langScopes[s.lang]
			in.scopes = make([][]byte, numScopes)
			for c := range numScopes {
				name := sc[c][0]
				if name == "" {
					name = "shop/" + s.name
				}
				var sb []byte
				sb = protowire.AppendTag(sb, 1, protowire.BytesType)
				sb = protowire.AppendString(sb, name)
				sb = protowire.AppendTag(sb, 2, protowire.BytesType)
				sb = protowire.AppendString(sb, sc[c][1])
				in.scopes[c] = appendMessage(nil, 1<<3|2, sb) // ScopeSpans.scope
			}
			for k := range in.threads {
				switch s.lang {
				case "java":
					in.threads[k] = "http-nio-8080-exec-" + strconv.Itoa(1+r.intn(200))
				case "dotnet":
					in.threads[k] = ".NET ThreadPool Worker"
				default:
					in.threads[k] = "ThreadPoolExecutor-0_" + strconv.Itoa(r.intn(32))
				}
			}
			g.res = append(g.res, in)
		}
	}
}

// assemble appends the grouped spans as an ExportTraceServiceRequest.
func (g *Generator) assemble(dst []byte) []byte {
	for ii := range g.res {
		in := &g.res[ii]
		groups := g.groups[ii*numScopes : (ii+1)*numScopes]
		size := 0
		for c, spans := range groups {
			if len(spans) > 0 {
				n := len(in.scopes[c]) + len(spans)
				size += 1 + protowire.SizeVarint(uint64(n)) + n
			}
		}
		if size == 0 {
			continue
		}
		size += len(in.resource) + len(schemaField)
		dst = append(dst, 1<<3|2) // ExportTraceServiceRequest.resource_spans
		dst = protowire.AppendVarint(dst, uint64(size))
		dst = append(dst, in.resource...)
		for c, spans := range groups {
			if len(spans) == 0 {
				continue
			}
			dst = append(dst, 2<<3|2) // ResourceSpans.scope_spans
			dst = protowire.AppendVarint(dst, uint64(len(in.scopes[c])+len(spans)))
			dst = append(dst, in.scopes[c]...)
			dst = append(dst, spans...)
		}
		dst = append(dst, schemaField...)
	}
	return dst
}

// appendSpan encodes node i as ScopeSpans.spans (field 2) onto dst.
func (g *Generator) appendSpan(dst []byte, i int) []byte {
	n := &g.nodes[i]
	t := &g.t
	s := &services[n.svc]
	in := &g.res[n.inst]

	b := g.span[:0]
	b = append(b, 1<<3|2, 16) // trace_id
	b = append(b, t.id[:]...)
	b = append(b, 2<<3|2, 8) // span_id
	b = binary.BigEndian.AppendUint64(b, n.id)
	if n.parent >= 0 {
		b = append(b, 4<<3|2, 8) // parent_span_id
		b = binary.BigEndian.AppendUint64(b, g.nodes[n.parent].id)
	}
	b = append(b, 5<<3|2) // name
	b = protowire.AppendString(b, g.spanName(n))
	b = append(b, 6<<3, byte(n.op.kind()))
	b = append(b, 7<<3|1) // start_time_unix_nano
	b = binary.LittleEndian.AppendUint64(b, uint64(n.start))
	b = append(b, 8<<3|1) // end_time_unix_nano
	b = binary.LittleEndian.AppendUint64(b, uint64(n.end))

	b = g.appendAttrs(b, n, s, in)
	b = appendKV(b, tagSpanAttr, "user.id", t.userID[:])
	b = appendKV(b, tagSpanAttr, "session.id", t.sessionID[:])
	b = appendKV(b, tagSpanAttr, "app.request.id", t.requestID[:])
	b = appendKV(b, tagSpanAttr, "app.user.tier", tiers[t.tier])
	if s.threads && n.op != opHTTPServer && n.op != opRPCServer {
		b = appendKVInt(b, tagSpanAttr, "thread.id", int64(20+n.id%180))
		b = appendKV(b, tagSpanAttr, "thread.name", in.threads[n.id%uint64(len(in.threads))])
	}

	b = g.appendEvents(b, n, s)
	if n.err != 0 {
		msg := g.errorMessage(n, s)
		st := 1 + protowire.SizeVarint(uint64(len(msg))) + len(msg) + 2 // message, code
		b = append(b, 15<<3|2)
		b = protowire.AppendVarint(b, uint64(st))
		b = append(b, 2<<3|2) // Status.message
		b = protowire.AppendBytes(b, msg)
		b = append(b, 3<<3, 2) // Status.code = ERROR
	}
	// flags: sampled, and whether the parent is remote (HAS_IS_REMOTE|IS_REMOTE).
	flags := uint32(0x101)
	if n.hasRemoteParent {
		flags = 0x301
	}
	b = append(b, 0x85, 0x01) // field 16, fixed32
	b = binary.LittleEndian.AppendUint32(b, flags)
	g.span = b
	return appendMessage(dst, 2<<3|2, b)
}

func (g *Generator) spanName(n *node) string {
	s := &services[n.svc]
	switch n.op {
	case opHTTPServer, opRPCServer:
		return s.endpoints[n.idx].name
	case opHTTPClient:
		return services[n.tsvc].endpoints[n.idx].method
	case opRPCClient:
		return services[n.tsvc].endpoints[n.idx].name
	case opDB:
		return s.db.queries[n.idx].name
	case opCache:
		return s.redis[n.idx].op
	case opExternal:
		return s.externals[n.idx].method
	case opProducer:
		return topics[n.idx].pubName
	case opConsumer:
		return topics[n.idx].procName
	default:
		return s.internal[n.idx]
	}
}

// httpStatus is the response status of an HTTP server span (or of the
// client span calling it, when srv is that server span).
func (g *Generator) httpStatus(srv *node) int64 {
	switch {
	case srv.err != 0:
		return 500
	case srv.arg > 0 && mix(srv.id)%64 == 0:
		return 404
	case services[srv.svc].endpoints[srv.idx].method == "POST":
		return 201
	}
	return 200
}

func (g *Generator) rpcStatus(srv *node) int64 {
	switch {
	case srv.err != 0:
		return 13 // INTERNAL
	case srv.arg > 0 && mix(srv.id)%64 == 0:
		return 5 // NOT_FOUND
	}
	return 0
}

// appendPath appends the URL path (and query) of endpoint e called with arg.
func (g *Generator) appendPath(b []byte, e *endpoint, arg int64, withQuery bool) []byte {
	b = append(b, e.prefix...)
	switch {
	case e.ids == idUser:
		b = append(b, g.t.userID[:]...)
	case e.ids > 0:
		b = strconv.AppendInt(b, arg, 10)
	}
	b = append(b, e.suffix...)
	if withQuery && e.query != "" {
		b = append(b, '?')
		b = g.appendQuery(b, e)
	}
	return b
}

func (g *Generator) appendQuery(b []byte, e *endpoint) []byte {
	for q := e.query; q != ""; {
		i := 0
		for i < len(q) && q[i] != '{' {
			i++
		}
		b = append(b, q[:i]...)
		if i == len(q) {
			break
		}
		b = strconv.AppendInt(b, int64(1+g.rng.intn(40)), 10)
		q = q[i+3:] // skip "{n}"
	}
	return b
}

func (g *Generator) render(b []byte, t template) []byte {
	for _, seg := range t {
		b = append(b, seg.lit...)
		switch {
		case seg.user:
			b = append(b, g.t.userID[:]...)
		case seg.max > 0:
			b = strconv.AppendInt(b, 1+int64(g.rng.intn(int(seg.max))), 10)
		}
	}
	return b
}

func (g *Generator) appendAttrs(b []byte, n *node, s *service, in *instance) []byte {
	const tag = tagSpanAttr
	switch n.op {
	case opHTTPServer:
		e := &s.endpoints[n.idx]
		b = appendKV(b, tag, "http.request.method", e.method)
		g.val = g.appendPath(g.val[:0], e, n.arg, false)
		b = appendKV(b, tag, "url.path", g.val)
		if e.query != "" {
			g.val = g.appendQuery(g.val[:0], e)
			b = appendKV(b, tag, "url.query", g.val)
		}
		b = appendKV(b, tag, "url.scheme", s.scheme)
		b = appendKV(b, tag, "http.route", e.route)
		status := g.httpStatus(n)
		b = appendKVInt(b, tag, "http.response.status_code", status)
		b = appendKV(b, tag, "server.address", s.host)
		b = appendKVInt(b, tag, "server.port", s.port)
		b = appendKV(b, tag, "network.local.address", in.ip)
		if n.parent < 0 {
			b = appendKV(b, tag, "client.address", g.t.clientIP)
			b = appendKV(b, tag, "network.peer.address", g.t.clientIP)
			b = appendKV(b, tag, "user_agent.original", userAgents[g.t.ua])
			b = appendKV(b, tag, "network.protocol.version", "2")
		} else {
			caller := &g.nodes[n.parent]
			ip := g.res[caller.inst].ip
			b = appendKV(b, tag, "client.address", ip)
			b = appendKV(b, tag, "network.peer.address", ip)
			b = appendKV(b, tag, "user_agent.original", services[caller.svc].clientUA)
			b = appendKV(b, tag, "network.protocol.version", "1.1")
		}
		if e.method == "POST" {
			caller := n.id // the body size matches the caller's client span
			if n.parent >= 0 {
				caller = g.nodes[n.parent].id
			}
			b = appendKVInt(b, tag, "http.request.body.size", int64(80+mix(caller>>3)%4000))
		}
		b = appendKVInt(b, tag, "http.response.body.size", int64(120+mix(n.id)%24000))
		if e.idKey != "" {
			b = appendKVInt(b, tag, e.idKey, n.arg)
		}
		if status >= 500 {
			b = appendKV(b, tag, "error.type", "500")
		}
	case opHTTPClient:
		ts := &services[n.tsvc]
		e := &ts.endpoints[n.idx]
		srv := &g.nodes[n.first]
		b = appendKV(b, tag, "http.request.method", e.method)
		g.val = append(g.val[:0], ts.scheme...)
		g.val = append(g.val, "://"...)
		g.val = append(g.val, ts.host...)
		g.val = append(g.val, ':')
		g.val = strconv.AppendInt(g.val, ts.port, 10)
		g.val = g.appendPath(g.val, e, n.arg, true)
		b = appendKV(b, tag, "url.full", g.val)
		b = appendKV(b, tag, "url.template", e.route)
		b = appendKV(b, tag, "server.address", ts.host)
		b = appendKVInt(b, tag, "server.port", ts.port)
		b = appendKV(b, tag, "net.peer.name", ts.host)
		b = appendKV(b, tag, "peer.service", ts.name)
		b = appendKV(b, tag, "network.peer.address", g.res[n.peer].ip)
		b = appendKV(b, tag, "network.protocol.version", "1.1")
		status := g.httpStatus(srv)
		if n.err == 2 {
			status = 503 // the call itself failed (proxy / timeout)
		}
		b = appendKVInt(b, tag, "http.response.status_code", status)
		if e.method == "POST" {
			b = appendKVInt(b, tag, "http.request.body.size", int64(80+mix(n.id>>3)%4000))
		}
		b = appendKVInt(b, tag, "http.response.body.size", int64(120+mix(srv.id)%24000))
		if status >= 500 {
			b = appendKV(b, tag, "error.type", strconv.Itoa(int(status)))
		}
	case opRPCServer, opRPCClient:
		srv := n
		ts := s
		if n.op == opRPCClient {
			srv = &g.nodes[n.first]
			ts = &services[n.tsvc]
		}
		e := &ts.endpoints[n.idx]
		b = appendKV(b, tag, "rpc.system", "grpc")
		b = appendKV(b, tag, "rpc.service", ts.rpcService)
		b = appendKV(b, tag, "rpc.method", e.method)
		code := g.rpcStatus(srv)
		if n.err == 2 {
			code = 14 // UNAVAILABLE
		}
		b = appendKVInt(b, tag, "rpc.grpc.status_code", code)
		b = appendKV(b, tag, "server.address", ts.host)
		b = appendKVInt(b, tag, "server.port", ts.port)
		if n.op == opRPCClient {
			b = appendKV(b, tag, "net.peer.name", ts.host)
			b = appendKV(b, tag, "peer.service", ts.name)
			b = appendKV(b, tag, "network.peer.address", g.res[n.peer].ip)
			b = appendKVInt(b, tag, "network.peer.port", ts.port)
		} else {
			b = appendKV(b, tag, "network.local.address", in.ip)
			b = appendKV(b, tag, "network.peer.address", g.res[g.nodes[n.parent].inst].ip)
			b = appendKVInt(b, tag, "network.peer.port", int64(32768+mix(n.id)%28000))
		}
		b = appendKV(b, tag, "network.transport", "tcp")
		if e.idKey != "" {
			b = appendKVInt(b, tag, e.idKey, n.arg)
		}
		if code != 0 && code != 5 {
			b = appendKV(b, tag, "error.type", rpcCodeName(code))
		}
	case opDB:
		q := &s.db.queries[n.idx]
		b = appendKV(b, tag, "db.system", "postgresql")
		b = appendKV(b, tag, "db.name", s.db.name)
		g.val = g.render(g.val[:0], q.tmpl)
		b = appendKV(b, tag, "db.statement", g.val)
		b = appendKV(b, tag, "db.operation", q.op)
		b = appendKV(b, tag, "db.sql.table", q.table)
		b = appendKV(b, tag, "db.user", s.db.user)
		b = appendKV(b, tag, "server.address", s.db.host)
		b = appendKVInt(b, tag, "server.port", 5432)
		b = appendKV(b, tag, "net.peer.name", s.db.host)
		b = appendKV(b, tag, "peer.service", s.db.name+"-db")
		b = appendKV(b, tag, "network.peer.address", dbIP(n.svc))
		if q.rows > 0 {
			b = appendKVInt(b, tag, "db.response.returned_rows", int64(g.rng.intn(int(q.rows)+1)))
		}
		b = appendKV(b, tag, "code.namespace", s.codeNS)
		b = appendKV(b, tag, "code.function", dbFuncs[int(n.idx)%len(dbFuncs)])
	case opCache:
		c := &s.redis[n.idx]
		b = appendKV(b, tag, "db.system", "redis")
		g.val = g.render(g.val[:0], c.tmpl)
		b = appendKV(b, tag, "db.statement", g.val)
		b = appendKV(b, tag, "db.operation", c.op)
		b = appendKVInt(b, tag, "db.redis.database_index", 0)
		b = appendKV(b, tag, "server.address", "redis-master.shop.svc.cluster.local")
		b = appendKVInt(b, tag, "server.port", 6379)
		b = appendKV(b, tag, "net.peer.name", "redis-master.shop.svc.cluster.local")
		b = appendKV(b, tag, "peer.service", "redis")
		b = appendKV(b, tag, "network.peer.address", "10.42.60.7")
		b = appendKV(b, tag, "network.transport", "tcp")
		b = appendKV(b, tag, "code.namespace", s.codeNS)
	case opExternal:
		x := &s.externals[n.idx]
		b = appendKV(b, tag, "http.request.method", x.method)
		b = appendKV(b, tag, "url.full", x.url)
		b = appendKV(b, tag, "server.address", x.host)
		b = appendKVInt(b, tag, "server.port", 443)
		b = appendKV(b, tag, "net.peer.name", x.host)
		b = appendKV(b, tag, "peer.service", x.host)
		b = appendKV(b, tag, "network.protocol.version", "1.1")
		status := int64(200)
		if n.err == 2 {
			status = 504
		}
		b = appendKVInt(b, tag, "http.response.status_code", status)
		b = appendKVInt(b, tag, "http.request.body.size", int64(200+mix(n.id)%2000))
		b = appendKVInt(b, tag, "http.response.body.size", int64(300+mix(n.id>>5)%6000))
		if status >= 500 {
			b = appendKV(b, tag, "error.type", "504")
		}
	case opProducer, opConsumer:
		tp := &topics[n.idx]
		b = appendKV(b, tag, "messaging.system", "kafka")
		b = appendKV(b, tag, "messaging.destination.name", tp.name)
		key := n.arg
		partition := key % 12
		if n.op == opProducer {
			b = appendKV(b, tag, "messaging.operation", "publish")
		} else {
			b = appendKV(b, tag, "messaging.operation", "process")
			b = appendKV(b, tag, "messaging.kafka.consumer.group", tp.group)
			b = appendKVInt(b, tag, "messaging.kafka.message.offset", int64(1_000_000+mix(uint64(key))%50_000_000))
		}
		g.val = strconv.AppendInt(g.val[:0], key, 10)
		b = appendKV(b, tag, "messaging.kafka.message.key", g.val)
		b = appendKVInt(b, tag, "messaging.kafka.destination.partition", partition)
		msgID := n.id // producer's span ID identifies the message
		if n.op == opConsumer {
			msgID = g.nodes[n.parent].id
		}
		g.val = strconv.AppendUint(g.val[:0], msgID, 16)
		b = appendKV(b, tag, "messaging.message.id", g.val)
		b = appendKV(b, tag, "messaging.client_id", in.ip)
		b = appendKVInt(b, tag, "messaging.message.body.size", int64(200+mix(uint64(key))%3000))
		b = appendKV(b, tag, "server.address", "kafka-0.kafka.shop.svc.cluster.local")
		b = appendKVInt(b, tag, "server.port", 9092)
	default: // opInternal
		b = appendKV(b, tag, "code.function", s.internal[n.idx])
		b = appendKV(b, tag, "code.namespace", s.codeNS)
		b = appendKV(b, tag, "code.filepath", s.codeFile)
		b = appendKVInt(b, tag, "code.lineno", int64(20+mix(uint64(n.idx)+uint64(n.svc)<<8)%400))
		b = appendKVInt(b, tag, "app.items.count", n.arg)
		b = appendKVBool(b, tag, "app.cache.hit", n.id&3 != 0)
	}
	return b
}

func rpcCodeName(c int64) string {
	switch c {
	case 13:
		return "INTERNAL"
	case 14:
		return "UNAVAILABLE"
	}
	return strconv.Itoa(int(c))
}

var dbFuncs = []string{"findById", "findByOrder", "insert", "update", "list"}

var dbIPs = func() (ips [numServices]string) {
	for i := range ips {
		ips[i] = "10.42.50." + strconv.Itoa(10+i)
	}
	return ips
}()

func dbIP(svc uint8) string { return dbIPs[svc] }

// errorMessage is the status message of a failed span.
func (g *Generator) errorMessage(n *node, s *service) []byte {
	if n.err == 2 {
		ex := g.exception(n, s)
		g.val = append(g.val[:0], ex.msg...)
		g.val = strconv.AppendUint(g.val, 1+mix(n.id)%9_000_000, 10)
		return g.val
	}
	switch n.op {
	case opHTTPServer, opHTTPClient:
		g.val = append(g.val[:0], "Internal Server Error"...)
	case opRPCServer, opRPCClient:
		g.val = append(g.val[:0], "rpc error: code = Internal desc = upstream request failed"...)
	default:
		g.val = append(g.val[:0], "upstream call failed"...)
	}
	return g.val
}

func (g *Generator) exception(n *node, s *service) *exception {
	exs := exceptions[s.lang]
	return &exs[int(n.id>>8)%len(exs)]
}

// appendEvents encodes the span's events: an "exception" event on a failing
// span, gRPC message events on some RPC spans, a feature-flag or log event
// on some internal spans.
func (g *Generator) appendEvents(b []byte, n *node, s *service) []byte {
	if n.err == 2 {
		ex := g.exception(n, s)
		e := g.sub[:0]
		e = append(e, 1<<3|1)
		e = binary.LittleEndian.AppendUint64(e, uint64(n.end))
		e = append(e, 2<<3|2)
		e = protowire.AppendString(e, "exception")
		e = appendKV(e, tagEventAttr, "exception.type", ex.typ)
		msg := g.errorMessage(n, s)
		e = appendKV(e, tagEventAttr, "exception.message", msg)
		e = appendKV(e, tagEventAttr, "exception.stacktrace", ex.stack)
		e = appendKVBool(e, tagEventAttr, "exception.escaped", true)
		b = appendMessage(b, 11<<3|2, e)
		g.sub = e
	}
	if !n.events {
		return b
	}
	switch n.op {
	case opRPCClient, opRPCServer:
		size := int64(40 + mix(n.id)%2000)
		for k, typ := range [2]string{"SENT", "RECEIVED"} {
			at := n.start + (n.end-n.start)/50
			if k == 1 {
				at = n.end - (n.end-n.start)/50
			}
			if n.op == opRPCServer {
				typ = [2]string{"RECEIVED", "SENT"}[k]
			}
			e := g.sub[:0]
			e = append(e, 1<<3|1)
			e = binary.LittleEndian.AppendUint64(e, uint64(at))
			e = append(e, 2<<3|2)
			e = protowire.AppendString(e, "message")
			e = appendKV(e, tagEventAttr, "message.type", typ)
			e = appendKVInt(e, tagEventAttr, "message.id", 1)
			e = appendKVInt(e, tagEventAttr, "message.uncompressed_size", size)
			b = appendMessage(b, 11<<3|2, e)
			g.sub = e
			size = int64(60 + mix(n.id>>7)%8000)
		}
	case opInternal:
		e := g.sub[:0]
		e = append(e, 1<<3|1)
		e = binary.LittleEndian.AppendUint64(e, uint64(n.start+(n.end-n.start)/3))
		e = append(e, 2<<3|2)
		if n.arg%2 == 0 {
			e = protowire.AppendString(e, "feature_flag.evaluation")
			e = appendKV(e, tagEventAttr, "feature_flag.key", s.name+".new-pricing")
			e = appendKV(e, tagEventAttr, "feature_flag.variant", [2]string{"on", "off"}[n.id&1])
			e = appendKV(e, tagEventAttr, "feature_flag.provider_name", "flagd")
		} else {
			e = protowire.AppendString(e, "log")
			e = appendKV(e, tagEventAttr, "log.severity", "INFO")
			g.val = append(g.val[:0], "cache miss, loading from database; items="...)
			g.val = strconv.AppendInt(g.val, n.arg, 10)
			e = appendKV(e, tagEventAttr, "log.message", g.val)
		}
		b = appendMessage(b, 11<<3|2, e)
		g.sub = e
	}
	return b
}
