// Package loadgen generates realistic OTLP trace traffic and sends it to an
// OTLP endpoint at a controlled rate. It backs `ariadne loadgen` and every
// Ariadne benchmark, and speaks plain OTLP (gRPC or HTTP/protobuf), so it
// works against any OTLP receiver: Ariadne, Jaeger, Tempo, the Collector.
//
// The traffic simulates a small web shop: eight services (frontend,
// api-gateway, checkout, cart, payment, inventory, users, shipping), each
// with a few pods, calling each other over HTTP and gRPC, querying
// PostgreSQL and Redis, and publishing to Kafka. Traces are whole trees with
// consistent parent/child IDs and nested timestamps, span and resource
// attributes use OpenTelemetry semantic-convention keys with realistic
// cardinality (IDs in URLs and SQL, ~100k users), and a configurable
// fraction of traces fail with an exception event.
//
// Generation writes OTLP protobuf directly (no pdata on the hot path), so a
// single core generates over a million spans per second (BenchmarkGenerate)
// and sends several hundred thousand over loopback (BenchmarkRun).
package loadgen

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// GenOptions shapes the generated traffic. The zero value is the default
// traffic described in the package comment.
type GenOptions struct {
	// MinSpans and MaxSpans bound the spans per trace; each trace draws its
	// size uniformly from [MinSpans, MaxSpans]. Defaults 5 and 50.
	MinSpans, MaxSpans int
	// ErrorRate is the fraction of traces that contain a failed span (status
	// Error plus an "exception" event, with the error propagated to its
	// ancestors). 0 means the default 0.05; a negative value disables errors.
	ErrorRate float64
	// PodsPerService is the number of instances (distinct resources) per
	// service. Default 3.
	PodsPerService int
	// Now is the clock that timestamps are placed around. Default time.Now.
	// With a fixed clock the output is a pure function of seed and options.
	Now func() time.Time
}

