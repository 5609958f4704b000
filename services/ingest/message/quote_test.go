package message

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFindQuoted(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want []string // the text of each quoted range
	}{
		{
			name: "no quotes",
			text: "Hello,\nplain message.",
		},
		{
			name: "quote marks only",
			text: "Answer.\n> question?\n>> older\nMore answer.",
			want: []string{"> question?\n>> older\n"},
		},
		{
			name: "English attribution followed by quotes",
			text: "Sure.\n\nOn Mon, 7 Dec 2026, 10:01 Ana Ruiz <ana@example.com> wrote:\n> Can we talk?",
			want: []string{"On Mon, 7 Dec 2026, 10:01 Ana Ruiz <ana@example.com> wrote:\n> Can we talk?"},
		},
		{
			name: "Spanish attribution",
			text: "Vale.\n\nEl lun, 7 dic 2026 a las 10:01, Lucía Fernández (<lucia@example.com>) escribió:\n> ¿Dónde está?",
			want: []string{"El lun, 7 dic 2026 a las 10:01, Lucía Fernández (<lucia@example.com>) escribió:\n> ¿Dónde está?"},
		},
		{
			name: "German attribution",
			text: "Danke.\n\nAm 07.12.2026 um 10:01 schrieb Jonas Becker <jonas@example.de>:\n> Wo ist die Lieferung?",
			want: []string{"Am 07.12.2026 um 10:01 schrieb Jonas Becker <jonas@example.de>:\n> Wo ist die Lieferung?"},
		},
		{
			name: "French attribution with a no-break space",
			text: "Merci.\n\nLe lun. 7 déc. 2026 à 10:01, Luc Martin <luc@example.fr> a écrit\u00a0:\n> Bonjour",
			want: []string{"Le lun. 7 déc. 2026 à 10:01, Luc Martin <luc@example.fr> a écrit\u00a0:\n> Bonjour"},
		},
		{
			name: "attribution without quote marks quotes the rest",
			text: "See below.\n\nOn 12/7/26 10:01 AM, Ana wrote:\nThe original text\nwithout marks.",
			want: []string{"On 12/7/26 10:01 AM, Ana wrote:\nThe original text\nwithout marks."},
		},
		{
			name: "name-only attribution needs quotes after it",
			text: "Ana Ruiz <ana@example.com> wrote:\n> quoted\n\nPlain sentence that wrote:\nnot a quote",
			want: []string{"Ana Ruiz <ana@example.com> wrote:\n> quoted\n"},
		},
		{
			name: "opener without a date is not an attribution",
			text: "On Monday my husband wrote:\nthe kettle is broken.",
		},
		{
			name: "Outlook header block under a rule",
			text: "Refund sent.\n\n________________________________\nFrom: Ana Ruiz\nSent: Monday, 7 December 2026 10:01\n" +
				"To: Support\nSubject: Refund\n\nPlease refund.",
			want: []string{"________________________________\nFrom: Ana Ruiz\nSent: Monday, 7 December 2026 10:01\n" +
				"To: Support\nSubject: Refund\n\nPlease refund."},
		},
		{
			name: "Spanish Outlook header block",
			text: "Hecho.\n\nDe: Lucía\nEnviado: lunes, 7 de diciembre de 2026 10:01\nPara: Soporte\nAsunto: Pedido\n\nHola",
			want: []string{"De: Lucía\nEnviado: lunes, 7 de diciembre de 2026 10:01\nPara: Soporte\nAsunto: Pedido\n\nHola"},
		},
		{
			name: "French Outlook header block with a space before colons",
			text: "Fait.\n\nDe : Luc\nEnvoyé : lundi 7 décembre 2026 10:01\nÀ : Support\nObjet : Commande\n\nBonjour",
			want: []string{"De : Luc\nEnvoyé : lundi 7 décembre 2026 10:01\nÀ : Support\nObjet : Commande\n\nBonjour"},
		},
		{
			name: "From line alone is not a header block",
			text: "From: the warehouse in Leeds\nthe parcel left yesterday.",
		},
		{
			name: "German original message separator",
			text: "Erledigt.\n-----Ursprüngliche Nachricht-----\nVon: Jonas",
			want: []string{"-----Ursprüngliche Nachricht-----\nVon: Jonas"},
		},
		{
			name: "Apple Mail forward",
			text: "FYI\n\nBegin forwarded message:\n\nFrom: Ana\nSubject: x",
			want: []string{"Begin forwarded message:\n\nFrom: Ana\nSubject: x"},
		},
		{
			name: "Thunderbird forward",
			text: "FYI\n\n-------- Forwarded Message --------\nSubject: x",
			want: []string{"-------- Forwarded Message --------\nSubject: x"},
		},
		{
			name: "interleaved replies keep the answers fresh",
			text: "> q1\n> q1b\na1\n\n> q2\na2",
			want: []string{"> q1\n> q1b\n", "> q2\n"},
		},
		{
			name: "quoted blocks separated by blank lines merge",
			text: "Answer\n> q1\n\n\n> q2\n",
			want: []string{"> q1\n\n\n> q2\n"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := findQuoted(tt.text)
			if diff := cmp.Diff(tt.want, quotedTexts(tt.text, got)); diff != "" {
				t.Errorf("quoted (-want +got):\n%s", diff)
			}
		})
	}
}
