package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name scores. A candidate name scores the evidence of its words (are they
// in the name lists?) plus the strongest context around it, less
// penalties; candidates below nameMinScore are dropped. Lists alone never
// give more than nameScoreListOnly, so a named-entity model's finding of 0.8
// or more outranks every finding that has no context.
const (
	nameMinScore = 0.5
	nameMaxScore = 0.95

	// One word.
	nameScoreUnknown   = 0.15 // a capitalised word in no list
	nameScoreAmbiguous = 0.35 // a given name that is also a common word
	nameScoreFirst     = 0.55 // a given name
	nameScoreSurname   = 0.35 // a family name alone
	nameScoreSurnameLo = 0.2  // a family name that is also a common word

	// Several words: a base plus credit (0-2 points) for the first word
	// being a given name and the last a family name.
	nameScoreMultiBase = 0.2
	nameCreditFirst    = 0.2
	nameCreditLast     = 0.14 // an unknown given name and a family name stay below nameMinScore
	nameScoreListOnly  = 0.75

	// Context.
	nameBoostStrong = 0.5  // title, greeting, sign-off, label, "my name is", display name
	nameBoostMedium = 0.35 // "I'm", relation word, mention, speaker label, signature
	nameBoostWeak   = 0.2  // "spoke to", "ask", listed next to an accepted name

	// A candidate of at least namePendingScore is taken when a name that
	// follows it in a list is ("Grace and Mark asked").
	namePendingScore = 0.3

	// Negative context.
	namePenaltySentence  = 0.1 // starts a sentence and is no given name
	namePenaltyTitleCase = 0.3 // inside a Title Case run of non-name words
	namePenaltyArticle   = 0.3 // after "the", "our", "this"

	// Code and logs: only structural evidence counts.
	nameScoreStructural = 0.85 // author line, name field, display name
	nameScoreCodeListed = 0.75 // listed full name filling a table cell or a label's value
	nameBonusListed     = 0.05
	nameBoostSpeaker    = 0.45 // a chat speaker label seen on several lines
)

// maxNameWords is the most words (particles not counted) in one name.
const maxNameWords = 4

// nameWord is one word of a candidate name: a token, tokens joined by a
// hyphen or apostrophe ("Jean-Luc", "O'Brien"), or an initial ("J.").
type nameWord struct {
	start, end  int      // bytes
	first, last int      // token indexes
	flags       lexFlags // of the whole word, or of its first part
	lastFlags   lexFlags // of the whole word, or of its last part
	initial     bool     // "J." or "J.R.R."
	lower       bool     // written in lower case
	caseless    bool     // a script without case (Han, Hangul, Arabic, ...)
}

// nameSpan is a candidate name: up to maxNameWords words on one line,
// possibly with particles ("van der") between them.
type nameSpan struct {
	words [maxNameWords]nameWord
	n     int
	// suffixEnd and suffixTok, when set, are the end and token of a
	// generational suffix after the last word ("Jr.", "III").
	suffixEnd, suffixTok int
	// prefixStart and prefixTok, when set, are the start and token of
	// particles before the first word, after a title ("Mr van Dijk").
	prefixStart, prefixTok int
}

func (sp *nameSpan) start() int {
	if sp.prefixTok > 0 {
		return sp.prefixStart
	}
	return sp.words[0].start
}
func (sp *nameSpan) end() int { return max(sp.words[sp.n-1].end, sp.suffixEnd) }
func (sp *nameSpan) firstTok() int {
	if sp.prefixTok > 0 {
		return sp.prefixTok
	}
	return sp.words[0].first
}
func (sp *nameSpan) lastTok() int        { return max(sp.words[sp.n-1].last, sp.suffixTok) }
func (sp *nameSpan) lastWord() *nameWord { return &sp.words[sp.n-1] }

// evidence is what the context of a candidate says.
type evidence struct {
	boost float64 // added to the score in prose
	code  float64 // the score in code and logs, where only structure counts; 0 if none
}

func (e *evidence) merge(o evidence) {
	e.boost = max(e.boost, o.boost)
	e.code = max(e.code, o.code)
}

// structural returns the evidence of an author line, a name field or a
// display name: it counts in code and logs too.
func structural() evidence { return evidence{boost: nameBoostStrong, code: nameScoreStructural} }

// nameFinder holds the state of one findNames pass.
type nameFinder struct {
	s     *scan
	lex   *lexicon
	text  string
	prose bool
	// The last accepted name, for lists such as "Alice, Bob and Carol".
	lastEnd int
	lastEv  evidence
	// pending is the last candidate that fell a little short; it is taken
	// when the next name is accepted and the two form a list ("Grace and
	// Mark asked").
	pending candidate
	// speakers are the chat speaker labels of the text: words that open
	// two or more lines as "Olu: ...".
	speakers  [maxSpeakers]string
	nSpeakers int
	// span is the candidate being read, kept here to avoid copying it.
	span nameSpan
	// proseRegions are the parts of a diff that change documentation
	// (README.md, CHANGELOG, .txt), read as prose.
	proseRegions  [maxProseRegions][2]int
	nProseRegions int
}

// Limits of the per-text tables of a nameFinder.
const (
	maxSpeakers     = 12
	maxProseRegions = 16
)

// proseAt reports whether the text at offset i is prose: the whole text in
// ProfileProse, documentation files inside a diff otherwise.
func (f *nameFinder) proseAt(i int) bool {
	if f.prose {
		return true
	}
	for _, r := range f.proseRegions[:f.nProseRegions] {
		if i >= r[0] && i < r[1] {
			return true
		}
	}
	return false
}

// findNames appends the names of people that nobody told us about:
// names after greetings and titles, in sign-offs and signatures, after
// "my name is", in From/To/Cc headers, display names before an email
// address, @mentions, and given and family names from the word lists. In
// code and logs only structural evidence counts: author and sign-off
// trailers, display names, and name fields such as "first_name".
func (r *Redactor) findNames(s *scan, out []candidate) []candidate {
	lex, err := sharedLexicon()
	if err != nil {
		return out // the lists are embedded; TestLexiconLoads guards this
	}
	f := nameFinder{s: s, lex: lex, text: s.text, prose: s.profile == ProfileProse, lastEnd: -1}
	if f.prose {
		f.collectSpeakers()
		out = f.findMentions(out)
		out = f.speakerNames(out)
	} else if s.profile == ProfileCode {
		f.findProseRegions()
	}
	prevOpens := false // token k-1 opens its line (or follows "Speaker:")
	for k := 0; k < len(s.tokens); k++ {
		t := &s.tokens[k]
		opens := k == 0
		if k > 0 {
			if from := s.tokens[k-1].end; t.start-from == 1 {
				opens = s.text[from] == '\n' // the usual one-byte gap
			} else {
				opens = opensLine(s.text[from:t.start])
			}
		}
		afterOpener := prevOpens
		prevOpens = opens
		if t.digits > 0 || t.under > 0 || t.letters == 0 {
			continue
		}
		var next int
		switch {
		case t.firstUpper:
			out, next = f.tryName(k, modeUpper, out)
		case !t.ascii && caselessLetter(firstRune(f.text, t.start)):
			out, next = f.tryName(k, modeCaseless, out)
		case afterOpener && t.letters >= 2 && f.proseAt(t.start) && f.afterGreeting(k):
			out, next = f.tryName(k, modeLower, out)
		default:
			continue
		}
		if next > k {
			k, prevOpens = next, false
		}
	}
	return out
}

// opensLine reports whether gap, the text between two tokens, starts a new
// line or ends a "Speaker:" label.
func opensLine(gap string) bool {
	return strings.IndexByte(gap, '\n') >= 0 || strings.IndexByte(gap, ':') >= 0
}

// wordMode says how the words of a candidate are written.
type wordMode uint8

const (
	modeUpper    wordMode = iota // "Priya Sharma"
	modeLower                    // "hi priya", only after a greeting or title
	modeCaseless                 // "王伟", only with context
)

// tryName scores the candidate that starts at token k and appends it when
// it is good enough. It returns out and the last token it read, so the
// caller skips the rest of the candidate.
func (f *nameFinder) tryName(k int, mode wordMode, out []candidate) ([]candidate, int) {
	w, ok := f.wordAt(k, mode)
	if !ok || w.flags.hardNotName() && !w.caseless || !f.boundaryBefore(w.start) {
		return out, k // most capitalised words end here, before a span is built
	}
	sp := &f.span
	*sp = nameSpan{}
	if !f.spanFrom(sp, w, mode) {
		if sp.n > 1 {
			return out, sp.lastTok() // a phrase such as "Hong Kong": skip all of it
		}
		return out, k
	}
	score, ev := f.score(sp, mode)
	if score < nameMinScore {
		if score >= namePendingScore && f.proseAt(sp.start()) {
			f.pending = candidate{Finding: Finding{Type: TypePerson, Start: sp.start(), End: sp.end(), Score: score}}
		}
		return out, sp.lastTok()
	}
	out = append(out, candidate{Finding: Finding{Type: TypePerson, Start: sp.start(), End: sp.end(), Score: score}})
	if p := f.pending; p.End > 0 && p.End < sp.start() && isListSeparator(f.text[p.End:sp.start()]) {
		p.Score = min(max(nameMinScore, p.Score+nameBoostWeak), score)
		out = append(out, p)
	}
	f.pending = candidate{}
	f.lastEnd, f.lastEv = sp.end(), ev
	return out, sp.lastTok()
}

// afterGreeting reports whether lower-case token k, the second word of its
// line, follows a greeting or title: "hi priya", "hey tom".
func (f *nameFinder) afterGreeting(k int) bool {
	p := k - 1
	toks := f.s.tokens
	if toks[k].start != toks[p].end+1 || f.text[toks[p].end] != ' ' || toks[p].len() > 8 {
		return false
	}
	return f.lex.lookup(f.s.word(p)).has(lexGreeting|lexTitle) && f.lineOpenerAt(p)
}

// spanFrom reads into sp the candidate name whose first word is w.
func (f *nameFinder) spanFrom(sp *nameSpan, w nameWord, mode wordMode) bool {
	sp.words[0], sp.n = w, 1
	if mode == modeCaseless {
		f.extendCaseless(sp)
	} else {
		f.extend(sp, mode)
	}
	// A name does not end with an initial: "Plan B." is no name.
	for sp.n > 0 && sp.lastWord().initial {
		sp.n--
	}
	if sp.n == 0 {
		return false
	}
	if sp.n > 1 {
		f.generationalSuffix(sp)
	}
	if !f.boundaryAfter(sp.end()) {
		return false
	}
	if sp.n > 1 && f.lex.lookup(f.text[sp.start():sp.end()]).hardNotName() {
		return false // "Hong Kong", "Morgan Stanley"
	}
	f.particlesAfterTitle(sp)
	return true
}

// particlesAfterTitle extends sp back over lower-case particles that follow
// a title: "Mr van Dijk", "Dr de la Cruz".
func (f *nameFinder) particlesAfterTitle(sp *nameSpan) {
	k := sp.firstTok()
	for n := 0; n < 3; n++ {
		p := f.prevOnLine(k)
		if p < 0 || f.s.gap(k) != " " && f.s.gap(k) != ". " {
			return
		}
		fl := f.lex.lookup(f.s.word(p))
		switch {
		case fl.has(lexTitle) && n > 0:
			sp.prefixTok, sp.prefixStart = k, f.s.tokens[k].start
			return
		case fl.has(lexParticle) && !f.s.tokens[p].firstUpper && f.s.gap(k) == " ":
			k = p
		default:
			return
		}
	}
}

// extend adds the words that follow the first one of sp, on the same line,
// each after one space, with particles such as "van der" between them.
func (f *nameFinder) extend(sp *nameSpan, mode wordMode) {
	toks := f.s.tokens
	for sp.n < maxNameWords {
		j := sp.lastWord().last + 1
		if j >= len(toks) || f.text[sp.lastWord().end:toks[j].start] != " " {
			return
		}
		j, ok := f.skipParticles(j)
		if !ok {
			return
		}
		w, ok := f.wordAt(j, mode)
		if !ok || w.flags.hardNotName() {
			return
		}
		if mode == modeLower && !w.flags.has(lexName) {
			return
		}
		sp.words[sp.n] = w
		sp.n++
	}
}

// extendCaseless adds a second word to a name in a script without case,
// written with a space between family and given name: "山田 花子".
func (f *nameFinder) extendCaseless(sp *nameSpan) {
	j := sp.words[0].last + 1
	if j >= len(f.s.tokens) || sp.words[0].end != f.s.tokens[sp.words[0].last].end || f.s.gap(j) != " " {
		return
	}
	t := f.s.tokens[j]
	if t.ascii || t.digits > 0 || !caselessLetter(firstRune(f.text, t.start)) {
		return
	}
	if w, ok := f.wordAt(j, modeCaseless); ok {
		sp.words[1], sp.n = w, 2
	}
}

// generationalSuffix adds "Jr.", "Sr" or "III" after a full name to sp.
func (f *nameFinder) generationalSuffix(sp *nameSpan) {
	k := sp.lastWord().last + 1
	if k >= len(f.s.tokens) {
		return
	}
	if g := f.s.gap(k); g != " " && g != ", " {
		return
	}
	switch f.s.word(k) {
	case "Jr", "Sr", "II", "III", "IV", "Jnr", "Snr":
		sp.suffixTok, sp.suffixEnd = k, f.s.tokens[k].end
		if byteAt(f.text, sp.suffixEnd) == '.' && !isWordRune(firstRune(f.text, sp.suffixEnd+1)) {
			sp.suffixEnd++
		}
	}
}

// skipParticles returns the first token from j that is not a lower-case
// name particle, when the particles are followed by one space and a
// capitalised word.
func (f *nameFinder) skipParticles(j int) (int, bool) {
	toks := f.s.tokens
	for n := 0; n < 3; n++ {
		t := toks[j]
		if t.firstUpper || !t.isWord() || t.len() > 5 {
			return j, true
		}
		if !f.lex.lookup(f.s.word(j)).has(lexParticle) {
			return j, true
		}
		if j+1 >= len(toks) || f.s.gap(j+1) != " " {
			return j, false
		}
		j++
	}
	return j, false
}

// wordAt reads the name word that starts at token k.
func (f *nameFinder) wordAt(k int, mode wordMode) (nameWord, bool) {
	t := f.s.tokens[k]
	w := nameWord{start: t.start, end: t.end, first: k, last: k}
	if t.digits > 0 || t.under > 0 || t.letters == 0 {
		return w, false
	}
	switch mode {
	case modeCaseless:
		return f.caselessWord(w)
	case modeLower:
		if t.upper > 0 {
			return w, false
		}
		w.lower = true
	default:
		if !t.firstUpper {
			return w, false
		}
		if t.letters == 1 {
			return f.initialOrPrefix(w)
		}
		// TODO: names in capitals ("JANE DOE" in a signature) are skipped;
		// telling them from acronyms needs the signature context first.
		if t.upper == t.letters || t.upper > 1 && !camelNamePrefix(f.s.word(k), int(t.upper)) {
			return w, false // ALL CAPS, CamelCase identifiers
		}
		if t.len() <= 9 && commonSentenceStart(f.s.word(k)) {
			return w, false // decided without a map lookup: these start most sentences
		}
	}
	f.joinParts(&w)
	return w, true
}

// commonSentenceStart reports whether w is one of the capitalised words
// that start most English sentences and are never names.
func commonSentenceStart(w string) bool {
	switch w {
	case "The", "This", "That", "These", "There", "Then", "They", "We", "You", "Your", "Our", "My",
		"It", "Its", "If", "In", "On", "At", "To", "For", "From", "With", "As", "An", "And", "But",
		"Or", "So", "Is", "Are", "Was", "Be", "Do", "Does", "Did", "Can", "Could", "Would", "Should",
		"Have", "Has", "Had", "Not", "No", "Yes", "Also", "Just", "Now", "When", "What", "Why",
		"How", "Who", "Where", "Which", "After", "Since", "Until", "Once", "Some", "Any", "All",
		"Each", "Every", "Both", "Their", "Here", "Let", "Thank", "Thanks", "Sorry",
		"Hello", "Hi", "Hey", "Dear", "Best", "Kind", "Sent", "Subj", "Date", "Order", "Note",
		"Please", "Subject", "Regards", "However", "Monday", "Tuesday", "Wednesday", "Thursday",
		"Friday", "Saturday", "Sunday", "January", "February", "March", "July", "September",
		"October", "November", "December", "Today", "Tomorrow", "Yesterday", "Maybe", "Perhaps",
		"Great", "Good", "Sure", "Okay", "Ok":
		return true
	}
	return false
}

// initialOrPrefix reads an initial ("J.", "J.R.R.") or a name prefix joined
// by an apostrophe ("O'Brien", "D'Souza").
func (f *nameFinder) initialOrPrefix(w nameWord) (nameWord, bool) {
	text := f.text
	if !f.s.tokens[w.first].ascii {
		return w, false
	}
	if byteAt(text, w.end) == '.' {
		w.initial = true
		w.end++
		// "J.R.R.": more single capitals, each with its dot.
		for w.last+1 < len(f.s.tokens) {
			n := f.s.tokens[w.last+1]
			if n.start != w.end || n.len() != 1 || !n.firstUpper || byteAt(text, n.end) != '.' {
				break
			}
			w.last++
			w.end = n.end + 1
		}
		return w, true
	}
	if apostropheAt(text, w.end) > 0 {
		f.joinParts(&w)
		if w.last > w.first {
			return w, true
		}
	}
	return w, false
}

// joinParts extends w over hyphens and apostrophes that join capitalised
// parts ("Jean-Luc", "Smith-Jones", "O'Brien"), and over lower-case parts
// when the whole is a listed name ("Min-jun"), then looks the word up.
func (f *nameFinder) joinParts(w *nameWord) {
	toks := f.s.tokens
	lastPart := w.first
	for parts := 1; parts < 4 && w.last+1 < len(toks); parts++ {
		n := toks[w.last+1]
		sep := apostropheAt(f.text, w.end)
		if sep == 0 && byteAt(f.text, w.end) == '-' {
			sep = 1
		}
		if sep == 0 || n.start != w.end+sep || !n.isWord() {
			break
		}
		if n.firstUpper && n.upper < n.letters {
			w.last, w.end, lastPart = w.last+1, n.end, w.last+1
			continue
		}
		if w.lower || n.upper > 0 || n.letters > 5 || toks[w.last].letters > 5 {
			break
		}
		if !f.lex.lookup(f.text[w.start:n.end]).has(lexName) {
			break
		}
		w.last, w.end, lastPart = w.last+1, n.end, w.last+1
	}
	whole := f.lex.lookup(f.text[w.start:w.end])
	w.flags, w.lastFlags = whole, whole
	if w.last > w.first && whole == 0 {
		w.flags = f.lex.lookup(f.s.word(w.first))
		w.lastFlags = f.lex.lookup(f.s.word(lastPart))
		if w.flags.hardNotName() { // "Al-Farsi", "El-Amin": a particle joined to a name
			w.flags = w.lastFlags
		}
	}
}

// caselessWord reads a name in a script without case, after dropping an
// honorific suffix such as 様 or 님: those are not part of the name.
//
// TODO: a name inside a run of Chinese or Japanese without spaces
// ("山田太郎様より電話") is one token here; finding it needs segmentation.
func (f *nameFinder) caselessWord(w nameWord) (nameWord, bool) {
	w.caseless = true
	word := f.text[w.start:w.end]
	for _, h := range [...]string{"さん", "様", "さま", "先生", "くん", "君", "ちゃん", "氏", "님", "씨", "女士", "小姐", "老师"} {
		if len(word) > len(h) && strings.HasSuffix(word, h) {
			word = word[:len(word)-len(h)]
			w.end = w.start + len(word)
			break
		}
	}
	n, han := 0, false
	for _, r := range word {
		if !caselessLetter(r) {
			return w, false
		}
		n++
		han = han || unicode.In(r, unicode.Han, unicode.Hangul, unicode.Hiragana, unicode.Katakana)
	}
	if n < 2 || han && n > 6 || n > 15 {
		return w, false
	}
	return w, true
}

// caselessLetter reports whether r is a letter of a script without case.
func caselessLetter(r rune) bool {
	return r >= 0x0590 && unicode.IsLetter(r) && !unicode.IsUpper(r) && !unicode.IsLower(r)
}

// camelNamePrefix reports whether a word with two capitals is a name with
// a prefix ("McDonald", "MacKenzie", "DeShawn", "LaToya", "DiCaprio").
func camelNamePrefix(w string, upper int) bool {
	if upper != 2 || len(w) < 4 {
		return false
	}
	for _, p := range [...]string{"Mc", "De", "Di", "Da", "La", "Le", "Du", "Mac", "Van", "Von", "Fitz"} {
		if strings.HasPrefix(w, p) && len(w) > len(p) && w[len(p)] >= 'A' && w[len(p)] <= 'Z' {
			return true
		}
	}
	return false
}

// apostropheAt returns the width of the apostrophe at i (' or ’), or 0.
func apostropheAt(text string, i int) int {
	switch {
	case byteAt(text, i) == '\'':
		return 1
	case strings.HasPrefix(text[min(i, len(text)):], "\u2019"):
		return len("\u2019")
	}
	return 0
}

// boundaryBefore reports whether a name may start at i: it is not glued to
// a path, an address, an identifier or a hyphenated word.
func (f *nameFinder) boundaryBefore(i int) bool {
	switch r := runeBefore(f.text, i); r {
	case '\\', '.', '@', '_', '=', '#', '$', '%', '&', '~', '*', '^', '|', '`', '<', '{', '[':
		return false
	case '+', '/': // a line added in a diff, a signature such as "/Jonas"
		return i == 1 || f.text[i-2] == '\n'
	case '-', '\'', '\u2019':
		return !isWordRune(runeBefore(f.text, i-1))
	}
	return true
}

// boundaryAfter reports whether a name may end at i: it is not followed by
// a domain, a path, a call, an email address or more of a hyphenated word.
func (f *nameFinder) boundaryAfter(i int) bool {
	r, w := runeAt(f.text, i)
	switch r {
	case '@', '/', '\\', '_', '(', '=', '[', '{', '<':
		return false
	case '.', '-', ':':
		next, _ := runeAt(f.text, i+w)
		return !isWordRune(next) && next != '/'
	}
	return true
}

// score returns the score of sp and the evidence around it.
func (f *nameFinder) score(sp *nameSpan, mode wordMode) (float64, evidence) {
	first, last := firstCredit(sp.words[0].flags), lastCredit(sp.lastWord().lastFlags)
	if sp.n > 1 && sp.lastWord().lastFlags.has(lexOrgSuffix|lexStreetSuffix|lexWeakStreetSuffix) {
		if first < 2 {
			return 0, evidence{} // "Lincoln Park", "Victoria Station"
		}
		last = 0
	}
	if f.rejected(sp) {
		return 0, evidence{}
	}
	ev := f.evidence(sp, first, last)
	if !f.proseAt(sp.start()) {
		if ev.code == 0 {
			return 0, ev
		}
		score := ev.code
		if first > 0 || last > 0 {
			score += nameBonusListed
		}
		return min(score, nameMaxScore), ev
	}

	base := listScore(sp, first, last)
	if fam, given := lastCredit(sp.words[0].flags), firstCredit(sp.lastWord().lastFlags); sp.n > 1 && given > 0 {
		// Family name first, as in Chinese, Vietnamese, Korean, Hungarian.
		base = max(base, listScore(sp, given, fam))
	}
	switch mode {
	case modeLower:
		if first < 2 && last < 2 || ev.boost < nameBoostMedium {
			return 0, ev
		}
	case modeCaseless:
		if ev.boost < nameBoostMedium {
			return 0, ev
		}
	}
	score := base + ev.boost - f.penalty(sp, first, ev)
	return min(score, nameMaxScore), ev
}

// firstCredit says how much the flags of a first word say "given name":
// 2 for a listed given name, 1 for one that is also a common word.
func firstCredit(fl lexFlags) int {
	switch {
	case !fl.has(lexFirstName):
		return 0
	case fl.ambiguousName():
		return 1
	}
	return 2
}

// lastCredit says how much the flags of a last word say "family name".
func lastCredit(fl lexFlags) int {
	switch {
	case fl.has(lexSurname) && !fl.ambiguousName():
		return 2
	case fl.has(lexName):
		return 1
	}
	return 0
}

// listScore is the score the word lists alone give sp.
func listScore(sp *nameSpan, first, last int) float64 {
	if sp.n == 1 {
		switch {
		case first == 2:
			return nameScoreFirst
		case first == 1:
			return nameScoreAmbiguous
		case last == 2:
			return nameScoreSurname
		case last == 1:
			return nameScoreSurnameLo
		}
		return nameScoreUnknown
	}
	if sp.words[0].initial {
		first = 1
	}
	s := nameScoreMultiBase + nameCreditFirst*float64(first) + nameCreditLast*float64(last)
	return min(s, nameScoreListOnly)
}

// rejected reports negative evidence that no context outweighs: a month
// next to a number ("May 5"), a company or place word after the name
// ("Grace Hopper Award"), a place prefix before it ("San Jose").
func (f *nameFinder) rejected(sp *nameSpan) bool {
	toks := f.s.tokens
	for i := 0; i < sp.n; i++ {
		if sp.words[i].flags.month() != 0 && f.nextToNumber(sp) {
			return true
		}
	}
	if sp.n == 1 && isPronoun(f.s.word(sp.firstTok())) {
		return true // "He" is a family name too, but not alone
	}
	if rest := f.text[sp.end():min(len(f.text), sp.end()+6)]; strings.HasPrefix(rest, " of ") && len(rest) > 4 &&
		isUpperASCII(rest[4]) {
		return true // "Head of Data", "Bank of America"
	}
	if n := sp.lastTok() + 1; sp.n == 1 && n < len(toks) && toks[n].isNumber() && f.s.gap(n) == " " &&
		firstCredit(sp.words[0].flags) == 0 {
		return true // "Year 6", "Phase 1"
	}
	if n := sp.lastTok() + 1; n < len(toks) && f.s.gap(n) == " " && toks[n].isWord() {
		fl := f.lex.lookup(f.s.word(n))
		if toks[n].firstUpper && fl.has(lexOrgSuffix|lexStreetSuffix|lexWeakStreetSuffix) && !fl.has(lexName) {
			return true
		}
		if !toks[n].firstUpper && fl.has(lexStreetSuffix) {
			return true
		}
		if !toks[n].firstUpper && isGroupNoun(f.s.word(n)) {
			return true // "Hello Larkspur team": a company's people, not a person
		}
	}
	if p := f.prevOnLine(sp.firstTok()); p >= 0 && f.s.gap(sp.firstTok()) == " " && toks[p].firstUpper {
		return f.lex.lookup(f.s.word(p)).has(lexPlacePrefix)
	}
	return false
}

// isGroupNoun reports whether w names a group of people, as written after a
// company name in "Hi Acme team" or "Dear Globex support".
func isGroupNoun(w string) bool {
	switch strings.ToLower(w) {
	case "team", "teams", "support", "staff", "crew", "folks", "people", "family", "customer":
		return true
	}
	return false
}

// nextToNumber reports whether a day or year stands right before or after
// sp, as in "May 5", "5 June 2024" or "June, 2024".
func (f *nameFinder) nextToNumber(sp *nameSpan) bool {
	toks := f.s.tokens
	isNum := func(k int) bool {
		return k >= 0 && k < len(toks) && toks[k].isNumber() && toks[k].len() <= 4
	}
	p, n := sp.firstTok()-1, sp.lastTok()+1
	if isNum(p) {
		if g := f.s.gap(sp.firstTok()); g == " " || g == ". " {
			return true
		}
	}
	if isNum(n) {
		if g := f.s.gap(n); g == " " || g == ", " {
			return true
		}
	}
	return false
}

// penalty adds up the negative context of sp.
//
// TODO: a name that is also a common word ("Mark", "Hope") and has no
// context of its own stays below nameMinScore even when the same text
// names that person clearly elsewhere; a second pass over the accepted
// names would find it.
func (f *nameFinder) penalty(sp *nameSpan, first int, ev evidence) float64 {
	var p float64
	if ev.boost >= nameBoostStrong {
		return 0
	}
	k := sp.firstTok()
	if first == 0 && f.sentenceInitial(k) {
		p += namePenaltySentence
	}
	if prev := f.prevOnLine(k); prev >= 0 && f.s.gap(k) == " " {
		w := f.s.word(prev)
		if isArticle(w) || isThingBefore(w) {
			p += namePenaltyArticle
		} else if f.s.tokens[prev].firstUpper && f.titleCaseWord(prev) && !f.sentenceInitial(prev) {
			p += namePenaltyTitleCase
		}
	}
	if n := sp.lastTok() + 1; n < len(f.s.tokens) && f.s.gap(n) == " " && f.s.tokens[n].firstUpper && f.titleCaseWord(n) {
		p += namePenaltyTitleCase
	}
	return p
}

// titleCaseWord reports whether token k is a capitalised non-name word
// that is no context word: "Release" in "Jordan Release Notes".
func (f *nameFinder) titleCaseWord(k int) bool {
	t := f.s.tokens[k]
	if !t.isWord() || t.upper == t.letters {
		return false
	}
	w := f.s.word(k)
	if isDayName(w) {
		return false // "Dmitri Sat, me Sun"
	}
	fl := f.lex.lookup(w)
	return fl.hardNotName() &&
		!fl.has(lexGreeting|lexSignoff|lexTitle|lexLabel|lexRelation|lexCommVerb|lexIntro|lexVia|lexParticle)
}

// isDayName reports whether w is an English day of the week.
func isDayName(w string) bool {
	switch w {
	case "Mon", "Tue", "Tues", "Wed", "Thu", "Thur", "Thurs", "Fri", "Sat", "Sun", "Monday", "Tuesday",
		"Wednesday", "Thursday", "Friday", "Saturday", "Sunday":
		return true
	}
	return false
}

// isPronoun reports whether w is an English personal pronoun.
func isPronoun(w string) bool {
	switch w {
	case "He", "She", "It", "They", "We", "You", "I", "Me", "Him", "Her", "Us", "Them", "HE", "SHE":
		return true
	}
	return false
}

// isThingBefore reports whether w, written right before a capitalised
// word, makes it the name of a thing: "room Sakura", "project Phoenix".
func isThingBefore(w string) bool {
	switch w {
	case "room", "rooms", "building", "hall", "project", "codename", "channel", "server", "host",
		"branch", "repo", "tag", "release", "sprint", "plan", "tier", "model", "version", "hurricane",
		"storm", "ship", "vessel", "hotel", "restaurant", "cafe", "bar", "street", "road", "avenue":
		return true
	}
	return false
}

func isArticle(w string) bool {
	if len(w) > 5 {
		return false
	}
	var buf [16]byte
	switch string(foldWord(buf[:0], w)) {
	case "the", "a", "an", "this", "that", "these", "those", "our", "your", "their", "its", "every", "each":
		return true
	}
	return false
}

// evidence gathers the context around sp: before it on its line, at the
// start of its line, after it, and its place in a list of names.
func (f *nameFinder) evidence(sp *nameSpan, first, last int) evidence {
	var ev evidence
	p := f.prevOnLine(sp.firstTok())
	if p >= 0 {
		ev.merge(f.evidenceBefore(sp, p, first, last))
	}
	if f.proseAt(sp.start()) && (p < 0 || f.timestampPrefix(sp.start())) {
		ev.merge(f.evidenceLineStart(sp, first, last))
	}
	ev.merge(f.evidenceAfter(sp))
	if f.lastEnd >= 0 && f.lastEnd < sp.start() && isListSeparator(f.text[f.lastEnd:sp.start()]) &&
		(sp.n > 1 || first > 0 || last == 2 || f.lastEv.boost >= nameBoostStrong && f.valueFilled(sp.end())) {
		ev.merge(evidence{boost: max(nameBoostWeak, f.lastEv.boost-0.15), code: f.lastEv.code})
	}
	return ev
}

// evidenceBefore reads the words before sp on its line; p is the token
// right before it.
func (f *nameFinder) evidenceBefore(sp *nameSpan, p, first, last int) evidence {
	var ev evidence
	gap := f.s.gap(sp.firstTok())
	if kv, ok := f.keyValueContext(sp, first, last); ok {
		ev.merge(kv)
	}
	pw := f.s.word(p)
	pf := f.lex.lookup(pw)
	if pf.has(lexCodeLabel) && f.labelLine(p, gap) && f.valueFilled(sp.end()) {
		ev.merge(structural())
	}
	if pf.has(lexCodeLabel) && gap == " " && runeBefore(f.text, f.s.tokens[p].start) == '@' {
		ev.merge(structural()) // @author Jane Doe
	}
	if gap == "(" && byteAt(f.text, sp.end()) == ')' && isTodoTag(pw) {
		ev.merge(structural()) // the author tag of a to-do comment
	}
	if f.copyrightBefore(p) && f.valueFilled(sp.end()) {
		ev.merge(structural())
	}
	if !f.proseAt(sp.start()) {
		if listedFullName(sp) && pf.has(lexLabel) && f.labelLine(p, gap) && f.valueFilled(sp.end()) {
			ev.merge(evidence{code: nameScoreCodeListed}) // "Patient: Harriet Osei" in a fixture
		}
		return ev
	}

	switch {
	case pf.has(lexTitle) && (gap == " " || gap == ". " || gap == "."):
		ev.merge(evidence{boost: nameBoostStrong})
	case pw == "M" && gap == ". " && sp.n == 1: // French "M. Dupont"
		ev.merge(evidence{boost: nameBoostStrong})
	}
	if pf.has(lexLabel) && f.labelLine(p, gap) && f.valueFilled(sp.end()) &&
		(!isRoleLabel(pw) || f.fillsLine(sp.end())) {
		ev.merge(evidence{boost: nameBoostStrong})
	}
	if f.isGreeting(p, pf) && (gap == " " || gap == ", " || gap == ",") && f.lineOpenerAt(f.greetingStart(p)) {
		if f.delimitedAfter(sp.end()) {
			ev.merge(evidence{boost: nameBoostStrong})
		} else {
			ev.merge(evidence{boost: nameBoostMedium})
		}
	}
	if pf.has(lexSignoff) && (gap == " " || gap == ", ") && f.lineOpenerAt(p) && f.fillsRestOfLine(sp.end()) {
		ev.merge(evidence{boost: nameBoostStrong}) // "Thanks, Priya"
	}
	if pf.has(lexIntro) && gap == " " {
		ev.merge(f.introBefore(p, pw))
	}
	if pf.has(lexRelation) && (gap == " " || gap == " (" || gap == ", ") {
		ev.merge(evidence{boost: nameBoostMedium})
	}
	if gap == " " && (pf.has(lexCommVerb) || pf.has(lexVia) && f.commVerbBefore(p)) {
		ev.merge(evidence{boost: nameBoostWeak})
	}
	return ev
}

// isTodoTag reports whether w tags a code comment with its author:
// "TODO(Mark)", "FIXME(Ana)".
func isTodoTag(w string) bool {
	switch w {
	case "TODO", "FIXME", "XXX", "HACK", "NOTE", "BUG":
		return true
	}
	return false
}

// isRoleLabel reports whether label w also names a speaker in a chat
// transcript ("Agent: Perfect, thanks"): what follows it is a name only
// when it fills the line.
func isRoleLabel(w string) bool {
	switch strings.ToLower(w) {
	case "agent", "customer", "client", "user", "caller", "rep", "representative", "member",
		"guest", "bot", "system", "assistant", "support", "visitor", "operator", "admin",
		"moderator", "host", "me", "you", "human", "ai", "staff", "tech", "technician",
		"engineer", "patient", "doctor", "nurse", "interviewer", "candidate", "manager":
		return true
	}
	return false
}

// fillsLine reports whether nothing but an address follows a name that
// ends at i on its line.
func (f *nameFinder) fillsLine(i int) bool {
	rest := strings.TrimSpace(f.restOfLine(i))
	return rest == "" || rest[0] == '<' || rest[0] == '('
}

// isGreeting reports whether token p, with flags pf, ends a greeting:
// "Hi", "Good morning", "Thank you".
func (f *nameFinder) isGreeting(p int, pf lexFlags) bool {
	if pf.has(lexGreeting) {
		return true
	}
	if !strings.EqualFold(f.s.word(p), "you") {
		return false
	}
	q := f.prevOnLine(p)
	return q >= 0 && strings.EqualFold(f.s.word(q), "thank")
}

// greetingStart returns the first token of the greeting that ends at p:
// "Good" of "Good morning", "Thank" of "Thank you".
func (f *nameFinder) greetingStart(p int) int {
	q := f.prevOnLine(p)
	if q < 0 || f.s.gap(p) != " " && f.s.gap(p) != "'" {
		return p
	}
	var buf [16]byte
	if f.s.tokens[q].len() > 6 {
		return p
	}
	switch string(foldWord(buf[:0], f.s.word(q))) {
	case "good", "guten", "buenos", "buenas", "bom", "boa", "sehr", "thank", "my", "oh", "hello", "hi", "hey",
		"so", "g", "many", "kia", "very", "take":
		return q
	}
	return p
}

// commVerbBefore reports whether the token before preposition p is a
// communication verb: "spoke to", "assigned to", "reported by".
func (f *nameFinder) commVerbBefore(p int) bool {
	q := f.prevOnLine(p)
	return q >= 0 && f.s.gap(p) == " " && f.lex.lookup(f.s.word(q)).has(lexCommVerb)
}

// introBefore reads an introduction that ends at token p: "my name is",
// "I'm", "me llamo", "je m'appelle", "ich heiße".
func (f *nameFinder) introBefore(p int, pw string) evidence {
	q := f.prevOnLine(p)
	prev := ""
	if q >= 0 {
		prev = strings.ToLower(f.s.word(q))
	}
	qGap := f.s.gap(p)
	switch strings.ToLower(pw) {
	case "is", "ist", "es", "é", "e":
		switch prev {
		case "name", "nombre", "nome", "nom":
			return evidence{boost: nameBoostStrong}
		case "this", "it", "c":
			return evidence{boost: nameBoostMedium}
		}
	case "m":
		if prev == "i" && apostropheAt(qGap, 0) == len(qGap) {
			return evidence{boost: nameBoostMedium}
		}
	case "am":
		if prev == "i" {
			return evidence{boost: nameBoostMedium}
		}
	case "llamo", "appelle", "heiße", "heisse", "chiamo":
		return evidence{boost: nameBoostStrong}
	case "się", "sie":
		if prev == "nazywam" {
			return evidence{boost: nameBoostStrong}
		}
	case "soy", "sono", "sou":
		return evidence{boost: nameBoostMedium}
	case "suis":
		if prev == "je" {
			return evidence{boost: nameBoostMedium}
		}
	case "bin":
		if prev == "ich" {
			return evidence{boost: nameBoostMedium}
		}
	case "name":
		if qGap == " " && prev == "my" {
			return evidence{boost: nameBoostWeak}
		}
	}
	return evidence{}
}

// evidenceLineStart reads the context of a name that starts its line: a
// sign-off on the line above, a signature block below, a chat speaker
// label ("Priya: hi"), "Priya here".
func (f *nameFinder) evidenceLineStart(sp *nameSpan, first, last int) evidence {
	var ev evidence
	if !f.linePrefixOnly(sp.start()) && !f.timestampPrefix(sp.start()) {
		return ev
	}
	listed := first > 0 || last > 0
	if f.fillsRestOfLine(sp.end()) {
		if f.signoffAbove(sp.start()) {
			ev.merge(evidence{boost: nameBoostStrong})
		} else {
			switch sig := f.signatureBelow(sp.end()); {
			case sig == signatureSentFrom:
				ev.merge(evidence{boost: nameBoostStrong})
			case sig == signatureTitle && (sp.n >= 2 || listed), sig == signatureContact && listed:
				ev.merge(evidence{boost: nameBoostMedium})
			}
		}
	}
	rest := f.text[sp.end():]
	if strings.HasPrefix(rest, ": ") || strings.HasPrefix(rest, ":\t") || strings.HasPrefix(rest, ":\n") {
		switch {
		case f.isSpeaker(f.text[sp.start():sp.end()]):
			ev.merge(evidence{boost: nameBoostSpeaker})
		case listed:
			ev.merge(evidence{boost: nameBoostMedium}) // a chat speaker label
		}
	}
	if f.linePrefixOnly(sp.start()) && f.fillsLine(sp.end()) && listed && f.lastLine(sp.end()) {
		ev.merge(evidence{boost: nameBoostMedium}) // the name under a message
	}
	if strings.HasPrefix(rest, " here") && !isWordRune(firstRune(rest, len(" here"))) {
		ev.merge(evidence{boost: nameBoostMedium})
	}
	return ev
}

// lastLine reports whether only blank lines follow the line that holds
// offset i.
func (f *nameFinder) lastLine(i int) bool {
	nl := strings.IndexByte(f.text[i:], '\n')
	return nl < 0 || len(f.text)-i-nl < 64 && strings.TrimSpace(f.text[i+nl:]) == ""
}

// isSpeaker reports whether label is one of the chat speaker labels of the
// text.
func (f *nameFinder) isSpeaker(label string) bool {
	for _, sp := range f.speakers[:f.nSpeakers] {
		if sp == label {
			return true
		}
	}
	return false
}

// collectSpeakers finds the chat speaker labels of the text: one to three
// words that open a line (after an optional timestamp) and end with ": ",
// or a nickname in angle brackets ("<amara> hi"), as IRC and many chat
// exports write it. A label counts when it opens two lines or more, or once
// when it is a listed given name; role labels such as "Agent" and words
// that are no names are left out.
func (f *nameFinder) collectSpeakers() {
	var labels [maxSpeakers]string
	var counts [maxSpeakers]int
	n := 0
	for pos := 0; pos < len(f.text); {
		end := strings.IndexByte(f.text[pos:], '\n')
		if end < 0 {
			end = len(f.text)
		} else {
			end += pos
		}
		if label, _, ok := speakerLabel(f.text[pos:end]); ok {
			i := 0
			for i < n && labels[i] != label {
				i++
			}
			if i == n && n < maxSpeakers {
				labels[n] = label
				n++
			}
			if i < n {
				counts[i]++
			}
		}
		pos = end + 1
	}
	// A label counts when it comes back: form fields ("Reason: ...") are
	// seldom repeated, speakers are.
	for i := 0; i < n; i++ {
		fl := f.lex.lookup(labels[i])
		if isRoleLabel(labels[i]) || fl.hardNotName() {
			continue
		}
		if counts[i] < 2 && !(fl.has(lexFirstName) && !fl.ambiguousName()) {
			continue
		}
		f.speakers[f.nSpeakers] = labels[i]
		f.nSpeakers++
	}
}

// speakerLabel returns the label that opens a chat line, "Olu" of "Olu:
// hi", "Priya Patel" of "[10:02] Priya Patel: ok", "amara" of "<amara> hi",
// and its offset in line. A label is capitalised, in a script without case,
// or a single lower-case word; a word with digits is a handle, not a name.
func speakerLabel(line string) (string, int, bool) {
	if len(line) > 3 && line[0] == '<' {
		return bracketLabel(line)
	}
	i := skipTimestamp(line)
	colon := strings.IndexByte(line[i:min(len(line), i+41)], ':')
	if colon <= 0 {
		return "", 0, false
	}
	label := line[i : i+colon]
	if rest := line[i+colon+1:]; rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\r' {
		return "", 0, false
	}
	words := 0
	lower := false
	for w := range strings.SplitSeq(label, " ") {
		r, _ := utf8.DecodeRuneInString(w)
		if w == "" {
			return "", 0, false
		}
		if !unicode.IsUpper(r) && !caselessLetter(r) {
			lower = true
		}
		for _, c := range w {
			if !unicode.IsLetter(c) && c != '-' && c != '\'' {
				return "", 0, false
			}
		}
		words++
	}
	if lower && (words > 1 || len(label) < 2 || strings.ContainsAny(label, "-'")) {
		return "", 0, false // "re: ...", "note to self: ...", "support-bot: ..."
	}
	return label, i, words <= 3
}

