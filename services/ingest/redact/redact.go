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
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

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
	// Replacement is what stands for the finding in Result.Text: its
	// placeholder, mask, hash or ciphertext, empty when it was removed, the
	// original when it was kept.
	Replacement string
	// Operator is what was done to the finding.
	Operator Operator
}

// Result is the outcome of redacting one text.
type Result struct {
	// Text is the input with every entity replaced by its placeholder. It is
	// always valid UTF-8: invalid input bytes become U+FFFD.
	Text string
	// Entities lists the replaced entities in order of their position.
	Entities []Entity
	// Originals maps each reversible replacement in Text (placeholders and
	// format-preserving or encrypted values) to the value it replaced.
	Originals map[string]string
	// ModelErr is set when the Redactor's model failed or was late; the
	// built-in recognisers' findings were used alone.
	ModelErr error
}

// candidate is a finding before overlaps are resolved. key, when set,
// overrides the normalised value that decides which placeholder it gets.
type candidate struct {
	Finding
	key string
	// value is the entity as the recognisers read it, when that differs
	// from the original text (see foldForScan); "" otherwise.
	value string
}

// Redactor detects entities. Its recognisers are hand-written scanners that
// read the text once each, and their lookup tables are built once by New; a
// Redactor is safe for concurrent use and should be shared.
type Redactor struct {
	// Context words, lowercased, looked for just before a candidate.
	phoneWords    map[string]bool // make a bare digit run a phone number
	notPhoneWords map[string]bool // say the number is an id, not a phone
	numberWords   map[string]bool // "number", "no": neutral after phoneWords
	idWords       map[string]bool // name another kind of number nearby
	ssnWords      map[string]bool // make a bare nine-digit run an SSN
	versionWords  map[string]bool // say a dotted quad is a version

	ibanLengths map[string]int // country code -> IBAN length

	phoneRegions []string // numbering plans for national phone numbers

	defaultPolicy *Policy // the policy of documents that are given none

	model        Model         // optional statistical recogniser
	modelTimeout time.Duration // bound on one model call
}

