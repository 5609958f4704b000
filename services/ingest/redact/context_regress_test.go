package redact

import "testing"

// TestContextRegressions holds shapes the labelled set showed to be missed
// or wrongly taken: ports and prefixes after addresses, versions named a
// few words before, diff markers before phone numbers.
func TestContextRegressions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile Profile
		text    string
		want    []string // "TYPE value" in order
	}{
		{"address with a port", ProfileProse, "server 10.1.2.3:8443;", []string{"IP_ADDRESS 10.1.2.3"}},
		{"address with a prefix", ProfileProse, `cidr = "10.40.16.0/20"`, []string{"IP_ADDRESS 10.40.16.0"}},
		{"url host", ProfileProse, "Get https://172.29.136.101:8443/readyz", []string{"IP_ADDRESS 172.29.136.101"}},
		{"loopback is nobody's", ProfileLog, "127.0.0.1 - - GET / and ::1 and 0.0.0.0:80", nil},
		{"version a few words back", ProfileProse, "the latest is 1.2.3.2 and the last build was 4.2.1.74", nil},
		{"certificate serial is not IPv6", ProfileProse, "serial 4F:2A:91:0C:7E:33:18:B5 expires", nil},
		{"plus number after 'number'", ProfileProse, "Sender number +1 415 555 0109.", []string{"PHONE_NUMBER +1 415 555 0109"}},
		{"callback number", ProfileProse, "Callback number 07700 900 481 (mobile)", []string{"PHONE_NUMBER 07700 900 481"}},
		{"ssn after ssn=", ProfileLog, "applicant ssn=711-13-5256", []string{"US_SSN 711-13-5256"}},
		{"phone after a diff marker", ProfileCode, "@@ -1 +1 @@\n++33 6 12 45 78 90\n", []string{"PHONE_NUMBER +33 6 12 45 78 90"}},
		{"date after a diff marker", ProfileCode, "@@ -1 +1 @@\n+2024-06-11\n", nil},
		{"impossible international length", ProfileProse, "Frequent flyer BA 0012 8374 61.", nil},
		{"another number named nearby", ProfileProse, "the NHS number on the referral, 492 217 1739, fails", nil},
		{"seconds of a timestamp", ProfileLog, "[Tue Jun 11 11:51:02.118822 2024] [auth_basic:error]", nil},
		{"lone trunk prefix", ProfileLog, `"GET / HTTP/1.1" 200 - 0 1822 12 11 "-"`, nil},
		{"answer on the line after the question", ProfileProse, "Agent: best contact number?\nCustomer: 0412 889 301",
			[]string{"PHONE_NUMBER 0412 889 301"}},
		{"grouped digits without a trunk prefix, after a phone word", ProfileProse, "Teléfono: 612 34 56 78",
			[]string{"PHONE_NUMBER 612 34 56 78"}},
		{"CJK phone word", ProfileProse, "电话 139 1234 5678", []string{"PHONE_NUMBER 139 1234 5678"}},
		{"grouped digits without a phone word", ProfileProse, "batch 612 34 56 78 shipped", nil},
		{"ssn word several words back", ProfileProse, "her own SSN on the W-9 is 219099999", []string{"US_SSN 219099999"}},
		{"plus number in a field named number", ProfileCode, `from_number: "+15005550006"`, []string{"PHONE_NUMBER +15005550006"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := New().NewDocument()
			doc.SetProfile(tc.profile)
			res := doc.Redact(tc.text)
			var got []string
			for _, e := range res.Entities {
				got = append(got, string(e.Type)+" "+tc.text[e.Start:e.End])
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Redact(%q) found %q, want %q", tc.text, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("Redact(%q) found %q, want %q", tc.text, got, tc.want)
				}
			}
		})
	}
}
