package shop

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"

	"github.com/ariadne-tracing/ariadne/sdk/tracegrpc"
)

// The inventory service speaks gRPC. To keep the demo free of generated
// code its messages are JSON (a registered gRPC codec); everything else,
// HTTP/2 framing, metadata, status codes and tracing, is plain gRPC.

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (jsonCodec) Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func (jsonCodec) Name() string                    { return "json" }

func init() { encoding.RegisterCodec(jsonCodec{}) }

const inventoryCheck = "/shop.Inventory/Check"

// StockRequest asks how many units of a SKU are in stock.
type StockRequest struct {
	SKU string `json:"sku"`
}

// StockReply answers a StockRequest.
type StockReply struct {
	SKU       string `json:"sku"`
	Available int    `json:"available"`
	Warehouse string `json:"warehouse"`
}

// stockAPI is the server side of shop.Inventory.
type stockAPI interface {
	check(context.Context, *StockRequest) (*StockReply, error)
}

// stockFunc implements stockAPI with a function.
type stockFunc func(context.Context, *StockRequest) (*StockReply, error)

func (f stockFunc) check(ctx context.Context, r *StockRequest) (*StockReply, error) { return f(ctx, r) }

var inventoryDesc = grpc.ServiceDesc{
	ServiceName: "shop.Inventory",
	HandlerType: (*stockAPI)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Check",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req StockRequest
			if err := dec(&req); err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			return srv.(stockAPI).check(ctx, &req)
		},
	}},
}

func startInventory(s *service) error {
	if err := s.listen(); err != nil {
		return err
	}
	s.grpc = grpc.NewServer(tracegrpc.ServerOption(otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(s.prop)))
	s.grpc.RegisterService(&inventoryDesc, stockFunc(func(ctx context.Context, r *StockRequest) (*StockReply, error) {
		if err := s.injectFault(ctx); err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		if r.SKU == "" {
			return nil, status.Error(codes.InvalidArgument, "sku: required")
		}
		h := fnv.New32a()
		h.Write([]byte(r.SKU))
		n := int(h.Sum32() % 40)
		reply := &StockReply{SKU: r.SKU, Available: n, Warehouse: "local"}
		if n < 10 || rand.IntN(4) == 0 {
			// Not enough on the shelf: ask the central warehouse, the
			// slow dependency.
			wctx, span := s.tr.Start(ctx, "warehouse lookup")
			span.SetAttributes(attribute.String("sku", r.SKU))
			sleep(wctx, s.faults.SlowDependency+time.Duration(rand.IntN(10))*time.Millisecond)
			span.End()
			reply.Available += 25
			reply.Warehouse = "central"
		} else {
			work(ctx, time.Millisecond, 3*time.Millisecond)
		}
		return reply, nil
	}))
	go func() { _ = s.grpc.Serve(s.ln) }()
	return nil
}

// inventoryClient calls the inventory service over gRPC.
type inventoryClient struct {
	conn *grpc.ClientConn
}

func newInventoryClient(s *service, addr string) (*inventoryClient, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		tracegrpc.DialOption(otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(s.prop)))
	if err != nil {
		return nil, fmt.Errorf("inventory client: %w", err)
	}
	return &inventoryClient{conn: conn}, nil
}

func (c *inventoryClient) check(ctx context.Context, sku string) (*StockReply, error) {
	var reply StockReply
	if err := c.conn.Invoke(ctx, inventoryCheck, &StockRequest{SKU: sku}, &reply, grpc.CallContentSubtype("json")); err != nil {
		return nil, err
	}
	return &reply, nil
}