// bracketLabel reads an IRC-style "<nick> " that opens line: the nick is
// letters only, two to twenty of them.
func bracketLabel(line string) (string, int, bool) {
	end := strings.IndexByte(line[1:min(len(line), 22)], '>')
	if end < 2 || len(line) < end+3 || line[end+2] != ' ' {
		return "", 0, false
	}
	label := line[1 : end+1]
	for _, c := range label {
		if !unicode.IsLetter(c) {
			return "", 0, false
		}
	}
	return label, 1, true
}

// isLowerSpeaker reports whether a speaker label is written so that the
// main pass, which looks at capitalised words, cannot find it: in lower
// case or in angle brackets.
func isLowerSpeaker(label string) bool {
	r, _ := utf8.DecodeRuneInString(label)
	return unicode.IsLower(r)
}

// speakerNames appends the chat speakers that the main pass cannot see:
// labels in lower case or in angle brackets ("<amara> hi", "linh: ok"),
// and the speakers' names where the others mention them ("thx grace",
// "pedro's run", "ana send me the address").
func (f *nameFinder) speakerNames(out []candidate) []candidate {
	if f.nSpeakers == 0 {
		return out
	}
	for pos := 0; pos < len(f.text); {
		end := strings.IndexByte(f.text[pos:], '\n')
		if end < 0 {
			end = len(f.text)
		} else {
			end += pos
		}
		line := f.text[pos:end]
		label, off, ok := speakerLabel(line)
		own := ""
		if ok && f.isSpeaker(label) {
			own = label
			start := pos + off
			bracket := line[0] == '<'
			if bracket || isLowerSpeaker(label) {
				out = append(out, candidate{Finding: Finding{Type: TypePerson, Start: start, End: start + len(label),
					Score: f.speakerScore(label)}})
			}
			out = f.speakerMentions(pos+off+len(label), end, own, out)
		} else {
			out = f.speakerMentions(pos, end, own, out)
		}
		pos = end + 1
	}
	return out
}

