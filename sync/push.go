package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	stdsync "sync"

	"github.com/klauspost/compress/gzip"

	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// pushMargin is kept free below protocol.MaxPushBytes for the envelope
// and for the hub's own view of the body size.
const pushMargin = 512 << 10

// pushChunk and pushChunkBytes bound one read of the outbox; its entries
// are sent in several pushes while the next batch is being encoded.
const (
	pushChunk      = 10000
	pushChunkBytes = 64 << 20
)

// batch is one push: the outbox entries it carries and its gzip body.
type batch struct {
	entries []storage.OutboxEntry
	revs    [][]byte // JSON of each revision
	gz      []byte
	err     error
}

// push sends the outbox, oldest first, until it is empty or an error stops
// it. Batches are sent one after another (a later batch may hold children of
// an earlier one) while the next is encoded and compressed.
func (e *Engine) push(ctx context.Context, c *hubClient, id storage.Identity, res *Result) error {
	total, err := e.store.OutboxLen(ctx)
	if err != nil {
		return fmt.Errorf("reading outbox: %w", err)
	}
	e.update(func(s *Status) { s.Total, s.Done = total, 0 })
	done := 0
	var lastSeq uint64
	for {
		entries, err := e.store.PendingOutbox(ctx, pushChunk, pushChunkBytes)
		if err != nil {
			return fmt.Errorf("reading outbox: %w", err)
		}
		if len(entries) == 0 {
			return nil
		}
		if entries[0].Seq <= lastSeq {
			// Every entry sent was acknowledged or rejected; seeing one again
			// means the store did not record that, and looping would spin.
			return fmt.Errorf("outbox did not advance past entry %d", lastSeq)
		}
		lastSeq = entries[len(entries)-1].Seq
		if err := e.pushChunk(ctx, c, id, entries, res, &done); err != nil {
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

// pushChunk sends entries in batches and records progress in done. Three
// stages overlap: encoding the next batch, the hub working on the current
// one, and recording the answers to the previous one in the store. The
// answers are recorded in order; all of them are recorded before pushChunk
// returns. Recording an answer late is safe: until it is recorded the entry
// stays in the outbox, and sending it again only yields "duplicate".
func (e *Engine) pushChunk(ctx context.Context, c *hubClient, id storage.Identity, entries []storage.OutboxEntry, res *Result, done *int) (err error) {
	ectx, cancel := context.WithCancel(ctx)
	batches := e.encodeBatches(ectx, entries, id)
	outcomes := make(chan outcome, 1)
	recorded := make(chan error, 1)
	go func() {
		var rerr error
		for o := range outcomes {
			if rerr == nil {
				rerr = e.record(ctx, o)
			}
			if rerr == nil {
				res.add(o.res)
				*done += o.n
				n := *done
				e.update(func(s *Status) { s.Done, s.Total = n, max(s.Total, n) })
			} else {
				cancel()
			}
		}
		recorded <- rerr
	}()
	defer func() {
		cancel()
		for range batches { // the encoder never outlives the push
		}
		close(outcomes)
		if rerr := <-recorded; rerr != nil && err == nil {
			err = rerr
		}
	}()
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		if ectx.Err() != nil {
			return ctx.Err() // the recorder failed (its error wins) or ctx ended
		}
		o, err := e.sendBatch(ectx, c, b)
		if err != nil {
			if ctx.Err() == nil && ectx.Err() != nil {
				return nil // the recorder failed: its error is returned
			}
			return err
		}
		select {
		case outcomes <- o:
		case <-ectx.Done():
			return ctx.Err()
		}
	}
	return nil
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
// PushBytes and encodes them in a goroutine, one batch ahead of the sender.
// The channel is closed after the last batch or the first error.
func (e *Engine) encodeBatches(ctx context.Context, entries []storage.OutboxEntry, id storage.Identity) <-chan *batch {
	out := make(chan *batch, 1)
	go func() {
		defer close(out)
		cur := &batch{}
		size := 0
		flush := func() bool {
			if len(cur.entries) == 0 {
				return true
			}
			cur.gz, cur.err = gzipBody(cur.revs)
			select {
			case out <- cur:
			case <-ctx.Done():
				return false
			}
			cur, size = &batch{}, 0
			return cur.err == nil
		}
		for _, en := range entries {
			r := en.Rev
			if r.Programme == "" || r.DeviceID == "" || r.User == "" {
				// Saved before enrolment: the envelope is not part of the rev.
				r = r.Clone()
				if r.Programme == "" {
					r.Programme = id.Programme
				}
				if r.DeviceID == "" {
					r.DeviceID = id.DeviceID
				}
				if r.User == "" {
					r.User = id.User
				}
			}
			js, err := json.Marshal(r)
			if err != nil {
				cur.err = fmt.Errorf("encoding outbox entry %d: %w", en.Seq, err)
				select {
				case out <- cur:
				case <-ctx.Done():
				}
				return
			}
			if len(cur.entries) > 0 && (len(cur.entries) >= e.o.PushBatch || size+len(js)+1 > e.o.PushBytes) {
				if !flush() {
					return
				}
			}
			cur.entries = append(cur.entries, en)
			cur.revs = append(cur.revs, js)
			size += len(js) + 1
		}
		flush()
	}()
	return out
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
