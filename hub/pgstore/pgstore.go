// Package pgstore is the hub's PostgreSQL store: any number of hub
// processes on one database behave as one hub. The schema is embedded and
// migrated when a store opens.
//
// Commit order across processes: a push locks its programme's row in
// programme_seq for the whole transaction, reads the last sequence number,
// stores its revisions under the next numbers and raises last before it
// commits. A second push of the same programme waits on that row lock until
// the first has committed, so it can only get higher numbers, and every
// revision with a lower number is visible before any with a higher one.
// A pull (`seq > cursor ORDER BY seq`) therefore never skips a number that
// commits later. docs/hub.md gives the argument in full.
package pgstore

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/record"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a hub.Store on PostgreSQL. It is safe for concurrent use, also
// by several processes on one database.
type Store struct {
	pool *pgxpool.Pool
}

var _ hub.Store = (*Store)(nil)

// defaultMaxConns is the pool size unless the URL sets pool_max_conns.
const defaultMaxConns = 16

// migrationLock is the advisory lock key that serialises migrations when
// several hubs start at once.
const migrationLock = 0x63636d68 // "ccmh"

// Open connects to the database at url and applies any schema migration it
// lacks.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// Pushes of one programme wait for each other holding a
		// connection; leave room for the others.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, name := range names {
			v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migrate: bad migration name %s", name)
			}
			var done bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", v).Scan(&done); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			if done {
				continue
			}
			sql, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("migrate: %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
		}
		return nil
	})
}

// retryable reports whether a batch failed only because of a concurrent
// transaction, so that running it again may succeed: errRace, a deadlock
// or a serialization failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.Is(err, errRace) || errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// AddDevice implements hub.Store.
func (s *Store) AddDevice(ctx context.Context, d hub.Device) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO devices (id, name, programme, role, token_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, d.ID, d.Name, d.Programme, d.Role, d.TokenHash[:], d.CreatedAt.UTC())
	if isUnique(err) {
		return fmt.Errorf("add device %s: %w", d.ID, hub.ErrExists)
	} else if err != nil {
		return fmt.Errorf("add device: %w", err)
	}
	return nil
}

const deviceCols = "id, name, programme, role, token_hash, created_at, revoked_at"

func scanDevice(row pgx.Row) (hub.Device, error) {
	var d hub.Device
	var hash []byte
	var revoked *time.Time
	if err := row.Scan(&d.ID, &d.Name, &d.Programme, &d.Role, &hash, &d.CreatedAt, &revoked); err != nil {
		return hub.Device{}, err
	}
	copy(d.TokenHash[:], hash)
	d.CreatedAt = d.CreatedAt.UTC()
	if revoked != nil {
		d.RevokedAt = revoked.UTC()
	}
	return d, nil
}

// DeviceByToken implements hub.Store.
func (s *Store) DeviceByToken(ctx context.Context, hash [32]byte) (hub.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, "SELECT "+deviceCols+" FROM devices WHERE token_hash = $1", hash[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Device{}, fmt.Errorf("device by token: %w", hub.ErrNotFound)
	} else if err != nil {
		return hub.Device{}, fmt.Errorf("device by token: %w", err)
	}
	return d, nil
}

// Devices implements hub.Store.
func (s *Store) Devices(ctx context.Context) ([]hub.Device, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+deviceCols+" FROM devices ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var out []hub.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// RevokeDevice implements hub.Store.
func (s *Store) RevokeDevice(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, "UPDATE devices SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1", id, at.UTC())
	if err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke device %s: %w", id, hub.ErrNotFound)
	}
	return nil
}

