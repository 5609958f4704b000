package redact

import "testing"

func TestFindBirthDates(t *testing.T) {
	t.Parallel()
	runContextCases(t, []contextCase{
		{name: "ISO after DOB", text: "DOB: 1985-03-14, verified.", want: []string{"DATE_TIME 1985-03-14"}},
		{name: "day first", text: "date of birth 14/03/1985", want: []string{"DATE_TIME 14/03/1985"}},
		{name: "month first", text: "D.O.B. 03/14/1985", want: []string{"DATE_TIME 03/14/1985"}},
		{name: "dotted", text: "Geburtsdatum: 14.03.1985", want: []string{"DATE_TIME 14.03.1985"}},
		{name: "two-digit year", text: "dob 14-03-85", want: []string{"DATE_TIME 14-03-85"}},
		{name: "day month name year", text: "I was born on 14 March 1985 in Leeds.", want: []string{"DATE_TIME 14 March 1985"}},
		{name: "month name day year", text: "Birthday: March 14, 1985", want: []string{"DATE_TIME March 14, 1985"}},
		{name: "ordinal of", text: "born on the 14th of March 1985", want: []string{"DATE_TIME 14th of March 1985"}},
		{name: "abbreviated month", text: "birth date Mar. 14th 1985", want: []string{"DATE_TIME Mar. 14th 1985"}},
		{name: "dashed month", text: "DOB 14-Mar-1985", want: []string{"DATE_TIME 14-Mar-1985"}},
		{name: "Spanish", text: "Fecha de nacimiento: 14 de marzo de 1985", want: []string{"DATE_TIME 14 de marzo de 1985"}},
		{name: "French", text: "Je suis née le 2 avril 1990.", want: []string{"DATE_TIME 2 avril 1990"}},
		{name: "French first", text: "né le 1er mai 1970", want: []string{"DATE_TIME 1er mai 1970"}},
		{name: "German", text: "geboren am 3. Juli 1979", want: []string{"DATE_TIME 3. Juli 1979"}},
		{name: "German abbreviation", text: "geb. 03.07.1979", want: []string{"DATE_TIME 03.07.1979"}},
		{name: "Polish", text: "urodzona 5 września 2011", want: []string{"DATE_TIME 5 września 2011"}},
		{name: "born abbreviation", text: "Pt: L. Narayanan, b. 12 Dec 1962.",
			want: []string{"PERSON L. Narayanan", "DATE_TIME 12 Dec 1962"}},
		{name: "Japanese", text: "生年月日 born 1985年3月14日", want: []string{"DATE_TIME 1985年3月14日"}},
		{name: "date before the word", text: "14/03/1985 (DOB)", want: []string{"DATE_TIME 14/03/1985"}},
		{name: "no year", text: "my birthday is 9 June", want: []string{"DATE_TIME 9 June"}},
		{name: "year alone", text: "She was born in 1985.", want: []string{"DATE_TIME 1985"}},
		{name: "leap day", text: "DOB on file: 1980-02-29.", want: []string{"DATE_TIME 1980-02-29"}},
		{name: "chat answer on the next line",
			text: "[10:00] Agent: Can you confirm your DOB?\n[10:00] Jordan: 1992-11-05",
			want: []string{"PERSON Jordan", "DATE_TIME 1992-11-05"}},
		{name: "field name", profile: ProfileCode, text: `+  "date_of_birth": "1994-06-30",`,
			want: []string{"DATE_TIME 1994-06-30"}},
		{name: "CSV column", profile: ProfileCode,
			text: "+id,full_name,dob,created\n+E1,Oliver Bennett,1986-04-12,2024-05-01\n+E2,Aisha Obi,1992-09-30,2024-05-02",
			want: []string{"PERSON Oliver Bennett", "DATE_TIME 1986-04-12", "PERSON Aisha Obi", "DATE_TIME 1992-09-30"}},
		{name: "SQL column", profile: ProfileCode,
			text: "+INSERT INTO people (id, dob, created_at) VALUES\n+  (1, '1984-02-29', '2024-05-01 10:00:00'),\n+  (2, '1991-10-07', '2024-05-01');",
			want: []string{"DATE_TIME 1984-02-29", "DATE_TIME 1991-10-07"}},
	})
}

func TestFindBirthDatesNegatives(t *testing.T) {
	t.Parallel()
	runContextCases(t, []contextCase{
		{name: "other dates", text: "Ordered on 2024-03-02, shipped 05/03/2024, due March 14, 2024."},
		{name: "invalid day", text: "born 31/02/1990, please fix"},
		{name: "invalid month", text: "DOB: 1985-13-01"},
		{name: "not leap year", text: "DOB 1981-02-29"},
		{name: "far from the word", text: "Born and raised in a small town, I have lived here many years, since 2001-04-05."},
		{name: "version after the word", text: "The newborn feature shipped in 1.2.3 and birth rates dropped."},
		{name: "timestamp in a birth column", profile: ProfileCode,
			text: "+id,dob\n+1,2024-05-01 10:00:00"},
		{name: "other column", profile: ProfileCode,
			text: "+id,dob,created\n+1,x,2024-05-01"},
		{name: "abbreviation needs the date right after", text: "Plan b. On 12 May 2024 we ship."},
	})
}

func FuzzFindBirthDates(f *testing.F) {
	for _, s := range []string{
		"DOB: 1985-03-14",
		"born on the 14th of March, 1985",
		"D.O.B. 31/12/99",
		"geb. 3. März",
		"1985年3月14日 born",
		"+id,dob\n+1,1986-04-12\xff",
		"INSERT INTO t (dob) VALUES ('1984-02-29'",
	} {
		f.Add(s, uint8(0))
	}
	r := New()
	f.Fuzz(func(t *testing.T, text string, profile uint8) {
		s := newScan(text, Profile(profile%3))
		for _, c := range r.findBirthDates(s, nil) {
			checkCandidate(t, text, c, TypeDate)
		}
	})
}
