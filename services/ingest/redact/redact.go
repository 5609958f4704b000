// Package redact finds personal data in free text (email addresses, phone
// numbers, payment cards, IBANs, US social security numbers, IP addresses
// and known person names) and replaces each finding with a typed placeholder
// such as [EMAIL_1]. Placeholders are stable within a Document, so the same
// value always gets the same placeholder, and Restore puts the originals back.
//
// Recognisers validate what a pattern finds (Luhn for cards, mod-97 for
// IBANs, area rules for SSNs, net/netip for IP addresses, shape and context
// rules for phone numbers) so that order numbers, dates, versions and hex ids
// are left alone.
package redact

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Type names the kind of an entity. The values are the entity names Presidio
// uses, so findings read the same across tools.
type Type string

// Entity types the Redactor recognises.
const (
	TypeEmail  Type = "EMAIL_ADDRESS"
	TypePhone  Type = "PHONE_NUMBER"
	TypeCard   Type = "CREDIT_CARD"
	TypeIBAN   Type = "IBAN_CODE"
	TypeSSN    Type = "US_SSN"
	TypeIP     Type = "IP_ADDRESS"
	TypePerson Type = "PERSON"
)

// placeholderPrefix returns the word used inside the placeholders of t, for
// example EMAIL for [EMAIL_1].
func (t Type) placeholderPrefix() string {
	switch t {
	case TypeEmail:
		return "EMAIL"
	case TypePhone:
		return "PHONE"
	case TypeCard:
		return "CARD"
	case TypeIBAN:
		return "IBAN"
	case TypeSSN:
		return "SSN"
	case TypeIP:
		return "IP"
	case TypePerson:
		return "PERSON"
	default:
		return strings.ToUpper(string(t))
	}
}

// Finding is one detected entity in a text.
type Finding struct {
	// Type is the kind of entity.
	Type Type
	// Start and End are byte offsets into the text, End exclusive.
	Start, End int
	// Score is the recogniser's confidence between 0 and 1.
	Score float64
}

// Entity is a finding that has been replaced by a placeholder.
type Entity struct {
	Finding
	// RuneStart and RuneEnd are the offsets of the finding in Unicode code
	// points of the input, End exclusive. Each byte of invalid UTF-8 counts as
	// one code point.
	RuneStart, RuneEnd int
	// Placeholder is what replaced the finding in Result.Text.
	Placeholder string
}

// Result is the outcome of redacting one text.
type Result struct {
	// Text is the input with every entity replaced by its placeholder. It is
	// always valid UTF-8: invalid input bytes become U+FFFD.
	Text string
	// Entities lists the replaced entities in order of their position.
	Entities []Entity
	// Originals maps each placeholder in Text to the value it replaced.
	Originals map[string]string
}

// candidate is a finding before overlaps are resolved. key, when set,
// overrides the normalised value that decides which placeholder it gets.
type candidate struct {
	Finding
	key string
}

// Redactor detects entities. Its recognisers are hand-written scanners that
// read the text once each, and their lookup tables are built once by New; a
// Redactor is safe for concurrent use and should be shared.
type Redactor struct {
	// Context words, lowercased, looked for just before a candidate.
	phoneWords    map[string]bool // make a bare digit run a phone number
	notPhoneWords map[string]bool // say the number is an id, not a phone
	numberWords   map[string]bool // "number", "no": neutral after phoneWords
	ssnWords      map[string]bool // make a bare nine-digit run an SSN
	versionWords  map[string]bool // say a dotted quad is a version

	ibanLengths map[string]int // country code -> IBAN length
}

// New returns a Redactor with every recogniser ready.
func New() *Redactor {
	return &Redactor{
		phoneWords: wordSet("phone", "telephone", "tel", "mobile", "mob", "cell",
			"cellphone", "call", "fax", "whatsapp", "sms", "text", "ring", "reach",
			"contact", "dial", "landline"),
		notPhoneWords: wordSet("order", "ord", "invoice", "inv", "ticket", "ref",
			"reference", "case", "id", "no", "nr", "number", "sku", "tracking",
			"account", "acct", "po", "version", "ver", "build", "serial", "pin",
			"code", "zip", "postcode", "otp", "item", "part", "batch", "lot",
			"transaction", "txn", "receipt", "customer", "booking", "confirmation"),
		numberWords:  wordSet("number", "no", "nr", "num"),
		ssnWords:     wordSet("ssn", "ssns", "social", "security", "taxpayer", "tin"),
		versionWords: wordSet("version", "ver", "v", "build", "release", "rev", "revision"),
		ibanLengths:  ibanLengths(),
	}
}

// Find returns the entities in text, overlaps resolved, in order of
// position. It does not look for person names: those are only known to a
// Document.
func (r *Redactor) Find(text string) []Finding {
	cands := resolveOverlaps(r.candidates(text, nil))
	out := make([]Finding, len(cands))
	for i, c := range cands {
		out[i] = c.Finding
	}
	return out
}

// Redact replaces every entity in text with a placeholder numbered within
// this one text. Use a Document to share placeholders between texts.
func (r *Redactor) Redact(text string) Result {
	return r.NewDocument().Redact(text)
}

// candidates runs every recogniser over text and appends what they find to
// out, overlapping findings included.
func (r *Redactor) candidates(text string, out []candidate) []candidate {
	out = r.findEmails(text, out)
	out = r.findPhones(text, out)
	out = r.findCards(text, out)
	out = r.findIBANs(text, out)
	out = r.findSSNs(text, out)
	out = r.findIPs(text, out)
	return out
}

// resolveOverlaps keeps, of every group of overlapping candidates, the
// longest one, and of equally long ones the one with the higher score. The
// result is ordered by position.
func resolveOverlaps(cands []candidate) []candidate {
	sort.SliceStable(cands, func(i, j int) bool {
		li, lj := cands[i].End-cands[i].Start, cands[j].End-cands[j].Start
		if li != lj {
			return li > lj
		}
		if cands[i].Score != cands[j].Score {
			return cands[i].Score > cands[j].Score
		}
		return cands[i].Start < cands[j].Start
	})

	// kept stays ordered by Start and free of overlaps, so its End values
	// are ordered too and a binary search finds the only possible clash.
	kept := make([]candidate, 0, len(cands))
	for _, c := range cands {
		idx := sort.Search(len(kept), func(k int) bool { return kept[k].End > c.Start })
		if idx < len(kept) && kept[idx].Start < c.End {
			continue
		}
		kept = append(kept, candidate{})
		copy(kept[idx+1:], kept[idx:])
		kept[idx] = c
	}
	return kept
}

// validUTF8 returns s with every invalid byte sequence replaced by U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