// PublishForm implements hub.Store.
func (s *Store) PublishForm(ctx context.Context, f hub.PublishedForm) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO forms (programme, form_id, version, definition, published_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, f.Programme, f.FormID, f.Version, string(f.Def), f.PublishedAt.UTC())
	if err != nil {
		return fmt.Errorf("publish form: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var old string
	err = s.pool.QueryRow(ctx, "SELECT definition FROM forms WHERE programme = $1 AND form_id = $2 AND version = $3",
		f.Programme, f.FormID, f.Version).Scan(&old)
	if err != nil {
		return fmt.Errorf("publish form: %w", err)
	}
	if !hub.SameJSON([]byte(old), f.Def) {
		return fmt.Errorf("form %s version %d for %s: %w", f.FormID, f.Version, f.Programme, hub.ErrExists)
	}
	return nil
}

// PublishedForms implements hub.Store.
func (s *Store) PublishedForms(ctx context.Context, programme string) ([]hub.PublishedForm, error) {
	rows, err := s.pool.Query(ctx, `SELECT programme, form_id, version, definition, published_at FROM forms
		WHERE $1 = '' OR programme = $1 ORDER BY programme, form_id, version`, programme)
	if err != nil {
		return nil, fmt.Errorf("list forms: %w", err)
	}
	defer rows.Close()
	var out []hub.PublishedForm
	for rows.Next() {
		var f hub.PublishedForm
		var def string
		if err := rows.Scan(&f.Programme, &f.FormID, &f.Version, &def, &f.PublishedAt); err != nil {
			return nil, fmt.Errorf("list forms: %w", err)
		}
		f.Def = json.RawMessage(def)
		f.PublishedAt = f.PublishedAt.UTC()
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list forms: %w", err)
	}
	return out, nil
}

// errRace reports that another programme created one of the batch's
// records concurrently; Apply retries the batch.
var errRace = errors.New("record created concurrently by another programme")

// Apply implements hub.Store.
func (s *Store) Apply(ctx context.Context, programme string, revs []*record.Revision) ([]hub.Result, error) {
	return s.ApplyFrom(ctx, programme, "", revs)
}

// ApplyFrom implements hub.Store.
func (s *Store) ApplyFrom(ctx context.Context, programme, device string, revs []*record.Revision) ([]hub.Result, error) {
	docs, err := hub.EncodeRevisions(revs)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	for attempt := 0; ; attempt++ {
		var res []hub.Result
		err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			var err error
			res, err = apply(ctx, tx, programme, device, revs, docs)
			return err
		})
		if retryable(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		return res, nil
	}
}

func apply(ctx context.Context, tx pgx.Tx, programme, device string, revs []*record.Revision, docs [][]byte) ([]hub.Result, error) {
	// 0. Durable whatever the server, database or role default: the hub
	// answers a push only once its revisions survive a crash.
	if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = on"); err != nil {
		return nil, err
	}
	// 1. The programme's row lock: from here to commit, no other push of
	// this programme runs, in this process or any other.
	if _, err := tx.Exec(ctx, "INSERT INTO programme_seq (programme, last) VALUES ($1, 0) ON CONFLICT DO NOTHING", programme); err != nil {
		return nil, err
	}
	var last int64
	if err := tx.QueryRow(ctx, "SELECT last FROM programme_seq WHERE programme = $1 FOR UPDATE", programme).Scan(&last); err != nil {
		return nil, err
	}

	// 2. What is stored of the batch's records and revisions.
	var ids, pairID, pairRev []string
	seenID := make(map[string]bool)
	for _, r := range revs {
		if !seenID[r.RecordID] {
			seenID[r.RecordID] = true
			ids = append(ids, r.RecordID)
		}
		pairID, pairRev = append(pairID, r.RecordID), append(pairRev, r.Rev)
		for _, p := range r.Parents {
			pairID, pairRev = append(pairID, r.RecordID), append(pairRev, p)
		}
	}
	records := make(map[string]*hub.RecordState, len(ids))
	rows, err := tx.Query(ctx, "SELECT record_id, programme, form_id, leaves FROM records WHERE record_id = ANY($1)", ids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var rec hub.RecordState
		var leaves []byte
		if err := rows.Scan(&id, &rec.Programme, &rec.FormID, &leaves); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal(leaves, &rec.Leaves); err != nil {
			rows.Close()
			return nil, fmt.Errorf("leaves of %s: %w", id, err)
		}
		records[id] = &rec
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	known := make(map[[2]string]bool)
	rows, err = tx.Query(ctx, `SELECT r.record_id, r.rev FROM revisions r
		JOIN unnest($1::text[], $2::text[]) AS q(record_id, rev) ON r.record_id = q.record_id AND r.rev = q.rev`, pairID, pairRev)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, rev string
		if err := rows.Scan(&id, &rev); err != nil {
			rows.Close()
			return nil, err
		}
		known[[2]string{id, rev}] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// 3. Judge, then write.
	plan := hub.MakePlan(programme, device, revs, records, func(id, rev string) bool { return known[[2]string{id, rev}] })
	if len(plan.Applied) == 0 {
		return plan.Results, nil
	}
	seq := last
	copyRows := make([][]any, 0, len(plan.Applied))
	for _, i := range plan.Applied {
		r := revs[i]
		seq++
		copyRows = append(copyRows, []any{programme, seq, r.RecordID, r.Rev, string(docs[i])})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"revisions"}, []string{"programme", "seq", "record_id", "rev", "doc"},
		pgx.CopyFromRows(copyRows)); err != nil {
		if isUnique(err) {
			return nil, errRace
		}
		return nil, err
	}
	var recIDs, recProg, recForm, recLeaves []string
	for id, rec := range plan.Records {
		b, err := json.Marshal(rec.Leaves)
		if err != nil {
			return nil, err
		}
		recIDs, recProg, recForm, recLeaves = append(recIDs, id), append(recProg, rec.Programme), append(recForm, rec.FormID), append(recLeaves, string(b))
	}
	tag, err := tx.Exec(ctx, `INSERT INTO records (record_id, programme, form_id, leaves)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
		ON CONFLICT (record_id) DO UPDATE SET leaves = EXCLUDED.leaves
		WHERE records.programme = EXCLUDED.programme AND records.form_id = EXCLUDED.form_id`,
		recIDs, recProg, recForm, recLeaves)
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() != int64(len(recIDs)) {
		return nil, errRace
	}
	if _, err := tx.Exec(ctx, "UPDATE programme_seq SET last = $2 WHERE programme = $1", programme, seq); err != nil {
		return nil, err
	}
	return plan.Results, nil
}

