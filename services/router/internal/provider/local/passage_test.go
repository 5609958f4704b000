package local

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

func TestUnwrap(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want string
	}{
		{
			name: "wrapped paragraph becomes one line",
			text: "When your order leaves our warehouse we send a dispatch email from\n" +
				"[EMAIL_1] with a tracking number.",
			want: "When your order leaves our warehouse we send a dispatch email from " +
				"[EMAIL_1] with a tracking number.",
		},
		{
			name: "blank line keeps paragraphs apart",
			text: "First paragraph\nwraps here.\n\nSecond paragraph\nwraps too.",
			want: "First paragraph wraps here.\n\nSecond paragraph wraps too.",
		},
		{
			name: "list items keep their lines and absorb indented continuations",
			text: "Please contact us with:\n\n- your order number,\n- photos of the item and the\n" +
				"  shipping label.\n* a short note.",
			want: "Please contact us with:\n\n- your order number,\n" +
				"- photos of the item and the shipping label.\n* a short note.",
		},
		{
			name: "numbered items start new lines",
			text: "1. Go to the site and select Sign in,\n   then Forgot password.\n2. Enter your email.",
			want: "1. Go to the site and select Sign in, then Forgot password.\n2. Enter your email.",
		},
		{
			name: "headings stand alone and are not continued",
			text: "# Returns\nYou can return most items\nwithin 30 days.\n" +
				"## Holiday returns\nItems can come back\nlater.",
			want: "# Returns\nYou can return most items within 30 days.\n## Holiday returns\n" +
				"Items can come back later.",
		},
		{
			name: "table rows stay one per line",
			text: "| Status | Meaning |\n| --- | --- |\n| Shipped | With the carrier. |\nAfter the\ntable.",
			want: "| Status | Meaning |\n| --- | --- |\n| Shipped | With the carrier. |\nAfter the table.",
		},
		{
			name: "fenced code is left alone",
			text: "Run:\n```\nkeel demo\n  --verbose\n```\nThen\nwait.",
			want: "Run:\n```\nkeel demo\n  --verbose\n```\nThen wait.",
		},
		{
			name: "carriage returns are dropped",
			text: "One line\r\nwrapped.\r\n\r\nNext.",
			want: "One line wrapped.\n\nNext.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if diff := cmp.Diff(tt.want, unwrap(tt.text)); diff != "" {
				t.Errorf("unwrap (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPassageSentences(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		passage provider.Passage
		want    []string
	}{
		{
			name: "sentences span wrapped lines",
			passage: provider.Passage{
				Text: "When your order leaves our warehouse we send a dispatch email.\n" +
					"This email normally arrives within 24 hours of\ndispatch.",
			},
			want: []string{
				"When your order leaves our warehouse we send a dispatch email.",
				"This email normally arrives within 24 hours of dispatch.",
			},
		},
		{
			name: "abbreviations do not end a sentence",
			passage: provider.Passage{Text: "Opening hours are Monday to Friday, 8:00 a.m. to 8:00 p.m.\n" +
				"Eastern Time. We are closed on Sundays."},
			want: []string{
				"Opening hours are Monday to Friday, 8:00 a.m. to 8:00 p.m. Eastern Time.",
				"We are closed on Sundays.",
			},
		},
		{
			name: "list markers go, lead-ins and list tails are not quoted",
			passage: provider.Passage{Text: "Please contact us within 7 days of delivery with:\n\n" +
				"- your order number,\n- photos of the item and the box. For broken glass, a photo of\n" +
				"  all the pieces helps.\n1. Sign in and open **Orders** to start a claim."},
			want: []string{
				"For broken glass, a photo of all the pieces helps.",
				"Sign in and open **Orders** to start a claim.",
			},
		},
		{
			name: "headings, tables and short labels are skipped",
			passage: provider.Passage{Text: "## Cost\n| Destination | Cost |\n| --- | --- |\n" +
				"| Contiguous 48 states | $6.95 |\nGift cards.\nStandard shipping costs $6.95 per order."},
			want: []string{"Standard shipping costs $6.95 per order."},
		},
		{
			name: "items of a list under a negative heading are not quoted alone",
			passage: provider.Passage{
				Title: "How refunds are paid > What we cannot do",
				Text: "- Refund to a different card, PayPal account or person.\n" +
					"- Refund by bank transfer to a bank account. Bank transfers are only used for\n" +
					"  business invoice accounts.\n\nPlease never send your bank details by email.",
			},
			want: []string{
				"Bank transfers are only used for business invoice accounts.",
				"Please never send your bank details by email.",
			},
		},
		{
			name: "a negative lead-in applies to its list only",
			passage: provider.Passage{
				Title: "Returns > Exceptions",
				Text: "We cannot take back:\n\n- Engraved knives and personalised boards.\n\n" +
					"Everything else can be returned:\n\n- Unused kettles in their original box.",
			},
			want: []string{"Unused kettles in their original box."},
		},
		{
			name: "a heading in the text replaces the title's",
			passage: provider.Passage{
				Title: "Returns > Items we cannot take back",
				Text: "- Engraved knives that have been used.\n## Condition\n" +
					"- Items in their original packaging get a full refund.",
			},
			want: []string{"Items in their original packaging get a full refund."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if diff := cmp.Diff(tt.want, passageSentences(tt.passage)); diff != "" {
				t.Errorf("passageSentences (-want +got):\n%s", diff)
			}
		})
	}
}
