package redact

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Scores of a phone number after its country's numbering plan was checked.
const (
	// phoneScorePlanValid is a number that the plan of its country (given by
	// +CC, or one of the Redactor's regions) allocates.
	phoneScorePlanValid = 0.85
	// phonePlanPenalty is taken from a number no plan allocates. Fictional
	// ranges (555-01xx, Ofcom's 07700 900xxx) are not allocated, nor are
	// the numbers of regions the Redactor was not told about, so shape and
	// context still decide; only the confidence drops.
	phonePlanPenalty = 0.1
	// phoneImpossiblePenalty is taken from an international number whose
	// length its country's plan never allows: likely not a phone at all.
	phoneImpossiblePenalty = 0.3
)

// DefaultPhoneRegions are the regions whose numbering plans national
// numbers (without +CC) are checked against when no others are set.
var DefaultPhoneRegions = []string{"US", "GB"}

// phonePlanScore checks digits (as written, '+' excluded) against the
// numbering plans, with the metadata of Google's libphonenumber, and returns
// the adjusted score. international says the number was written with +CC or
// 00CC, so its own country code chooses the plan; otherwise each of the
// Redactor's regions is tried in turn.
//
// The number is built from its digits rather than with phonenumbers.Parse,
// which costs more than the whole of the rest of a redaction; only the
// final validation, a pattern match over the plan, is left to the library.
func (r *Redactor) phonePlanScore(digits string, international bool, score float64) float64 {
	if international {
		num, region, ok := internationalNumber(strings.TrimPrefix(digits, "00"))
		switch {
		case !ok || phonenumbers.IsPossibleNumberWithReason(num) != phonenumbers.IS_POSSIBLE:
			// Too short or too long for its country, or dialable only
			// within an area: not how anyone writes a number with +CC.
			return score - phoneImpossiblePenalty
		case phonenumbers.IsValidNumberForRegion(num, region):
			// Only the main region of the calling code is checked (the US
			// for +1, not the 24 other plans that share it): checking every
			// region of the code costs more than the rest of a redaction,
			// and a number of a smaller one only misses the raise.
			return max(score, phoneScorePlanValid)
		}
		return score
	}
	for _, region := range r.phoneRegions {
		num, ok := nationalNumber(digits, region)
		if ok && phonenumbers.IsPossibleNumber(num) && phonenumbers.IsValidNumberForRegion(num, region) {
			return max(score, phoneScorePlanValid)
		}
	}
	return score - phonePlanPenalty
}

// internationalNumber splits digits that follow a '+' into a calling code
// (one to three digits, the shortest that is assigned) and the national
// number, and returns the main region of the code. A trunk prefix written after the code, as in +44 (0)20, is dropped.
func internationalNumber(digits string) (*phonenumbers.PhoneNumber, string, bool) {
	for n := 1; n <= 3 && n < len(digits); n++ {
		cc := atoi(digits[:n])
		region := phonenumbers.GetRegionCodeForCountryCode(cc)
		if region == phonenumbers.UNKNOWN_REGION {
			continue
		}
		rest := digits[n:]
		if region != "IT" { // Italian numbers keep their leading zero
			rest = strings.TrimPrefix(rest, "0")
		}
		num, ok := newPhoneNumber(cc, rest)
		return num, region, ok
	}
	return nil, "", false
}

// nationalNumber reads digits as a number dialled within region: the
// region's trunk prefix (0 in most of Europe, 1 in North America), when
// written, is dropped.
func nationalNumber(digits, region string) (*phonenumbers.PhoneNumber, bool) {
	cc, national := withoutTrunkPrefix(digits, region)
	if cc == 0 {
		return nil, false
	}
	return newPhoneNumber(cc, national)
}

// withoutTrunkPrefix returns the calling code of region (0 for an unknown
// one) and digits, dialled within it, without the region's trunk prefix.
func withoutTrunkPrefix(digits, region string) (int, string) {
	cc := phonenumbers.GetCountryCodeForRegion(region)
	if prefix := phonenumbers.GetNddPrefixForRegion(region, true); cc != 0 && prefix != "" && region != "IT" {
		digits = strings.TrimPrefix(digits, prefix)
	}
	return cc, digits
}

func newPhoneNumber(cc int, national string) (*phonenumbers.PhoneNumber, bool) {
	if national == "" || len(national) > 17 {
		return nil, false
	}
	var nn uint64
	for i := 0; i < len(national); i++ {
		nn = nn*10 + uint64(national[i]-'0')
	}
	c := int32(cc)
	return &phonenumbers.PhoneNumber{CountryCode: &c, NationalNumber: &nn}, true
}

// phoneKey returns the form of a phone number (digits, with '+' when it was
// written with one) under which its spellings share one placeholder: an
// international number as +CC and digits, a national one as the same in
// the Redactor's first region, its trunk prefix dropped. "+1 415 555
// 2671", "(415) 555-2671" and "1-415-555-2671" are one number for a
// Redactor of the US. National numbers are read in the first region only,
// so that numbers of two countries with the same digits are never merged.
func (r *Redactor) phoneKey(digits string) string {
	if strings.HasPrefix(digits, "+") || len(r.phoneRegions) == 0 {
		return digits
	}
	if rest, ok := strings.CutPrefix(digits, "00"); ok {
		return "+" + rest
	}
	cc, national := withoutTrunkPrefix(digits, r.phoneRegions[0])
	if cc == 0 {
		return digits
	}
	return "+" + strconv.Itoa(cc) + national
}
