package loadgen

import (
	"strconv"
	"strings"
)

// The catalog is the fixed, immutable description of the simulated shop:
// which services exist, what they serve, and what they call. It is shared by
// every Generator; only the traffic drawn from it depends on the seed.

type protocol uint8

const (
	protoHTTP protocol = iota
	protoGRPC
)

// opType is what a generated span does. It decides the span kind, the
// attribute set and the instrumentation scope.
type opType uint8

const (
	opHTTPServer opType = iota
	opHTTPClient
	opRPCServer
	opRPCClient
	opDB       // SQL client span
	opCache    // Redis client span
	opExternal // HTTP client span to a third party; no server span follows
	opProducer
	opConsumer
	opInternal
)

// scope categories; one InstrumentationScope per (service, category).
const (
	scopeHTTP = iota
	scopeRPC
	scopeDB
	scopeCache
	scopeMessaging
	scopeApp
	numScopes
)

func (o opType) scope() int {
	switch o {
	case opHTTPServer, opHTTPClient, opExternal:
		return scopeHTTP
	case opRPCServer, opRPCClient:
		return scopeRPC
	case opDB:
		return scopeDB
	case opCache:
		return scopeCache
	case opProducer, opConsumer:
		return scopeMessaging
	default:
		return scopeApp
	}
}

// proto SpanKind values.
func (o opType) kind() uint64 {
	switch o {
	case opHTTPServer, opRPCServer:
		return 2
	case opHTTPClient, opRPCClient, opDB, opCache, opExternal:
		return 3
	case opProducer:
		return 4
	case opConsumer:
		return 5
	default:
		return 1
	}
}

const (
	svcFrontend = iota
	svcGateway
	svcCheckout
	svcCart
	svcPayment
	svcInventory
	svcUsers
	svcShipping
	numServices
)

// idUser in endpoint.ids means "the path carries the trace's user ID".
const idUser = -1

type endpoint struct {
	method string // HTTP method, or RPC method name
	route  string // HTTP route template; empty for RPC
	prefix string // path up to the ID (or the whole path when ids == 0)
	suffix string // path after the ID
	ids    int64  // IDs are drawn from [1, ids]; 0 = no ID; idUser = user ID
	idKey  string // span attribute carrying the ID, if any
	query  string // url.query for list endpoints; "{n}" is replaced by a page number
	weight int
	name   string // span name, filled in by init
}

type sqlQuery struct {
	op, table string
	tmpl      template
	name      string // span name "<op> <table>"
	rows      int64  // upper bound for db.response.returned_rows; 0 = not reported
}

type redisCmd struct {
	op   string
	tmpl template
}

type external struct {
	method, url, host string
}

type topic struct {
	name, group string
	consumer    int
	pubName     string
	procName    string
}

type action struct {
	op     opType
	target int // service for calls and consumers; index into topics for producers
	weight int
}

type service struct {
	name, version, lang, sdkVersion string
	proto                           protocol
	host                            string // server.address of its server spans
	port                            int64
	scheme                          string
	rpcService                      string
	endpoints                       []endpoint
	actions                         []action
	internal                        []string // internal span names
	codeNS                          string   // code.namespace for internal and db spans
	codeFile                        string
	db                              dbConf
	redis                           []redisCmd
	externals                       []external
	clientUA                        string // user_agent.original it sends downstream
	threads                         bool   // sets thread.id / thread.name (JVM/.NET/Python instrumentation does)

	epTotal, actTotal int // summed weights
	cheap             []int
}

type dbConf struct {
	name, user, host string
	queries          []sqlQuery
}

