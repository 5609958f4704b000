package redact

import (
	"strings"
	"testing"
)

func TestLexiconLoads(t *testing.T) {
	t.Parallel()
	lex, err := newLexicon()
	if err != nil {
		t.Fatalf("newLexicon: %v", err)
	}
	counts := map[lexFlags]int{}
	for _, f := range lex.words {
		for _, k := range []lexFlags{lexFirstName, lexSurname, lexNotName} {
			if f.has(k) {
				counts[k]++
			}
		}
	}
	// The brief asks for a few thousand given names and family names.
	if counts[lexFirstName] < 2500 || counts[lexSurname] < 2500 || counts[lexNotName] < 1000 {
		t.Errorf("lists too small: %d given names, %d family names, %d non-names",
			counts[lexFirstName], counts[lexSurname], counts[lexNotName])
	}
}

func TestLexiconKinds(t *testing.T) {
	t.Parallel()
	lex, err := sharedLexicon()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		word  string
		has   lexFlags
		month int
	}{
		{word: "Priya", has: lexFirstName},
		{word: "CHINEDU", has: lexFirstName},
		{word: "José", has: lexFirstName},
		{word: "Jose", has: lexFirstName},
		{word: "Müller", has: lexSurname},
		{word: "Nguyễn", has: lexSurname},
		{word: "O’Brien", has: lexSurname},
		{word: "Will", has: lexFirstName | lexAmbiguous},
		{word: "Tuesday", has: lexNotName},
		{word: "Hong Kong", has: lexPlace},
		{word: "Morgan Stanley", has: lexNotName},
		{word: "Dear", has: lexGreeting},
		{word: "regards", has: lexSignoff},
		{word: "Dr", has: lexTitle | lexStreetSuffix},
		{word: "Blvd", has: lexStreetSuffix},
		{word: "New York", has: lexState},
		{word: "März", month: 3},
		{word: "septiembre", month: 9},
		{word: "Dec", month: 12},
	}
	for _, tc := range tests {
		f := lex.lookup(tc.word)
		if f&tc.has != tc.has {
			t.Errorf("lookup(%q) = %b, want the bits %b", tc.word, f, tc.has)
		}
		if f.month() != tc.month {
			t.Errorf("lookup(%q).month() = %d, want %d", tc.word, f.month(), tc.month)
		}
	}
	for _, w := range []string{"", "Xqzzy", strings.Repeat("a", 100), "\xff\xfe"} {
		if f := lex.lookup(w); f != 0 {
			t.Errorf("lookup(%q) = %b, want 0", w, f)
		}
	}
}

func TestHardNotNameAndAmbiguous(t *testing.T) {
	t.Parallel()
	lex, err := sharedLexicon()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Thanks", "Order", "Monday", "Street", "Support"} {
		if !lex.lookup(w).hardNotName() {
			t.Errorf("%q is not a hard non-name", w)
		}
	}
	for _, w := range []string{"Will", "May", "Grace", "Jordan", "King", "Hope"} {
		f := lex.lookup(w)
		if f.hardNotName() || !f.ambiguousName() {
			t.Errorf("%q: hard=%v ambiguous=%v, want a name that needs evidence", w, f.hardNotName(), f.ambiguousName())
		}
	}
	if f := lex.lookup("Priya"); f.hardNotName() || f.ambiguousName() {
		t.Errorf("Priya is flagged %b", f)
	}
}

func TestFoldWord(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Hello":       "hello",
		"ÀÉÎÕÜ":       "aeiou",
		"Straße":      "strasse",
		"Łódź":        "lodz",
		"Ærø":         "aero",
		"Ștefan":      "stefan",
		"Trần Thị":    "tran thi",
		"D’Angelo":    "d'angelo",
		"ΑΘΗΝΑ":       "αθηνα",
		"王伟":          "王伟",
		"e\u0301":     "e", // combining accent dropped
		"\xff":        "\uFFFD",
		"Œuvre İstan": "oeuvre istan",
	}
	for in, want := range tests {
		if got := string(foldWord(nil, in)); got != want {
			t.Errorf("foldWord(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFoldTables(t *testing.T) {
	t.Parallel()
	if len(latin1Fold) != 0x40 || len(latinExtAFold) != 0x80 || len(vietFold) != 0x1EF9-0x1EA0+1 {
		t.Fatalf("fold tables have lengths %d, %d, %d", len(latin1Fold), len(latinExtAFold), len(vietFold))
	}
}

func TestLexiconSectionErrors(t *testing.T) {
	t.Parallel()
	for name, list := range map[string]string{
		"unknown section":     "[nope]\nword\n",
		"word before section": "word\n[greeting]\n",
		"month without value": "[month]\njanuary\n",
		"month out of range":  "[month]\njanuary=13\n",
	} {
		l := &lexicon{words: map[string]lexFlags{}}
		if err := l.addSections(list); err == nil {
			t.Errorf("%s: addSections(%q) gave no error", name, list)
		}
	}
}

func TestLexiconLookupDoesNotAllocate(t *testing.T) {
	lex, err := sharedLexicon()
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		lex.lookup("Priya")
		lex.lookup("Müller")
		lex.lookup("Nguyễn")
	})
	if allocs != 0 {
		t.Errorf("lookup allocates %v times", allocs)
	}
}
