package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/keelhq/keel/services/ingest/message"
	"github.com/keelhq/keel/services/ingest/redact"
)

// maxRedactInput bounds what keel redact reads from standard input.
const maxRedactInput = 16 << 20

// minRedactKey is the length in bytes KEEL_REDACT_KEY must have at least.
const minRedactKey = 32

// redactEntity is one finding in the --json output. start and end count
// Unicode code points of the input, end exclusive; type uses Presidio's
// entity names.
type redactEntity struct {
	Type     string  `json:"type"`
	Start    int     `json:"start"`
	End      int     `json:"end"`
	Score    float64 `json:"score"`
	Operator string  `json:"operator"`
}

// redactOutput is the --json output of keel redact.
type redactOutput struct {
	Text     string         `json:"text"`
	Entities []redactEntity `json:"entities"`
}

// runRedact reads text on in and writes it redacted to out, as text or as
// one JSON object. It needs no running stack. "keel redact eval" scores the
// redactor on the labelled test set instead. When ctx ends first, runRedact
// returns an error saying it was interrupted and writes nothing.
func runRedact(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	if len(args) > 0 && args[0] == "eval" {
		return runRedactEval(args[1:], out)
	}
	fs := newFlags("redact")
	asJSON := fs.Bool("json", false, `print {"text", "entities": [{"type", "start", "end", "score", "operator"}]};`+
		"\nstart and end count code points of the input (an invalid byte as one), end exclusive")
	contentType := fs.String("type", "text/plain", "what the input is: text/plain, text/x-diff, text/x-source, text/x-log,\n"+
		"or message/rfc822 (a raw email: its From, Subject and decoded text are redacted,\n"+
		"and --json offsets count code points of that decoded text, not of the raw email)")
	defaultOp := fs.String("default", "replace", "operator for every type not set with -operator: "+operatorNames())
	var ops operatorFlags
	fs.Var(&ops, "operator", "`TYPE=OPERATOR` for one entity type, e.g. CREDIT_CARD=mask (repeatable)")
	minScore := fs.Float64("min-score", redact.DefaultMinScore, "confidence a finding needs to be redacted, 0 to 1")
	regionList := fs.String("regions", strings.Join(redact.DefaultPhoneRegions, ","),
		"comma-separated regions (ISO 3166 codes) whose numbering plans validate national phone numbers")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (keel redact reads standard input)", fs.Arg(0))
	}

	// Check every flag before reading anything.
	regions, err := phoneRegions(*regionList)
	if err != nil {
		return err
	}
	policy, err := cliPolicy(*defaultOp, ops, *minScore)
	if err != nil {
		return err
	}
	doc := redact.New(redact.WithPhoneRegions(regions...)).NewDocument()
	if err := doc.SetPolicy(policy); err != nil {
		return err
	}

	// Read and redact aside, so that an interrupt ends the command at once,
	// even while standard input is still open or a long text is redacted.
	if ctx.Err() != nil {
		return fmt.Errorf("redact interrupted: %w", context.Cause(ctx))
	}
	type outcome struct {
		result redactOutput
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		result, err := readAndRedact(ctx, doc, in, *contentType)
		done <- outcome{result, err}
	}()
	var o outcome
	select {
	case <-ctx.Done():
		return fmt.Errorf("redact interrupted: %w", context.Cause(ctx))
	case o = <-done:
	}
	if o.err != nil {
		return o.err
	}

	// Print the result.
	if !*asJSON {
		_, err := io.WriteString(out, o.result.Text)
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return enc.Encode(o.result)
}

// readAndRedact reads the input on in, decodes it as contentType and
// redacts it with doc.
func readAndRedact(
	ctx context.Context,
	doc *redact.Document,
	in io.Reader,
	contentType string,
) (redactOutput, error) {
	raw, err := io.ReadAll(io.LimitReader(in, maxRedactInput+1))
	if err != nil {
		return redactOutput{}, fmt.Errorf("read standard input: %w", err)
	}
	if len(raw) > maxRedactInput {
		return redactOutput{}, fmt.Errorf("input is larger than %d bytes", maxRedactInput)
	}
	input, err := decodeRedactInput(raw, contentType)
	if err != nil {
		return redactOutput{}, err
	}

	// The sender of an email is known by name, so a sign-off with the
	// first name alone gets the same placeholder.
	doc.Replace(redact.TypePerson, input.sender)
	doc.SetProfile(input.profile)
	res := doc.RedactContext(ctx, input.text)
	if input.note != nil {
		return noteOutput(*input.note, res), nil
	}

	result := redactOutput{Text: res.Text, Entities: make([]redactEntity, 0, len(res.Entities))}
	for _, e := range res.Entities {
		result.Entities = append(result.Entities, newRedactEntity(e, e.RuneStart, e.RuneEnd))
	}
	return result, nil
}

