package redact

import (
	"maps"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Document redacts the fields of one event (subject, body, customer email
// and name) with one set of placeholders: the same value gets the same
// placeholder in every field, and each type is numbered in order of first
// appearance. A Document is not safe for concurrent use.
type Document struct {
	redactor *Redactor
	persons  []person

	placeholders map[string]string // type + "\x00" + normalised value -> placeholder
	numbers      map[string]int    // placeholder prefix -> last number given
	originals    map[string]string // placeholder -> original value
	counts       map[Type]int      // entities replaced, by type
	keep         map[Type]bool     // types left in the text
}

// NewDocument starts an empty Document.
func (r *Redactor) NewDocument() *Document {
	return &Document{
		redactor:     r,
		placeholders: make(map[string]string),
		numbers:      make(map[string]int),
		originals:    make(map[string]string),
		counts:       make(map[Type]int),
	}
}

// Keep leaves entities of the given types in the text from now on. Content
// the tenant publishes itself, such as a help article, keeps its contact
// addresses: they are not a customer's data, and a placeholder in a passage
// would otherwise be read as the customer's own when a reply is restored.
func (d *Document) Keep(types ...Type) {
	if d.keep == nil {
		d.keep = make(map[Type]bool)
	}
	for _, t := range types {
		d.keep[t] = true
	}
}

// Redact replaces every entity in text, including the names registered with
// Replace(TypePerson, ...), and returns the redacted text with its entities.
func (d *Document) Redact(text string) Result {
	cands := d.redactor.candidates(text, nil)
	for _, p := range d.persons {
		cands = p.find(text, cands)
	}
	cands = resolveOverlaps(cands)

	res := Result{Originals: make(map[string]string)}
	var b strings.Builder
	b.Grow(len(text))
	prev, runes := 0, 0
	for _, c := range cands {
		if d.keep[c.Type] {
			continue
		}
		runes += utf8.RuneCountInString(text[prev:c.Start])
		b.WriteString(validUTF8(text[prev:c.Start]))

		original := text[c.Start:c.End]
		key := c.key
		if key == "" {
			key = normalise(c.Type, original)
		}
		ph := d.placeholder(c.Type, key, original)
		b.WriteString(ph)

		end := runes + utf8.RuneCountInString(original)
		res.Entities = append(res.Entities, Entity{Finding: c.Finding, RuneStart: runes, RuneEnd: end, Placeholder: ph})
		res.Originals[ph] = d.originals[ph]
		d.counts[c.Type]++
		prev, runes = c.End, end
	}
	b.WriteString(validUTF8(text[prev:]))
	res.Text = b.String()
	return res
}

// Replace treats the whole of value as one entity of type t and returns its
// placeholder, for fields that are known to hold one value, such as the
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
	if t == TypePerson {
		value = strings.Join(strings.Fields(value), " ")
		key = personKey(value)
		d.addPerson(value, key)
	}
	d.counts[t]++
	return d.placeholder(t, key, value)
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
	if ph, ok := d.placeholders[k]; ok {
		return ph
	}
	prefix := t.placeholderPrefix()
	d.numbers[prefix]++
	ph := "[" + prefix + "_" + strconv.Itoa(d.numbers[prefix]) + "]"
	d.placeholders[k] = ph
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
