package redacteval

import (
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// labelledDir is the labelled test set of the redact package.
const labelledDir = "../testdata/labelled"

// documentedTypes lists the entity types the labelling guide defines.
const documentedTypes = "EMAIL_ADDRESS PHONE_NUMBER CREDIT_CARD IBAN_CODE US_SSN US_ITIN " +
	"US_PASSPORT US_DRIVER_LICENSE UK_NHS UK_NINO UK_PASSPORT IN_AADHAAR IN_PAN ES_NIF " +
	"IT_FISCAL_CODE SG_NRIC_FIN AU_TFN AU_ABN AU_MEDICARE PL_PESEL IP_ADDRESS MAC_ADDRESS URL " +
	"CRYPTO DATE_TIME LOCATION PERSON API_KEY JWT PRIVATE_KEY PASSWORD"

// TestLabelledSetFollowsTheGuide checks the committed test set against the
// rules of the labelling guide that a program can check, so that a typo in a
// type or a mistyped card number fails here rather than skewing scores.
func TestLabelledSetFollowsTheGuide(t *testing.T) {
	t.Parallel()
	examples, err := LoadDir(labelledDir)
	if err != nil {
		t.Fatal(err)
	}
	known := strings.Fields(documentedTypes)
	for _, ex := range examples {
		if !strings.HasPrefix(ex.ID, ex.Kind+"-") {
			t.Errorf("%s: id does not start with its kind %q", ex.ID, ex.Kind)
		}
		runes := []rune(ex.Text)
		for _, g := range ex.Gold {
			value := string(runes[g.Start:g.End])
			if !slices.Contains(known, g.Type) {
				t.Errorf("%s: undocumented type %s for %q", ex.ID, g.Type, value)
			}
			if strings.TrimSpace(value) != value {
				t.Errorf("%s: %s value %q has surrounding space", ex.ID, g.Type, value)
			}
			if msg := checkValue(g.Type, value); msg != "" {
				t.Errorf("%s: %s %q %s", ex.ID, g.Type, value, msg)
			}
		}
	}
}

// checkValue returns why value cannot be a labelled typ, or "" when the
// guide's checksum holds or typ has none checked here.
// TODO: check the national ids, crypto addresses and IPs too; only cards and
// IBANs, the most often mistyped, are checked for now.
func checkValue(typ, value string) string {
	compact := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, value)
	switch typ {
	case "CREDIT_CARD":
		if !luhnValid(compact) {
			return "fails the Luhn check"
		}
	case "IBAN_CODE":
		if !ibanValid(compact) {
			return "fails the IBAN mod-97 check"
		}
	}
	return ""
}

// luhnValid reports whether digits is 13 to 19 digits passing the Luhn check.
func luhnValid(digits string) bool {
	if len(digits) < 13 || len(digits) > 19 {
		return false
	}
	sum := 0
	for i := range len(digits) {
		c := digits[len(digits)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// ibanValid reports whether iban, without spaces, passes the mod-97 check.
// It does not check the length for the country.
func ibanValid(iban string) bool {
	if len(iban) < 15 || len(iban) > 34 {
		return false
	}
	var digits strings.Builder
	for _, r := range iban[4:] + iban[:4] {
		switch {
		case unicode.IsDigit(r):
			digits.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			digits.WriteString(strconv.Itoa(int(r-'A') + 10))
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

func TestChecksumHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ, value string
		valid      bool
	}{
		{"CREDIT_CARD", "4111 1111 1111 1111", true},
		{"CREDIT_CARD", "4111 1111 1111 1112", false},
		{"CREDIT_CARD", "4111", false},
		{"IBAN_CODE", "GB82 WEST 1234 5698 7654 32", true},
		{"IBAN_CODE", "GB83 WEST 1234 5698 7654 32", false},
		{"IBAN_CODE", "gb82west12345698765432", false},
		{"PERSON", "anything", true},
	}
	for _, tt := range tests {
		if got := checkValue(tt.typ, tt.value) == ""; got != tt.valid {
			t.Errorf("checkValue(%s, %q) valid = %v, want %v", tt.typ, tt.value, got, tt.valid)
		}
	}
}
