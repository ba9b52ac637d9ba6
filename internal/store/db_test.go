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
	conformance(t, store.Options{MergeFanIn: 2, L0FanIn: 2, GranuleSpans: 16})
}

// Tiny sections: parts of many sections, searches that stop between the
// sections of a part, merges that combine and keep them, traces in several
// sections of one part.
func TestConformanceSmallSections(t *testing.T) {
	conformance(t, store.Options{MergeFanIn: 2, L0FanIn: 2, GranuleSpans: 4, SectionSpans: 8})
}

func conformance(t *testing.T, opts store.Options) {
	storetest.RunAll(t, storetest.Harness{
		Open: func(t *testing.T, dir string) storetest.Store {
			o := opts
			o.Dir = dir
			db, err := store.Open(o)
			require.NoError(t, err)
			require.NoError(t, db.Start(context.Background()))
			return dbStore{db}
		},
		Close: func(t *testing.T, s storetest.Store) {
			require.NoError(t, s.(dbStore).Shutdown(context.Background()))
		},
	})
}
