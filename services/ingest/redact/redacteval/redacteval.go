// Package redacteval measures how well a PII detector finds the entities of a
// labelled test set.
//
// A test set is a directory of UTF-8 text files, each a sequence of records
// that start with a "### <id> <kind>" header line and mark every entity inline
// as ⟦TYPE|value⟧. Parse and LoadDir read them into Examples; Evaluate runs a
// detector over the Examples and returns a Report with per-type precision,
// recall, F2 and the share of gold characters the detector left in the clear.
package redacteval

// Kinds of source a record can come from, as written in its header.
const (
	KindEmail = "email"
	KindChat  = "chat"
	KindNote  = "note"
	KindDiff  = "diff"
	KindLog   = "log"
)

// Example is one labelled record: the text with its markers removed and the
// gold entities found in it.
type Example struct {
	// ID is unique across the whole test set.
	ID string `json:"id"`
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// Text is the record with every marker replaced by its value.
	Text string `json:"text"`
	// Gold lists the labelled entities in order of position.
	Gold []Span `json:"gold"`
}

// Span is an entity in a text. Start and End count Unicode code points of
// the text, End exclusive; each byte of invalid UTF-8 counts as one code point.
type Span struct {
	Type  string `json:"type"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

// isKnownKind reports whether kind is one of the Kind constants.
func isKnownKind(kind string) bool {
	switch kind {
	case KindEmail, KindChat, KindNote, KindDiff, KindLog:
		return true
	}
	return false
}