// newRedactEntity returns the --json form of e found at code points start
// to end of the input.
func newRedactEntity(e redact.Entity, start, end int) redactEntity {
	return redactEntity{
		Type:     string(e.Type),
		Start:    start,
		End:      end,
		Score:    e.Score,
		Operator: string(e.Operator),
	}
}

// redactInput is the decoded input of keel redact.
type redactInput struct {
	text    string // what is redacted
	profile redact.Profile
	sender  string // display name of an email's sender, or ""
	// note is the decoded input as it was, line endings and byte order mark
	// included, when text is it with LF line endings; nil for an email.
	note *message.DecodedNote
}

// decodeRedactInput turns the raw input into the text to redact and the
// profile to redact it with. An email becomes its From and Subject lines,
// a blank line and its decoded text.
func decodeRedactInput(raw []byte, contentType string) (redactInput, error) {
	switch contentType {
	case "message/rfc822":
		email, err := message.Parse(raw, message.Limits{MaxBytes: maxRedactInput})
		if err != nil {
			return redactInput{}, err
		}
		var b strings.Builder
		in := redactInput{profile: redact.ProfileProse}
		if len(email.From) > 0 {
			from := email.From[0]
			in.sender = from.Name
			b.WriteString("From: " + strings.TrimSpace(from.Name+" <"+from.Address+">") + "\n")
		}
		if email.Subject != "" {
			b.WriteString("Subject: " + email.Subject + "\n")
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(email.Text)
		in.text = b.String()
		return in, nil
	case "text/plain", "text/x-diff", "text/x-source", "text/x-log":
		// The recognisers are tuned on LF text, so the text is redacted
		// with LF line endings and the result mapped back to the input.
		note, err := message.DecodeNote(raw, message.Limits{MaxBytes: maxRedactInput})
		if err != nil {
			return redactInput{}, err
		}
		in := redactInput{text: note.Normalized(), profile: redact.ProfileProse, note: &note}
		switch contentType {
		case "text/x-diff", "text/x-source":
			in.profile = redact.ProfileCode
		case "text/x-log":
			in.profile = redact.ProfileLog
		}
		return in, nil
	}
	return redactInput{}, fmt.Errorf("-type %q is not one of text/plain, text/x-diff, text/x-source, text/x-log, message/rfc822", contentType)
}

// noteOutput maps res, the result of redacting note with LF line endings,
// back onto the input: the text keeps the input's line endings and byte
// order mark, and the offsets count code points of the input, where a byte
// order mark is one and CRLF two.
func noteOutput(note message.DecodedNote, res redact.Result) redactOutput {
	var b strings.Builder
	b.Grow(len(note.Text) + len(res.Text)/4)
	shift := 0
	if note.BOM {
		b.WriteRune('\ufeff')
		shift = 1
	}

	result := redactOutput{Entities: make([]redactEntity, 0, len(res.Entities))}
	cur := lineCursor{text: note.Text}
	for _, e := range res.Entities {
		prev := cur.byteOff
		startByte, startRune := cur.advance(e.RuneStart)
		b.WriteString(note.Text[prev:startByte])
		endByte, endRune := cur.advance(e.RuneEnd)
		b.WriteString(withLineEndings(e.Replacement, note.Text[startByte:endByte]))
		result.Entities = append(result.Entities, newRedactEntity(e, startRune+shift, endRune+shift))
	}
	b.WriteString(note.Text[cur.byteOff:])
	result.Text = b.String()
	return result
}

// lineCursor walks a text in step with the same text with LF line endings,
// where CRLF is one code point and a lone CR stays one.
type lineCursor struct {
	text     string
	byteOff  int // position in text, in bytes
	runeOff  int // position in text, in code points
	lfOffset int // the same position in the LF text, in code points
}

// advance moves the cursor forward to code point n of the LF text and
// returns the byte and code point offsets of that place in the text.
func (c *lineCursor) advance(n int) (byteOff, runeOff int) {
	for c.lfOffset < n && c.byteOff < len(c.text) {
		if strings.HasPrefix(c.text[c.byteOff:], "\r\n") {
			c.byteOff += 2
			c.runeOff += 2
		} else {
			_, size := utf8.DecodeRuneInString(c.text[c.byteOff:])
			c.byteOff += size
			c.runeOff++
		}
		c.lfOffset++
	}
	return c.byteOff, c.runeOff
}

// withLineEndings gives replacement, which stands for original in the
// output, the line endings of original when it keeps its line breaks one
// for one, as a kept or masked value does; other replacements have none.
func withLineEndings(replacement, original string) string {
	if !strings.Contains(original, "\r") {
		return replacement
	}
	var endings []string
	for i := 0; i < len(original); i++ {
		switch {
		case strings.HasPrefix(original[i:], "\r\n"):
			endings = append(endings, "\r\n")
			i++
		case original[i] == '\r' || original[i] == '\n':
			endings = append(endings, original[i:i+1])
		}
	}
	lines := strings.Split(replacement, "\n")
	if len(lines) != len(endings)+1 {
		return replacement
	}
	var b strings.Builder
	b.Grow(len(original))
	for i, line := range lines {
		if i > 0 {
			b.WriteString(endings[i-1])
		}
		b.WriteString(line)
	}
	return b.String()
}

// phoneRegions reads the -regions flag: region codes with a numbering plan,
// separated by commas. It reports every unknown code at once.
func phoneRegions(list string) ([]string, error) {
	var regions, unknown []string
	for r := range strings.SplitSeq(list, ",") {
		r = strings.ToUpper(strings.TrimSpace(r))
		switch {
		case r == "":
			continue
		case phonenumbers.GetCountryCodeForRegion(r) == 0:
			unknown = append(unknown, fmt.Sprintf("%q", r))
		default:
			regions = append(regions, r)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("-regions: %s: not a region with a phone numbering plan "+
			"(want ISO 3166 codes such as US, GB, DE)", strings.Join(unknown, ", "))
	}
	if len(regions) == 0 {
		return nil, errors.New("-regions is empty: give at least one region code, such as US")
	}
	return regions, nil
}

// cliPolicy builds the policy of the flags. The keyed operators (hash, fpe,
// encrypt) take their key from KEEL_REDACT_KEY (see redactKey).
func cliPolicy(defaultOp string, ops operatorFlags, minScore float64) (*redact.Policy, error) {
	def, err := redact.ParseOperator(defaultOp)
	if err != nil {
		return nil, fmt.Errorf("-default: %w", err)
	}
	// NaN fails both comparisons.
	if !(minScore >= 0 && minScore <= 1) {
		return nil, fmt.Errorf("-min-score %v is not a number from 0 to 1", minScore)
	}
	p := &redact.Policy{Default: def, Operators: ops.m, MinScore: minScore}
	if minScore == 0 {
		p.MinScore = 1e-9 // 0 would mean the default; the flag means "everything"
	}
	keyed := def.Keyed()
	for _, op := range ops.m {
		keyed = keyed || op.Keyed()
	}
	if keyed {
		if p.Key, err = redactKey(os.Getenv("KEEL_REDACT_KEY")); err != nil {
			return nil, err
		}
	}
	if err := p.Prepare(); err != nil {
		return nil, err
	}
	return p, nil
}

// redactKey decodes KEEL_REDACT_KEY: base64, standard or URL-safe, padded
// or not, of at least minRedactKey random bytes. It refuses a key that is
// one byte repeated, such as all zeros, which is a placeholder rather than
// a secret.
func redactKey(encoded string) ([]byte, error) {
	encoded = strings.TrimSpace(encoded)
	if encoded == "" {
		return nil, fmt.Errorf("the hash, fpe and encrypt operators need a key: "+
			"set KEEL_REDACT_KEY to base64 of %d random bytes", minRedactKey)
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if key, err = enc.DecodeString(encoded); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("KEEL_REDACT_KEY is not base64 (standard or URL-safe, padded or not)")
	}
	if len(key) < minRedactKey {
		return nil, fmt.Errorf("KEEL_REDACT_KEY holds %d bytes; it needs %d random bytes or more",
			len(key), minRedactKey)
	}
	if !slices.ContainsFunc(key, func(b byte) bool { return b != key[0] }) {
		return nil, fmt.Errorf("KEEL_REDACT_KEY is one byte repeated (0x%02x), not a random key; "+
			"make one with: openssl rand -base64 %d", key[0], minRedactKey)
	}
	return key, nil
}

// operatorFlags collects -operator TYPE=OPERATOR flags.
type operatorFlags struct {
	m map[redact.Type]redact.Operator
}

func (f *operatorFlags) String() string {
	if f == nil || len(f.m) == 0 {
		return ""
	}
	parts := make([]string, 0, len(f.m))
	for t, op := range f.m {
		parts = append(parts, string(t)+"="+string(op))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (f *operatorFlags) Set(v string) error {
	name, opName, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("%q is not TYPE=OPERATOR", v)
	}
	t, ok := redact.ParseType(name)
	if !ok {
		return fmt.Errorf("unknown entity type %q (want one of %s)", name, typeNames())
	}
	op, err := redact.ParseOperator(opName)
	if err != nil {
		return err
	}
	if f.m == nil {
		f.m = make(map[redact.Type]redact.Operator)
	}
	f.m[t] = op
	return nil
}

func operatorNames() string {
	names := make([]string, len(redact.Operators))
	for i, op := range redact.Operators {
		names[i] = string(op)
	}
	return strings.Join(names, ", ")
}

// typeNames lists the entity types -operator accepts.
func typeNames() string {
	names := make([]string, len(redact.AllTypes))
	for i, t := range redact.AllTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
