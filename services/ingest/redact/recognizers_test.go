package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recogniserCase is one text and the findings expected in it, each written
// as "TYPE matched text".
type recogniserCase struct {
	name string
	text string
	want []string
}

func runRecogniserCases(t *testing.T, cases []recogniserCase) {
	t.Helper()
	r := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, f := range r.Find(tc.text) {
				got = append(got, string(f.Type)+" "+tc.text[f.Start:f.End])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Find(%q) mismatch (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

func TestFindEmail(t *testing.T) {
	t.Parallel()
	runRecogniserCases(t, []recogniserCase{
		{name: "plain", text: "write to jane.doe@example.com today",
			want: []string{"EMAIL_ADDRESS jane.doe@example.com"}},
		{name: "plus tag and subdomain", text: "<ops+alerts@mail.corp.example.co.uk>",
			want: []string{"EMAIL_ADDRESS ops+alerts@mail.corp.example.co.uk"}},
		{name: "trailing full stop", text: "Mail a@b.io.",
			want: []string{"EMAIL_ADDRESS a@b.io"}},
		{name: "mailto", text: "mailto:Support@Example.ORG",
			want: []string{"EMAIL_ADDRESS Support@Example.ORG"}},
		{name: "leading dots trimmed", text: "see ...bob@example.com",
			want: []string{"EMAIL_ADDRESS bob@example.com"}},
		{name: "internationalised", text: "an josé@exämple.de schreiben",
			want: []string{"EMAIL_ADDRESS josé@exämple.de"}},
		{name: "no top-level domain", text: "user@localhost is not routable"},
		{name: "numeric top-level domain", text: "user@example.c0m"},
		{name: "double dot in local part", text: "a..b@example.com"},
		{name: "handle", text: "ping @jane on chat", want: []string{"PERSON jane"}},
		{name: "package version", text: "go get example.com/mod@v1.2.3"},
		{name: "apostrophe in the local part", text: "mail sean.o'neill@example.ie or 'bob@example.com'",
			want: []string{"EMAIL_ADDRESS sean.o'neill@example.ie", "EMAIL_ADDRESS bob@example.com"}},
		{name: "message ids", text: "Message-ID: <20261202.4F2A@mx1.example.com>\nReferences: <a1@mx.example.com>\n <b2@mx.example.com>\n" +
			"Reply-To: <help@example.com>\nsent message_id=<99.X@mx1.example.com> to=ann@example.com",
			want: []string{"EMAIL_ADDRESS help@example.com", "EMAIL_ADDRESS ann@example.com"}},
	})
}

func TestFindPhone(t *testing.T) {
	t.Parallel()
	runRecogniserCases(t, []recogniserCase{
		{name: "US parentheses", text: "Call me at (555) 123-4567 please",
			want: []string{"PHONE_NUMBER (555) 123-4567"}},
		{name: "US dotted", text: "cell 555.123.4567",
			want: []string{"PHONE_NUMBER 555.123.4567"}},
		{name: "US with country code", text: "+1 (555) 123-4567",
			want: []string{"PHONE_NUMBER +1 (555) 123-4567"}},
		{name: "US leading one", text: "dial 1-800-555-0199 now",
			want: []string{"PHONE_NUMBER 1-800-555-0199"}},
		{name: "UK national", text: "Our office: 020 7946 0958.",
			want: []string{"PHONE_NUMBER 020 7946 0958"}},
		{name: "UK mobile international", text: "mobile +44 7700 900123",
			want: []string{"PHONE_NUMBER +44 7700 900123"}},
		{name: "Germany international", text: "Tel. +49 30 1234567",
			want: []string{"PHONE_NUMBER +49 30 1234567"}},
		{name: "Germany national slash", text: "Telefon 030/1234567",
			want: []string{"PHONE_NUMBER 030/1234567"}},
		{name: "France grouped", text: "appelez le 01 23 45 67 89",
			want: []string{"PHONE_NUMBER 01 23 45 67 89"}},
		{name: "double zero prefix", text: "from abroad 0044 20 7946 0958",
			want: []string{"PHONE_NUMBER 0044 20 7946 0958"}},
		{name: "E.164 unformatted", text: "reach +442079460958",
			want: []string{"PHONE_NUMBER +442079460958"}},
		{name: "bare digits after phone word", text: "phone: 5551234567",
			want: []string{"PHONE_NUMBER 5551234567"}},
		{name: "phone number label", text: "phone number 020 7946 0958",
			want: []string{"PHONE_NUMBER 020 7946 0958"}},
		{name: "local seven digits", text: "ring 555-1234 tomorrow",
			want: []string{"PHONE_NUMBER 555-1234"}},
		{name: "order number dashed", text: "Your order ORD-123456 shipped"},
		{name: "order number long", text: "Your order ORD-1234567890 shipped"},
		{name: "order word before number", text: "order 555-123-4567 is late"},
		{name: "order number label", text: "order number 020 7946 0958"},
		{name: "hash id", text: "ticket #5551234567"},
		{name: "bare digits without context", text: "amount 5551234567 units"},
		{name: "unix timestamp", text: "ts=1699999999 level=info"},
		{name: "compact timestamp", text: "at 20240115143000 utc"},
		{name: "ISO date", text: "due 2024-01-15"},
		{name: "ISO timestamp", text: "2024-01-15T14:30:00Z"},
		{name: "date and time", text: "on 15.01.2024 10:30"},
		{name: "US date", text: "since 01/15/2024 we"},
		{name: "version", text: "upgraded to 10.0.19045.1234"},
		{name: "hex id", text: "trace 4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "uuid", text: "id 550e8400-e29b-41d4-a716-446655440000"},
		{name: "amount with thousands", text: "paid 1,234,567.89 EUR"},
		{name: "too few digits", text: "call 555-123"},
		{name: "too many digits", text: "+1 555 123 4567 8901 2345"},
		{name: "US without area code rules", text: "ref 123 4567"},
	})
}

func TestFindCard(t *testing.T) {
	t.Parallel()
	runRecogniserCases(t, []recogniserCase{
		{name: "visa spaced", text: "card 4111 1111 1111 1111 exp 12/27",
			want: []string{"CREDIT_CARD 4111 1111 1111 1111"}},
		{name: "visa compact", text: "pan=4111111111111111;",
			want: []string{"CREDIT_CARD 4111111111111111"}},
		{name: "mastercard dashed", text: "5555-5555-5555-4444",
			want: []string{"CREDIT_CARD 5555-5555-5555-4444"}},
		{name: "mastercard 2-series", text: "2223 0031 2200 3222",
			want: []string{"CREDIT_CARD 2223 0031 2200 3222"}},
		{name: "amex", text: "Amex 3782 822463 10005.",
			want: []string{"CREDIT_CARD 3782 822463 10005"}},
		{name: "discover", text: "6011 1111 1111 1117",
			want: []string{"CREDIT_CARD 6011 1111 1111 1117"}},
		{name: "two cards in one run", text: "4111111111111111 5555555555554444",
			want: []string{"CREDIT_CARD 4111111111111111", "CREDIT_CARD 5555555555554444"}},
		{name: "luhn invalid", text: "4111 1111 1111 1112"},
		{name: "unknown issuer", text: "9999 9999 9999 9995"},
		{name: "wrong length for amex", text: "3782 8224 6310 0052"},
		{name: "mixed separators", text: "4111-1111 1111-1111"},
		{name: "order id prefix", text: "ORD-4111111111111111"},
		{name: "inside hex id", text: "a4111111111111111b"},
		{name: "too long", text: "41111111111111111111111"},
	})
}

func TestFindIBAN(t *testing.T) {
	t.Parallel()
	runRecogniserCases(t, []recogniserCase{
		{name: "UK spaced", text: "IBAN: GB82 WEST 1234 5698 7654 32 thanks",
			want: []string{"IBAN_CODE GB82 WEST 1234 5698 7654 32"}},
		{name: "UK compact", text: "GB82WEST12345698765432",
			want: []string{"IBAN_CODE GB82WEST12345698765432"}},
		{name: "Germany", text: "Konto DE89 3704 0044 0532 0130 00.",
			want: []string{"IBAN_CODE DE89 3704 0044 0532 0130 00"}},
		{name: "France with letter", text: "FR14 2004 1010 0505 0001 3M02 606",
			want: []string{"IBAN_CODE FR14 2004 1010 0505 0001 3M02 606"}},
		{name: "Netherlands", text: "NL91ABNA0417164300",
			want: []string{"IBAN_CODE NL91ABNA0417164300"}},
		{name: "Norway shortest", text: "NO93 8601 1117 947",
			want: []string{"IBAN_CODE NO93 8601 1117 947"}},
		{name: "bad checksum", text: "GB82 WEST 1234 5698 7654 33"},
		{name: "unknown country", text: "ZZ82 WEST 1234 5698 7654 32"},
		{name: "too short", text: "GB82 WEST 1234 5698 7654"},
		{name: "runs into a word", text: "GB82WEST12345698765432ABC"},
		{name: "glued to a word", text: "xGB82WEST12345698765432"},
	})
}

func TestFindSSN(t *testing.T) {
	t.Parallel()
	runRecogniserCases(t, []recogniserCase{
		{name: "dashed", text: "SSN 123-45-6789 on file",
			want: []string{"US_SSN 123-45-6789"}},
		{name: "spaced", text: "number 219 09 9999",
			want: []string{"US_SSN 219 09 9999"}},
		{name: "bare with context", text: "social security number: 219099999",
			want: []string{"US_SSN 219099999"}},
		{name: "bare without context", text: "batch 219099999"},
		{name: "area 000", text: "000-12-3456"},
		{name: "area 666", text: "666-12-3456"},
		{name: "area 900 and above", text: "912-12-3456"},
		{name: "group 00", text: "123-00-4567"},
		{name: "serial 0000", text: "123-45-0000"},
		{name: "repeated digit", text: "111-11-1111"},
		{name: "mixed separators", text: "123-45 6789"},
		{name: "inside longer dashed id", text: "INV-123-45-6789"},
		{name: "followed by more digits", text: "123-45-6789-01"},
	})
}

func TestFindIP(t *testing.T) {
	t.Parallel()
	runRecogniserCases(t, []recogniserCase{
		{name: "IPv4", text: "login from 203.0.113.42 failed",
			want: []string{"IP_ADDRESS 203.0.113.42"}},
		{name: "IPv4 end of sentence", text: "host is 10.0.0.1.",
			want: []string{"IP_ADDRESS 10.0.0.1"}},
		{name: "IPv6 compressed", text: "client 2001:db8::8a2e:370:7334 connected",
			want: []string{"IP_ADDRESS 2001:db8::8a2e:370:7334"}},
		{name: "IPv6 full", text: "(2001:0db8:85a3:0000:0000:8a2e:0370:7334)",
			want: []string{"IP_ADDRESS 2001:0db8:85a3:0000:0000:8a2e:0370:7334"}},
		{name: "IPv6 loopback identifies no one", text: "bind ::1 only"},
		{name: "IPv6 link-local", text: "bind fe80::1ff:fe23:4567:890a%eth0",
			want: []string{"IP_ADDRESS fe80::1ff:fe23:4567:890a"}},
		{name: "IPv4-mapped IPv6", text: "peer ::ffff:192.0.2.128 seen",
			want: []string{"IP_ADDRESS ::ffff:192.0.2.128"}},
		{name: "IPv6 then colon", text: "at fe80::1: link local",
			want: []string{"IP_ADDRESS fe80::1"}},
		{name: "octet too large", text: "999.1.1.1"},
		{name: "leading zero", text: "010.001.002.003"},
		{name: "five parts", text: "1.2.3.4.5"},
		{name: "version word", text: "version 1.2.3.4 released"},
		{name: "prefixed version", text: "v1.2.3.4"},
		{name: "time", text: "at 10:30:00 UTC"},
		{name: "MAC address is not an IP", text: "mac 00:1A:2B:3C:4D:5E",
			want: []string{"MAC_ADDRESS 00:1A:2B:3C:4D:5E"}},
		{name: "C++ scope", text: "std::vector and a::b"},
		{name: "bare double colon", text: "key :: value"},
		{name: "hex id", text: "commit 4bf92f3577b34da6a3ce929d0e0e4736"},
	})
}

func TestFindOverlaps(t *testing.T) {
	t.Parallel()
	runRecogniserCases(t, []recogniserCase{
		{name: "SSN beats phone on the same span", text: "id: 123-45-6789",
			want: []string{"US_SSN 123-45-6789"}},
		{name: "card beats phone on the same span", text: "3782 822463 10005",
			want: []string{"CREDIT_CARD 3782 822463 10005"}},
		{name: "IBAN beats the phone inside it", text: "GB82 WEST 1234 5698 7654 32",
			want: []string{"IBAN_CODE GB82 WEST 1234 5698 7654 32"}},
		{name: "IPv6 beats the IPv4 inside it", text: "::ffff:10.1.2.3",
			want: []string{"IP_ADDRESS ::ffff:10.1.2.3"}},
		{name: "email beats the phone inside it", text: "+15551234567@sms.example.net",
			want: []string{"EMAIL_ADDRESS +15551234567@sms.example.net"}},
		{name: "several kinds in order",
			text: "Jane <jane@example.com>, +44 7700 900123, card 4111111111111111, ip 192.0.2.1",
			want: []string{
				"PERSON Jane",
				"EMAIL_ADDRESS jane@example.com",
				"PHONE_NUMBER +44 7700 900123",
				"CREDIT_CARD 4111111111111111",
				"IP_ADDRESS 192.0.2.1",
			}},
	})
}