var langScopes = map[string][numScopes][2]string{
	"go": {
		{"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.63.0"},
		{"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc", "0.63.0"},
		{"github.com/exaring/otelpgx", "0.9.3"},
		{"github.com/redis/go-redis/extra/redisotel", "9.7.0"},
		{"github.com/IBM/sarama/otelsarama", "0.63.0"},
		{"", "1.0.0"},
	},
	"java": {
		{"io.opentelemetry.tomcat-10.0", "2.10.0-alpha"},
		{"io.opentelemetry.grpc-1.6", "2.10.0-alpha"},
		{"io.opentelemetry.jdbc", "2.10.0-alpha"},
		{"io.opentelemetry.lettuce-5.1", "2.10.0-alpha"},
		{"io.opentelemetry.kafka-clients-2.6", "2.10.0-alpha"},
		{"", "1.0.0"},
	},
	"nodejs": {
		{"@opentelemetry/instrumentation-http", "0.57.1"},
		{"@opentelemetry/instrumentation-grpc", "0.57.1"},
		{"@opentelemetry/instrumentation-pg", "0.50.0"},
		{"@opentelemetry/instrumentation-ioredis", "0.46.0"},
		{"@opentelemetry/instrumentation-kafkajs", "0.6.0"},
		{"", "1.0.0"},
	},
	"dotnet": {
		{"OpenTelemetry.Instrumentation.AspNetCore", "1.10.1"},
		{"OpenTelemetry.Instrumentation.GrpcNetClient", "1.10.0-beta.1"},
		{"OpenTelemetry.Instrumentation.SqlClient", "1.10.0-beta.1"},
		{"OpenTelemetry.Instrumentation.StackExchangeRedis", "1.10.0-beta.1"},
		{"Confluent.Kafka.Extensions.OpenTelemetry", "0.4.0"},
		{"", "1.0.0"},
	},
	"python": {
		{"opentelemetry.instrumentation.flask", "0.50b0"},
		{"opentelemetry.instrumentation.grpc", "0.50b0"},
		{"opentelemetry.instrumentation.psycopg2", "0.50b0"},
		{"opentelemetry.instrumentation.redis", "0.50b0"},
		{"opentelemetry.instrumentation.confluent_kafka", "0.50b0"},
		{"", "1.0.0"},
	},
}

var topics = []topic{
	{name: "orders", group: "shipping", consumer: svcShipping},
	{name: "payments", group: "notifications", consumer: svcUsers},
	{name: "shipments", group: "notifications", consumer: svcUsers},
}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
	"ShopApp/4.12.0 (iOS 18.1; iPhone15,2) CFNetwork/1568.200.51 Darwin/24.1.0",
	"ShopApp/4.11.3 (Android 14; SM-S918B) okhttp/4.12.0",
}

var tiers = []string{"free", "free", "free", "plus", "plus", "business"}

