package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/keelhq/keel/services/ingest/message"
	"github.com/keelhq/keel/services/ingest/redact"
)

// maxRedactInput bounds what keel redact reads from standard input.
const maxRedactInput = 16 << 20

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
// redactor on the labelled test set instead.
func runRedact(args []string, in io.Reader, out io.Writer) error {
	if len(args) > 0 && args[0] == "eval" {
		return runRedactEval(args[1:], out)
	}
	fs := newFlags("redact")
	asJSON := fs.Bool("json", false, `print {"text", "entities": [{"type", "start", "end", "score", "operator"}]}`)
	contentType := fs.String("type", "text/plain", "what the input is: text/plain, text/x-diff, text/x-source, text/x-log,\n"+
		"or message/rfc822 (a raw email: its subject and decoded text are redacted; offsets count that text)")
	defaultOp := fs.String("default", "replace", "operator for every type not set with -operator: "+operatorNames())
	var ops operatorFlags
	fs.Var(&ops, "operator", "`TYPE=OPERATOR` for one entity type, e.g. CREDIT_CARD=mask (repeatable)")
	minScore := fs.Float64("min-score", redact.DefaultMinScore, "confidence a finding needs to be redacted")
	regions := fs.String("regions", strings.Join(redact.DefaultPhoneRegions, ","), "regions whose numbering plans validate national phone numbers")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (keel redact reads standard input)", fs.Arg(0))
	}
	policy, err := cliPolicy(*defaultOp, ops, *minScore)
	if err != nil {
		return err
	}

	raw, err := io.ReadAll(io.LimitReader(in, maxRedactInput+1))
	if err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	if len(raw) > maxRedactInput {
		return fmt.Errorf("input is larger than %d bytes", maxRedactInput)
	}
	input, err := decodeRedactInput(raw, *contentType)
	if err != nil {
		return err
	}

	doc := redact.New(redact.WithPhoneRegions(strings.Split(*regions, ",")...)).NewDocument()
	if err := doc.SetPolicy(policy); err != nil {
		return err
	}
	// The sender of an email is known by name, so a sign-off with the
	// first name alone gets the same placeholder.
	doc.Replace(redact.TypePerson, input.sender)
	text, profile := input.text, input.profile
	doc.SetProfile(profile)
	res := doc.Redact(text)
	if !*asJSON {
		_, err := io.WriteString(out, res.Text)
		return err
	}
	result := redactOutput{Text: res.Text, Entities: make([]redactEntity, 0, len(res.Entities))}
	for _, e := range res.Entities {
		result.Entities = append(result.Entities, redactEntity{
			Type:     string(e.Type),
			Start:    e.RuneStart,
			End:      e.RuneEnd,
			Score:    e.Score,
			Operator: string(e.Operator),
		})
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return enc.Encode(result)
}

// redactInput is the decoded input of keel redact.
type redactInput struct {
	text    string
	profile redact.Profile
	sender  string // display name of an email's sender, or ""
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
		text, _, err := message.Note(raw, message.Limits{MaxBytes: maxRedactInput})
		if err != nil {
			return redactInput{}, err
		}
		in := redactInput{text: text, profile: redact.ProfileProse}
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

// cliPolicy builds the policy of the flags. The keyed operators (hash, fpe,
// encrypt) take their key from KEEL_REDACT_KEY, base64 of 32 bytes or more.
func cliPolicy(defaultOp string, ops operatorFlags, minScore float64) (*redact.Policy, error) {
	def, err := redact.ParseOperator(defaultOp)
	if err != nil {
		return nil, fmt.Errorf("-default: %w", err)
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
		enc := os.Getenv("KEEL_REDACT_KEY")
		if enc == "" {
			return nil, errors.New("the hash, fpe and encrypt operators need a key: set KEEL_REDACT_KEY to base64 of 32 random bytes")
		}
		if p.Key, err = base64.StdEncoding.DecodeString(enc); err != nil {
			return nil, errors.New("KEEL_REDACT_KEY is not valid base64")
		}
	}
	if err := p.Prepare(); err != nil {
		return nil, err
	}
	return p, nil
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
		return fmt.Errorf("unknown entity type %q", name)
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
