package intake

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keelhq/keel/services/ingest/redact"
)

// Sensitivity levels of a redacted event, from least to most sensitive.
const (
	SensitivityPublic       = "public"
	SensitivityInternal     = "internal"
	SensitivityConfidential = "confidential"
	SensitivityRestricted   = "restricted"
)

// level orders the sensitivity levels.
type level int

const (
	levelPublic level = iota
	levelInternal
	levelConfidential
	levelRestricted
)

var levelNames = []string{SensitivityPublic, SensitivityInternal, SensitivityConfidential, SensitivityRestricted}

func (l level) String() string { return levelNames[l] }

func parseLevel(s string) (level, error) {
	i := slices.Index(levelNames, strings.ToLower(strings.TrimSpace(s)))
	if i < 0 {
		return 0, fmt.Errorf("unknown sensitivity %q (want %s)", s, strings.Join(levelNames, ", "))
	}
	return level(i), nil
}

// restrictedTypes are the entity types that make an event restricted on
// their own: financial and government identifiers and credentials, whose
// leak does direct harm. Every other entity type makes it confidential.
var restrictedTypes = map[redact.Type]bool{
	redact.TypeCard: true, redact.TypeIBAN: true, redact.TypeSSN: true, redact.TypeITIN: true,
	redact.TypeUSPassport: true, redact.TypeDriverLicense: true, redact.TypeNHS: true,
	redact.TypeNINO: true, redact.TypeUKPassport: true, redact.TypeAadhaar: true,
	redact.TypePAN: true, redact.TypeNIF: true, redact.TypeFiscalCode: true, redact.TypeNRIC: true,
	redact.TypeTFN: true, redact.TypeMedicare: true, redact.TypePESEL: true,
	redact.TypeAPIKey: true, redact.TypeJWT: true, redact.TypePrivateKey: true,
	redact.TypePassword: true, redact.TypeURL: true, redact.TypeCrypto: true,
}

// Classifier decides the sensitivity of an event from what redaction found
// and the tenant's rules.
type Classifier struct {
	types    map[redact.Type]level
	keywords []keywordRule
	kinds    map[string]level
}

type keywordRule struct {
	phrase string // lower-case
	level  level
}

// NewClassifier builds a classifier with the built-in rules and the
// tenant's additions in c.
func NewClassifier(c SensitivityConfig) (*Classifier, error) {
	cl := &Classifier{types: make(map[redact.Type]level), kinds: make(map[string]level)}
	var errs []error
	for name, lv := range c.Types {
		t, ok := redact.ParseType(name)
		l, err := parseLevel(lv)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("sensitivity types: unknown entity type %q", name))
		case err != nil:
			errs = append(errs, fmt.Errorf("sensitivity types: %s: %w", name, err))
		default:
			cl.types[t] = l
		}
	}
	for lv, phrases := range c.Keywords {
		l, err := parseLevel(lv)
		if err != nil {
			errs = append(errs, fmt.Errorf("sensitivity keywords: %w", err))
			continue
		}
		for _, p := range phrases {
			p = strings.ToLower(strings.Join(strings.Fields(p), " "))
			if p == "" {
				errs = append(errs, errors.New("sensitivity keywords: empty phrase"))
				continue
			}
			cl.keywords = append(cl.keywords, keywordRule{phrase: p, level: l})
		}
	}
	slices.SortFunc(cl.keywords, func(a, b keywordRule) int { return strings.Compare(a.phrase, b.phrase) })
	for kind, lv := range c.Kinds {
		l, err := parseLevel(lv)
		switch {
		case !ValidKind(kind):
			errs = append(errs, fmt.Errorf("sensitivity kinds: unknown kind %q", kind))
		case err != nil:
			errs = append(errs, fmt.Errorf("sensitivity kinds: %s: %w", kind, err))
		default:
			cl.kinds[kind] = l
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cl, nil
}

// Classify returns the sensitivity of an event of kind whose redaction
// found counts, with the reasons for it (entity types and rule names,
// never values). texts are the event's redacted texts, for keyword rules.
//
// Built in: restricted when a restricted type was found; otherwise a
// knowledge article is public (the tenant publishes it) and any other event
// is confidential when it held personal data, internal when not.
func (c *Classifier) Classify(kind string, counts map[redact.Type]int, texts ...string) (string, []string) {
	lv := levelInternal
	if kind == KindArticle {
		lv = levelPublic
	}
	var reasons []string
	raise := func(to level, reason string) {
		if to > lv {
			lv = to
			reasons = reasons[:0]
		}
		if to == lv && to > levelInternal {
			reasons = append(reasons, reason)
		}
	}

	types := make([]redact.Type, 0, len(counts))
	for t, n := range counts {
		if n > 0 {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	for _, t := range types {
		builtin := levelConfidential
		if restrictedTypes[t] {
			builtin = levelRestricted
		} else if kind == KindArticle {
			builtin = levelPublic // the tenant's own contact points
		}
		raise(max(builtin, c.types[t]), string(t)+" found")
	}
	if l, ok := c.kinds[kind]; ok {
		raise(l, "tenant rule: every "+kind)
	}
	for _, k := range c.keywords {
		if k.level > levelPublic && containsPhrase(texts, k.phrase) {
			raise(k.level, fmt.Sprintf("tenant rule: keyword %q", k.phrase))
		}
	}
	return lv.String(), reasons
}

// containsPhrase reports whether one of texts holds phrase (lower-case) as
// whole words, ignoring case.
func containsPhrase(texts []string, phrase string) bool {
	for _, text := range texts {
		lower := strings.ToLower(text)
		for from := 0; ; {
			i := strings.Index(lower[from:], phrase)
			if i < 0 {
				break
			}
			start, end := from+i, from+i+len(phrase)
			if !wordRuneAround(lower, start, end) {
				return true
			}
			from = start + 1
		}
	}
	return false
}

// wordRuneAround reports whether a letter or digit touches s[start:end].
func wordRuneAround(s string, start, end int) bool {
	if r, _ := utf8.DecodeLastRuneInString(s[:start]); start > 0 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
		return true
	}
	if r, _ := utf8.DecodeRuneInString(s[end:]); end < len(s) && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
		return true
	}
	return false
}