// Pull implements hub.Store. It reads the sizes of the candidate rows
// first and then only the documents that fit the page, so a page of large
// revisions never travels (or waits in memory) beyond maxBytes.
func (s *Store) Pull(ctx context.Context, programme, cursor string, limit, maxBytes int) (hub.Page, error) {
	after, err := hub.ParseCursor(cursor)
	if err != nil {
		return hub.Page{}, err
	}
	if limit < 1 {
		limit = 1
	}
	// From the cursor's own revision (to check it) to one past the page
	// (to know whether more follow).
	rows, err := s.pool.Query(ctx, `SELECT seq, rev, octet_length(doc) FROM revisions WHERE programme = $1 AND seq >= $2
		ORDER BY seq LIMIT $3`, programme, int64(after.Seq), limit+2)
	if err != nil {
		return hub.Page{}, fmt.Errorf("pull: %w", err)
	}
	page := hub.Page{Next: cursor}
	var n, size int
	var lastSeq int64
	checked := after.Seq == 0
	for rows.Next() {
		var seq int64
		var rev string
		var docLen int
		if err := rows.Scan(&seq, &rev, &docLen); err != nil {
			rows.Close()
			return hub.Page{}, fmt.Errorf("pull: %w", err)
		}
		if !checked {
			checked = true
			if err := hub.CheckCursor(after, uint64(seq) == after.Seq, rev); err != nil {
				rows.Close()
				return hub.Page{}, fmt.Errorf("pull: %w", err)
			}
			continue
		}
		if n == limit || n > 0 && size+docLen > maxBytes {
			page.More = true
			break
		}
		n++
		size += docLen
		lastSeq = seq
		page.Next = hub.Cursor{Seq: uint64(seq), Rev: rev}.String()
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return hub.Page{}, fmt.Errorf("pull: %w", err)
	}
	if !checked {
		return hub.Page{}, fmt.Errorf("pull: %w", hub.CheckCursor(after, false, ""))
	}
	if n == 0 {
		return page, nil
	}
	// Committed revisions never change, so the second statement sees the
	// same rows as the first.
	rows, err = s.pool.Query(ctx, `SELECT doc FROM revisions WHERE programme = $1 AND seq > $2 AND seq <= $3
		ORDER BY seq`, programme, int64(after.Seq), lastSeq)
	if err != nil {
		return hub.Page{}, fmt.Errorf("pull: %w", err)
	}
	defer rows.Close()
	page.Revisions = make([]json.RawMessage, 0, n)
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return hub.Page{}, fmt.Errorf("pull: %w", err)
		}
		page.Revisions = append(page.Revisions, json.RawMessage(doc))
	}
	if err := rows.Err(); err != nil {
		return hub.Page{}, fmt.Errorf("pull: %w", err)
	}
	if len(page.Revisions) != n {
		return hub.Page{}, fmt.Errorf("pull: read %d revisions of %d", len(page.Revisions), n)
	}
	return page, nil
}
