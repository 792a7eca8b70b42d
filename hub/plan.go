package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// RecordState is what a store keeps of a record to judge new revisions:
// the programme and form it belongs to and its current leaves.
type RecordState struct {
	Programme string        `json:"programme"`
	FormID    string        `json:"form_id"`
	Leaves    []record.Leaf `json:"leaves"`
}

// Plan is the stores' shared judgement of a batch (see Store.Apply).
type Plan struct {
	// Results has one entry per revision, in order.
	Results []Result
	// Applied lists the indexes of the revisions to store, in order; the
	// n-th of them gets sequence number last+1+n.
	Applied []int
	// Records holds the new state of every record the batch changes.
	Records map[string]*RecordState
}

// MakePlan judges revs, a batch of programme pushed by device ("" for
// none), against the stored state: records maps the record ids of the
// batch to their stored state (absent or nil for a new record), and known
// reports whether a revision of a record is stored. Revisions applied
// earlier in the batch count as stored for later ones. MakePlan does not
// modify records.
func MakePlan(programme, device string, revs []*record.Revision, records map[string]*RecordState, known func(recordID, rev string) bool) Plan {
	p := Plan{Results: make([]Result, len(revs)), Records: make(map[string]*RecordState)}
	batch := make(map[[2]string]bool)
	has := func(id, rev string) bool { return batch[[2]string{id, rev}] || known(id, rev) }
	for i, r := range revs {
		rec := p.Records[r.RecordID]
		if rec == nil {
			rec = records[r.RecordID]
		}
		if rec != nil && rec.Programme != programme {
			p.Results[i] = Result{Status: protocol.StatusRejected,
				Err: fmt.Errorf("%w: record %s is not in programme %s", ErrForeignRecord, r.RecordID, programme)}
			continue
		}
		if rec != nil && rec.FormID != r.FormID {
			p.Results[i] = Result{Status: protocol.StatusRejected,
				Err: fmt.Errorf("%w: record %s is a %s record, not %s", ErrForeignRecord, r.RecordID, rec.FormID, r.FormID)}
			continue
		}
		if has(r.RecordID, r.Rev) {
			p.Results[i] = Result{Status: protocol.StatusDuplicate}
			continue
		}
		// A device pushes only its own outbox: a new revision made on
		// another device is a forged device_id.
		if device != "" && r.DeviceID != "" && r.DeviceID != device {
			p.Results[i] = Result{Status: protocol.StatusRejected,
				Err: fmt.Errorf("%w (%s)", ErrForeignDevice, r.DeviceID)}
			continue
		}
		missing := ""
		for _, par := range r.Parents {
			if !has(r.RecordID, par) {
				missing = par
				break
			}
		}
		if missing != "" {
			p.Results[i] = Result{Status: protocol.StatusRejected,
				Err: fmt.Errorf("%w: %s", record.ErrMissingParent, missing)}
			continue
		}
		next := &RecordState{Programme: programme, FormID: r.FormID}
		if rec != nil {
			next.Leaves = rec.Leaves
		}
		next.Leaves = record.AddLeaf(next.Leaves, r)
		p.Records[r.RecordID] = next
		batch[[2]string{r.RecordID, r.Rev}] = true
		p.Applied = append(p.Applied, i)
		status := protocol.StatusApplied
		if record.Conflicted(next.Leaves) {
			status = protocol.StatusConflict
		}
		p.Results[i] = Result{Status: status}
	}
	return p
}

// SameJSON reports whether a and b are the same JSON text up to
// insignificant whitespace.
func SameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// EncodeRevisions returns the JSON of each revision, as stores keep it and
// pull serves it, encoding in parallel.
func EncodeRevisions(revs []*record.Revision) ([][]byte, error) {
	docs := make([][]byte, len(revs))
	errs := make([]error, len(revs))
	parallel(len(revs), func(i int) {
		docs[i], errs[i] = json.Marshal(revs[i])
	})
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", revs[i].Rev, err)
		}
	}
	return docs, nil
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/64+1)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