var services = [numServices]service{
	svcFrontend: {
		name: "frontend", version: "2.14.3", lang: "nodejs", sdkVersion: "1.30.1",
		proto: protoHTTP, host: "shop.example.com", port: 443, scheme: "https",
		endpoints: []endpoint{
			{method: "GET", route: "/", prefix: "/", weight: 3},
			{method: "GET", route: "/product/:id", prefix: "/product/", ids: 50000, idKey: "app.product.id", weight: 8},
			{method: "GET", route: "/search", prefix: "/search", query: "q=shoes&page={n}", weight: 3},
			{method: "GET", route: "/cart", prefix: "/cart", weight: 4},
			{method: "POST", route: "/cart/checkout", prefix: "/cart/checkout", weight: 3},
			{method: "GET", route: "/orders/:id", prefix: "/orders/", ids: 9000000, idKey: "app.order.id", weight: 2},
		},
		actions: []action{
			{op: opHTTPClient, target: svcGateway, weight: 10},
			{op: opInternal, weight: 2},
		},
		internal: []string{"render page", "load translations", "hydrate session"},
		codeNS:   "frontend/server", codeFile: "/app/server/routes.js",
		clientUA: "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
	},
	svcGateway: {
		name: "api-gateway", version: "1.8.0", lang: "go", sdkVersion: "1.33.0",
		proto: protoHTTP, host: "api-gateway.shop.svc.cluster.local", port: 8080, scheme: "http",
		endpoints: []endpoint{
			{method: "GET", route: "/api/products/{id}", prefix: "/api/products/", ids: 50000, idKey: "app.product.id", weight: 8},
			{method: "GET", route: "/api/products", prefix: "/api/products", query: "category=shoes&page={n}&limit=24", weight: 3},
			{method: "GET", route: "/api/cart/{userId}", prefix: "/api/cart/", ids: idUser, weight: 4},
			{method: "POST", route: "/api/cart/{userId}/items", prefix: "/api/cart/", suffix: "/items", ids: idUser, weight: 3},
			{method: "POST", route: "/api/checkout", prefix: "/api/checkout", weight: 3},
			{method: "GET", route: "/api/orders/{id}", prefix: "/api/orders/", ids: 9000000, idKey: "app.order.id", weight: 2},
			{method: "GET", route: "/api/users/{userId}", prefix: "/api/users/", ids: idUser, weight: 2},
		},
		actions: []action{
			{op: opHTTPClient, target: svcCheckout, weight: 4},
			{op: opRPCClient, target: svcCart, weight: 3},
			{op: opRPCClient, target: svcUsers, weight: 4},
			{op: opRPCClient, target: svcInventory, weight: 3},
			{op: opCache, weight: 2},
			{op: opInternal, weight: 1},
		},
		internal: []string{"auth.VerifyJWT", "ratelimit.Check"},
		codeNS:   "github.com/shop/api-gateway/internal/proxy", codeFile: "/src/internal/proxy/handler.go",
		redis: []redisCmd{
			{op: "INCR", tmpl: parseTemplate("INCR ratelimit:{u}:{n:1440}")},
			{op: "GET", tmpl: parseTemplate("GET session:{n:99999999}")},
		},
		clientUA: "Go-http-client/1.1",
	},
	svcCheckout: {
		name: "checkout", version: "3.2.1", lang: "java", sdkVersion: "1.44.1",
		proto: protoHTTP, host: "checkout.shop.svc.cluster.local", port: 8080, scheme: "http",
		endpoints: []endpoint{
			{method: "POST", route: "/api/checkout", prefix: "/api/checkout", weight: 5},
			{method: "GET", route: "/api/orders/{id}", prefix: "/api/orders/", ids: 9000000, idKey: "app.order.id", weight: 3},
			{method: "GET", route: "/api/orders", prefix: "/api/orders", query: "status=open&page={n}", weight: 1},
		},
		actions: []action{
			{op: opRPCClient, target: svcCart, weight: 3},
			{op: opRPCClient, target: svcPayment, weight: 3},
			{op: opRPCClient, target: svcInventory, weight: 3},
			{op: opRPCClient, target: svcUsers, weight: 2},
			{op: opRPCClient, target: svcShipping, weight: 2},
			{op: opDB, weight: 5},
			{op: opProducer, target: 0, weight: 2},
			{op: opInternal, weight: 2},
		},
		internal: []string{"OrderService.placeOrder", "PricingService.computeTotals", "OrderValidator.validate"},
		codeNS:   "com.shop.checkout.OrderRepository", codeFile: "OrderRepository.java",
		db: dbConf{name: "orders", user: "checkout_svc", host: "orders-db.shop.svc.cluster.local", queries: []sqlQuery{
			{op: "SELECT", table: "orders", rows: 1, tmpl: parseTemplate("SELECT id, user_id, status, total_cents, currency, created_at FROM orders WHERE id = {n:9000000}")},
			{op: "SELECT", table: "order_items", rows: 8, tmpl: parseTemplate("SELECT oi.sku, oi.quantity, oi.unit_price_cents FROM order_items oi WHERE oi.order_id = {n:9000000} ORDER BY oi.line_no")},
			{op: "INSERT", table: "orders", tmpl: parseTemplate("INSERT INTO orders (id, user_id, status, total_cents, currency) VALUES ({n:9000000}, '{u}', 'pending', {n:500000}, 'USD')")},
			{op: "INSERT", table: "order_items", tmpl: parseTemplate("INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_cents) VALUES ({n:9000000}, {n:8}, 'SKU-{n:50000}', {n:5}, {n:20000})")},
			{op: "UPDATE", table: "orders", tmpl: parseTemplate("UPDATE orders SET status = 'paid', updated_at = now() WHERE id = {n:9000000}")},
		}},
		clientUA: "grpc-java-netty/1.68.1",
		threads:  true,
	},
	svcCart: {
		name: "cart", version: "1.4.7", lang: "dotnet", sdkVersion: "1.10.0",
		proto: protoGRPC, host: "cart.shop.svc.cluster.local", port: 50051, rpcService: "shop.cart.v1.CartService",
		endpoints: []endpoint{
			{method: "GetCart", ids: idUser, weight: 5},
			{method: "AddItem", ids: 50000, idKey: "app.product.id", weight: 3},
			{method: "EmptyCart", ids: idUser, weight: 1},
		},
		actions: []action{
			{op: opCache, weight: 6},
			{op: opRPCClient, target: svcInventory, weight: 1},
			{op: opInternal, weight: 1},
		},
		internal: []string{"CartStore.Load", "CartStore.Merge"},
		codeNS:   "Shop.Cart.Services.CartService", codeFile: "/app/Services/CartService.cs",
		redis: []redisCmd{
			{op: "HGETALL", tmpl: parseTemplate("HGETALL cart:{u}")},
			{op: "HSET", tmpl: parseTemplate("HSET cart:{u} SKU-{n:50000} {n:5}")},
			{op: "EXPIRE", tmpl: parseTemplate("EXPIRE cart:{u} 86400")},
			{op: "DEL", tmpl: parseTemplate("DEL cart:{u}")},
		},
		clientUA: "grpc-dotnet/2.67.0",
		threads:  true,
	},
	svcPayment: {
		name: "payment", version: "0.9.12", lang: "python", sdkVersion: "1.29.0",
		proto: protoGRPC, host: "payment.shop.svc.cluster.local", port: 50051, rpcService: "shop.payment.v1.PaymentService",
		endpoints: []endpoint{
			{method: "Charge", ids: 9000000, idKey: "app.order.id", weight: 5},
			{method: "Refund", ids: 9000000, idKey: "app.order.id", weight: 1},
		},
		actions: []action{
			{op: opDB, weight: 3},
			{op: opExternal, weight: 2},
			{op: opProducer, target: 1, weight: 1},
			{op: opInternal, weight: 2},
		},
		internal: []string{"fraud.score", "charge.prepare"},
		codeNS:   "payment.service", codeFile: "/app/payment/service.py",
		db: dbConf{name: "payments", user: "payment_svc", host: "payments-db.shop.svc.cluster.local", queries: []sqlQuery{
			{op: "INSERT", table: "payments", tmpl: parseTemplate("INSERT INTO payments (id, order_id, amount_cents, provider, status) VALUES ('pay_{n:999999999}', {n:9000000}, {n:500000}, 'stripe', 'authorized')")},
			{op: "SELECT", table: "payment_methods", rows: 3, tmpl: parseTemplate("SELECT id, brand, last4, exp_month, exp_year FROM payment_methods WHERE user_id = '{u}' AND is_default = true")},
			{op: "UPDATE", table: "payments", tmpl: parseTemplate("UPDATE payments SET status = 'captured', captured_at = now() WHERE id = 'pay_{n:999999999}'")},
		}},
		externals: []external{
			{method: "POST", url: "https://api.stripe.com/v1/payment_intents", host: "api.stripe.com"},
			{method: "POST", url: "https://api.stripe.com/v1/charges", host: "api.stripe.com"},
		},
		clientUA: "grpc-python/1.68.0",
		threads:  true,
	},
	svcInventory: {
		name: "inventory", version: "5.0.2", lang: "java", sdkVersion: "1.44.1",
		proto: protoGRPC, host: "inventory.shop.svc.cluster.local", port: 50051, rpcService: "shop.inventory.v1.InventoryService",
		endpoints: []endpoint{
			{method: "GetProduct", ids: 50000, idKey: "app.product.id", weight: 5},
			{method: "CheckStock", ids: 50000, idKey: "app.product.id", weight: 4},
			{method: "ReserveStock", ids: 50000, idKey: "app.product.id", weight: 2},
			{method: "ListProducts", weight: 1},
		},
		actions: []action{
			{op: opDB, weight: 5},
			{op: opCache, weight: 3},
			{op: opInternal, weight: 1},
		},
		internal: []string{"StockService.reserve", "ProductMapper.toProto"},
		codeNS:   "com.shop.inventory.StockRepository", codeFile: "StockRepository.java",
		db: dbConf{name: "catalog", user: "inventory_svc", host: "catalog-db.shop.svc.cluster.local", queries: []sqlQuery{
			{op: "SELECT", table: "products", rows: 1, tmpl: parseTemplate("SELECT id, name, description, price_cents, category_id FROM products WHERE id = {n:50000}")},
			{op: "SELECT", table: "stock", rows: 4, tmpl: parseTemplate("SELECT sku, warehouse_id, available, reserved FROM stock WHERE sku = 'SKU-{n:50000}' FOR UPDATE")},
			{op: "UPDATE", table: "stock", tmpl: parseTemplate("UPDATE stock SET reserved = reserved + {n:5} WHERE sku = 'SKU-{n:50000}' AND warehouse_id = {n:12}")},
			{op: "SELECT", table: "products", rows: 24, tmpl: parseTemplate("SELECT id, name, price_cents FROM products WHERE category_id = {n:400} ORDER BY popularity DESC LIMIT 24 OFFSET {n:480}")},
		}},
		redis: []redisCmd{
			{op: "GET", tmpl: parseTemplate("GET product:{n:50000}")},
			{op: "SET", tmpl: parseTemplate("SET product:{n:50000} ? EX 300")},
		},
		clientUA: "grpc-java-netty/1.68.1",
		threads:  true,
	},
	svcUsers: {
		name: "users", version: "2.3.0", lang: "go", sdkVersion: "1.33.0",
		proto: protoGRPC, host: "users.shop.svc.cluster.local", port: 50051, rpcService: "shop.users.v1.UserService",
		endpoints: []endpoint{
			{method: "GetUser", ids: idUser, weight: 5},
			{method: "Authenticate", ids: idUser, weight: 4},
			{method: "GetPreferences", ids: idUser, weight: 1},
		},
		actions: []action{
			{op: opDB, weight: 4},
			{op: opCache, weight: 4},
			{op: opInternal, weight: 1},
		},
		internal: []string{"bcrypt.Compare", "users.Load"},
		codeNS:   "github.com/shop/users/internal/store", codeFile: "/src/internal/store/users.go",
		db: dbConf{name: "users", user: "users_svc", host: "users-db.shop.svc.cluster.local", queries: []sqlQuery{
			{op: "SELECT", table: "users", rows: 1, tmpl: parseTemplate("SELECT id, email, display_name, tier, created_at FROM users WHERE id = '{u}'")},
			{op: "SELECT", table: "sessions", rows: 1, tmpl: parseTemplate("SELECT user_id, expires_at FROM sessions WHERE id = {n:99999999} AND revoked = false")},
			{op: "UPDATE", table: "users", tmpl: parseTemplate("UPDATE users SET last_seen_at = now() WHERE id = '{u}'")},
		}},
		redis: []redisCmd{
			{op: "GET", tmpl: parseTemplate("GET user:{u}")},
			{op: "SETEX", tmpl: parseTemplate("SETEX user:{u} 600 ?")},
		},
		clientUA: "grpc-go/1.68.0",
	},
	svcShipping: {
		name: "shipping", version: "1.1.5", lang: "python", sdkVersion: "1.29.0",
		proto: protoGRPC, host: "shipping.shop.svc.cluster.local", port: 50051, rpcService: "shop.shipping.v1.ShippingService",
		endpoints: []endpoint{
			{method: "GetQuote", ids: 9000000, idKey: "app.order.id", weight: 3},
			{method: "CreateShipment", ids: 9000000, idKey: "app.order.id", weight: 1},
		},
		actions: []action{
			{op: opDB, weight: 3},
			{op: opExternal, weight: 2},
			{op: opProducer, target: 2, weight: 1},
			{op: opInternal, weight: 2},
		},
		internal: []string{"quote.compute", "label.render"},
		codeNS:   "shipping.handlers", codeFile: "/app/shipping/handlers.py",
		db: dbConf{name: "shipping", user: "shipping_svc", host: "shipping-db.shop.svc.cluster.local", queries: []sqlQuery{
			{op: "INSERT", table: "shipments", tmpl: parseTemplate("INSERT INTO shipments (order_id, carrier, service_level, status) VALUES ({n:9000000}, 'ups', 'ground', 'created')")},
			{op: "SELECT", table: "rates", rows: 6, tmpl: parseTemplate("SELECT carrier, service_level, price_cents FROM rates WHERE zone = {n:8} AND weight_grams <= {n:20000} ORDER BY price_cents")},
		}},
		externals: []external{
			{method: "POST", url: "https://api.shipengine.com/v1/labels", host: "api.shipengine.com"},
			{method: "POST", url: "https://api.shipengine.com/v1/rates/estimate", host: "api.shipengine.com"},
		},
		clientUA: "grpc-python/1.68.0",
		threads:  true,
	},
}