func (o GenOptions) withDefaults() GenOptions {
	if o.MinSpans <= 0 {
		o.MinSpans = 5
	}
	if o.MaxSpans <= 0 {
		o.MaxSpans = 50
	}
	if o.MaxSpans < o.MinSpans {
		o.MaxSpans = o.MinSpans
	}
	switch {
	case o.ErrorRate == 0:
		o.ErrorRate = 0.05
	case o.ErrorRate < 0:
		o.ErrorRate = 0
	case o.ErrorRate > 1:
		o.ErrorRate = 1
	}
	if o.PodsPerService <= 0 {
		o.PodsPerService = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Generator produces batches of traces. It is deterministic: two Generators
// with the same seed and options (and a clock returning the same times)
// produce identical bytes. A Generator is not safe for concurrent use; give
// each goroutine its own, with distinct seeds.
type Generator struct {
	opts GenOptions
	rng  rng
	res  []instance // services[s] has instances res[s*pods : (s+1)*pods]
	pods int

	nodes  []node
	expand []int32
	groups [][]byte // encoded spans per (instance, scope)
	span   []byte   // scratch: one span body
	sub    []byte   // scratch: one event body
	val    []byte   // scratch: one attribute value
	t      traceCtx

	traces []traceRecord // traces of the last batch
}

type traceRecord struct {
	id    [16]byte
	spans int
}

// instance is one pod of a service: its pre-encoded Resource and scopes.
type instance struct {
	svc      int
	ip       string
	resource []byte    // ResourceSpans field 1 (tag, length, Resource)
	scopes   [][]byte  // per scope category: ScopeSpans field 1 (tag, length, scope)
	threads  [4]string // thread names for thread.name
}

// traceCtx holds per-trace values shared by all its spans.
type traceCtx struct {
	id        [16]byte
	user      uint64
	userID    [36]byte
	sessionID [43]byte // base64url of 32 bytes, like a typical session token
	requestID [36]byte // UUID, like an X-Request-ID
	clientIP  []byte
	ua        int
	tier      int
}

type node struct {
	parent          int32
	first, last     int32 // children
	next            int32 // sibling
	op              opType
	svc, tsvc       uint8 // service; target service of a call
	inst, peer      uint16
	idx             uint16 // endpoint, query, command, internal name, external or topic
	err             uint8  // 0 none, 1 on the error path, 2 origin
	events          bool
	id              uint64
	arg             int64
	start, end      int64
	expandable      bool
	hasRemoteParent bool
}

// NewGenerator returns a generator seeded with seed. The simulated
// deployment (services, pods, hosts) is the same for every seed, so
// generators with different seeds produce traffic from the same services,
// as concurrent senders against one backend should.
func NewGenerator(seed int64, opts GenOptions) *Generator {
	opts = opts.withDefaults()
	g := &Generator{opts: opts, pods: opts.PodsPerService}
	g.rng.seed(uint64(seed))
	g.buildInstances()
	g.groups = make([][]byte, len(g.res)*numScopes)
	return g
}

// Next returns about n spans as whole traces: between n-MinSpans+1 and n
// spans, or a single trace of n spans when n < MinSpans (none when n <= 0).
// Successive calls continue the same random stream. The caller owns
// the returned Traces. Next decodes the bytes of AppendProto, so it is
// several times slower than AppendProto; benchmarks of encoders or receivers
// that start from bytes should use AppendProto.
func (g *Generator) Next(n int) ptrace.Traces {
	b, _ := g.AppendProto(nil, n)
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		panic("loadgen: generated invalid protobuf: " + err.Error())
	}
	return td
}

// AppendProto generates about n spans (as Next) and appends them to dst as
// an encoded OTLP ExportTraceServiceRequest, which is byte-for-byte also a
// valid TracesData message. It returns the extended buffer and the number
// of spans appended. Spans are grouped into one ResourceSpans per service
// instance and one ScopeSpans per instrumentation library within it, as the
// SDKs of those instances would export them.
func (g *Generator) AppendProto(dst []byte, n int) ([]byte, int) {
	g.traces = g.traces[:0]
	for i := range g.groups {
		g.groups[i] = g.groups[i][:0]
	}
	now := g.opts.Now().UnixNano()
	total := 0
	for total < n {
		size := g.opts.MinSpans + g.rng.intn(g.opts.MaxSpans-g.opts.MinSpans+1)
		if rem := n - total; size > rem {
			switch {
			case rem >= g.opts.MinSpans:
				size = rem
			case total == 0:
				size = rem
			default:
				size = 0
			}
		}
		if size == 0 {
			break
		}
		g.genTrace(size, now)
		total += size
	}
	return g.assemble(dst), total
}

// genTrace builds one trace of exactly size spans and encodes its spans into
// g.groups.
func (g *Generator) genTrace(size int, now int64) {
	r := &g.rng
	t := &g.t
	for t.id == [16]byte{} {
		binary.BigEndian.PutUint64(t.id[:8], r.next())
		binary.BigEndian.PutUint64(t.id[8:], r.next())
	}
	t.user = uint64(r.intn(100_000))
	formatUUID(t.userID[:], mix(t.user^0x5eed_0f_05e75))
	var sb [32]byte
	session := mix(t.user*4 + uint64(r.intn(4)))
	for k := 0; k < 32; k += 8 {
		binary.BigEndian.PutUint64(sb[k:], session)
		session = mix(session)
	}
	base64.RawURLEncoding.Encode(t.sessionID[:], sb[:])
	formatUUID(t.requestID[:], r.next())
	h := mix(t.user ^ 0x1f)
	t.clientIP = t.clientIP[:0]
	t.clientIP = strconv.AppendUint(t.clientIP, 1+h%223, 10)
	for k := 1; k < 4; k++ {
		t.clientIP = append(t.clientIP, '.')
		t.clientIP = strconv.AppendUint(t.clientIP, (h>>(8*k))&0xff, 10)
	}
	t.ua = int(h>>40) % len(userAgents)
	t.tier = int(h>>48) % len(tiers)

	g.buildTree(size)
	if g.opts.ErrorRate > 0 && r.float() < g.opts.ErrorRate {
		g.markError()
	}
	g.layoutTimes(now)
	for i := range g.nodes {
		n := &g.nodes[i]
		gi := int(n.inst)*numScopes + n.op.scope()
		g.groups[gi] = g.appendSpan(g.groups[gi], i)
	}
	g.traces = append(g.traces, traceRecord{id: t.id, spans: size})
	t.id = [16]byte{}
}

func (g *Generator) newNode(parent int32, op opType, svc int, inst int) int32 {
	id := int32(len(g.nodes))
	var sid uint64
	for sid == 0 {
		sid = g.rng.next()
	}
	g.nodes = append(g.nodes, node{parent: parent, first: -1, last: -1, next: -1, op: op, svc: uint8(svc), inst: uint16(inst), id: sid})
	if parent >= 0 {
		p := &g.nodes[parent]
		if p.last >= 0 {
			g.nodes[p.last].next = id
		} else {
			p.first = id
		}
		p.last = id
	}
	return id
}

func (g *Generator) pickInstance(svc int) int {
	return svc*g.pods + g.rng.intn(g.pods)
}

func (g *Generator) pickEndpoint(svc int) (int, int64) {
	s := &services[svc]
	w := g.rng.intn(s.epTotal)
	i := 0
	for ; w >= s.endpoints[i].weight; i++ {
		w -= s.endpoints[i].weight
	}
	var arg int64
	if ids := s.endpoints[i].ids; ids > 0 {
		arg = 1 + int64(g.rng.intn(int(ids)))
	}
	return i, arg
}

// serverNode adds the server (or consumer) span of a call into svc.
func (g *Generator) serverNode(parent int32, op opType, svc int) int32 {
	inst := g.pickInstance(svc)
	id := g.newNode(parent, op, svc, inst)
	n := &g.nodes[id]
	n.expandable = true
	n.hasRemoteParent = parent >= 0
	if op != opConsumer {
		ep, arg := g.pickEndpoint(svc)
		n.idx, n.arg = uint16(ep), arg
	}
	g.expand = append(g.expand, id)
	return id
}

// buildTree grows a random call tree of exactly size spans. Every service
// has a one-span action, so the budget is always used up exactly.
func (g *Generator) buildTree(size int) {
	r := &g.rng
	g.nodes = g.nodes[:0]
	g.expand = g.expand[:0]
	g.serverNode(-1, opHTTPServer, svcFrontend)
	budget := size - 1
	for budget > 0 {
		// Half the time extend the newest server span, which makes the
		// request descend through the services; otherwise any span.
		var p int32
		if r.intn(2) == 0 {
			p = g.expand[len(g.expand)-1]
		} else {
			p = g.expand[r.intn(len(g.expand))]
		}
		pn := g.nodes[p]
		s := &services[pn.svc]
		var a action
		if w := r.intn(s.actTotal); budget >= 2 {
			i := 0
			for ; w >= s.actions[i].weight; i++ {
				w -= s.actions[i].weight
			}
			a = s.actions[i]
		} else {
			a = s.actions[s.cheap[r.intn(len(s.cheap))]]
		}
		switch a.op {
		case opHTTPClient, opRPCClient:
			c := g.newNode(p, a.op, int(pn.svc), int(pn.inst))
			srvOp := opHTTPServer
			if services[a.target].proto == protoGRPC {
				srvOp = opRPCServer
			}
			sv := g.serverNode(c, srvOp, a.target)
			cn, sn := &g.nodes[c], &g.nodes[sv]
			cn.op = opHTTPClient
			if srvOp == opRPCServer {
				cn.op = opRPCClient
			}
			cn.tsvc, cn.peer, cn.idx, cn.arg = uint8(a.target), sn.inst, sn.idx, sn.arg
			cn.events = r.intn(3) == 0
			sn.events = r.intn(4) == 0
		case opProducer:
			tp := &topics[a.target]
			c := g.newNode(p, opProducer, int(pn.svc), int(pn.inst))
			cn := &g.nodes[c]
			cn.idx, cn.arg = uint16(a.target), 1+int64(r.intn(9_000_000))
			arg := cn.arg
			sv := g.serverNode(c, opConsumer, tp.consumer)
			sn := &g.nodes[sv]
			sn.idx, sn.arg = uint16(a.target), arg
		case opDB:
			c := g.newNode(p, opDB, int(pn.svc), int(pn.inst))
			g.nodes[c].idx = uint16(r.intn(len(s.db.queries)))
		case opCache:
			c := g.newNode(p, opCache, int(pn.svc), int(pn.inst))
			g.nodes[c].idx = uint16(r.intn(len(s.redis)))
		case opExternal:
			c := g.newNode(p, opExternal, int(pn.svc), int(pn.inst))
			g.nodes[c].idx = uint16(r.intn(len(s.externals)))
		case opInternal:
			c := g.newNode(p, opInternal, int(pn.svc), int(pn.inst))
			cn := &g.nodes[c]
			cn.idx = uint16(r.intn(len(s.internal)))
			cn.expandable = true
			cn.events = r.intn(3) == 0
			cn.arg = 1 + int64(r.intn(12))
			g.expand = append(g.expand, c)
		}
		budget -= a.op.cost()
	}
}

// markError picks a failing span and marks the path to the root.
func (g *Generator) markError() {
	i := 0
	if len(g.nodes) > 1 {
		i = 1 + g.rng.intn(len(g.nodes)-1)
	}
	g.nodes[i].err = 2
	for p := g.nodes[i].parent; p >= 0; p = g.nodes[p].parent {
		g.nodes[p].err = 1
	}
}

// layoutTimes places the root just before now and every child strictly
// inside its parent, siblings one after another.
func (g *Generator) layoutTimes(now int64) {
	r := &g.rng
	root := &g.nodes[0]
	// ~2ms per span on average, log-uniform spread, 1% slow outliers.
	d := float64(len(g.nodes)) * 2e6 * (0.25 + 1.5*r.float())
	if r.intn(100) == 0 {
		d *= 10
	}
	if root.err != 0 && r.intn(3) == 0 {
		d *= 3 // timeouts
	}
	root.end = now - int64(r.intn(50_000_000))
	root.start = root.end - int64(d)
	var w [64]float64
	for i := range g.nodes {
		p := &g.nodes[i]
		if p.first < 0 {
			continue
		}
		span := float64(p.end - p.start)
		lead := span * (0.02 + 0.08*r.float())
		tail := span * (0.01 + 0.05*r.float())
		avail := span - lead - tail
		k, sum := 0, 0.0
		for c := p.first; c >= 0; c = g.nodes[c].next {
			x := 0.2 + r.float()
			if k < len(w) {
				w[k] = x
			}
			sum += x
			k++
		}
		cursor := float64(p.start) + lead
		k = 0
		for c := p.first; c >= 0; c = g.nodes[c].next {
			x := 1.0
			if k < len(w) {
				x = w[k]
			}
			slot := avail * x / sum
			cn := &g.nodes[c]
			cn.start = int64(cursor + slot*0.1*r.float())
			cn.end = int64(cursor + slot*(1-0.1*r.float()))
			if cn.start < p.start {
				cn.start = p.start
			}
			if cn.end > p.end {
				cn.end = p.end
			}
			if cn.end < cn.start {
				cn.end = cn.start
			}
			cursor += slot
			k++
		}
	}
}

// rng is a PCG-DXSM generator (math/rand/v2's PCG) with the few draws the
// generator needs, inlined to keep the hot path cheap.
type rng struct{ pcg rand.PCG }

func (r *rng) seed(s uint64) { r.pcg.Seed(s, mix(s^0xa5a5a5a5a5a5a5a5)) }

func (r *rng) next() uint64 { return r.pcg.Uint64() }

// intn returns a number in [0, n) (n > 0), by Lemire's multiply-shift.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.pcg.Uint64(), uint64(n))
	return int(hi)
}

func (r *rng) float() float64 { return float64(r.pcg.Uint64()>>11) / (1 << 53) }

// mix is the splitmix64 finalizer: a cheap bijective hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// formatUUID writes a version-4 style UUID derived from h into dst[:36].
func formatUUID(dst []byte, h uint64) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], h)
	binary.BigEndian.PutUint64(b[8:], mix(h))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	hex.Encode(dst[0:8], b[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], b[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], b[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], b[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:36], b[10:16])
}