// speakerScore is the score of a chat speaker label.
func (f *nameFinder) speakerScore(label string) float64 {
	if f.lex.lookup(label).has(lexName) {
		return nameScoreFirst + nameBoostSpeaker - nameBoostWeak
	}
	return nameMinScore + nameBoostWeak - 0.05
}

// speakerMentions appends the words between offsets from and to (one
// chat line after its label) that name another speaker of the text. A name
// that is also a common word ("will", "may", "grace") counts only where
// someone is addressed: after "hey" or "thx", before "'s", or opening the
// message with no pronoun after it ("young did you see", not "may i ask").
func (f *nameFinder) speakerMentions(from, to int, own string, out []candidate) []candidate {
	toks := f.s.tokens
	first := true
	for k := f.s.tokenAt(from); k < len(toks) && toks[k].end <= to; k++ {
		t := toks[k]
		opener := first
		first = false
		if !t.isWord() || t.letters < 2 || t.len() > 20 || t.firstUpper && t.upper > 1 {
			continue
		}
		w := f.s.word(k)
		label, ok := f.speakerWord(w)
		if !ok || strings.EqualFold(label, own) {
			continue
		}
		if !f.boundaryBefore(t.start) || runeBefore(f.text, t.start) == '@' {
			continue
		}
		if fl := f.lex.lookup(w); fl.ambiguousName() || fl.hardNotName() || fl.has(lexNotName) {
			if !f.addressedAt(k, to, opener) {
				continue
			}
		}
		out = append(out, candidate{Finding: Finding{Type: TypePerson, Start: t.start, End: t.end,
			Score: nameMinScore + nameBoostWeak - 0.05}})
	}
	return out
}

