package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFindNationalIDsUS(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findNationalIDs, []ownCase{
		{name: "ITIN dashed", text: "ITIN 912-78-1234 on the W-7",
			want: []string{"US_ITIN 912-78-1234"}},
		{name: "ITIN spaced without context", text: "number 950 91 5432 attached",
			want: []string{"US_ITIN 950 91 5432"}},
		{name: "ITIN bare with context", text: "taxpayer id: 912781234",
			want: []string{"US_ITIN 912781234"}},
		{name: "ITIN bad middle group", text: "912-89-1234"},
		{name: "ITIN middle group 93", text: "912-93-1234"},
		{name: "ITIN bare without context", text: "ref 912781234"},

		{name: "US passport digits", text: "US passport number: 123456789",
			want: []string{"US_PASSPORT 123456789"}},
		{name: "US passport card letter", text: "Passport No. C03005988 (United States)",
			want: []string{"US_PASSPORT C03005988"}},
		{name: "passport number on the next line", text: "Passport number\n548123679",
			want: []string{"US_PASSPORT 548123679"}},
		{name: "nine digits without passport", text: "tracking 123456789"},

		{name: "California licence", text: "driver's license D1234567, exp 2027",
			want: []string{"US_DRIVER_LICENSE D1234567"}},
		{name: "Florida licence dashed", text: "DL# A123-456-78-901-0",
			want: []string{"US_DRIVER_LICENSE A123-456-78-901-0"}},
		{name: "Illinois licence", text: "Driving licence S530-4512-3456.",
			want: []string{"US_DRIVER_LICENSE S530-4512-3456"}},
		{name: "digits licence", text: "DLN: 123456789",
			want: []string{"US_DRIVER_LICENSE 123456789"}},
		{name: "licence expiry date", text: "driving licence expires 2027 03 01"},
		{name: "licence word alone is software", text: "license key D1234567"},
		{name: "dl inside identifiers", text: "fix (dl_phnum) for static builds. Closes: #1028200\n* unix/tclLoadDl.c: [Bug 3216070]", profile: ProfileCode},
		{name: "database driver", text: "sql/driver: value 4294967295 overflows", profile: ProfileCode},
		{name: "driver license spelled out", text: "Driver License: 123456789",
			want: []string{"US_DRIVER_LICENSE 123456789"}},
		{name: "letter and digits without context", text: "seat D1234567"},
	})
}

func TestFindNationalIDsUK(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findNationalIDs, []ownCase{
		{name: "NHS spaced with context", text: "NHS number: 943 476 5919",
			want: []string{"UK_NHS 943 476 5919"}},
		{name: "NHS bare in a log field", text: "patient nhs_number=4260181599 admitted", profile: ProfileLog,
			want: []string{"UK_NHS 4260181599"}},
		{name: "NHS dashed with context", text: "NHS No 730-166-1312",
			want: []string{"UK_NHS 730-166-1312"}},
		{name: "NHS bare valid in prose", text: "my number is 4260181599 thanks",
			want: []string{"UK_NHS 4260181599"}},
		{name: "NHS bad check digit", text: "NHS number: 943 476 5918"},
		{name: "NHS bare valid in a log", text: "id=4260181599 status=ok", profile: ProfileLog},
		{name: "NHS bare valid after order", text: "order 4260181599 shipped"},
		{name: "NHS-valid Unix timestamp", text: "at 1705329006 we"},

		{name: "NINO compact", text: "NI number JH123456C",
			want: []string{"UK_NINO JH123456C"}},
		{name: "NINO in a CSV fixture in a diff", text: "+Ana Ruiz,1986-04-12,JH123456C,London\n", profile: ProfileCode,
			want: []string{"UK_NINO JH123456C"}},
		{name: "NINO specimen prefix", text: "NI number QQ123456C"},
		{name: "NINO spaced", text: "my national insurance number is AB 12 34 56 C.",
			want: []string{"UK_NINO AB 12 34 56 C"}},
		{name: "NINO six digits together", text: "NINO: JG 103759 A",
			want: []string{"UK_NINO JG 103759 A"}},
		{name: "NINO no context", text: "ref AB123456D from HMRC",
			want: []string{"UK_NINO AB123456D"}},
		{name: "NINO no suffix with context", text: "National Insurance: AB123456",
			want: []string{"UK_NINO AB123456"}},
		{name: "NINO no suffix without context", text: "part AB123456"},
		{name: "NINO excluded prefix", text: "GB123456A"},
		{name: "NINO excluded first letter", text: "DA123456A"},
		{name: "NINO excluded second letter", text: "AO123456A"},
		{name: "NINO bad suffix", text: "AB123456E"},

		{name: "UK passport by country word", text: "British passport: 107185703",
			want: []string{"UK_PASSPORT 107185703"}},
		{name: "passports in log fields", profile: ProfileLog,
			text: "passport_us=946685792 seat=31C\npassport_uk=839426660 seat=31D",
			want: []string{"US_PASSPORT 946685792", "UK_PASSPORT 839426660"}},
		{name: "UK passport by text signs", text: "Our NHS records and your passport 107185703 match; postcode SW1A 1AA",
			want: []string{"UK_PASSPORT 107185703"}},
	})
}