// New returns a Redactor with every recogniser ready.
func New(opts ...Option) *Redactor {
	r := &Redactor{
		phoneRegions: DefaultPhoneRegions,
		phoneWords: wordSet("phone", "telephone", "tel", "mobile", "mob", "cell",
			"cellphone", "call", "fax", "whatsapp", "sms", "text", "ring", "reach",
			"contact", "dial", "landline", "callback", "hotline", "tél", "téléphone",
			"teléfono", "telefon", "telefono", "móvil", "movil", "celular", "telefone",
			"handy", "portable", "marca", "marcas", "llama", "llámame", "ligue",
			"电话", "電話", "手机", "携帯", "전화", "điện", "thoại"),
		notPhoneWords: wordSet("order", "ord", "invoice", "inv", "ticket", "ref",
			"reference", "case", "id", "no", "nr", "number", "sku", "tracking",
			"account", "acct", "po", "version", "ver", "build", "serial", "pin",
			"code", "zip", "postcode", "otp", "item", "part", "batch", "lot",
			"transaction", "txn", "receipt", "customer", "booking", "confirmation"),
		numberWords: wordSet("number", "no", "nr", "num"),
		idWords: wordSet("nhs", "ssn", "nino", "passport", "licence", "license", "aadhaar",
			"pan", "iban", "tfn", "abn", "medicare", "pesel", "vat", "tax", "tracking",
			"invoice", "order", "denuncia", "report", "policy", "serial", "imei", "isbn"),
		ssnWords: wordSet("ssn", "ssns", "social", "security", "taxpayer", "tin"),
		versionWords: wordSet("version", "versions", "ver", "v", "build", "release", "rev", "revision",
			"latest", "firmware", "patch", "upgrade", "upgraded", "update", "updated", "changelog"),
		ibanLengths:   ibanLengths(),
		defaultPolicy: DefaultPolicy(),
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Option configures a Redactor.
type Option func(*Redactor)

// WithPhoneRegions sets the regions (ISO 3166-1 alpha-2, such as "DE") whose
// numbering plans decide whether a national number, written without +CC, is
// allocated. The default is DefaultPhoneRegions.
func WithPhoneRegions(regions ...string) Option {
	return func(r *Redactor) {
		r.phoneRegions = make([]string, len(regions))
		for i, reg := range regions {
			r.phoneRegions[i] = strings.ToUpper(reg)
		}
	}
}

// Find returns the entities in text scored at least DefaultMinScore,
// overlaps resolved, in order of position. Names registered with a
// Document (Document.Replace) are only known to that Document.
func (r *Redactor) Find(text string) []Finding {
	view := foldForScan(text)
	sc := newScan(view.text, ProfileProse)
	cands := r.candidates(sc, nil)
	sc.release()
	view.mapBack(cands)
	kept := cands[:0]
	for _, c := range cands {
		if c.Score >= r.defaultPolicy.MinScore {
			kept = append(kept, c)
		}
	}
	cands = resolveOverlaps(kept)
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

// resolveOverlaps keeps, of every group of overlapping candidates, the
// longest one, and of equally long ones the one with the higher score. The
// result is ordered by position.
//
// Candidates are first cut into clusters that overlap only among
// themselves, so the choice is made within each cluster; the cost grows
// with the candidates and their lengths, not with their square.
func resolveOverlaps(cands []candidate) []candidate {
	slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(a.Start, b.Start) })
	kept := make([]candidate, 0, len(cands))
	var cov coverage
	for lo := 0; lo < len(cands); {
		hi, end := lo+1, cands[lo].End
		for hi < len(cands) && cands[hi].Start < end {
			end = max(end, cands[hi].End)
			hi++
		}
		if hi-lo == 1 {
			kept = append(kept, cands[lo])
		} else {
			kept = resolveCluster(cands[lo:hi], cands[lo].Start, end, &cov, kept)
		}
		lo = hi
	}
	return kept
}

// resolveCluster appends to kept the candidates of one cluster that win,
// in order of position: the cluster spans bytes from to to.
func resolveCluster(cluster []candidate, from, to int, cov *coverage, kept []candidate) []candidate {
	slices.SortStableFunc(cluster, func(a, b candidate) int {
		return cmp.Or(
			cmp.Compare(b.End-b.Start, a.End-a.Start),
			cmp.Compare(b.Score, a.Score),
			cmp.Compare(a.Start, b.Start),
		)
	})
	cov.reset(to - from)
	n := len(kept)
	for _, c := range cluster {
		if cov.any(c.Start-from, c.End-from) {
			continue
		}
		cov.set(c.Start-from, c.End-from)
		kept = append(kept, c)
	}
	slices.SortFunc(kept[n:], func(a, b candidate) int { return cmp.Compare(a.Start, b.Start) })
	return kept
}

// coverage is a set of byte offsets within one cluster.
type coverage struct{ bits []uint64 }

func (c *coverage) reset(n int) {
	words := (n + 63) / 64
	if cap(c.bits) < words {
		c.bits = make([]uint64, words)
	}
	c.bits = c.bits[:words]
	clear(c.bits)
}

// any reports whether an offset in [from, to) is set.
func (c *coverage) any(from, to int) bool {
	for i := from; i < to; {
		if i%64 == 0 && to-i >= 64 {
			if c.bits[i/64] != 0 {
				return true
			}
			i += 64
			continue
		}
		if c.bits[i/64]&(1<<(i%64)) != 0 {
			return true
		}
		i++
	}
	return false
}

// set adds the offsets in [from, to).
func (c *coverage) set(from, to int) {
	for i := from; i < to; i++ {
		c.bits[i/64] |= 1 << (i % 64)
	}
}

// validUTF8 returns s with every invalid byte sequence replaced by U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