// speakerWord reports whether w, in any case, is a one-word speaker label
// or the last word of a label such as "Agent Kwame", and returns the label.
func (f *nameFinder) speakerWord(w string) (string, bool) {
	for _, sp := range f.speakers[:f.nSpeakers] {
		if strings.EqualFold(sp, w) {
			return sp, true
		}
		if i := strings.LastIndexByte(sp, ' '); i > 0 && strings.EqualFold(sp[i+1:], w) && isRoleLabel(sp[:strings.IndexByte(sp, ' ')]) {
			return sp, true
		}
	}
	return "", false
}

// addressedAt reports whether token k, a speaker's name that is also a
// common word, is used to address or name that speaker.
func (f *nameFinder) addressedAt(k, to int, opener bool) bool {
	toks := f.s.tokens
	if p := f.prevOnLine(k); p >= 0 && f.s.gap(k) == " " {
		if fl := f.lex.lookup(f.s.word(p)); fl.has(lexGreeting | lexSignoff) {
			return true
		}
	}
	end := toks[k].end
	if apostropheAt(f.text, end) > 0 && byteAt(f.text, end+apostropheAt(f.text, end)) == 's' {
		return true
	}
	if !opener {
		return false
	}
	n := k + 1
	if n >= len(toks) || toks[n].start >= to {
		return true
	}
	if f.s.gap(n) == ", " || f.s.gap(n) == "," {
		return true
	}
	return f.s.gap(n) == " " && !isSubjectPronoun(f.s.word(n))
}

