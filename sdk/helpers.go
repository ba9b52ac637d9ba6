package sdk

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Go runs fn in a new goroutine with a context that carries ctx's span and
// baggage (so spans started in fn are children of ctx's span) but is not
// canceled when ctx is: work handed to a goroutine usually outlives the
// request that started it. Pass ctx itself inside fn if the work must stop
// with the request.
func Go(ctx context.Context, fn func(ctx context.Context)) {
	detached := context.WithoutCancel(ctx)
	go fn(detached)
}

// Error records err on the span in ctx (as an "exception" event) and sets
// the span's status to Error with err's message. It returns err unchanged,
// so that a function can end with `return sdk.Error(ctx, err)`. A nil err
// does nothing and returns nil.
func Error(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	span := trace.SpanFromContext(ctx)
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	return err
}
