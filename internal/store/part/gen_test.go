package part

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// shop generates realistic traces of an online shop: HTTP front end, gRPC
// services, a database proxy; ~15 span attributes, ~12 resource attributes,
// 5-50 spans per trace, random span IDs, errors on 5% of traces.
type shop struct {
	rng      *rand.Rand
	pods     map[string][]*model.Resource
	scopes   map[string]*model.Scope
	products []string
	agents   []string
	ips      []string
}

var shopServices = []string{"frontend", "checkout", "cart", "payment", "product-catalog", "currency", "shipping", "email", "recommendation", "db"}

func newShop(seed uint64) *shop {
	g := &shop{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		pods:   map[string][]*model.Resource{},
		scopes: map[string]*model.Scope{},
	}
	for _, svc := range shopServices {
		for p := 0; p < 3; p++ {
			pod := fmt.Sprintf("%s-%x-%s", svc, g.rng.Uint32()&0xfffffff, g.alnum(5))
			node := fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", g.rng.IntN(8), g.rng.IntN(250))
			g.pods[svc] = append(g.pods[svc], &model.Resource{Attrs: []model.Attr{
				str("service.name", svc),
				str("service.namespace", "shop"),
				str("service.version", fmt.Sprintf("1.%d.%d", g.rng.IntN(20), g.rng.IntN(10))),
				str("service.instance.id", g.uuid()),
				str("host.name", pod),
				str("k8s.pod.name", pod),
				str("k8s.namespace.name", "shop"),
				str("k8s.node.name", node),
				str("k8s.deployment.name", svc),
				num("process.pid", int64(1+g.rng.IntN(30000))),
				str("process.runtime.name", "go"),
				str("telemetry.sdk.name", "opentelemetry"),
				str("telemetry.sdk.language", "go"),
				str("telemetry.sdk.version", "1.28.0"),
				str("deployment.environment", "production"),
			}, SchemaURL: "https://opentelemetry.io/schemas/1.26.0"})
		}
	}
	for _, s := range []struct{ key, name, version string }{
		{"http", "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.53.0"},
		{"grpc", "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc", "0.53.0"},
		{"sql", "github.com/XSAM/otelsql", "0.32.0"},
		{"app", "shop/internal", ""},
	} {
		g.scopes[s.key] = &model.Scope{Name: s.name, Version: s.version}
	}
	for i := 0; i < 10000; i++ {
		g.products = append(g.products, g.alnumUpper(10))
	}
	for i := 0; i < 30; i++ {
		g.agents = append(g.agents, fmt.Sprintf("Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36",
			[]string{"Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64", "iPhone; CPU iPhone OS 17_4 like Mac OS X"}[i%4],
			110+g.rng.IntN(15), g.rng.IntN(6000), g.rng.IntN(200)))
	}
	for i := 0; i < 5000; i++ {
		g.ips = append(g.ips, fmt.Sprintf("%d.%d.%d.%d", 1+g.rng.IntN(223), g.rng.IntN(256), g.rng.IntN(256), g.rng.IntN(256)))
	}
	return g
}

func str(k, v string) model.Attr { return model.Attr{Key: k, Type: model.TypeStr, Str: v} }
func num(k string, v int64) model.Attr {
	return model.Attr{Key: k, Type: model.TypeInt, Num: uint64(v)}
}
func boolean(k string, v bool) model.Attr {
	a := model.Attr{Key: k, Type: model.TypeBool}
	if v {
		a.Num = 1
	}
	return a
}
func double(k string, v float64) model.Attr {
	return model.Attr{Key: k, Type: model.TypeDouble, Num: math.Float64bits(v)}
}

func (g *shop) alnum(n int) string {
	const chars = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.rng.IntN(len(chars))]
	}
	return string(b)
}

func (g *shop) alnumUpper(n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.rng.IntN(len(chars))]
	}
	return string(b)
}