// isSubjectPronoun reports whether w is an English subject pronoun, which
// after "may" or "will" makes a question rather than an address.
func isSubjectPronoun(w string) bool {
	switch strings.ToLower(w) {
	case "i", "you", "we", "he", "she", "they", "it", "u":
		return true
	}
	return false
}

// skipTimestamp returns the length of a chat timestamp that opens line,
// such as "[10:02] ", "10:02 - " or "(9:15 AM) ", or 0.
func skipTimestamp(line string) int {
	digits := 0
	for i := 0; i < len(line) && i < 24; i++ {
		c := line[i]
		switch {
		case isDigit(c):
			digits++
		case strings.IndexByte("[]():.-/, \t", c) >= 0:
		case digits > 0 && (c|0x20 == 'a' || c|0x20 == 'p') && i+1 < len(line) && line[i+1]|0x20 == 'm':
			i++ // AM, PM
		default:
			if digits == 0 {
				return 0
			}
			return i
		}
	}
	return 0
}

// findProseRegions records the parts of a diff that change documentation,
// where names are written as in prose: README.md, CHANGELOG, *.txt, *.rst.
func (f *nameFinder) findProseRegions() {
	text := f.text
	for pos := 0; pos < len(text) && f.nProseRegions < maxProseRegions; {
		i := strings.Index(text[pos:], "diff --git ")
		if i < 0 {
			return
		}
		start := pos + i
		lineEnd := strings.IndexByte(text[start:], '\n')
		if lineEnd < 0 {
			return
		}
		header := text[start : start+lineEnd]
		next := strings.Index(text[start+lineEnd:], "\ndiff --git ")
		end := len(text)
		if next >= 0 {
			end = start + lineEnd + next + 1
		}
		if isDocPath(header) {
			f.proseRegions[f.nProseRegions] = [2]int{start + lineEnd, end}
			f.nProseRegions++
		}
		pos = end
	}
}

