package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFindMACs(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findMACs, []ownCase{
		{name: "colons", text: "device 00:1A:2B:3C:4D:5E joined",
			want: []string{"MAC_ADDRESS 00:1A:2B:3C:4D:5E"}},
		{name: "dashes", text: "Physical Address. . . : 3C-52-82-1F-A0-9B",
			want: []string{"MAC_ADDRESS 3C-52-82-1F-A0-9B"}},
		{name: "lower case end of sentence", text: "my laptop is a4:83:e7:12:9f:c0.",
			want: []string{"MAC_ADDRESS a4:83:e7:12:9f:c0"}},
		{name: "Cisco dotted", text: "mac-address 001a.2b3c.4d5e vlan 10",
			want: []string{"MAC_ADDRESS 001a.2b3c.4d5e"}},
		{name: "decimal digits with context", text: "MAC 10:20:30:40:50:60",
			want: []string{"MAC_ADDRESS 10:20:30:40:50:60"}},
		{name: "in a log line", text: "DHCPACK on 10.0.0.7 to f0:18:98:aa:bb:01 (iphone) via eth0", profile: ProfileLog,
			want: []string{"MAC_ADDRESS f0:18:98:aa:bb:01"}},
		{name: "multi-byte text", text: "Gerät «00:1A:2B:3C:4D:5E» verbunden",
			want: []string{"MAC_ADDRESS 00:1A:2B:3C:4D:5E"}},

		{name: "mixed separators", text: "00:1A-2B:3C:4D:5E"},
		{name: "broadcast", text: "dst ff:ff:ff:ff:ff:ff"},
		{name: "all zero", text: "hwaddr 00:00:00:00:00:00"},
		{name: "IPv4 multicast", text: "01:00:5e:00:00:fb mdns"},
		{name: "IPv6 multicast", text: "33:33:00:00:00:01"},
		{name: "EUI-64", text: "00:1A:2B:3C:4D:5E:6F:70"},
		{name: "IPv6 address", text: "fe80::1a2b:3c4d:5e6f:7081"},
		{name: "time", text: "at 12:30:45 UTC"},
		{name: "dashed date and time", text: "backup 24-01-15-12-30-45 done"},
		{name: "decimal digits without context", text: "ratio 10:20:30:40:50:60"},
		{name: "seven pairs", text: "aa:bb:cc:dd:ee:ff:00"},
		{name: "glued to a word", text: "x00:1A:2B:3C:4D:5E"},
		{name: "version dotted", text: "release 2024.0115.1230"},
	})
}

func TestMACSharesPlaceholderAcrossSpellings(t *testing.T) {
	t.Parallel()
	res := New().Redact("seen 00:1A:2B:3C:4D:5E then 00-1a-2b-3c-4d-5e")
	var got []string
	for _, e := range res.Entities {
		got = append(got, e.Replacement)
	}
	if len(got) != 2 || got[0] != got[1] {
		t.Errorf("placeholders %v, want one placeholder for both spellings", got)
	}
}

func TestMACNotIP(t *testing.T) {
	t.Parallel()
	got := redactTypes("mac 00:1A:2B:3C:4D:5E", TypeMAC, TypeIP)
	if diff := cmp.Diff([]string{"MAC_ADDRESS 00:1A:2B:3C:4D:5E"}, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func FuzzFindMACs(f *testing.F) {
	fuzzRecogniser(f, (*Redactor).findMACs,
		"00:1A:2B:3C:4D:5E", "001a.2b3c.4d5e", "aa-bb-cc-dd-ee-f", "mac 11:22:33:44:55:66é")
}