func (g *shop) uuid() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], g.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], g.rng.Uint64())
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (g *shop) spanID() model.SpanID {
	var id model.SpanID
	binary.LittleEndian.PutUint64(id[:], g.rng.Uint64()|1)
	return id
}

// lognormal duration around median ns.
func (g *shop) dur(median float64) int64 {
	return int64(median * math.Exp(g.rng.NormFloat64()*0.8))
}

type traceBuilder struct {
	g       *shop
	spans   []model.Span
	parents []int // index of parent span, -1 for root
	budget  int
	user    string
	order   string
	fail    bool
}

func (b *traceBuilder) full() bool { return len(b.spans) >= b.budget }

func (b *traceBuilder) add(parent int, svc, name string, kind int8, scope string, start, dur int64, attrs []model.Attr, order ...string) int {
	g := b.g
	if len(order) > 0 && order[0] != "" {
		attrs = append(attrs, str("app.order.id", order[0]))
	}
	s := model.Span{
		SpanID: g.spanID(), Name: name, Kind: kind, Start: start, End: start + dur,
		Resource: g.pods[svc][g.rng.IntN(3)], Scope: g.scopes[scope], Attrs: attrs, Flags: 0x101,
	}
	if parent >= 0 {
		s.TraceID = b.spans[parent].TraceID
		s.ParentID = b.spans[parent].SpanID
	}
	b.spans = append(b.spans, s)
	b.parents = append(b.parents, parent)
	return len(b.spans) - 1
}

var rpcs = map[string][]string{
	"checkout":        {"PlaceOrder"},
	"cart":            {"GetCart", "AddItem", "EmptyCart"},
	"payment":         {"Charge"},
	"product-catalog": {"GetProduct", "ListProducts", "SearchProducts"},
	"currency":        {"Convert", "GetSupportedCurrencies"},
	"shipping":        {"GetQuote", "ShipOrder"},
	"email":           {"SendOrderConfirmation"},
	"recommendation":  {"ListRecommendations"},
}

var statements = []struct{ op, table, sql string }{
	{"SELECT", "products", "SELECT id, name, description, picture, price_currency_code, price_units, price_nanos, categories FROM products WHERE id = $1"},
	{"SELECT", "products", "SELECT id, name, price_units, price_nanos FROM products WHERE categories @> $1 ORDER BY name LIMIT 20"},
	{"SELECT", "cart_items", "SELECT product_id, quantity FROM cart_items WHERE user_id = $1"},
	{"INSERT", "cart_items", "INSERT INTO cart_items (user_id, product_id, quantity) VALUES ($1, $2, $3) ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = cart_items.quantity + $3"},
	{"DELETE", "cart_items", "DELETE FROM cart_items WHERE user_id = $1"},
	{"INSERT", "orders", "INSERT INTO orders (id, user_id, total_units, total_nanos, currency, created_at) VALUES ($1, $2, $3, $4, $5, now())"},
	{"UPDATE", "inventory", "UPDATE inventory SET quantity = quantity - $1 WHERE product_id = $2 AND quantity >= $1"},
	{"INSERT", "payments", "INSERT INTO payments (order_id, amount_units, card_type, status) VALUES ($1, $2, $3, $4)"},
}

