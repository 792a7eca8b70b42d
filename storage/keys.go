package storage

import (
	"encoding/binary"
	"strings"
	"time"
)

// The key table. Every Badger key of the client store is built and parsed
// here and nowhere else. Integers are big-endian so that byte order is
// numeric order; a zero byte separates variable-length parts (ids and form
// ids never contain one).
//
//	prefix  key                                     value
//	m       m <record id>                           recordMeta (JSON): form, status, leaves, outbox seqs, draft
//	r       r <record id> 0 <rev>                   record.Revision (JSON), every revision ever made or pulled
//	i       i <form id> 0 <^updated ns:8> <id>      summary (JSON) of a live, listed record: newest first per form
//	a       a <^updated ns:8> <id>                  summary (JSON): newest first across all forms
//	o       o <seq:8>                               outboxItem (JSON): a finalised revision waiting for the hub
//	c       c <form id> 0 <status>                  uint64 count of listed records per form and status
//	s       s <name>                                a caller's setting (hub URL, token, …)
//	x       x <name>                                internal singletons: identity, pull cursor, outbox seq
//
// Summaries in i and a never hold sensitive field values: listing and text
// search read only them.
const (
	pMeta     = 'm'
	pRev      = 'r'
	pIndex    = 'i'
	pAll      = 'a'
	pOutbox   = 'o'
	pCount    = 'c'
	pSetting  = 's'
	pInternal = 'x'
)

// Internal singleton names under pInternal.
const (
	xIdentity  = "identity"
	xCursor    = "pull_cursor"
	xOutboxSeq = "outbox_seq"
)

func metaKey(id string) []byte { return append([]byte{pMeta}, id...) }

func revPrefix(id string) []byte {
	k := append([]byte{pRev}, id...)
	return append(k, 0)
}

func revKey(id, rev string) []byte { return append(revPrefix(id), rev...) }

// updatedBytes encodes t so that later times sort first.
func updatedBytes(t time.Time) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ^uint64(t.UnixNano()))
	return b[:]
}

func indexPrefix(formID string) []byte {
	k := append([]byte{pIndex}, formID...)
	return append(k, 0)
}

func indexKey(formID string, updated time.Time, id string) []byte {
	k := append(indexPrefix(formID), updatedBytes(updated)...)
	return append(k, id...)
}

func allKey(updated time.Time, id string) []byte {
	k := append([]byte{pAll}, updatedBytes(updated)...)
	return append(k, id...)
}

func outboxKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = pOutbox
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

// parseOutboxKey returns the sequence number of an outbox key.
func parseOutboxKey(k []byte) (uint64, bool) {
	if len(k) != 9 || k[0] != pOutbox {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}

func countKey(formID string, st Status) []byte {
	k := append([]byte{pCount}, formID...)
	k = append(k, 0)
	return append(k, st...)
}

// parseCountKey splits a counter key into form id and status.
func parseCountKey(k []byte) (string, Status, bool) {
	if len(k) < 2 || k[0] != pCount {
		return "", "", false
	}
	form, st, ok := strings.Cut(string(k[1:]), "\x00")
	return form, Status(st), ok
}

func settingKey(name string) []byte { return append([]byte{pSetting}, name...) }

func internalKey(name string) []byte { return append([]byte{pInternal}, name...) }

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func u64Bytes(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