func init() {
	for i := range services {
		s := &services[i]
		for j := range s.endpoints {
			e := &s.endpoints[j]
			if s.proto == protoGRPC {
				e.name = s.rpcService + "/" + e.method
			} else {
				e.name = e.method + " " + e.route
			}
			s.epTotal += e.weight
		}
		for j := range s.db.queries {
			q := &s.db.queries[j]
			q.name = q.op + " " + s.db.name + "." + q.table
		}
		for j, a := range s.actions {
			s.actTotal += a.weight
			if a.op.cost() == 1 {
				s.cheap = append(s.cheap, j)
			}
			missing := false
			switch a.op {
			case opDB:
				missing = len(s.db.queries) == 0
			case opCache:
				missing = len(s.redis) == 0
			case opExternal:
				missing = len(s.externals) == 0
			case opInternal:
				missing = len(s.internal) == 0
			case opHTTPClient:
				missing = services[a.target].proto != protoHTTP
			case opRPCClient:
				missing = services[a.target].proto != protoGRPC
			}
			if missing || a.weight <= 0 {
				panic("loadgen: service " + s.name + " has an action without data to draw from")
			}
		}
		if len(exceptions[s.lang]) == 0 {
			panic("loadgen: no exceptions for language " + s.lang)
		}
		if len(s.cheap) == 0 {
			panic("loadgen: service " + s.name + " has no single-span action")
		}
	}
	for i := range topics {
		t := &topics[i]
		t.pubName = t.name + " publish"
		t.procName = t.name + " process"
	}
}