// call adds an RPC from span parent (of service from) to svc: a client
// span, the server span and, sometimes, database calls below it.
func (b *traceBuilder) call(parent int, from, svc string, at int64) int64 {
	g := b.g
	method := rpcs[svc][g.rng.IntN(len(rpcs[svc]))]
	full := "oteldemo." + capital(svc) + "Service/" + method
	dur := g.dur(3e6)
	pod := g.pods[svc][0].Attrs[5].Str
	c := b.add(parent, from, full, model.KindClient, "grpc", at, dur, []model.Attr{
		str("rpc.system", "grpc"), str("rpc.service", "oteldemo."+capital(svc)+"Service"), str("rpc.method", method),
		str("net.peer.name", svc), num("net.peer.port", 8080), str("server.address", pod), num("rpc.grpc.status_code", 0),
		str("user.id", b.user), str("code.function", "Call"+method),
		str("code.namespace", "shop/"+from), num("retry.count", 0), str("peer.service", svc),
	}, b.order)
	if b.full() {
		return at + dur
	}
	lat := int64(50_000 + g.rng.IntN(400_000))
	sdur := max(dur-2*lat, 10_000)
	srvAttrs := []model.Attr{
		str("rpc.system", "grpc"), str("rpc.service", "oteldemo."+capital(svc)+"Service"), str("rpc.method", method),
		num("rpc.grpc.status_code", 0), str("net.sock.peer.addr", g.ips[g.rng.IntN(64)]), num("net.sock.peer.port", int64(32768+g.rng.IntN(28000))),
		str("net.host.name", pod), str("user.id", b.user), str("code.function", method), str("code.namespace", "shop/"+svc),
		num("app.items.count", int64(1+g.rng.IntN(8))),
	}
	if svc == "payment" {
		srvAttrs = append(srvAttrs, str("app.payment.card_type", []string{"visa", "mastercard", "amex"}[g.rng.IntN(3)]),
			double("app.payment.amount", float64(g.rng.IntN(50000))/100), boolean("app.loyalty.member", g.rng.IntN(3) == 0))
	}
	if svc == "product-catalog" {
		srvAttrs = append(srvAttrs, str("app.product.id", g.products[g.rng.IntN(len(g.products))]))
	}
	s := b.add(c, svc, full, model.KindServer, "grpc", at+lat, sdur, srvAttrs)
	if g.rng.IntN(5) == 0 {
		b.spans[s].Events = []model.Event{
			{Time: at + lat + 1000, Name: "message", Attrs: []model.Attr{str("message.type", "RECEIVED"), num("message.id", 1), num("message.uncompressed_size", int64(g.rng.IntN(4000)))}},
			{Time: at + lat + sdur - 1000, Name: "message", Attrs: []model.Attr{str("message.type", "SENT"), num("message.id", 1), num("message.uncompressed_size", int64(g.rng.IntN(4000)))}},
		}
	}
	t := at + lat + 20_000
	for q := 0; q < 1+g.rng.IntN(2) && !b.full(); q++ {
		t = b.query(s, svc, t) + int64(g.rng.IntN(50_000))
	}
	return at + dur
}

// query adds a database call from span parent of service svc, and the
// database proxy's span.
func (b *traceBuilder) query(parent int, svc string, at int64) int64 {
	g := b.g
	st := statements[g.rng.IntN(len(statements))]
	sql := st.sql
	if g.rng.IntN(4) == 0 { // an un-parameterised query
		sql = fmt.Sprintf("SELECT id, status, total_units FROM orders WHERE user_id = %d AND status = 'open' ORDER BY created_at DESC LIMIT 50", g.rng.IntN(100_000))
	}
	dur := g.dur(8e5)
	attrs := []model.Attr{
		str("db.system", "postgresql"), str("db.name", "shop"), str("db.user", "shop_"+svc), str("db.statement", sql),
		str("db.operation", st.op), str("db.sql.table", st.table), str("net.peer.name", "postgres.shop.svc.cluster.local"),
		num("net.peer.port", 5432), str("user.id", b.user), str("code.function", "query"), str("code.namespace", "shop/"+svc+"/store"),
		num("db.rows_affected", int64(g.rng.IntN(20))),
	}
	c := b.add(parent, svc, st.op+" shop."+st.table, model.KindClient, "sql", at, dur, attrs)
	if !b.full() && g.rng.IntN(2) == 0 {
		b.add(c, "db", "postgres.query", model.KindServer, "app", at+30_000, max(dur-60_000, 5_000), []model.Attr{
			str("db.system", "postgresql"), str("db.statement", sql), str("db.name", "shop"),
			num("db.pool.size", 50), str("net.sock.peer.addr", g.ips[g.rng.IntN(64)]), str("user.id", b.user),
		})
	}
	return at + dur
}

