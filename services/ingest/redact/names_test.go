package redact

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/ingest/redact/redacteval"
)

// contextTypes are the types of the name, address and birth-date
// recognisers.
var contextTypes = map[Type]bool{TypePerson: true, TypeLocation: true, TypeDate: true}

// findContextTypes redacts text as a Document with the given profile and
// returns its names, addresses and birth dates, each as "TYPE matched text".
func findContextTypes(t *testing.T, profile Profile, text string) []string {
	t.Helper()
	doc := New().NewDocument()
	doc.SetProfile(profile)
	var got []string
	for _, e := range doc.Redact(text).Entities {
		if contextTypes[e.Type] {
			got = append(got, string(e.Type)+" "+text[e.Start:e.End])
		}
	}
	return got
}

// contextCase is one text, the profile it is read with, and the names,
// addresses and birth dates expected in it.
type contextCase struct {
	name    string
	profile Profile
	text    string
	want    []string
}

func runContextCases(t *testing.T, cases []contextCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := findContextTypes(t, tc.profile, tc.text)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings in %q mismatch (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

func TestFindNamesContext(t *testing.T) {
	t.Parallel()
	runContextCases(t, []contextCase{
		{name: "greeting", text: "Hi Priya,\nthanks for this.", want: []string{"PERSON Priya"}},
		{name: "greeting unknown name", text: "Hello Xiomara!\nYour order shipped.", want: []string{"PERSON Xiomara"}},
		{name: "greeting full name", text: "Dear Chinedu Okafor,", want: []string{"PERSON Chinedu Okafor"}},
		{name: "good morning", text: "Good morning Aisha, quick one.", want: []string{"PERSON Aisha"}},
		{name: "thank you", text: "Thank you Tomasz!", want: []string{"PERSON Tomasz"}},
		{name: "lower-case chat greeting", text: "hey sarah, you there?", want: []string{"PERSON sarah"}},
		{name: "foreign greeting", text: "Hola Lucía,\nte escribo por el pedido.", want: []string{"PERSON Lucía"}},
		{name: "title outside the span", text: "Dear Mr. Okafor, please call.", want: []string{"PERSON Okafor"}},
		{name: "German title", text: "Sehr geehrte Frau Müller,", want: []string{"PERSON Müller"}},
		{name: "title with particle", text: "I met Mr van Dijk today.", want: []string{"PERSON van Dijk"}},
		{name: "sign-off line", text: "See you then.\n\nKind regards,\nMargaret Ellison\n", want: []string{"PERSON Margaret Ellison"}},
		{name: "sign-off unknown name", text: "Thanks again.\n\nCheers,\nZanzi\n", want: []string{"PERSON Zanzi"}},
		{name: "sign-off same line", text: "That works.\nThanks, Ngozi", want: []string{"PERSON Ngozi"}},
		{name: "signature delimiter", text: "Noted.\n--\nRahul Verma\nHead of Partnerships", want: []string{"PERSON Rahul Verma"}},
		{name: "signature block", text: "Lorem ipsum.\n\nTeodora Vasquez\nSenior Account Manager\n", want: []string{"PERSON Teodora Vasquez"}},
		{name: "my name is", text: "Hello, my name is Thandiwe and I need help.", want: []string{"PERSON Thandiwe"}},
		{name: "me llamo", text: "Buenas, me llamo Xochitl.", want: []string{"PERSON Xochitl"}},
		{name: "I'm", text: "Hi, I'm Priya from Acme.", want: []string{"PERSON Priya"}},
		{name: "label", text: "Name: Hoang Minh Tuan\nPlan: Business", want: []string{"PERSON Hoang Minh Tuan"}},
		{name: "header with address", text: "From: Grace Liu <grace.liu@example.com>", want: []string{"PERSON Grace Liu"}},
		{name: "cc list", text: "Cc: Fatima Zahra, Tomasz Nowak", want: []string{"PERSON Fatima Zahra", "PERSON Tomasz Nowak"}},
		{name: "quoted header", text: "On Tue, 12 Mar 2024 at 09:14, Kwame Mensah wrote:", want: []string{"PERSON Kwame Mensah"}},
		{name: "relation", text: "My colleague Arjun can help.", want: []string{"PERSON Arjun"}},
		{name: "spoke with", text: "I spoke with Daniel Okafor yesterday.", want: []string{"PERSON Daniel Okafor"}},
		{name: "listed full name alone", text: "Please add Sofía Martínez to the account.", want: []string{"PERSON Sofía Martínez"}},
		{name: "name list", text: "Attendees: Sunita Rao, Ben Carter, Chloé Martin", want: []string{
			"PERSON Sunita Rao", "PERSON Ben Carter", "PERSON Chloé Martin"}},
		{name: "list with an ambiguous name", text: "Also, Grace and Mark asked about it.", want: []string{"PERSON Grace", "PERSON Mark"}},
		{name: "ambiguous name with a surname", text: "Will Smith called.", want: []string{"PERSON Will Smith"}},
		{name: "mention", text: "thanks! @mike can you check? cc @Priya", want: []string{"PERSON mike", "PERSON Priya"}},
		{name: "speaker labels", text: "Olu: can you send it?\nDami: sending now\nOlu: thanks\nDami: ok", want: []string{
			"PERSON Olu", "PERSON Dami", "PERSON Olu", "PERSON Dami"}},
		{name: "speaker label seen once", text: "Olu: can you send it?\nsure"},
		{name: "timestamped speaker", text: "[10:02] Lena Fischer: Build failed again", want: []string{"PERSON Lena Fischer"}},
		{name: "listed speaker seen once", text: "Priya: can you send it?\nsure", want: []string{"PERSON Priya"}},
		{name: "lower-case speakers", text: "amara: can u check\nbot: hi\namara: ok", want: []string{"PERSON amara", "PERSON amara"}},
		{name: "IRC speakers", text: "<amara> hi\n<dev42> hello\n<amara> thx", want: []string{"PERSON amara", "PERSON amara"}},
		{name: "speaker named by another", text: "Olu: hi\nDami: thx olu, on it\nOlu: ok\nDami: done", want: []string{
			"PERSON Olu", "PERSON Dami", "PERSON olu", "PERSON Olu", "PERSON Dami"}},
		{name: "speaker with a word name addressed", text: "grace: any update?\nkofi: thx grace, looking\ngrace: ok\nkofi: fixed", want: []string{
			"PERSON grace", "PERSON kofi", "PERSON grace", "PERSON grace", "PERSON kofi"}},
		{name: "hyphen and apostrophe", text: "Call with Siobhan O'Connor and Jean-Luc Picard.", want: []string{
			"PERSON Siobhan O'Connor", "PERSON Jean-Luc Picard"}},
		{name: "particle name", text: "Thanks to Mohammed Al-Rashid and Ana da Silva.", want: []string{
			"PERSON Mohammed Al-Rashid", "PERSON Ana da Silva"}},
		{name: "initial", text: "Signed by J. Smith on behalf of the board.", want: []string{"PERSON J. Smith"}},
		{name: "generational suffix", text: "Contact: Martin Luther King Jr.", want: []string{"PERSON Martin Luther King Jr."}},
		{name: "family name first", text: "Regards,\nTrần Thị Mai", want: []string{"PERSON Trần Thị Mai"}},
		{name: "CJK after greeting", text: "Dear 王伟,\nthank you.", want: []string{"PERSON 王伟"}},
		{name: "CJK honorific dropped", text: "Hi 山田様, thanks", want: []string{"PERSON 山田"}},
		{name: "CJK name with space", text: "Cc: 山田 花子 <hanako@example.jp>", want: []string{"PERSON 山田 花子"}},
		{name: "was born", text: "Congrats! Anaya was born last week.", want: []string{"PERSON Anaya"}},
	})
}

func TestFindNamesNegatives(t *testing.T) {
	t.Parallel()
	runContextCases(t, []contextCase{
		{name: "team greeting", text: "Hi Support Team,\nHello World.\nDear Valued Customer,"},
		{name: "modal verbs", text: "Will you join? May I ask? Hope you are well. Grant access to Bill Payments."},
		{name: "months and days", text: "We ship on May 5 and June 12, not on Tuesday."},
		{name: "Title Case product prose", text: "The Grace Period Policy and Mark As Read button ship in the Jordan Air Max release."},
		{name: "company and place", text: "Victoria Station, Lincoln Park and San Jose are busy; Morgan Stanley agreed."},
		{name: "person-named things", text: "Visit the Grace Hopper Conference at Martin Luther King Jr Blvd."},
		{name: "company suffix", text: "We signed with Priya Sharma Consulting Ltd last week."},
		{name: "identifiers", text: "Call NewServer(cfg) or Config.Load() from PriyaService; see /home/priya/.ssh and priya@example.com."},
		{name: "ALL CAPS", text: "PLEASE CONTACT JOHN AT ONCE"},
		{name: "role labels", text: "Agent: Perfect, thank you.\nCustomer: Updated, thanks."},
		{name: "lower-case labels that are no speakers", text: "support-bot: hi\nsupport-bot: bye\nnote to self: buy milk\nre: invoice\nre: invoice\nvisitor: late\nvisitor: ok"},
		{name: "word name not addressed", text: "will: may i ask?\nmay: will you check\nwill: sure\nmay: ok", want: []string{
			"PERSON will", "PERSON may", "PERSON will", "PERSON may"}},
		{name: "pronoun", text: "He was born in a hurry."},
		{name: "job title", text: "Contact: Arjun Mehta, Head of Data", want: []string{"PERSON Arjun Mehta"}},
		{name: "form fields", text: "Reason: annual check\nSlot: Thu 14:20\nTel: 0117 496 0732"},
		{name: "thing names", text: "Book room Sakura and project Phoenix."},
	})
}

func TestFindNamesCodeAndLogs(t *testing.T) {
	t.Parallel()
	runContextCases(t, []contextCase{
		{name: "author trailers", profile: ProfileCode,
			text: "Author: Beatriz Santos <beatriz@example.com>\n\n    Co-authored-by: Kwame Mensah <kwame@example.com>\n",
			want: []string{"PERSON Beatriz Santos", "PERSON Kwame Mensah"}},
		{name: "maintainer comment", profile: ProfileCode, text: "+// Maintainer: Pieter de Vries\n",
			want: []string{"PERSON Pieter de Vries"}},
		{name: "javadoc author", profile: ProfileCode, text: " * @author Jane Okoro\n", want: []string{"PERSON Jane Okoro"}},
		{name: "TODO tag", profile: ProfileCode, text: "// TODO(Mark): handle the edge case", want: []string{"PERSON Mark"}},
		{name: "name fields", profile: ProfileCode,
			text: `+  {"first_name": "Marisol", "last_name": "Quispe", "fullName": "Adaeze Obi"}`,
			want: []string{"PERSON Marisol", "PERSON Quispe", "PERSON Adaeze Obi"}},
		{name: "generic name field needs a listed given name", profile: ProfileCode,
			text: "+  - name: Run Integration Tests\n+  name: Jonathan Price\n",
			want: []string{"PERSON Jonathan Price"}},
		{name: "quoted cell", profile: ProfileCode, text: "+  (1001, 'Marcus Bell', 'marcus@example.com'),",
			want: []string{"PERSON Marcus Bell"}},
		{name: "documentation in a diff is prose", profile: ProfileCode,
			text: "diff --git a/CHANGELOG.md b/CHANGELOG.md\n+- Thanks to Rose Okonjo and Matteo Greco for the reports.\n",
			want: []string{"PERSON Rose Okonjo", "PERSON Matteo Greco"}},
		{name: "prose evidence does not count in code", profile: ProfileCode,
			text: "+	log.Printf(\"Hi Priya, Dear Customer\")\n+	greeter := NewGreeter(\"Hello Grace\")\n"},
		{name: "code identifiers", profile: ProfileCode,
			text: "func (s *BillingService) GracePeriod(ctx context.Context) error {\n\treturn s.Victoria.Lookup(\"Jordan\")\n}"},
		{name: "logfmt name field", profile: ProfileLog,
			text: `2024-03-02T10:00:01Z INFO customer_name="Jane Okoro" order=ORD-22 status=shipped`,
			want: []string{"PERSON Jane Okoro"}},
		{name: "JSON log", profile: ProfileLog,
			text: `{"event":"signup","user":{"first_name":"Kofi","last_name":"Boateng"},"plan":"starter"}`,
			want: []string{"PERSON Kofi", "PERSON Boateng"}},
		{name: "stack trace", profile: ProfileLog,
			text: "java.lang.IllegalStateException: Pool exhausted\n\tat com.acme.OrderService.place(OrderService.java:112)\nWARN Retrying Order Sync Job attempt=3"},
	})
}

func TestFindNamesOffsets(t *testing.T) {
	t.Parallel()
	text := "Ünïcödé ✉️ Hi Zoë,\n\nMit freundlichen Grüßen\nJürgen Weißmüller"
	doc := New().NewDocument()
	res := doc.Redact(text)
	var got []string
	for _, e := range res.Entities {
		if e.Type != TypePerson {
			continue
		}
		if !utf8.ValidString(text[e.Start:e.End]) || e.RuneStart != utf8.RuneCountInString(text[:e.Start]) {
			t.Errorf("entity %+v is not on rune boundaries", e)
		}
		got = append(got, text[e.Start:e.End])
	}
	want := []string{"Zoë", "Jürgen Weißmüller"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names mismatch (-want +got):\n%s", diff)
	}
	if i := strings.Index(text, "Zoë"); res.Entities[0].Start != i || res.Entities[0].End != i+len("Zoë") {
		t.Errorf("first entity at %d-%d, want %d-%d", res.Entities[0].Start, res.Entities[0].End, i, i+len("Zoë"))
	}
}

// TestContextCorpus scores the name, address and birth-date recognisers on
// a small hand-labelled set of emails, chat, notes, diffs and logs, and on
// texts that hold none of them. The first half of the set was written
// while the recognisers were built; the second half after, as a check.
func TestContextCorpus(t *testing.T) {
	t.Parallel()
	examples, err := redacteval.Parse("corpus", strings.NewReader(contextCorpus+"\n"+contextNegatives))
	if err != nil {
		t.Fatal(err)
	}
	r := New()
	detect := func(kind, text string) []redacteval.Span {
		doc := r.NewDocument()
		switch kind {
		case redacteval.KindDiff:
			doc.SetProfile(ProfileCode)
		case redacteval.KindLog:
			doc.SetProfile(ProfileLog)
		}
		var spans []redacteval.Span
		for _, e := range doc.Redact(text).Entities {
			if contextTypes[e.Type] {
				spans = append(spans, redacteval.Span{Type: string(e.Type), Start: e.RuneStart, End: e.RuneEnd})
			}
		}
		return spans
	}
	rep := redacteval.Evaluate(examples, detect)
	for _, row := range rep.Types {
		if row.Precision < 0.9 || row.Recall < 0.85 {
			t.Errorf("%s: precision %.3f recall %.3f, want at least 0.9 and 0.85", row.Name, row.Precision, row.Recall)
		}
	}
	var fp int
	for _, m := range rep.Errors {
		if strings.HasPrefix(m.ID, "n") {
			fp++
		}
	}
	if fp > 0 {
		var b strings.Builder
		_ = rep.WriteErrors(&b, 20)
		t.Errorf("%d findings in texts that hold no names, addresses or birth dates:\n%s", fp, b.String())
	}
}

func FuzzFindNames(f *testing.F) {
	for _, s := range []string{
		"Hi Priya,\n\nKind regards,\nJane Doe",
		"From: Grace Liu <g@x.io>\nCc: 山田 花子, O'Brien",
		"@mike @Priya Sharma @\xff",
		"Mr. \xffO'\n-- \nJ.R.R. Tolkien Jr.",
		"diff --git a/README.md b/README.md\n+Thanks to Rose Okonjo",
		"[10:02] Olu: hi\n[10:03] Olu: again",
		`{"first_name": "Kofi", "name": "Ana da Silva "}`,
		" Xi\xb0",
	} {
		f.Add(s, uint8(0))
	}
	r := New()
	f.Fuzz(func(t *testing.T, text string, profile uint8) {
		s := newScan(text, Profile(profile%3))
		for _, c := range r.findNames(s, nil) {
			checkCandidate(t, text, c, TypePerson)
		}
	})
}

// checkCandidate fails t unless c is a finding of type typ inside text, on
// UTF-8 boundaries, with a score a Document keeps.
func checkCandidate(t *testing.T, text string, c candidate, typ Type) {
	t.Helper()
	if c.Type != typ || c.Start < 0 || c.Start >= c.End || c.End > len(text) {
		t.Fatalf("candidate %+v out of range in %q", c, text)
	}
	startOK, endOK := false, c.End == len(text)
	for i := 0; i < len(text); {
		startOK = startOK || i == c.Start
		endOK = endOK || i == c.End
		_, w := utf8.DecodeRuneInString(text[i:])
		i += w
	}
	if !startOK || !endOK {
		t.Fatalf("candidate %+v splits a rune in %q", c, text)
	}
	if c.Score < DefaultMinScore || c.Score > 1 {
		t.Fatalf("candidate %+v has score %v", c, c.Score)
	}
}

// BenchmarkFindNamesAddressesDates runs only the name, address and
// birth-date recognisers over the benchmark email, to show their share of
// BenchmarkRedactEmail.
func BenchmarkFindNamesAddressesDates(b *testing.B) {
	r := New()
	text := benchmarkEmail()
	s := newScan(text, ProfileProse)
	out := make([]candidate, 0, 16)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		out = r.findNames(s, out[:0])
		out = r.findAddresses(s, out)
		out = r.findBirthDates(s, out)
	}
}

// contextCorpus is labelled in the format of testdata/labelled (see
// redacteval); only PERSON, LOCATION and DATE_TIME are marked.
const contextCorpus = `### e01 email
Hi ⟦PERSON|Priya⟧,

Thanks for the quick reply. I spoke with ⟦PERSON|Daniel Okafor⟧ from billing yesterday and he confirmed the refund for order ORD-448812.
Could you also update the delivery address to ⟦LOCATION|742 Evergreen Terrace, Springfield, IL 62704⟧? The old one on Maple Street is wrong.

Kind regards,
⟦PERSON|Margaret Ellison⟧
### e02 email
Dear Mr. ⟦PERSON|Nakamura⟧,

Your Premium Plan renewal is due on 2024-05-01. Please review the Billing Settings page in the Customer Portal.
If you have questions, our Support Team is available Monday to Friday.

Best,
⟦PERSON|Sofía Martínez⟧
Customer Success Manager
Acme Cloud Ltd
### e03 email
From: ⟦PERSON|Chinedu Eze⟧ <chinedu.eze@example.org>
To: support@example.com
Cc: ⟦PERSON|Fatima Zahra⟧, ⟦PERSON|Tomasz Nowak⟧
Subject: Re: Invoice INV-2024-0042

Hello,

Please send the corrected invoice to our office at ⟦LOCATION|1 Market Street, Suite 400, San Francisco, CA 94105⟧.

On Tue, 12 Mar 2024 at 09:14, ⟦PERSON|Grace Liu⟧ <grace.liu@example.com> wrote:
> Hi ⟦PERSON|Chinedu⟧,
> The invoice was generated from Release 3.2 of the Billing Engine.
> Thanks,
> ⟦PERSON|Grace⟧
### e04 email
Hola ⟦PERSON|Ana⟧,

Mi dirección nueva es ⟦LOCATION|Calle Mayor 10, 28013 Madrid⟧. Nací el ⟦DATE_TIME|14 de marzo de 1985⟧.

Saludos,
⟦PERSON|Javier Ruiz⟧
### e05 email
Sehr geehrte Frau ⟦PERSON|Müller⟧,

bitte senden Sie die Unterlagen an ⟦LOCATION|Hauptstraße 5, 10115 Berlin⟧. Mein Geburtsdatum ist der ⟦DATE_TIME|03.07.1979⟧.

Mit freundlichen Grüßen
⟦PERSON|Lukas Schneider⟧
### e06 email
Bonjour ⟦PERSON|Camille⟧,

Merci de livrer le colis au ⟦LOCATION|12 rue de la Paix, 75002 Paris⟧. Je suis née le ⟦DATE_TIME|2 avril 1990⟧.

Cordialement,
⟦PERSON|Élodie Rousseau⟧
### e07 email
Hi team,

The Spring Sale banner still says "Grace Period Ends Soon" and the Mark All As Read button is broken in the Android app.
Will this be fixed in version 4.2? May we get an ETA? Hope to hear back soon.

Thanks
### e08 email
Hello,

Please ship the replacement to:
⟦PERSON|Oliver Bennett⟧
⟦LOCATION|Flat 3, 45 Queen's Road
Bristol BS8 1QU
United Kingdom⟧

My date of birth is ⟦DATE_TIME|21/09/1988⟧ if you need it for verification.

Cheers,
⟦PERSON|Ollie⟧
### e09 email
Dear Customer,

Thank you for contacting Keel Support. Your ticket #58211 has been resolved. To reopen it, reply to this email within 7 days.

The Keel Team
### e10 email
Good morning ⟦PERSON|Aisha⟧,

As discussed with ⟦PERSON|Mohammed Al-Rashid⟧ and ⟦PERSON|Wei Zhang⟧, we will move the kickoff to Thursday.
My manager ⟦PERSON|Keiko Tanaka⟧ will join. Please book Room 4B in the London office.

--
⟦PERSON|Rahul Verma⟧
Head of Partnerships
+44 20 7946 0958
### c01 chat
[09:58] Agent: Hi ⟦PERSON|Jordan⟧, thanks for waiting!
[09:59] ⟦PERSON|Jordan Blake⟧: no worries. I moved last week, new address is ⟦LOCATION|88 Harbour View Drive, Sydney NSW 2000⟧
[10:00] Agent: Got it. Can you confirm your DOB?
[10:00] ⟦PERSON|Jordan Blake⟧: ⟦DATE_TIME|1992-11-05⟧
[10:01] Agent: thanks! @⟦PERSON|mike⟧ can you update the record? cc @⟦PERSON|Sana⟧
### c02 chat
customer: hey, my name is ⟦PERSON|Thandiwe⟧ and my order hasn't arrived
agent: Sorry about that! Could you share the postcode?
customer: it's ⟦LOCATION|M1 1AE⟧
agent: Thanks. The courier, DHL Express, shows it at the Manchester depot.
### c03 chat
hi ⟦PERSON|sarah⟧! quick question about the Team Plan
sure, what's up?
can I add my colleague ⟦PERSON|Arjun⟧ as an admin? He was born ⟦DATE_TIME|12 June 1995⟧ if that matters lol
### c04 chat
[14:02] ⟦PERSON|Lena Fischer⟧: Build 2024.3 failed on the Windows runner again
[14:03] ⟦PERSON|Marco Rossi⟧: looks like the Jenkins agent ran out of disk
[14:03] ⟦PERSON|Lena Fischer⟧: Can you restart it? Version 12 of the Docker image is fine
### n01 note
Customer called re: refund. Spoke to Mrs. ⟦PERSON|Adeyemi⟧'s son ⟦PERSON|Tunde⟧, who confirmed the billing address ⟦LOCATION|PO Box 1234, Austin, TX 78701⟧.
Escalated to Tier 2. Assigned to ⟦PERSON|Kevin⟧.
### n02 note
CRM note - account 99812
Name: ⟦PERSON|Hoang Minh Tuan⟧
DOB: ⟦DATE_TIME|05/14/1979⟧
Address: ⟦LOCATION|1600 Pennsylvania Ave NW, Washington, DC 20500⟧
Notes: prefers email. Do not call before 10am. Plan: Business Pro.
### n03 note
Release checklist for Q3:
- Update the Getting Started Guide
- Review Order Status Page copy
- Ask Legal about the Privacy Policy changes
- Victoria Station pop-up store opens 3 June
### n04 note
Met Dr. ⟦PERSON|Okonkwo⟧ and Prof. ⟦PERSON|Lindqvist⟧ at the Grace Hopper Conference. Follow up with ⟦PERSON|Ingrid⟧ about the pilot.
### n05 note
Call with ⟦PERSON|Siobhan O'Connor⟧ (⟦PERSON|Siobhan⟧ prefers email). Her registered address is ⟦LOCATION|Unit 7, 22 Dame Street, Dublin 2⟧.
She said ⟦PERSON|Liam⟧ from the Cork office would send the contract.
### d01 diff
diff --git a/fixtures/customers.json b/fixtures/customers.json
index 3f2a1c9..8e1b2d4 100644
--- a/fixtures/customers.json
+++ b/fixtures/customers.json
@@ -1,6 +1,8 @@
 [
-  {"id": 1, "name": "Test User", "plan": "Free"},
+  {"id": 1, "first_name": "⟦PERSON|Marisol⟧", "last_name": "⟦PERSON|Quispe⟧", "plan": "Free"},
+  {"id": 2, "name": "⟦PERSON|Jonathan Price⟧", "address": "⟦LOCATION|350 5th Avenue, New York, NY 10118⟧"},
 ]
### d02 diff
diff --git a/.github/workflows/ci.yml b/.github/workflows/ci.yml
@@ -10,7 +10,9 @@ jobs:
     steps:
       - name: Checkout Code
         uses: actions/checkout@v4
-      - name: Set Up Go
+      - name: Set Up Go 1.26
+      - name: Run Integration Tests
+        run: go test ./... -run TestOrderService
### d03 diff
commit 4bf92f3577b34da6a3ce929d0e0e4736
Author: ⟦PERSON|Beatriz Santos⟧ <beatriz@example.com>
Date:   Mon Mar 4 10:12:00 2024 +0100

    Add Grace period handling to BillingService

    Co-authored-by: ⟦PERSON|Kwame Mensah⟧ <kwame@example.com>
    Signed-off-by: ⟦PERSON|Beatriz Santos⟧ <beatriz@example.com>

diff --git a/billing/grace.go b/billing/grace.go
+// Maintainer: ⟦PERSON|Pieter de Vries⟧
+func (s *BillingService) GracePeriod(ctx context.Context, accountID string) time.Duration {
+	log.Printf("Grace Period for %s", accountID)
### d04 diff
diff --git a/src/components/UserCard.tsx b/src/components/UserCard.tsx
+export function UserCard({ user }: Props) {
+  const displayName = user.firstName + " " + user.lastName;
+  return <Card title="Account Owner">{displayName}</Card>;
+}
+// TODO(⟦PERSON|Mark⟧): Handle the Jordan Release edge case
### d05 diff
diff --git a/tests/test_shipping.py b/tests/test_shipping.py
+def test_label():
+    addr = Address(street="⟦LOCATION|221B Baker Street⟧", city="London", postcode="⟦LOCATION|NW1 6XE⟧")
+    customer_name = "⟦PERSON|Harriet Vane⟧"
+    assert format_label(addr).startswith("221B")
### l01 log
2024-03-02T10:00:00Z INFO user=jdoe action=login status=ok ip=203.0.113.7
2024-03-02T10:00:01Z INFO customer_name="⟦PERSON|Jane Okoro⟧" order=ORD-22 status=shipped
{"level":"info","msg":"Payment received","customer_id":"cus_8812","amount":12.5,"currency":"EUR"}
2024-03-02T10:00:05Z WARN Retrying Order Sync Job attempt=3 service=OrderService
### l02 log
Mar  4 10:12:01 web-01 nginx: 198.51.100.4 - - [04/Mar/2024:10:12:01 +0000] "GET /api/v1/users/1234/profile HTTP/1.1" 200 512 "-" "Mozilla/5.0"
panic: runtime error: index out of range [3] with length 3
goroutine 1 [running]:
main.(*Handler).ServeHTTP(0xc000010000)
	/app/internal/handler.go:88 +0x1d2
### l03 log
2024-03-05 08:00:00,123 ERROR [BillingWorker] Failed to charge card for account=55123 name="⟦PERSON|Peter Kowalski⟧" reason=card_declined
2024-03-05 08:00:01,001 INFO  [Scheduler] Next run at 2024-03-05T09:00:00Z (Cron: 0 9 * * *)
### e11 email
Hi ⟦PERSON|Will⟧,

Will you be at the offsite? ⟦PERSON|Bill⟧ said the venue is at ⟦LOCATION|10 Downing Street, London SW1A 2AA⟧, which I doubt.
Also, ⟦PERSON|Grace⟧ and ⟦PERSON|Mark⟧ asked whether the May release includes the new Rose Gold theme.

Cheers,
⟦PERSON|June⟧
### e12 email
Dear ⟦PERSON|Nguyễn Thị Lan⟧,

Thank you for your order. The package will be delivered to ⟦LOCATION|Keizersgracht 123, 1015 CJ Amsterdam⟧.

Regards,
⟦PERSON|王伟⟧
Logistics Coordinator
### e13 email
Hello ⟦PERSON|Dmitri⟧,

The Golden Gate Bridge tour and the Central Park walk are both included. Meet at Union Square at 9am.
Please bring your passport. Your guide, ⟦PERSON|Roberto⟧, speaks English and Spanish.

Warm regards,
Travel Desk
### n06 note
Patient: ⟦PERSON|Abena Owusu⟧, born on ⟦DATE_TIME|July 4th, 1963⟧. Lives at ⟦LOCATION|15 Oak Hill Lane, Columbus, OH 43215⟧.
BP 120/80, follow-up in 2 weeks. Referred to Dr. ⟦PERSON|Hassan⟧.
### c05 chat
⟦PERSON|Priya Patel⟧: hi all, standup notes below
⟦PERSON|Priya Patel⟧: @here deploy freeze starts Friday
⟦PERSON|Tom⟧: ok 👍
### h01 email
De: ⟦PERSON|Lucía Fernández⟧ <lucia.fernandez@example.es>
Para: soporte@example.com
Asunto: Cambio de dirección

Buenos días,

Les escribo para actualizar mi dirección de envío: ⟦LOCATION|Avenida de la Constitución 24, 41004 Sevilla⟧.
Mi fecha de nacimiento es ⟦DATE_TIME|22/08/1976⟧.

Un saludo,
⟦PERSON|Lucía⟧
### h02 email
Hi there,

I'm writing on behalf of my father, ⟦PERSON|Emeka Nwosu⟧. His account was locked after the Security Update last week.
He lives at ⟦LOCATION|27 Allen Avenue, Ikeja, Lagos⟧ and can be reached after 6pm.

Many thanks,
⟦PERSON|Ngozi Nwosu⟧
### h03 email
Hello Support,

The Smart Compose feature in Outlook keeps suggesting "Regards, Team Alpha". Also the Quick Reply Templates page shows a 404.
Steps to reproduce: open Settings > Mail > Templates, click New Template, type a name, click Save.

Regards,
Operations Team
### h04 email
Dear ⟦PERSON|Dr. Ramachandran⟧,

Thank you for agreeing to speak at our Data Summit. Your hotel is the Marriott Marquis, and the venue address is 780 Mission Street.
A car will pick you up from SFO.

Best wishes,
⟦PERSON|Hannah Goldberg⟧
Events Coordinator | DataWorld Inc.
hannah.goldberg@dataworld.example
### h05 chat
[11:20] ⟦PERSON|Yuki Sato⟧: morning! is the staging env down?
[11:21] ⟦PERSON|Carlos Mendoza⟧: yep, Postgres ran out of connections
[11:21] ⟦PERSON|Yuki Sato⟧: ok. @⟦PERSON|carlos⟧ can you ping ⟦PERSON|Fatou⟧ when it's back?
[11:22] ⟦PERSON|Carlos Mendoza⟧: sure
### h06 chat
user: hello i need to change the delivery address
bot: Sure. What is the new address?
user: ⟦LOCATION|4-1-2 Shibuya, Shibuya-ku, Tokyo 150-0002⟧
bot: And your full name?
user: ⟦PERSON|Haruto Yamamoto⟧
### h07 note
Ticket 77120 - escalation
Customer: ⟦PERSON|Olga Petrova⟧
Phone verified. DOB on file: ⟦DATE_TIME|1980-02-29⟧.
Shipping: ⟦LOCATION|55 Yonge Street, Toronto, ON M5E 1J4⟧
Agent note: customer asked to speak with a manager; transferred to ⟦PERSON|Ahmed⟧.
### h08 note
Weekly sync - Platform
Attendees: ⟦PERSON|Sunita Rao⟧, ⟦PERSON|Ben Carter⟧, ⟦PERSON|Chloé Martin⟧
Action items:
- ⟦PERSON|Ben⟧ to finish the Kafka Connect migration
- Review the Incident Response Runbook
- Next Steps: Load Testing on Black Friday traffic
### h09 note
Visited the client site at ⟦LOCATION|Via Giuseppe Garibaldi 8, 10122 Torino⟧. Met ⟦PERSON|Alessandro Conti⟧ (CTO) and his assistant ⟦PERSON|Giulia⟧.
Invalid birth date provided by the form: born 31/02/1990, asked them to correct it.
### h10 diff
diff --git a/CHANGELOG.md b/CHANGELOG.md
+## 2.3.0 - 2024-04-02
+- Added Apple Pay and Google Pay to Checkout
+- Fixed the Order History pagination bug
+- Improved Grace Period emails
diff --git a/src/seed.ts b/src/seed.ts
+const users = [
+  { fullName: "⟦PERSON|Adaeze Obi⟧", email: "adaeze@example.com", birthDate: "⟦DATE_TIME|1994-06-30⟧" },
+  { fullName: "⟦PERSON|Mateo García⟧", email: "mateo@example.com", city: "Valencia" },
+];
### h11 diff
diff --git a/internal/order/service.go b/internal/order/service.go
@@ -42,7 +42,8 @@ func (s *Service) Place(ctx context.Context, o Order) error {
-	if o.Customer.Name == "" {
+	if o.Customer.Name == "" || o.Customer.Address.Street == "" {
 		return ErrInvalidOrder
 	}
+	s.log.Info("placing order", "customer", o.Customer.ID, "warehouse", "Main Street DC")
### h12 log
2024-04-02T12:00:00.123Z ERROR OrderService failed to validate address street="⟦LOCATION|10 Rue Sainte-Catherine⟧" city=Montreal
  at com.acme.order.AddressValidator.validate(AddressValidator.java:57)
  at com.acme.order.OrderService.place(OrderService.java:112)
2024-04-02T12:00:01.004Z INFO  Retry scheduled in 30s (attempt 2 of 5)
### h13 log
{"ts":"2024-04-02T12:00:05Z","level":"info","event":"signup","user":{"first_name":"⟦PERSON|Kofi⟧","last_name":"⟦PERSON|Boateng⟧","country":"GH"},"plan":"starter"}
{"ts":"2024-04-02T12:00:06Z","level":"warn","event":"rate_limited","route":"/v1/customers","retry_after":2}
### h14 email
Hi ⟦PERSON|Rohan⟧ and ⟦PERSON|Meera⟧,

Congrats on the new baby! ⟦PERSON|Anaya⟧ was born on ⟦DATE_TIME|3rd January 2024⟧, right? We'd love to send a gift to ⟦LOCATION|Flat 12B, Sunrise Apartments, 14 MG Road, Bengaluru 560001⟧.

Love,
⟦PERSON|Aunty Kavita⟧
### h15 email
Hello,

Our new Austin office opens in June. Paris and Berlin teams will join via Zoom. The Victoria Secret Sale and the Jordan Retro launch are both on our calendar.
Sydney Harbour Bridge photos are in the shared drive.

Thanks,
The Events Team
### h16 chat
Agent ⟦PERSON|Maria⟧: Thank you for calling. Who am I speaking with?
Caller: this is ⟦PERSON|Robert Chen⟧, account holder
Agent ⟦PERSON|Maria⟧: Thanks ⟦PERSON|Robert⟧. Can you confirm your date of birth?
Caller: ⟦DATE_TIME|April 9, 1971⟧
### h17 note
Follow-up from QBR with Globex Corporation: ⟦PERSON|Hank Scorpio⟧ wants the Enterprise tier. Send the contract to ⟦PERSON|Mindy Simmons⟧ in procurement.
Their HQ: ⟦LOCATION|1 Globex Way, Cypress Creek, OR 97000⟧.
### h18 email
Hey ⟦PERSON|Zainab⟧,

Quick one - can you sign for the parcel if I'm out? It's addressed to me at ⟦LOCATION|9 Rosebery Crescent, Edinburgh EH12 5JY⟧.
Ta,
⟦PERSON|Callum⟧
`

// contextNegatives hold no names, addresses or birth dates: diffs, logs
// and Title Case product prose. Their ids start with "n".
const contextNegatives = `### n1 diff
diff --git a/internal/billing/invoice.go b/internal/billing/invoice.go
index 1a2b3c4..5d6e7f8 100644
--- a/internal/billing/invoice.go
+++ b/internal/billing/invoice.go
@@ -12,9 +12,14 @@ import (
 // Invoice is a bill sent to a customer.
 type Invoice struct {
-	ID        string
+	ID        string // id
+	Number    string // number
 	Customer  CustomerRef
+	DueDate   time.Time // due date
+	Status    Status    // status
 }
+
+// MarkPaid records that the invoice was paid on the given date.
+func (i *Invoice) MarkPaid(at time.Time) error {
+	if i.Status == StatusVoid {
+		return fmt.Errorf("mark invoice %s paid: %w", i.Number, ErrVoid)
+	}
+	i.Status = StatusPaid
+	return nil
+}
### n2 diff
diff --git a/web/src/pages/Settings.tsx b/web/src/pages/Settings.tsx
@@ -1,12 +1,18 @@
-import { Button } from "@acme/ui";
+import { Button, Toggle, Card } from "@acme/ui";
+import { useAccount } from "../hooks/useAccount";
 export default function Settings() {
+  const { account } = useAccount();
   return (
-    <Card title="Account Settings">
+    <Card title="Account Settings" subtitle="Manage Billing, Security and Notifications">
+      <Toggle label="Dark Mode" />
+      <Toggle label="Email Digest" />
+      <Button variant="primary">Save Changes</Button>
     </Card>
   );
 }
### n3 diff
diff --git a/deploy/k8s/ingest.yaml b/deploy/k8s/ingest.yaml
@@ -3,6 +3,10 @@ kind: Deployment
 metadata:
   name: ingest
   labels:
+    team: platform
+    owner: data-platform
   spec:
     containers:
       - name: ingest
         image: ghcr.io/keelhq/ingest:1.14.2
+        args: ["--region", "eu-west-1", "--queue", "Orders"]
+      - name: Victoria Metrics Agent
+        image: victoriametrics/vmagent:v1.93.0
### n4 diff
diff --git a/.github/workflows/release.yml b/.github/workflows/release.yml
+name: Release Pipeline
+on:
+  push:
+    tags: ["v*"]
+jobs:
+  build:
+    runs-on: ubuntu-latest
+    steps:
+      - name: Check Out Repository
+      - name: Install Node Modules
+      - name: Build Docker Image
+      - name: Publish To Registry
+      - name: Notify Slack Channel
### n5 diff
diff --git a/db/migrations/0042_add_regions.sql b/db/migrations/0042_add_regions.sql
+CREATE TABLE regions (id SERIAL PRIMARY KEY, name TEXT NOT NULL, code CHAR(2));
+INSERT INTO regions (name, code) VALUES ('North America', 'NA'), ('Western Europe', 'WE'), ('Asia Pacific', 'AP');
+INSERT INTO warehouses (name, street, city) VALUES ('Main DC', 'Building 4', 'Reno');
+-- Seed data for the Grace Period feature flag
+INSERT INTO flags (key, enabled, created_at) VALUES ('grace_period', true, '2024-01-15 09:00:00');
### n6 log
2024-06-01T08:15:22.481Z INFO  [http] GET /api/v2/orders?status=open&page=3 200 41ms
2024-06-01T08:15:22.913Z WARN  [OrderSyncJob] Retrying batch 4412 after Timeout (attempt 2/5)
2024-06-01T08:15:23.002Z ERROR [PaymentGateway] Charge declined code=card_declined order=ORD-99821
java.lang.IllegalStateException: Connection pool exhausted
	at com.zaxxon.payments.GatewayClient.charge(GatewayClient.java:214)
	at com.zaxxon.payments.ChargeService.process(ChargeService.java:88)
	at org.springframework.scheduling.support.DelegatingErrorHandlingRunnable.run(DelegatingErrorHandlingRunnable.java:54)
2024-06-01T08:15:24.117Z INFO  [Scheduler] Next run of Nightly Report at 2024-06-02T02:00:00Z
### n7 log
{"time":"2024-06-01T08:16:00Z","level":"INFO","msg":"user signed in","user_id":"usr_8812","method":"SAML","idp":"Okta"}
{"time":"2024-06-01T08:16:01Z","level":"INFO","msg":"feature flag evaluated","flag":"new_checkout","variant":"Treatment B"}
{"time":"2024-06-01T08:16:02Z","level":"DEBUG","msg":"cache miss","key":"product:4412:price","region":"us-east-1"}
Jun  1 08:16:03 web-02 sshd[1822]: Accepted publickey for deploy from 10.0.4.7 port 52214 ssh2
Jun  1 08:16:04 web-02 CRON[1901]: (root) CMD (/usr/local/bin/backup.sh --target "Cold Storage")
### n8 email
Subject: Introducing Keel Studio 2.0

Hello,

We're excited to announce Keel Studio 2.0! Highlights include Smart Compose, Instant Search, and the all-new Insights Dashboard.
Our Spring Release also brings Single Sign-On for Enterprise plans, Audit Logs, and a redesigned Billing Center.
Join our live webinar on Thursday, June 6 at 10am PT, or watch the recording on YouTube.

The Product Team
Keel Inc.
### n9 email
Hi team,

Quick update from the London office: the Victoria line was closed this morning, so the Sprint Review moved to 2pm.
The Grace Hopper Celebration sponsorship was approved, and the Jordan Valley pilot is on hold until Q3.
Please update the Release Notes and the Status Page before Friday.

Thanks!
### n10 note
Incident INC-4471 postmortem
Summary: Checkout latency spiked after the Redis Cluster failover at 14:02 UTC.
Root Cause: a misconfigured Connection Pool in the Payment Service.
Action Items:
- Add alerting on Pool Saturation
- Review Runbook for Cache Failover
- Load Test the Black Friday scenario
### n11 note
Meeting notes - Q3 planning
Decisions: ship the Mobile App redesign, sunset Legacy Reports, and expand to Latin America.
Open questions: pricing for the Team Plan, whether Apple Pay ships before Google Pay.
Next meeting: Tuesday 9 July.
### n12 chat
[10:01] support-bot: Welcome! How can I help you today?
[10:02] visitor: my order is late
[10:02] support-bot: Sorry to hear that. Please share your order number.
[10:03] visitor: ORD-55123
[10:03] support-bot: Thanks. It ships from our Memphis warehouse on 12 June.
### n13 email
Hi,

Your order #A-55821 has shipped via UPS Ground. Track it at https://www.ups.com/track?tracknum=1Z999AA10123456784.
Items: 2 x Trail Runner Pro (Size 10), 1 x Merino Wool Socks.
Estimated delivery: Monday, June 10.

Need help? Visit our Help Center or reply to this email.
`

// TestContextRecognisersScale guards against work that grows faster than
// the text: each recogniser must get through a megabyte of repetitive
// input (quadratic work would run into the test timeout).
func TestContextRecognisersScale(t *testing.T) {
	t.Parallel()
	r := New()
	for name, unit := range map[string]string{
		"greetings":  "Hi Priya, Dear Mr Okafor, Thanks, Jane Doe <j@x.io> ",
		"addresses":  "12 Main St, Springfield, IL 62704, Flat 3, 45 Queen's Road ",
		"csv":        "dob,1986-04-12,", // one long line
		"speakers":   "Olu: hi\n",
		"mentions":   "@priya @Priya Sharma ",
		"birthwords": "born DOB date of birth 14 March 1985 ",
	} {
		text := strings.Repeat(unit, (1<<20)/len(unit))
		for _, p := range []Profile{ProfileProse, ProfileCode} {
			s := newScan(text, p)
			n := len(r.findNames(s, nil)) + len(r.findAddresses(s, nil)) + len(r.findBirthDates(s, nil))
			if n == 0 && p == ProfileProse && name != "csv" {
				t.Errorf("%s: no findings in %d bytes", name, len(text))
			}
		}
	}
}

func TestGreetingToACompanyTeam(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"Hello Larkspur team,\n\nMy order arrived.",
		"Dear Globex support,\nthe app crashes.",
		"Hi Contoso customer care, thanks!",
	} {
		if got := New().Find(text); len(got) != 0 {
			t.Errorf("Find(%q) = %+v, want no person", text, got)
		}
	}
	if got := New().Find("Hello Priya,\nthe team says hi."); len(got) != 1 || got[0].Type != TypePerson {
		t.Errorf("Find = %+v, want Priya", got)
	}
}
