package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ariadne-tracing/ariadne/internal/store"
	"github.com/ariadne-tracing/ariadne/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type dbStore struct{ *store.DB }

func TestConformance(t *testing.T) {
	storetest.RunAll(t, storetest.Harness{
		Open: func(t *testing.T, dir string) storetest.Store {
			db, err := store.Open(store.Options{Dir: dir, MergeFanIn: 2, GranuleSpans: 16})
			require.NoError(t, err)
			require.NoError(t, db.Start(context.Background()))
			return dbStore{db}
		},
		Close: func(t *testing.T, s storetest.Store) {
			require.NoError(t, s.(dbStore).Shutdown(context.Background()))
		},
	})
}