func capital(s string) string {
	out := []byte{}
	up := true
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			up = true
			continue
		}
		c := s[i]
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		out = append(out, c)
	}
	return string(out)
}

var endpoints = []struct {
	method, route string
	calls         []string
}{
	{"GET", "/api/products/{id}", []string{"product-catalog", "currency", "recommendation", "product-catalog"}},
	{"GET", "/api/cart", []string{"cart", "product-catalog", "currency"}},
	{"POST", "/api/cart", []string{"product-catalog", "cart"}},
	{"POST", "/api/checkout", []string{"checkout"}},
	{"GET", "/", []string{"product-catalog", "currency", "recommendation"}},
}

// trace generates one trace starting at start.
func (g *shop) trace(start int64) []model.Span {
	var tid model.TraceID
	binary.LittleEndian.PutUint64(tid[:], g.rng.Uint64())
	binary.LittleEndian.PutUint64(tid[8:], g.rng.Uint64())
	b := &traceBuilder{g: g, budget: 5 + g.rng.IntN(46), user: fmt.Sprintf("user-%d", g.rng.IntN(100_000)), fail: g.rng.IntN(20) == 0}
	b.order = ""
	ep := endpoints[g.rng.IntN(len(endpoints))]
	if ep.route == "/api/checkout" {
		b.order = g.uuid()
	}
	product := g.products[g.rng.IntN(len(g.products))]
	target := ep.route
	if ep.route == "/api/products/{id}" {
		target = "/api/products/" + product
	}
	url := "https://shop.example.com" + target
	if g.rng.IntN(3) == 0 {
		url += "?currency=" + []string{"USD", "EUR", "JPY", "GBP"}[g.rng.IntN(4)]
	}
	root := b.add(-1, "frontend", ep.method+" "+ep.route, model.KindServer, "http", start, 0, []model.Attr{
		str("http.method", ep.method), str("http.route", ep.route), str("http.url", url), str("http.target", target),
		str("http.scheme", "https"), str("http.flavor", "2"), num("http.status_code", 200), str("http.user_agent", g.agents[g.rng.IntN(len(g.agents))]),
		str("net.host.name", "shop.example.com"), str("net.sock.peer.addr", g.ips[g.rng.IntN(len(g.ips))]), num("net.sock.peer.port", int64(1024+g.rng.IntN(60000))),
		num("http.request_content_length", int64(g.rng.IntN(2000))), num("http.response_content_length", int64(100+g.rng.IntN(50000))),
		str("user.id", b.user), str("session.id", g.uuid()),
	})
	b.spans[root].TraceID = tid
	t := start + int64(100_000+g.rng.IntN(400_000))
	for i := 0; !b.full(); i++ {
		svc := ep.calls[i%len(ep.calls)]
		if svc == "checkout" && i > 0 {
			svc = []string{"cart", "product-catalog", "currency", "payment", "shipping", "email"}[g.rng.IntN(6)]
		}
		t = b.call(root, "frontend", svc, t) + int64(g.rng.IntN(200_000))
		if g.rng.IntN(4) == 0 && !b.full() {
			b.add(root, "frontend", "render", model.KindInternal, "app", t, g.dur(2e5), []model.Attr{
				str("code.function", "render"), str("code.namespace", "shop/frontend"), num("code.lineno", 120), str("user.id", b.user),
				str("template", "product.html"), boolean("cache.hit", g.rng.IntN(2) == 0),
			})
		}
	}
	// Parents end after their children.
	for i := len(b.spans) - 1; i > 0; i-- {
		p := b.parents[i]
		b.spans[p].End = max(b.spans[p].End, b.spans[i].End+int64(g.rng.IntN(100_000)))
	}
	if b.fail {
		i := len(b.spans) - 1 - g.rng.IntN(len(b.spans))
		for ; i >= 0; i = b.parents[i] {
			b.spans[i].StatusCode = model.StatusError
			if i == 0 {
				b.spans[i].Attrs[6].Num = 500
				break
			}
			if b.spans[i].Kind == model.KindServer || b.spans[i].Events == nil {
				msg := []string{"connection refused", "context deadline exceeded", "card declined: insufficient funds", "product not found"}[g.rng.IntN(4)]
				b.spans[i].StatusMessage = msg
				b.spans[i].Events = append(b.spans[i].Events, model.Event{Time: b.spans[i].End - 1000, Name: "exception", Attrs: []model.Attr{
					str("exception.type", "*errors.errorString"), str("exception.message", msg),
					str("exception.stacktrace", "goroutine 1 [running]:\nmain.(*server).handle(0xc000123456)\n\t/app/server.go:142 +0x1a5\nnet/http.HandlerFunc.ServeHTTP(...)\n\t/usr/local/go/src/net/http/server.go:2171"),
				}})
			}
		}
	}
	for i := range b.spans {
		b.spans[i].TraceID = tid
	}
	if g.rng.IntN(100) == 0 {
		var lt model.TraceID
		binary.LittleEndian.PutUint64(lt[:], g.rng.Uint64())
		b.spans[0].Links = []model.Link{{TraceID: lt, SpanID: g.spanID(), Attrs: []model.Attr{str("link.reason", "retry")}}}
	}
	return b.spans
}

