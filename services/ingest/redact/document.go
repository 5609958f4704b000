package redact

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Document redacts the fields of one event (subject, body, customer email
// and name) under one policy and one set of placeholders: the same value
// gets the same placeholder in every field, and each type is numbered in
// order of first appearance. A Document is not safe for concurrent use.
type Document struct {
	redactor *Redactor
	policy   *Policy
	persons  []person

	outputs   map[string]string // type + "\x00" + normalised value -> what replaced it
	numbers   map[string]int    // placeholder prefix -> last number given
	originals map[string]string // reversible output -> original value
	counts    map[Type]int      // entities redacted (not kept), by type
	keep      map[Type]bool     // types left in the text whatever the policy says
	profile   Profile
}

// NewDocument starts an empty Document under DefaultPolicy.
func (r *Redactor) NewDocument() *Document {
	return &Document{
		redactor:  r,
		policy:    r.defaultPolicy,
		outputs:   make(map[string]string),
		numbers:   make(map[string]int),
		originals: make(map[string]string),
		counts:    make(map[Type]int),
	}
}

// SetPolicy makes the Document redact under p from now on. p must have
// been prepared (Policy.Prepare).
func (d *Document) SetPolicy(p *Policy) error {
	if !p.prepared {
		return errors.New("redact: policy not prepared")
	}
	d.policy = p
	return nil
}

// SetProfile tells the Document what kind of text it redacts from now on.
// The default is ProfileProse.
func (d *Document) SetProfile(p Profile) { d.profile = p }

// Keep leaves entities of the given types in the text from now on, whatever
// the policy says. Content the tenant publishes itself, such as a help
// article, keeps its contact addresses: they are not a customer's data, and
// a placeholder in a passage would otherwise be read as the customer's own
// when a reply is restored.
func (d *Document) Keep(types ...Type) {
	if d.keep == nil {
		d.keep = make(map[Type]bool)
	}
	for _, t := range types {
		d.keep[t] = true
	}
}

// operator returns what the Document does with entities of type t.
func (d *Document) operator(t Type) Operator {
	if d.keep[t] {
		return OpKeep
	}
	return d.policy.Operator(t)
}

// Redact replaces every entity in text, including the names registered with
// Replace(TypePerson, ...), and returns the redacted text with its entities.
// Findings below the policy's minimum score are left alone and not
// reported; kept ones (OpKeep) are reported but stay in the text.
func (d *Document) Redact(text string) Result {
	return d.RedactContext(context.Background(), text)
}

// RedactContext is Redact with a context for the Redactor's model (see
// WithModel), which it may call; without a model the two are the same.
func (d *Document) RedactContext(ctx context.Context, text string) Result {
	view := foldForScan(text)
	sc := newScan(view.text, d.profile)
	cands := d.redactor.candidates(sc, nil)
	cands, modelErr := d.redactor.modelCandidates(ctx, view.text, cands)
	found := len(cands)
	for _, p := range d.persons {
		cands = p.find(sc, cands)
	}
	sc.release()
	view.mapBack(cands)
	preferKnownPersons(cands[:found], cands[found:])
	cands = d.confident(cands)
	cands = resolveOverlaps(cands)

	res := Result{Originals: make(map[string]string), ModelErr: modelErr}
	var b strings.Builder
	b.Grow(len(text))
	prev, runes := 0, 0
	for _, c := range cands {
		runes += utf8.RuneCountInString(text[prev:c.Start])
		b.WriteString(validUTF8(text[prev:c.Start]))

		original := text[c.Start:c.End]
		op := d.operator(c.Type)
		out := original
		if op != OpKeep {
			key, value := c.key, c.value
			if value == "" {
				value = original
			}
			if key == "" {
				key = normalise(c.Type, value)
			}
			if c.Type == TypePhone {
				key = d.redactor.phoneKey(key)
			}
			out, op = d.apply(op, c.Type, key, validUTF8(value), validUTF8(original))
			if op.reversible() {
				res.Originals[out] = d.originals[out]
			}
			d.counts[c.Type]++
		}
		b.WriteString(validUTF8(out))

		end := runes + utf8.RuneCountInString(original)
		res.Entities = append(res.Entities, Entity{
			Finding: c.Finding, RuneStart: runes, RuneEnd: end, Replacement: out, Operator: op,
		})
		prev, runes = c.End, end
	}
	b.WriteString(validUTF8(text[prev:]))
	res.Text = b.String()
	return res
}

// preferKnownPersons makes a name the Document was told about win over the
// same name found by context, so that "Jane" in a sign-off gets the
// placeholder of the customer Jane Doe rather than one of its own: a found
// name that lies within a known one is dropped (score 0) and the known one
// takes the higher of the two scores.
func preferKnownPersons(found, known []candidate) {
	for k := range known {
		for f := range found {
			g := &found[f]
			if g.Type != TypePerson || g.Start < known[k].Start || g.End > known[k].End {
				continue
			}
			known[k].Score = max(known[k].Score, g.Score)
			g.Score = 0
		}
	}
}

// confident drops, in place, the candidates below the policy's minimum
// score, before they can win an overlap against a surer finding.
func (d *Document) confident(cands []candidate) []candidate {
	kept := cands[:0]
	for _, c := range cands {
		if c.Score >= d.policy.MinScore {
			kept = append(kept, c)
		}
	}
	return kept
}

// Replace treats the whole of value as one entity of type t and returns
// what replaces it under the policy (its placeholder, by default), for fields that are known to hold one value, such as the
// customer's email address. For TypePerson it also registers the name, so
// that later calls to Redact replace the full name, and its first or last
// name, wherever they appear. An empty value is returned unchanged.
func (d *Document) Replace(t Type, value string) string {
	value = strings.TrimSpace(value)
	if value == "" {
		return ""
	}
	value = validUTF8(value)

	key := normalise(t, value)
	if t == TypePhone {
		key = d.redactor.phoneKey(key)
	}
	if t == TypePerson {
		value = strings.Join(strings.Fields(value), " ")
		key = personKey(value)
		d.addPerson(value, key)
	}
	op := d.operator(t)
	if op == OpKeep {
		return value
	}
	d.counts[t]++
	out, _ := d.apply(op, t, key, value, value)
	return out
}

// Originals returns a copy of every placeholder given so far with the value
// it stands for.
func (d *Document) Originals() map[string]string {
	return maps.Clone(d.originals)
}

// Counts returns how many entities of each type have been replaced so far.
func (d *Document) Counts() map[Type]int {
	return maps.Clone(d.counts)
}

// placeholder returns the placeholder of the value with the normalised key,
// giving the next number of its type when the value is new.
func (d *Document) placeholder(t Type, key, original string) string {
	k := string(t) + "\x00" + key
	if ph, ok := d.outputs[k]; ok {
		return ph
	}
	prefix := t.placeholderPrefix()
	d.numbers[prefix]++
	ph := "[" + prefix + "_" + strconv.Itoa(d.numbers[prefix]) + "]"
	d.outputs[k] = ph
	d.originals[ph] = original
	return ph
}

func (d *Document) addPerson(name, key string) {
	for _, p := range d.persons {
		if p.key == key {
			return
		}
	}
	if p, ok := newPerson(name, key); ok {
		d.persons = append(d.persons, p)
	}
}

// normalise returns the form of an entity value that decides whether two
// findings are the same value: emails ignore case, numbers ignore their
// formatting, IP addresses compare in canonical form.
func normalise(t Type, value string) string {
	switch t {
	case TypeEmail:
		return strings.ToLower(value)
	case TypePhone:
		return keepBytes(value, func(b byte) bool { return isDigit(b) || b == '+' })
	case TypeCard, TypeSSN:
		return keepBytes(value, isDigit)
	case TypeIBAN:
		return strings.ToUpper(keepBytes(value, isASCIIAlnum))
	case TypeIP:
		if addr, err := netip.ParseAddr(value); err == nil {
			return addr.String()
		}
	case TypePerson:
		return personKey(value)
	}
	return value
}

func keepBytes(s string, keep func(byte) bool) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if keep(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}