// cost is the number of spans an action adds to a trace.
func (o opType) cost() int {
	switch o {
	case opHTTPClient, opRPCClient, opProducer:
		return 2 // client span + server span in the callee
	default:
		return 1
	}
}

// template is a string with placeholders, rendered without allocation:
// {n:MAX} is a random integer in [1, MAX], {u} the trace's user ID.
type template []tmplSeg

type tmplSeg struct {
	lit  string
	user bool
	max  int64 // > 0: a random number follows lit
}

func parseTemplate(s string) template {
	var t template
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			if s != "" {
				t = append(t, tmplSeg{lit: s})
			}
			return t
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			panic("loadgen: unterminated placeholder in " + s)
		}
		ph := s[i+1 : i+j]
		seg := tmplSeg{lit: s[:i]}
		switch {
		case ph == "u":
			seg.user = true
		case strings.HasPrefix(ph, "n:"):
			n, err := strconv.ParseInt(ph[2:], 10, 64)
			if err != nil || n <= 0 {
				panic("loadgen: bad placeholder " + ph)
			}
			seg.max = n
		default:
			panic("loadgen: bad placeholder " + ph)
		}
		t = append(t, seg)
		s = s[i+j+1:]
	}
}

// exceptions by language: type, message prefix, stack trace.
type exception struct {
	typ, msg, stack string
}