// realistic returns about n spans of traces starting within window ns of
// start.
func realistic(seed uint64, n int, start, window int64) []model.Span {
	g := newShop(seed)
	var out []model.Span
	for len(out) < n {
		out = append(out, g.trace(start+g.rng.Int64N(window))...)
	}
	return out
}

// randomSpans returns spans with random content exercising every field:
// all attribute types (arrays and maps as encoded lists), empty and nil
// values, events, links, shared and nil resources and scopes, equal start
// times, duplicate span IDs, parents inside and outside the trace, and one
// trace bigger than huge spans.
func randomSpans(seed uint64, traces int, huge int) []model.Span {
	rng := rand.New(rand.NewPCG(seed, 7))
	rstr := func(maxLen int) string {
		n := rng.IntN(maxLen + 1)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	var attrs func(depth int) []model.Attr
	attrs = func(depth int) []model.Attr {
		n := rng.IntN(6)
		if n == 0 {
			return nil
		}
		out := make([]model.Attr, n)
		for i := range out {
			a := model.Attr{Key: []string{"k", "", "http.method", "user.id", rstr(8)}[rng.IntN(5)], Type: model.ValueType(rng.IntN(8))}
			switch a.Type {
			case model.TypeStr, model.TypeBytes:
				a.Str = rstr(20)
			case model.TypeArray, model.TypeMap:
				if depth < 2 {
					a.Str = string(model.AppendAttrs(nil, attrs(depth+1)))
				}
			case model.TypeBool:
				a.Num = rng.Uint64() & 1
			case model.TypeInt, model.TypeDouble:
				a.Num = rng.Uint64()
			}
			out[i] = a
		}
		return out
	}
	var resources []*model.Resource
	for i := 0; i < 5; i++ {
		resources = append(resources, &model.Resource{Attrs: append(attrs(0), str("service.name", fmt.Sprintf("svc-%d", i))), DroppedAttrs: uint32(rng.IntN(2)), SchemaURL: rstr(3)})
	}
	resources = append(resources, nil, &model.Resource{}) // no service
	scopes := []*model.Scope{nil, {Name: "a", Version: "1"}, {Name: "b", Attrs: attrs(0), DroppedAttrs: 3, SchemaURL: "s"}}
	names := []string{"", "GET /", "op", "\x00\xff", rstr(300)}
	var out []model.Span
	for t := 0; t < traces; t++ {
		var tid model.TraceID
		binary.LittleEndian.PutUint64(tid[:], rng.Uint64())
		binary.LittleEndian.PutUint64(tid[8:], rng.Uint64())
		if t == 0 {
			tid = model.TraceID{} // the zero ID sorts first
		}
		if t == 1 {
			tid = model.TraceID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		}
		n := 1 + rng.IntN(12)
		if t == 2 {
			n = huge
		}
		base := int64(1_700_000_000_000_000_000) + rng.Int64N(1e12)
		if t == 3 {
			base = math.MinInt64 + 5 // extremes
		}
		var ids []model.SpanID
		for i := 0; i < n; i++ {
			s := model.Span{TraceID: tid}
			binary.LittleEndian.PutUint64(s.SpanID[:], rng.Uint64())
			if i > 0 && rng.IntN(10) == 0 {
				s.SpanID = ids[rng.IntN(len(ids))] // duplicate span ID within the trace
			}
			switch r := rng.IntN(10); {
			case r < 6 && i > 0:
				s.ParentID = ids[rng.IntN(len(ids))]
			case r < 8:
				binary.LittleEndian.PutUint64(s.ParentID[:], rng.Uint64()) // parent elsewhere
			}
			ids = append(ids, s.SpanID)
			s.Name = names[rng.IntN(len(names))]
			s.Kind = int8(rng.IntN(256) - 128)
			s.StatusCode = int8(rng.IntN(4))
			if rng.IntN(3) == 0 {
				s.StatusMessage = rstr(10)
			}
			if rng.IntN(3) == 0 {
				s.TraceState = "k=" + rstr(5)
			}
			s.Flags = uint32(rng.Uint32() & 0x3ff)
			s.Start = base + rng.Int64N(5)*1000 // equal start times are common
			s.End = s.Start + rng.Int64N(1e9)
			if rng.IntN(20) == 0 {
				s.End = s.Start - 5 // negative duration survives too
			}
			if t == 3 && i == 0 {
				s.End = math.MaxInt64
			}
			s.Attrs = attrs(0)
			s.DroppedAttrs = uint32(rng.IntN(3))
			for e := rng.IntN(3); e > 0; e-- {
				s.Events = append(s.Events, model.Event{Time: s.Start + rng.Int64N(1e6) - 1000, Name: rstr(6), Attrs: attrs(0), DroppedAttrs: uint32(rng.IntN(2))})
			}
			s.DroppedEvents = uint32(rng.IntN(2))
			if rng.IntN(4) == 0 {
				l := model.Link{TraceState: rstr(4), Flags: 1, Attrs: attrs(0), DroppedAttrs: 1}
				binary.LittleEndian.PutUint64(l.TraceID[:], rng.Uint64())
				binary.LittleEndian.PutUint64(l.SpanID[:], rng.Uint64())
				s.Links = append(s.Links, l)
			}
			s.DroppedLinks = uint32(rng.IntN(2))
			s.Resource = resources[rng.IntN(len(resources))]
			s.Scope = scopes[rng.IntN(len(scopes))]
			out = append(out, s)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// encodeSpan is the canonical encoding used to compare spans.
func encodeSpan(s *model.Span) []byte {
	b := model.AppendSpanBody(nil, s)
	b = model.AppendResource(b, s.Resource)
	return model.AppendScope(b, s.Scope)
}

// sortedCopy returns spans in the order a part stores them.
func sortedCopy(spans []model.Span) []model.Span {
	out := slices.Clone(spans)
	slices.SortStableFunc(out, func(a, b model.Span) int { return Compare(&a, &b) })
	return out
}

// byTrace groups sorted spans by trace.
func byTrace(sorted []model.Span) map[model.TraceID][]model.Span {
	m := map[model.TraceID][]model.Span{}
	for _, s := range sorted {
		m[s.TraceID] = append(m[s.TraceID], s)
	}
	return m
}
