package pgstore

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/internal/pgtest"
	"github.com/ccmcollect/ccmcollect/record"
)

// TestApplyCommitsSynchronously checks that Apply's transaction commits
// with synchronous_commit on even where the server, database or role
// default is off: an answered push must survive a crash of PostgreSQL.
func TestApplyCommitsSynchronously(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off") // a session default, as a server setting would give
	u.RawQuery = q.Encode()
	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var def string
	if err := s.pool.QueryRow(ctx, "SHOW synchronous_commit").Scan(&def); err != nil || def != "off" {
		t.Fatalf("session default synchronous_commit = %q, %v; the test needs off", def, err)
	}
	r, err := record.NewRevision(record.NewID(), "casualty", 1, map[string]any{"n": 1.0}, record.Meta{Programme: "LAO"})
	if err != nil {
		t.Fatal(err)
	}
	revs := []*record.Revision{r}
	docs, err := hub.EncodeRevisions(revs)
	if err != nil {
		t.Fatal(err)
	}
	var inApply string
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := apply(ctx, tx, "LAO", "", revs, docs); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SHOW synchronous_commit").Scan(&inApply)
	})
	if err != nil {
		t.Fatal(err)
	}
	if inApply != "on" {
		t.Errorf("synchronous_commit in Apply's transaction = %q, want on", inApply)
	}
}