// isDocPath reports whether a "diff --git a/x b/x" header names a
// documentation file.
func isDocPath(header string) bool {
	path := header[strings.LastIndexByte(header, ' ')+1:]
	lower := strings.ToLower(path)
	for _, ext := range [...]string{".md", ".markdown", ".txt", ".rst", ".adoc", "changelog", "readme", "authors", "contributors"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// listedFullName reports whether sp is a full name the lists know well: a
// listed given name and family name, in either order, one of them not a
// common word.
func listedFullName(sp *nameSpan) bool {
	if sp.n < 2 {
		return false
	}
	first, last := firstCredit(sp.words[0].flags), lastCredit(sp.lastWord().lastFlags)
	fam, given := lastCredit(sp.words[0].flags), firstCredit(sp.lastWord().lastFlags)
	return first == 2 && last >= 1 || fam == 2 && given >= 1
}

// cellEvidence reads a full name that fills a cell of a table in code or
// a log: a quoted string ('Marcus Bell'), a CSV field or a Markdown table
// cell. Only names whose given and family names are both listed count.
func (f *nameFinder) cellEvidence(sp *nameSpan) evidence {
	if sp.n < 2 {
		return evidence{}
	}
	if !listedFullName(sp) {
		return evidence{}
	}
	before := strings.TrimRight(f.text[max(0, sp.start()-8):sp.start()], " ")
	after := strings.TrimLeft(f.text[sp.end():min(len(f.text), sp.end()+8)], " ")
	if before == "" || after == "" {
		return evidence{}
	}
	open, closing := before[len(before)-1], after[0]
	switch {
	case (open == '"' || open == '\'') && closing == open,
		open == ',' && (closing == ',' || closing == '\n'),
		open == '|' && closing == '|',
		open == '\t' && (closing == '\t' || closing == '\n'):
		return evidence{code: nameScoreCodeListed}
	}
	return evidence{}
}

// evidenceAfter reads what follows sp: a display name's email address
// ("Jane Doe <jane@example.com>"), "wrote:", a Chinese greeting.
func (f *nameFinder) evidenceAfter(sp *nameSpan) evidence {
	rest := f.text[sp.end():]
	if displayNameFollows(rest) {
		return structural()
	}
	if !f.proseAt(sp.start()) {
		return f.cellEvidence(sp)
	}
	for _, w := range [...]string{" wrote:", " wrote on", " escribió:", " a écrit", " schrieb:", " ha scritto", " escreveu"} {
		if strings.HasPrefix(rest, w) {
			return evidence{boost: nameBoostStrong}
		}
	}
	if strings.HasPrefix(rest, " was born") || strings.HasPrefix(rest, " is born") {
		return evidence{boost: nameBoostStrong}
	}
	if personVerbFollows(rest) || strings.HasPrefix(rest, " from ") {
		return evidence{boost: nameBoostWeak}
	}
	if sp.words[0].caseless {
		rest = strings.TrimLeft(rest, ",， ")
		if strings.HasPrefix(rest, "你好") || strings.HasPrefix(rest, "您好") {
			return evidence{boost: nameBoostStrong}
		}
	}
	return evidence{}
}

// personVerbFollows reports whether rest, the text after a name, starts
// with a verb said mostly of people: "Bill said", "Grace asked".
func personVerbFollows(rest string) bool {
	if len(rest) < 4 || rest[0] != ' ' {
		return false
	}
	w := rest[1:]
	if i := strings.IndexFunc(w, func(r rune) bool { return !isWordRune(r) }); i >= 0 {
		w = w[:i]
	}
	switch w {
	case "said", "says", "asked", "asks", "told", "tells", "mentioned", "replied", "thinks", "thought",
		"wants", "wanted", "emailed", "confirmed", "agreed", "suggested", "explained", "noted",
		"promised", "called", "texted", "phoned", "joined", "wrote", "feels", "felt", "knows":
		return true
	}
	return false
}

// displayNameFollows reports whether rest, the text after a name, starts
// with the address it belongs to: `<jane@example.com>`, `" <...>`,
// `(jane@example.com)` or `[mailto:...]`.
func displayNameFollows(rest string) bool {
	rest = strings.TrimPrefix(rest, "\"")
	rest = strings.TrimPrefix(rest, "'")
	rest = strings.TrimLeft(rest, " \t")
	var closing byte
	switch {
	case strings.HasPrefix(rest, "<"):
		closing = '>'
	case strings.HasPrefix(rest, "(") || strings.HasPrefix(rest, "["):
		closing = ")]"[strings.IndexByte("([", rest[0])]
	default:
		return false
	}
	rest = rest[1:min(len(rest), 120)]
	end := strings.IndexByte(rest, closing)
	return end > 0 && strings.IndexByte(rest[:end], '@') > 0 && strings.IndexByte(rest[:end], ' ') < 0
}

// keyValueContext reads a name field before sp: `"first_name": "Jane"`,
// `customer_name=Jane Doe`, `name: Jane Doe`. A field called just "name"
// also names services and steps, so it needs a listed given name.
func (f *nameFinder) keyValueContext(sp *nameSpan, first, last int) (evidence, bool) {
	text := f.text
	i := sp.start()
	quote := byte(0)
	if c := byteAt(text, i-1); c == '"' || c == '\'' || c == '`' {
		quote, i = c, i-1
	}
	for byteAt(text, i-1) == ' ' {
		i--
	}
	switch {
	case byteAt(text, i-1) == '=' && byteAt(text, i-2) == ':':
		i -= 2
	case byteAt(text, i-1) == '>' && byteAt(text, i-2) == '=':
		i -= 2
	case byteAt(text, i-1) == '=' || byteAt(text, i-1) == ':':
		i--
	default:
		return evidence{}, false
	}
	for byteAt(text, i-1) == ' ' {
		i--
	}
	if c := byteAt(text, i-1); c == '"' || c == '\'' || c == '`' {
		i--
	}
	keyEnd := i
	for i > 0 && keyEnd-i < 40 && (isASCIIAlnum(text[i-1]) || text[i-1] == '_' || text[i-1] == '-') {
		i--
	}
	if i == keyEnd || !f.valueEnds(sp.end(), quote) {
		return evidence{}, false
	}
	switch nameKeyKind(text[i:keyEnd]) {
	case nameKeyPerson:
		return structural(), true
	case nameKeyGeneric:
		if first == 2 && sp.n >= 2 || first >= 1 && last >= 1 && sp.n >= 2 {
			return structural(), true
		}
	}
	return evidence{}, false
}

// valueEnds reports whether a field value that is a name ends at i: at its
// closing quote, at the end of the line, or before the next field.
func (f *nameFinder) valueEnds(i int, quote byte) bool {
	c := byteAt(f.text, i)
	if quote != 0 {
		for c == ' ' {
			i++
			c = byteAt(f.text, i)
		}
		return c == quote
	}
	switch c {
	case 0, '\n', '\r', ',', ';', '}', '&', ')', ']':
		return true
	case ' ':
		// logfmt: the next field follows
		j := i + 1
		for j < len(f.text) && (isASCIIAlnum(f.text[j]) || f.text[j] == '_' || f.text[j] == '.') {
			j++
		}
		return j > i+1 && byteAt(f.text, j) == '='
	}
	return false
}

// Kinds of field names.
const (
	nameKeyNone    = iota
	nameKeyGeneric // "name"
	nameKeyPerson  // "first_name", "customerName", "author"
)

// nameKeyKind says whether a field called key holds a person's name.
func nameKeyKind(key string) int {
	var buf [48]byte
	n := 0
	for i := 0; i < len(key) && n < len(buf); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	k := string(buf[:n])
	switch k {
	case "name":
		return nameKeyGeneric
	case "author", "maintainer", "assignee", "reviewer", "reporter", "surname", "nombre",
		"apellido", "apellidos", "vorname", "nachname", "prenom", "nom", "cardholder",
		"accountholder", "signatory", "payee", "recipient", "debtor", "creditor", "manager",
		"contact", "owner", "driver", "passenger", "guest", "employee", "patient", "holder",
		"beneficiary", "witness", "tenant", "landlord", "applicant", "requester", "approver",
		"customer", "client", "sender", "agent", "salesperson", "teacher", "student", "doctor":
		return nameKeyPerson
	}
	prefix, ok := strings.CutSuffix(k, "name")
	if !ok {
		return nameKeyNone
	}
	switch prefix {
	case "first", "last", "full", "given", "family", "middle", "sur", "customer", "contact",
		"display", "author", "owner", "holder", "cardholder", "accountholder", "recipient",
		"sender", "billing", "shipping", "payee", "patient", "employee", "client", "person",
		"legal", "maiden", "preferred", "real", "parent", "guardian", "spouse", "beneficiary",
		"member", "applicant", "student", "agent", "user", "buyer", "seller", "tenant",
		"contactperson", "emergencycontact", "nick", "manager", "doctor", "physician":
		return nameKeyPerson
	}
	return nameKeyNone
}

// labelLine reports whether token p ends a label at the start of its line
// ("From:", "Co-authored-by:", "// Maintainer:") and gap, the text after
// it, is a colon and spaces.
func (f *nameFinder) labelLine(p int, gap string) bool {
	if g := strings.TrimRight(gap, " \t"); g != ":" && g != "：" || len(gap) > 5 {
		return false
	}
	k := p
	for n := 0; n < 3; n++ {
		q := f.prevOnLine(k)
		if q < 0 {
			break
		}
		if g := f.s.gap(k); g != "-" && g != " " {
			break
		}
		k = q
	}
	return f.linePrefixOnly(f.s.tokens[k].start)
}

// copyrightBefore reports whether token p ends "Copyright (c) 2024" before
// a name.
func (f *nameFinder) copyrightBefore(p int) bool {
	for n, k := 0, p; n < 4 && k >= 0; n, k = n+1, f.prevOnLine(k) {
		w := f.s.word(k)
		switch {
		case strings.EqualFold(w, "copyright"):
			return true
		case f.s.tokens[k].isNumber() || w == "c" || w == "C":
			continue
		default:
			return false
		}
	}
	return false
}

// fillsRestOfLine reports whether only punctuation, or a short tail such
// as ", Head of Support", follows a name that ends at i on its line.
func (f *nameFinder) fillsRestOfLine(i int) bool {
	rest := f.restOfLine(i)
	rest = strings.TrimRight(rest, " \t\r")
	rest = strings.TrimLeft(rest, ",.!;")
	if strings.TrimSpace(rest) == "" {
		return true
	}
	if len(rest) > 60 {
		return false
	}
	for _, sep := range [...]string{", ", " | ", " - ", " – ", " — ", " (", " / "} {
		if strings.HasPrefix(rest, sep) {
			return true
		}
	}
	return false
}

// valueFilled reports whether a name that ends at i fills the value of a
// label: nothing but an address, a list separator or punctuation follows.
func (f *nameFinder) valueFilled(i int) bool {
	rest := strings.TrimLeft(f.restOfLine(i), " \t")
	if rest == "" || rest == "\r" {
		return true
	}
	switch rest[0] {
	case '<', '(', '[', ',', ';', '|', '"', '\'', '/':
		return true
	case '.':
		return strings.TrimSpace(rest[1:]) == ""
	}
	return strings.HasPrefix(rest, "and ") || strings.HasPrefix(rest, "& ")
}

// delimitedAfter reports whether a name that ends at i is followed by
// punctuation, the end of the line or "and": "Hi Priya," but not "Hi
// Support team".
func (f *nameFinder) delimitedAfter(i int) bool {
	rest := strings.TrimLeft(f.restOfLine(i), " \t")
	if rest == "" || rest == "\r" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if !isWordRune(r) {
		return true
	}
	return strings.HasPrefix(rest, "and ") || strings.HasPrefix(rest, "y ") || strings.HasPrefix(rest, "et ") ||
		strings.HasPrefix(rest, "und ")
}

// signoffAbove reports whether the nearest non-blank line above offset i
// (the start of a line) is a closing such as "Kind regards," or "--".
func (f *nameFinder) signoffAbove(i int) bool {
	start, end, ok := f.lineAbove(i)
	if !ok {
		return false
	}
	line := strings.TrimSpace(strings.TrimLeft(f.text[start:end], "> \t"))
	switch line {
	case "--", "-- ", "—", "–", "---":
		return true
	}
	if line == "" || len(line) > 40 {
		return false
	}
	line = strings.TrimRight(line, ",.!;:-— ，。！、")
	lastWord := line[strings.LastIndexAny(line, " \t")+1:]
	if f.lex.lookup(lastWord).has(lexSignoff) {
		return true
	}
	firstWord, _, _ := strings.Cut(line, " ")
	return strings.Count(line, " ") < 4 && f.lex.lookup(firstWord).has(lexSignoff)
}

// What the line under a name says about it.
const (
	signatureNone     = iota
	signatureContact  // an email address or a phone number
	signatureTitle    // a job title or a company
	signatureSentFrom // "Sent from my iPhone": the line above is the sender's name
)

// signatureBelow says whether the line after the name that ends at i looks
// like the rest of a signature: a job title, an email address or a phone
// number.
func (f *nameFinder) signatureBelow(i int) int {
	rest := f.restOfLine(i)
	start := i + len(rest) + 1
	if start >= len(f.text) || f.text[start-1] != '\n' {
		return signatureNone
	}
	line := f.restOfLine(start)
	end := start + len(line)
	if len(line) > 80 || strings.TrimSpace(line) == "" {
		return signatureNone
	}
	digits := 0
	for k := f.s.tokenAt(start); k < len(f.s.tokens) && f.s.tokens[k].start < end; k++ {
		t := f.s.tokens[k]
		digits += int(t.digits)
		if t.firstUpper && t.letters > 1 && t.digits == 0 && f.lex.lookup(f.s.word(k)).has(lexJobTitle|lexOrgSuffix) {
			return signatureTitle
		}
	}
	if digits >= 7 || strings.IndexByte(line, '@') >= 0 {
		return signatureContact
	}
	for _, p := range [...]string{"Sent from my", "Sent from ", "Enviado desde", "Von meinem", "Envoyé de", "Inviato da"} {
		if strings.HasPrefix(strings.TrimSpace(line), p) {
			return signatureSentFrom
		}
	}
	return signatureNone
}

// lineAbove returns the bounds of the nearest line above the line that
// starts at i, skipping at most one blank line.
func (f *nameFinder) lineAbove(i int) (start, end int, ok bool) {
	ls := lineStartNear(f.s, i, maxRestOfLine)
	for blanks := 0; blanks < 2 && ls > 0; blanks++ {
		end = ls - 1
		start = lineStartNear(f.s, end, maxRestOfLine)
		if start < 0 {
			return 0, 0, false
		}
		if strings.TrimSpace(f.text[start:end]) != "" {
			return start, end, true
		}
		ls = start
	}
	return 0, 0, false
}

// maxRestOfLine is the most text after a name that is read for context.
const maxRestOfLine = 120

// restOfLine returns the text from i to the end of its line, at most
// maxRestOfLine bytes.
func (f *nameFinder) restOfLine(i int) string {
	rest := f.text[i:min(len(f.text), i+maxRestOfLine)]
	if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
		return rest[:nl]
	}
	return rest
}

// lineStartNear returns the start of the line that holds offset i when it
// starts at most limit bytes before i, or -1.
func lineStartNear(s *scan, i, limit int) int {
	if ls := s.lineStart(i); i-ls <= limit {
		return ls
	}
	return -1
}

// prevOnLine returns the token before token k when it is on the same line,
// or -1.
func (f *nameFinder) prevOnLine(k int) int {
	if k <= 0 || f.s.lineBreakBetween(f.s.tokens[k-1].end, f.s.tokens[k].start) {
		return -1
	}
	return k - 1
}

// linePrefixOnly reports whether only spaces, quote marks and bullets come
// before offset i on its line.
func (f *nameFinder) linePrefixOnly(i int) bool {
	ls := lineStartNear(f.s, i, 16)
	if ls < 0 {
		return false
	}
	for _, r := range f.text[ls:i] {
		if !strings.ContainsRune(" \t>*-+#/•–—|\"'", r) {
			return false
		}
	}
	return true
}

// timestampPrefix reports whether only a chat timestamp ("[10:32]",
// "10:32 -") comes before offset i on its line.
func (f *nameFinder) timestampPrefix(i int) bool {
	ls := lineStartNear(f.s, i, 32)
	if ls < 0 {
		return false
	}
	prefix := f.text[ls:i]
	if len(prefix) < 4 || len(prefix) > 32 || strings.IndexByte(prefix, ':') < 0 {
		return false
	}
	digits := 0
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		switch {
		case isDigit(c):
			digits++
		case strings.IndexByte(" \t[]():-/.,APMapm", c) < 0:
			return false
		}
	}
	return digits >= 3
}