func TestFindNationalIDsOther(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findNationalIDs, []ownCase{
		{name: "Aadhaar spaced with context", text: "Aadhaar: 3909 3786 5790",
			want: []string{"IN_AADHAAR 3909 3786 5790"}},
		{name: "Aadhaar spaced without context", text: "number 9543 2319 4870 please",
			want: []string{"IN_AADHAAR 9543 2319 4870"}},
		{name: "Aadhaar in Devanagari context", text: "आधार 774911862521",
			want: []string{"IN_AADHAAR 774911862521"}},
		{name: "Aadhaar bad check", text: "Aadhaar: 3909 3786 5791"},
		{name: "Aadhaar starting with 1", text: "Aadhaar 1234 5678 9012"},
		{name: "Aadhaar bare without context", text: "value 774911862521"},
		{name: "Aadhaar named two lines before", text: "Customer: my Aadhaar is rejected\nAgent: type it again\nCustomer: 774911862521",
			want: []string{"IN_AADHAAR 774911862521"}},
		{name: "Aadhaar grouped in a log", text: "chunk 9543 2319 4870", profile: ProfileLog},

		{name: "PAN", text: "PAN: ABCPE1234F",
			want: []string{"IN_PAN ABCPE1234F"}},
		{name: "PAN without context", text: "holder BNZPM2501F",
			want: []string{"IN_PAN BNZPM2501F"}},
		{name: "PAN bad holder letter", text: "ABCDE1234F"},

		{name: "DNI", text: "DNI 25172486K",
			want: []string{"ES_NIF 25172486K"}},
		{name: "DNI dashed letter", text: "NIF: 50991670-A.",
			want: []string{"ES_NIF 50991670-A"}},
		{name: "NIE", text: "NIE X1012325A",
			want: []string{"ES_NIF X1012325A"}},
		{name: "DNI bad letter", text: "DNI 25172486L"},

		{name: "codice fiscale", text: "Codice fiscale: RSSMRA85T10A562S",
			want: []string{"IT_FISCAL_CODE RSSMRA85T10A562S"}},
		{name: "codice fiscale bad check", text: "RSSMRA85T10A562T"},

		{name: "NRIC", text: "NRIC S4179827J",
			want: []string{"SG_NRIC_FIN S4179827J"}},
		{name: "FIN M series", text: "FIN: M1234567K",
			want: []string{"SG_NRIC_FIN M1234567K"}},
		{name: "NRIC bad letter", text: "S4179827A"},

		{name: "TFN", text: "TFN 123 456 782",
			want: []string{"AU_TFN 123 456 782"}},
		{name: "TFN spelled out", text: "tax file number: 656321223",
			want: []string{"AU_TFN 656321223"}},
		{name: "TFN without context", text: "123 456 782"},
		{name: "TFN named elsewhere in the text", text: "Subject: Tax file number\n\nThe form won't load on my phone. It's 123 456 782.",
			want: []string{"AU_TFN 123 456 782"}},
		{name: "TFN named elsewhere, phone word in the same sentence", text: "Subject: Tax file number\n\nmy phone 123 456 782"},

		{name: "ABN grouped", text: "ABN 51 824 753 556",
			want: []string{"AU_ABN 51 824 753 556"}},
		{name: "ABN grouped without context", text: "billed by 93 848 372 616",
			want: []string{"AU_ABN 93 848 372 616"}},
		{name: "ABN bare with context", text: "abn=31387837576",
			want: []string{"AU_ABN 31387837576"}},
		{name: "ABN bare without context", text: "x 31387837576 y"},

		{name: "Medicare", text: "Medicare card 2123 45670 1",
			want: []string{"AU_MEDICARE 2123 45670 1"}},
		{name: "Medicare bare", text: "medicare: 3536051873",
			want: []string{"AU_MEDICARE 3536051873"}},
		{name: "Medicare bare without context", text: "id 3536051873"},

		{name: "PESEL with context", text: "PESEL: 02313041806",
			want: []string{"PL_PESEL 02313041806"}},
		{name: "PESEL date without context", text: "numer 85031480919 w systemie",
			want: []string{"PL_PESEL 85031480919"}},
		{name: "PESEL bad date", text: "PESEL 85131480912"},
		{name: "PESEL date without context in code", text: "n = 85031480919", profile: ProfileCode},
		{name: "PESEL in a fixture file named for it", text: "+++ b/testdata/pesel.txt\n@@ -1 +1,2 @@\n+02313041806\n", profile: ProfileCode,
			want: []string{"PL_PESEL 02313041806"}},
	})
}