var exceptions = map[string][]exception{
	"java": {
		{"org.postgresql.util.PSQLException", "ERROR: deadlock detected on order ", `org.postgresql.util.PSQLException: ERROR: deadlock detected
  Detail: Process 4711 waits for ShareLock on transaction 982734; blocked by process 4712.
	at org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2725)
	at org.postgresql.core.v3.QueryExecutorImpl.processResults(QueryExecutorImpl.java:2412)
	at org.postgresql.jdbc.PgStatement.executeInternal(PgStatement.java:517)
	at org.postgresql.jdbc.PgPreparedStatement.executeUpdate(PgPreparedStatement.java:152)
	at com.zaxxer.hikari.pool.ProxyPreparedStatement.executeUpdate(ProxyPreparedStatement.java:61)
	at com.shop.common.db.Repository.update(Repository.java:88)
	at com.shop.common.grpc.ServerHandler.handle(ServerHandler.java:142)
	at io.grpc.stub.ServerCalls$UnaryServerCallHandler$UnaryServerCallListener.onHalfClose(ServerCalls.java:182)
	at java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)
	at java.base/java.lang.Thread.run(Thread.java:1583)`},
		{"io.grpc.StatusRuntimeException", "UNAVAILABLE: upstream connect error for request ", `io.grpc.StatusRuntimeException: UNAVAILABLE: upstream connect error or disconnect/reset before headers
	at io.grpc.stub.ClientCalls.toStatusRuntimeException(ClientCalls.java:268)
	at io.grpc.stub.ClientCalls.getUnchecked(ClientCalls.java:249)
	at io.grpc.stub.ClientCalls.blockingUnaryCall(ClientCalls.java:167)
	at com.shop.common.grpc.Client.call(Client.java:57)
	at com.shop.checkout.OrderService.placeOrder(OrderService.java:203)
	at org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)
	at java.base/java.lang.Thread.run(Thread.java:1583)`},
	},
	"go": {
		{"*pgconn.PgError", "ERROR: canceling statement due to statement timeout (SQLSTATE 57014) for id ", `goroutine 8123 [running]:
runtime/debug.Stack()
	/usr/local/go/src/runtime/debug/stack.go:26 +0x5e
github.com/shop/common/otelx.RecordError({0x1b2c3a0, 0xc0004a2f00}, {0x1b1e4c0, 0xc000512a80})
	/src/common/otelx/errors.go:31 +0x45
github.com/shop/users/internal/store.(*Store).GetUser(0xc0001a8000, {0x1b2c3a0, 0xc0004a2f00}, {0xc0003b6000, 0x24})
	/src/internal/store/users.go:88 +0x1a4
github.com/shop/users/internal/server.(*Server).GetUser(0xc0001b2000, {0x1b2c3a0, 0xc0004a2f00}, 0xc0002c4100)
	/src/internal/server/server.go:57 +0x9c
google.golang.org/grpc.(*Server).processUnaryRPC(0xc000168000, {0x1b2c3a0, 0xc0004a2e40}, 0xc00050a000)
	/go/pkg/mod/google.golang.org/grpc@v1.68.0/server.go:1394 +0xe2b`},
		{"context.deadlineExceededError", "context deadline exceeded calling upstream for ", `goroutine 4411 [running]:
github.com/shop/api-gateway/internal/proxy.(*Handler).forward(0xc000224000, {0x1c0e4e8, 0xc0006b2a50}, 0xc0004f8200)
	/src/internal/proxy/handler.go:142 +0x3d1
net/http.HandlerFunc.ServeHTTP(0xc000190f00, {0x1c0b9f0, 0xc0005a61c0}, 0xc0004f8200)
	/usr/local/go/src/net/http/server.go:2220 +0x29
go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp.(*middleware).serveHTTP(0xc0001c6000, {0x1c0b9f0, 0xc0005a61c0}, 0xc0004f8100, {0x1bf2d20, 0xc000190f00})
	/go/pkg/mod/go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp@v0.63.0/handler.go:179 +0x12a5`},
	},
	"python": {
		{"psycopg2.errors.QueryCanceled", "canceling statement due to statement timeout for ", `Traceback (most recent call last):
  File "/app/payment/service.py", line 112, in Charge
    row = self.repo.insert_payment(order_id, amount)
  File "/app/payment/repo.py", line 48, in insert_payment
    cur.execute(INSERT_PAYMENT, params)
  File "/usr/local/lib/python3.12/site-packages/opentelemetry/instrumentation/dbapi/__init__.py", line 581, in execute
    return query_method(*args, **kwargs)
psycopg2.errors.QueryCanceled: canceling statement due to statement timeout`},
		{"requests.exceptions.ReadTimeout", "HTTPSConnectionPool: Read timed out (read timeout=5) for ", `Traceback (most recent call last):
  File "/usr/local/lib/python3.12/site-packages/urllib3/connectionpool.py", line 536, in _make_request
    response = conn.getresponse()
  File "/usr/local/lib/python3.12/site-packages/requests/adapters.py", line 713, in send
    raise ReadTimeout(e, request=request)
requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.stripe.com', port=443): Read timed out. (read timeout=5)`},
	},
	"dotnet": {
		{"StackExchange.Redis.RedisTimeoutException", "Timeout performing HGETALL (5000ms) for ", `StackExchange.Redis.RedisTimeoutException: Timeout performing HGETALL (5000ms), next: HGETALL cart, inst: 1, qu: 0, qs: 12, aw: False, bw: SpinningDown, rs: ReadAsync, ws: Idle, in: 0
   at StackExchange.Redis.ConnectionMultiplexer.ExecuteSyncImpl[T](Message message, ResultProcessor` + "`" + `1 processor, ServerEndPoint server, T defaultValue) in /_/src/StackExchange.Redis/ConnectionMultiplexer.cs:line 2099
   at StackExchange.Redis.RedisDatabase.HashGetAll(RedisKey key, CommandFlags flags) in /_/src/StackExchange.Redis/RedisDatabase.cs:line 380
   at Shop.Cart.Services.CartStore.LoadAsync(String userId) in /app/Services/CartStore.cs:line 41
   at Shop.Cart.Services.CartService.GetCart(GetCartRequest request, ServerCallContext context) in /app/Services/CartService.cs:line 27`},
	},
	"nodejs": {
		{"FetchError", "request to http://api-gateway.shop.svc.cluster.local:8080 failed, reason: socket hang up for ", `FetchError: request to http://api-gateway.shop.svc.cluster.local:8080/api/checkout failed, reason: socket hang up
    at ClientRequest.<anonymous> (/app/node_modules/node-fetch/lib/index.js:1501:11)
    at ClientRequest.emit (node:events:519:28)
    at Socket.socketOnEnd (node:_http_client:524:9)
    at Socket.emit (node:events:531:35)
    at endReadableNT (node:internal/streams/readable:1696:12)
    at process.processTicksAndRejections (node:internal/process/task_queues:82:21)`},
	},
}