// lineOpenerAt reports whether token k opens its line, allowing for quote
// marks, bullets, a timestamp or a "Speaker:" label before it.
func (f *nameFinder) lineOpenerAt(k int) bool {
	i := f.s.tokens[k].start
	if f.linePrefixOnly(i) || f.timestampPrefix(i) {
		return true
	}
	ls := lineStartNear(f.s, i, 40)
	if ls < 0 {
		return false
	}
	before := strings.TrimRight(f.text[ls:i], " \t")
	return strings.HasSuffix(before, ":") ||
		strings.HasSuffix(before, ".") || strings.HasSuffix(before, "!")
}

// sentenceInitial reports whether token k starts a sentence or a line.
func (f *nameFinder) sentenceInitial(k int) bool {
	i := f.s.tokens[k].start
	for n := 0; i > 0 && n < 12; n++ {
		r, w := utf8.DecodeLastRuneInString(f.text[:i])
		switch r {
		case '\n', '.', '!', '?', ':', ';':
			return true
		case ' ', '\t', '\r', '"', '\'', '(', '[', '*', '-', '>', '•', '“', '‘', '¿', '¡', '–', '—':
			i -= w
			continue
		}
		return false
	}
	return i == 0
}

// isListSeparator reports whether gap joins two names of a list: ", ",
// " and ", " & ", " y ", "; ".
func isListSeparator(gap string) bool {
	switch gap {
	case ", ", ",", " and ", ", and ", " & ", " y ", " e ", " et ", " und ", " or ", "; ", " / ", " + ":
		return true
	}
	return false
}