func TestFindNationalIDsNegatives(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findNationalIDs, []ownCase{
		{name: "order numbers and amounts",
			text: "Order #4260181599 for $1,234,567.89 placed 2024-01-15 (invoice INV-2024-000123)"},
		{name: "timestamps", profile: ProfileLog,
			text: "ts=1705329006 t_ms=1705329006123 2024-01-15T14:30:00Z took 1234567ms"},
		{name: "hashes and uuids", profile: ProfileCode,
			text: "commit 4bf92f3577b34da6a3ce929d0e0e4736ab12cd34 id 550e8400-e29b-41d4-a716-446655440000"},
		{name: "semver and build", profile: ProfileCode,
			text: "version 1.24.3 build 20240115123 go1.26.8 linux/amd64"},
		{name: "card number", text: "4111 1111 1111 1111"},
		{name: "IBAN digits", text: "GB82 WEST 1234 5698 7654 32"},
		{name: "phone number", text: "call +44 7700 900123"},
		{name: "k8s pod", profile: ProfileLog, text: "pod/api-7f9c8d6b5-x2x7q restarted 3 times"},
		{name: "all same digits", text: "NHS number 000 000 0000 and Aadhaar 2222 2222 2222"},
		{name: "upper-case code identifiers", profile: ProfileCode, text: "const DB123456C = ABCPD1234Z_X + QZ123456A"},
		{name: "digits in a path", profile: ProfileLog, text: "GET /patients/4260181599/records"},
	})
}

func TestNationalIDWinsOverOtherTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		text  string
		types []Type
		want  []string
	}{
		{name: "NHS context beats phone shape",
			text: "Patient NHS no: 943 476 5919", types: []Type{TypeNHS, TypePhone},
			want: []string{"UK_NHS 943 476 5919"}},
		{name: "phone context keeps a phone that passes the NHS check",
			text: "call me on 943 476 5919", types: []Type{TypeNHS, TypePhone},
			want: []string{"PHONE_NUMBER 943 476 5919"}},
		{name: "ITIN that the SSN recogniser rejects",
			text: "ITIN 912-78-1234", types: []Type{TypeITIN, TypeSSN, TypePhone},
			want: []string{"US_ITIN 912-78-1234"}},
		{name: "SSN stays an SSN",
			text: "SSN 123-45-6789", types: []Type{TypeITIN, TypeSSN},
			want: []string{"US_SSN 123-45-6789"}},
		{name: "Aadhaar beats phone in the same span",
			text: "Aadhaar 3909 3786 5790", types: []Type{TypeAadhaar, TypePhone},
			want: []string{"IN_AADHAAR 3909 3786 5790"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := redactTypes(tc.text, tc.types...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Redact(%q) mismatch (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

func TestNationalIDSharesPlaceholderAcrossSpellings(t *testing.T) {
	t.Parallel()
	res := New().Redact("NHS number 943 476 5919, or NHS 9434765919")
	var got []string
	for _, e := range res.Entities {
		if e.Type == TypeNHS {
			got = append(got, e.Replacement)
		}
	}
	if len(got) != 2 || got[0] != got[1] {
		t.Errorf("NHS placeholders %v, want one placeholder for both spellings", got)
	}
}

func FuzzFindNationalIDs(f *testing.F) {
	fuzzRecogniser(f, (*Redactor).findNationalIDs,
		"NHS 943 476 5919", "QQ 12 34 56 C", "AB12", "DL# A123-456-78-901-0", "passport 123456789",
		"12345678-Z", "RSSMRA85T10A562S", "आधार 774911862521", "9 9 9 9 9 9 9 9", "QQ 12 34 5")
}
