package redact

import "testing"

func TestPhonePlanScores(t *testing.T) {
	r := New()
	tests := []struct {
		name          string
		digits        string
		international bool
		in            float64
		want          float64
	}{
		{"allocated UK landline with +44", "442079460958", true, 0.75, phoneScorePlanValid},
		{"allocated UK landline with 00 and (0)", "004402079460958", true, 0.75, phoneScorePlanValid},
		{"possible length, not allocated", "44207946095", true, 0.75, 0.75},
		{"allocated US number", "4155552671", false, 0.6, phoneScorePlanValid},
		{"allocated UK national number", "02079460958", false, 0.6, phoneScorePlanValid},
		{"Ofcom drama range: possible, not allocated", "447700900123", true, 0.75, 0.75},
		{"unknown calling code", "999123456789", true, 0.75, 0.75 - phoneImpossiblePenalty},
		{"national number no plan allocates", "0000000000", false, 0.6, 0.6 - phonePlanPenalty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.phonePlanScore(tt.digits, tt.international, tt.in); !near(got, tt.want) {
				t.Errorf("phonePlanScore(%q) = %v, want %v", tt.digits, got, tt.want)
			}
		})
	}
}

func TestWithPhoneRegions(t *testing.T) {
	// 089 1234567 is a Munich landline: allocated in Germany, not in the
	// default US and GB plans.
	const munich = "0891234567"
	if got := New().phonePlanScore(munich, false, 0.6); !near(got, 0.6-phonePlanPenalty) {
		t.Errorf("default regions: score %v, want the penalty", got)
	}
	if got := New(WithPhoneRegions("de")).phonePlanScore(munich, false, 0.6); !near(got, phoneScorePlanValid) {
		t.Errorf("with DE: score %v, want %v", got, phoneScorePlanValid)
	}
}

func TestPhoneFoundWithPlanScore(t *testing.T) {
	got := New().Find("Call me on (415) 555-2671 after six.")
	if len(got) != 1 || got[0].Type != TypePhone || got[0].Score < phoneScorePlanValid {
		t.Fatalf("Find = %+v, want one phone number scored at least %v", got, phoneScorePlanValid)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
