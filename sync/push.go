package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	stdsync "sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"

	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// pushMargin is kept free below protocol.MaxPushBytes for the envelope
// and for the hub's own view of the body size.
const pushMargin = 512 << 10

// pushChunk is how many new entries one read of the outbox asks for; they
// are sent in several pushes.
const pushChunk = 20000

// batch is one push: the outbox entries it carries and its gzip body.
type batch struct {
	entries []storage.OutboxEntry
	revs    [][]byte // JSON of each revision
	gz      []byte
}

// push sends the outbox, oldest first, until it is empty or an error stops
// it. Batches are sent one after another (a later batch may hold children of
// an earlier one). Three stages overlap so that the client's and the hub's
// work run side by side:
//
//  1. a reader reads the outbox in chunks and encodes and compresses
//     batches, one batch ahead of the sender;
//  2. the sender pushes a batch and waits for the hub's answers;
//  3. a recorder applies the answers to the outbox (ack or reject), in
//     order, while the next batch is being pushed.
//
// Recording an answer late is safe: until it is recorded the entry stays in
// the outbox, and sending it again only yields "duplicate". Everything
// answered is recorded before push returns, also on error.
func (e *Engine) push(ctx context.Context, c *hubClient, id storage.Identity, res *Result) error {
	total, err := e.store.OutboxLen(ctx)
	if err != nil {
		return fmt.Errorf("reading outbox: %w", err)
	}
	e.update(func(s *Status) { s.Total, s.Done = total, 0 })

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		firstErr error
		errOnce  stdsync.Once
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	var pending atomic.Int64 // entries read but not yet recorded
	progress := make(chan struct{}, 1)
	batches := make(chan *batch, 1)
	outcomes := make(chan outcome, 1)

	var wg stdsync.WaitGroup
	wg.Add(2)
	go func() { // reader
		defer wg.Done()
		defer close(batches)
		if err := e.readOutbox(ctx, id, &pending, progress, batches); err != nil {
			fail(err)
		}
	}()
	go func() { // recorder
		defer wg.Done()
		done := 0
		for o := range outcomes {
			if err := e.record(context.WithoutCancel(ctx), o); err != nil {
				fail(err)
				continue
			}
			res.add(o.res)
			done += o.n
			n := done
			e.update(func(s *Status) { s.Done, s.Total = n, max(s.Total, n) })
			pending.Add(-int64(o.n))
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()
	for b := range batches { // sender
		if ctx.Err() != nil {
			continue // drain
		}
		o, err := e.sendBatch(ctx, c, b)
		if err != nil {
			fail(err)
			continue
		}
		outcomes <- o
	}
	close(outcomes)
	wg.Wait()
	return firstErr
}

// readOutbox reads the outbox in chunks and sends encoded batches to out
// until every entry read has been recorded and no new one is pending. A
// chunk is read while earlier entries are still on their way, so it skips
// the entries already read (their sequence numbers are at most lastSeq).
func (e *Engine) readOutbox(ctx context.Context, id storage.Identity, pending *atomic.Int64, progress <-chan struct{}, out chan<- *batch) error {
	var lastSeq uint64
	for {
		inFlight := int(pending.Load())
		entries, err := e.store.PendingOutbox(ctx, pushChunk+inFlight, 0)
		if err != nil {
			return fmt.Errorf("reading outbox: %w", err)
		}
		k := 0
		for k < len(entries) && entries[k].Seq <= lastSeq {
			k++
		}
		entries = entries[k:]
		if len(entries) == 0 {
			if k > inFlight || inFlight == 0 {
				if k > 0 {
					// Every entry read was recorded, yet the store still
					// lists it: looping would spin.
					return fmt.Errorf("outbox did not advance past entry %d", lastSeq)
				}
				return nil // all sent and recorded
			}
			select { // wait for the recorder, then look again
			case <-progress:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		lastSeq = entries[len(entries)-1].Seq
		pending.Add(int64(len(entries)))
		if err := e.encodeBatches(ctx, entries, id, out); err != nil {
			return err
		}
	}
}

// outcome is what the hub answered for one batch, to be recorded in the
// store.
type outcome struct {
	acks    []uint64    // applied, duplicate or conflict
	rejects []rejection // rejected, with the hub's reason
	res     Result      // counts
	n       int         // entries answered
}

type rejection struct {
	seq    uint64
	reason string
}

// record applies one batch's answers to the outbox.
func (e *Engine) record(ctx context.Context, o outcome) error {
	if len(o.acks) > 0 {
		if err := e.store.AckOutbox(ctx, o.acks); err != nil {
			return fmt.Errorf("acknowledging outbox: %w", err)
		}
	}
	for _, r := range o.rejects {
		if err := e.store.RejectOutbox(ctx, r.seq, r.reason); err != nil {
			return fmt.Errorf("recording rejection: %w", err)
		}
	}
	return nil
}

func (r *Result) add(o Result) {
	r.Pushed += o.Pushed
	r.Duplicates += o.Duplicates
	r.Pulled += o.Pulled
	r.Rejected += o.Rejected
	r.Conflicts += o.Conflicts
}

// encodeBatches splits entries into batches bounded by PushBatch and
// PushBytes, encodes and compresses them, and sends them to out.
func (e *Engine) encodeBatches(ctx context.Context, entries []storage.OutboxEntry, id storage.Identity, out chan<- *batch) error {
	cur := &batch{}
	size := 0
	flush := func() error {
		if len(cur.entries) == 0 {
			return nil
		}
		gz, err := gzipBody(cur.revs)
		if err != nil {
			return err
		}
		cur.gz = gz
		select {
		case out <- cur:
		case <-ctx.Done():
			return ctx.Err()
		}
		cur, size = &batch{}, 0
		return nil
	}
	for _, en := range entries {
		r := en.Rev
		if r.Programme == "" || r.DeviceID != id.DeviceID || r.User == "" {
			// Saved before enrolment, or under an earlier enrolment of this
			// laptop: the envelope is not part of the rev, and the hub
			// accepts only the pushing device's id. The outbox holds only
			// this laptop's own revisions, so its current id is the truth.
			r = r.Clone()
			if r.Programme == "" {
				r.Programme = id.Programme
			}
			r.DeviceID = id.DeviceID
			if r.User == "" {
				r.User = id.User
			}
		}
		js, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding outbox entry %d: %w", en.Seq, err)
		}
		if len(cur.entries) > 0 && (len(cur.entries) >= e.o.PushBatch || size+len(js)+1 > e.o.PushBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		cur.entries = append(cur.entries, en)
		cur.revs = append(cur.revs, js)
		size += len(js) + 1
	}
	return flush()
}

var gzPool = stdsync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// gzipBody returns the gzip of {"revisions":[revs…]}.
func gzipBody(revs [][]byte) ([]byte, error) {
	var buf bytes.Buffer
	w := gzPool.Get().(*gzip.Writer)
	defer gzPool.Put(w)
	w.Reset(&buf)
	_, _ = w.Write([]byte(`{"revisions":[`))
	for i, r := range revs {
		if i > 0 {
			_, _ = w.Write([]byte{','})
		}
		_, _ = w.Write(r)
	}
	_, _ = w.Write([]byte(`]}`))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compressing push: %w", err)
	}
	return buf.Bytes(), nil
}

// sendBatch pushes b and returns the hub's answers. When the hub refuses
// the batch as a whole (400 or 413), the batch is split in halves until the
// culprit is alone, and that one entry is rejected with the hub's reason:
// one bad revision never blocks the others.
func (e *Engine) sendBatch(ctx context.Context, c *hubClient, b *batch) (outcome, error) {
	o := outcome{n: len(b.entries)}
	resp, err := c.push(ctx, b.gz, len(b.entries))
	var he *HubError
	if errors.As(err, &he) && (he.Status == http.StatusBadRequest || he.Status == http.StatusRequestEntityTooLarge) {
		if len(b.entries) == 1 {
			reason := he.Message
			if reason == "" {
				reason = http.StatusText(he.Status)
			}
			o.rejects = append(o.rejects, rejection{b.entries[0].Seq, reason})
			o.res.Rejected++
			return o, nil
		}
		half := len(b.entries) / 2
		for _, part := range []*batch{sub(b, 0, half), sub(b, half, len(b.entries))} {
			if part.gz, err = gzipBody(part.revs); err != nil {
				return o, err
			}
			po, err := e.sendBatch(ctx, c, part)
			if err != nil {
				return o, err
			}
			o.acks = append(o.acks, po.acks...)
			o.rejects = append(o.rejects, po.rejects...)
			o.res.add(po.res)
		}
		return o, nil
	}
	if err != nil {
		return o, err
	}
	// One result per revision sent, in order: checked here, before any
	// result is applied, whatever the client layer already checked.
	if len(resp.Results) != len(b.entries) {
		return o, fmt.Errorf("%w: %d push results for %d revisions", ErrProtocol, len(resp.Results), len(b.entries))
	}
	o.acks = make([]uint64, 0, len(b.entries))
	for i, r := range resp.Results {
		en := b.entries[i]
		if r.Rev != en.Rev.Rev {
			return o, fmt.Errorf("%w: result %d is for %s, sent %s", ErrProtocol, i, r.Rev, en.Rev.Rev)
		}
		switch r.Status {
		case protocol.StatusApplied:
			o.res.Pushed++
		case protocol.StatusConflict:
			o.res.Pushed++
			o.res.Conflicts++
		case protocol.StatusDuplicate:
			o.res.Duplicates++
		case protocol.StatusRejected:
			reason := r.Error
			if reason == "" {
				reason = "rejected by the hub"
			}
			o.rejects = append(o.rejects, rejection{en.Seq, reason})
			o.res.Rejected++
			continue
		default:
			return o, fmt.Errorf("%w: push status %q", ErrProtocol, r.Status)
		}
		o.acks = append(o.acks, en.Seq)
	}
	return o, nil
}

// sub returns entries [i, j) of b, without a body.
func sub(b *batch, i, j int) *batch {
	return &batch{entries: b.entries[i:j], revs: b.revs[i:j]}
}