// findMentions appends the names in chat @mentions ("@priya",
// "@Priya Sharma"). The '@' is not part of the name.
func (f *nameFinder) findMentions(out []candidate) []candidate {
	text := f.text
	for i := 0; i < len(text); {
		at := strings.IndexByte(text[i:], '@')
		if at < 0 {
			break
		}
		i += at + 1
		if r := runeBefore(text, i-1); isWordRune(r) || r == '.' || r == '/' || r == '-' {
			continue // an email address, a package version, a path
		}
		k := f.s.tokenAt(i)
		if k >= len(f.s.tokens) || f.s.tokens[k].start != i {
			continue
		}
		if c, ok := f.mention(k); ok {
			out = append(out, c)
			i = c.End
		}
	}
	return out
}

// mention reads the name after an '@' at token k.
func (f *nameFinder) mention(k int) (candidate, bool) {
	t := f.s.tokens[k]
	if !t.isWord() || t.letters < 2 || t.upper == t.letters && t.letters > 1 {
		return candidate{}, false
	}
	fl := f.lex.lookup(f.s.word(k))
	if fl.hardNotName() {
		return candidate{}, false // @here, @channel, @support
	}
	end, lastTok := t.end, k
	// "@priya.sharma" and "@Priya Sharma"
	if n := k + 1; n < len(f.s.tokens) && f.s.tokens[n].isWord() {
		nt := f.s.tokens[n]
		gap := f.s.gap(n)
		if gap == "." && t.upper == 0 && nt.upper == 0 || gap == " " && t.firstUpper && nt.firstUpper && nt.upper < nt.letters &&
			f.lex.lookup(f.s.word(n)).has(lexSurname) {
			end, lastTok = nt.end, n
		}
	}
	if !f.boundaryAfter(end) {
		return candidate{}, false
	}
	score := nameScoreUnknown + nameBoostMedium
	switch {
	case fl.has(lexName):
		score = nameScoreFirst + nameBoostMedium
	case !t.firstUpper && lastTok == k && t.letters > 12:
		return candidate{}, false // a long handle
	case !t.firstUpper && lastTok == k:
		score = nameMinScore // "@aiko": a handle that is probably a name
	}
	return candidate{Finding: Finding{Type: TypePerson, Start: t.start, End: end, Score: min(score, nameMaxScore)}}, true
}
