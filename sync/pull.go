package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// page is one pull answer, or the error that ended the fetching.
type page struct {
	since string
	resp  protocol.PullResponse
	err   error
}

// pull fetches pages after the stored cursor until the hub says there are no
// more, applying each page together with its cursor in one store call. The
// next page is fetched while the current one is applied; a page is applied
// only after every earlier page, so the stored cursor always marks a prefix
// of the hub's commit order.
//
// A stored cursor the hub refuses (400 bad_cursor: the hub's data was
// replaced, for example restored from a backup; or a 400 without an API error
// body from an older hub) is dropped and the
// pull starts again from the beginning; applying is idempotent, so this
// costs bandwidth but never doubles anything.
func (e *Engine) pull(ctx context.Context, c *hubClient, id storage.Identity, res *Result) error {
	cursor, err := e.store.PullCursor(ctx)
	if err != nil {
		return fmt.Errorf("reading pull cursor: %w", err)
	}
	err = e.pullFrom(ctx, c, id, cursor, res)
	var he *HubError
	var first *firstPageError
	if cursor != "" && errors.As(err, &first) && errors.As(err, &he) && he.Status == http.StatusBadRequest &&
		(he.Code == protocol.CodeBadCursor || he.Code == "") {
		e.log.Warn("the hub refused the pull cursor; pulling again from the beginning")
		if _, err := e.store.ApplyRemote(ctx, nil, ""); err != nil {
			return fmt.Errorf("resetting pull cursor: %w", err)
		}
		return e.pullFrom(ctx, c, id, "", res)
	}
	return err
}

// firstPageError marks an error of the first page of a pull.
type firstPageError struct{ err error }

func (e *firstPageError) Error() string { return e.err.Error() }
func (e *firstPageError) Unwrap() error { return e.err }

func (e *Engine) pullFrom(ctx context.Context, c *hubClient, id storage.Identity, cursor string, res *Result) error {
	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan page, 1)
	fetched := make(chan struct{})
	defer func() {
		cancel()
		<-fetched // the fetcher never outlives the pull
	}()
	go func() {
		defer close(fetched)
		defer close(pages)
		since := cursor
		for {
			resp, err := c.pull(ctx, since, e.o.PullLimit)
			if err == nil && resp.More && resp.Next == since && len(resp.Revisions) == 0 {
				err = fmt.Errorf("%w: pull made no progress at cursor %q", ErrProtocol, since)
			}
			select {
			case pages <- page{since: since, resp: resp, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil || !resp.More {
				return
			}
			since = resp.Next
		}
	}()
	done := 0
	for p := range pages {
		if p.err != nil {
			if p.since == cursor {
				return &firstPageError{p.err}
			}
			return p.err
		}
		revs := p.resp.Revisions
		for _, r := range revs {
			if r == nil {
				return fmt.Errorf("%w: null revision in pull page", ErrProtocol)
			}
			if r.Programme != id.Programme {
				return fmt.Errorf("%w: pulled a revision of programme %q into %q", ErrProtocol, r.Programme, id.Programme)
			}
		}
		if len(revs) == 0 && p.resp.Next == p.since {
			continue // nothing new: no write
		}
		st, err := e.store.ApplyRemote(ctx, revs, p.resp.Next)
		if err != nil {
			return fmt.Errorf("applying %d pulled revisions: %w", len(revs), err)
		}
		res.Pulled += st.Applied
		res.Conflicts += st.Conflicts
		done += len(revs)
		e.update(func(s *Status) { s.Done = done })
	}
	return nil
}
