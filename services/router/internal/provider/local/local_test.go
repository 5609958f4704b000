package local

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

var helpArticles = []provider.Passage{
	{
		ChunkID: "kb-shipping#0",
		Title:   "Shipping times",
		Text: "Standard shipping takes 3 to 5 business days. " +
			"Express shipping arrives the next business day when ordered before noon.",
	},
	{
		ChunkID: "kb-returns#0",
		Title:   "Returns",
		Text: "You can return unused items within 30 days of delivery. " +
			"Refunds are issued to the original payment method once the return is inspected.",
	},
}

func user(text string) provider.Message {
	return provider.Message{Role: provider.RoleUser, Content: text}
}

func TestGenerateGroundedReply(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name          string
		question      string
		passages      []provider.Passage
		wantGreeting  string
		wantContains  []string
		wantAbsent    []string
		wantCitations []string
		wantNotFound  bool
	}{
		{
			name:          "returns question cites the returns article",
			question:      "Hi, how many days do I have to return an unused item? Thanks, [PERSON_1]",
			passages:      helpArticles,
			wantGreeting:  "Hello [PERSON_1],",
			wantContains:  []string{"You can return unused items within 30 days of delivery. [2]"},
			wantAbsent:    []string{"Express shipping"},
			wantCitations: []string{"kb-returns#0"},
		},
		{
			name:          "shipping question without a name",
			question:      "How long does express shipping take?",
			passages:      helpArticles,
			wantGreeting:  "Hello,",
			wantContains:  []string{"Express shipping arrives the next business day", "[1]"},
			wantCitations: []string{"kb-shipping#0"},
		},
		{
			name:         "no passages",
			question:     "How long does express shipping take?",
			wantGreeting: "Hello,",
			wantNotFound: true,
		},
		{
			name:         "no relevant passage",
			question:     "Can I change the colour of my sofa cushions after purchase?",
			passages:     helpArticles,
			wantGreeting: "Hello,",
			wantNotFound: true,
		},
		{
			name:         "placeholders in the question stay untouched and are not echoed",
			question:     "My email [EMAIL_1] gets no shipping updates for express shipping.",
			passages:     helpArticles,
			wantGreeting: "Hello,",
			wantContains: []string{"[1]"},
			wantAbsent:   []string{"[EMAIL_1]", "@"},
			wantCitations: []string{
				"kb-shipping#0",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			req := provider.Request{Messages: []provider.Message{user(tt.question)}, Passages: tt.passages}
			resp, err := New("local").Generate(context.Background(), req)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}

			if !strings.HasPrefix(resp.Text, tt.wantGreeting+"\n") {
				t.Errorf("reply does not start with %q:\n%s", tt.wantGreeting, resp.Text)
			}
			for _, s := range tt.wantContains {
				if !strings.Contains(resp.Text, s) {
					t.Errorf("reply lacks %q:\n%s", s, resp.Text)
				}
			}
			for _, s := range tt.wantAbsent {
				if strings.Contains(resp.Text, s) {
					t.Errorf("reply contains %q:\n%s", s, resp.Text)
				}
			}
			if diff := cmp.Diff(tt.wantCitations, resp.Citations); diff != "" {
				t.Errorf("citations (-want +got):\n%s", diff)
			}
			if got := strings.Contains(resp.Text, NotFoundSentence); got != tt.wantNotFound {
				t.Errorf("not-found sentence present = %v, want %v:\n%s", got, tt.wantNotFound, resp.Text)
			}
			if tt.wantNotFound && resp.Confidence != 0 {
				t.Errorf("confidence = %v, want 0 without grounding", resp.Confidence)
			}
			if !tt.wantNotFound && (resp.Confidence <= 0 || resp.Confidence > 1) {
				t.Errorf("confidence = %v, want in (0, 1]", resp.Confidence)
			}
			if resp.FinishReason != provider.FinishStop {
				t.Errorf("finish reason = %q, want stop", resp.FinishReason)
			}
			if resp.Usage.InputTokens == 0 || resp.Usage.OutputTokens == 0 {
				t.Errorf("usage = %+v, want both counts set", resp.Usage)
			}
		})
	}
}

// wrappedArticles are help articles as they are written: Markdown wrapped
// at a fixed width, with lists and headings.
var wrappedArticles = []provider.Passage{
	{
		ChunkID: "kb-tracking#0",
		Title:   "Tracking your parcel",
		Text: "When your order leaves our warehouse we send a dispatch email from\n" +
			"[EMAIL_1] with a tracking number and a link to the\n" +
			"carrier's tracking page. This email normally arrives within 24 hours of\n" +
			"dispatch.",
	},
	{
		ChunkID: "kb-tracking#2",
		Title:   "Tracking your parcel > Reading the status",
		Text: "- **Label created:** the label is printed, but the carrier has not scanned\n" +
			"  the parcel yet. This can last up to 24 hours after dispatch, longer on\n" +
			"  Fridays.\n" +
			"- **In transit:** the parcel is moving through the carrier's network.",
	},
}

// TestGenerateQuotesOnlyPassages checks that every cited line of the answer
// is a sentence taken verbatim from the unwrapped passage its marker names.
func TestGenerateQuotesOnlyPassages(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		question string
		passages []provider.Passage
	}{
		{
			name:     "one-line passages",
			question: "When are refunds issued after I return items?",
			passages: helpArticles,
		},
		{
			name: "wrapped passages",
			question: "Subject: Where is my order?\n\nThe tracking page has said " +
				"\"Label created\" for a week. Did my parcel leave the warehouse?",
			passages: wrappedArticles,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			req := provider.Request{Messages: []provider.Message{user(tt.question)}, Passages: tt.passages}
			resp, err := New("local").Generate(context.Background(), req)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}

			quoted := 0
			for _, line := range strings.Split(resp.Text, "\n") {
				m := citationMarker.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				n, _ := strconv.Atoi(m[2])
				if n < 1 || n > len(tt.passages) {
					t.Fatalf("line %q cites [%d] of %d passages", line, n, len(tt.passages))
				}
				source := unwrap(tt.passages[n-1].Text)
				if !strings.Contains(source, m[1]) {
					t.Errorf("cited line %q is not in passage %d:\n%s", m[1], n, source)
				}
				if strings.Contains(m[1], "\n") || !strings.HasSuffix(m[1], ".") {
					t.Errorf("cited line %q is not a whole sentence", m[1])
				}
				quoted++
			}
			if quoted == 0 {
				t.Fatalf("no cited line in reply:\n%s", resp.Text)
			}
		})
	}
}

// citationMarker matches a reply line that quotes a sentence with its
// marker: the sentence and the passage number.
var citationMarker = regexp.MustCompile(`^(.+) \[(\d+)\]$`)

// TestGenerateReplyLayout pins the whole reply: greeting, order status,
// quoted sentences in passage order and closing.
func TestGenerateReplyLayout(t *testing.T) {
	t.Parallel()

	question := "Subject: Where is my order ORD-10421?\n\nHello,\n\nThe tracking page has said " +
		"\"Label created\" for a\nweek. Did the parcel leave the warehouse? It is a Christmas " +
		"present, so I am\nnervous.\n\nDelivery address:\n[PERSON_1]\n2217 Linden Street\n" +
		"Dayton, OH 45410\n\nThank you,\n[PERSON_1]"
	req := provider.Request{
		Messages: []provider.Message{
			user(question),
			{
				Role:       provider.RoleTool,
				ToolCallID: "call_1",
				Content:    `{"order_id":"ORD-10421","status":"payment_failed"}`,
			},
		},
		Passages: wrappedArticles,
	}
	resp, err := New("local").Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}

	want := `Hello [PERSON_1],

Thank you for contacting us. The current status of your order ORD-10421 is: payment failed.

Here is what our help articles say:
When your order leaves our warehouse we send a dispatch email from [EMAIL_1] with a tracking number and a link to the carrier's tracking page. [1]
**Label created:** the label is printed, but the carrier has not scanned the parcel yet. [2]

If anything is unclear, just reply to this message.

Kind regards,
Customer Support`
	if diff := cmp.Diff(want, resp.Text); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"kb-tracking#0", "kb-tracking#2"}, resp.Citations); diff != "" {
		t.Errorf("citations (-want +got):\n%s", diff)
	}
	if resp.Confidence < 0.3 || resp.Confidence > 1 {
		t.Errorf("confidence = %v, want an answerable question at or above the review threshold 0.3",
			resp.Confidence)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	t.Parallel()

	req := provider.Request{
		Messages: []provider.Message{user("How do refunds and returns work?")},
		Passages: helpArticles,
	}
	p := New("local")
	first, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	for range 5 {
		again, err := p.Generate(context.Background(), req)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Fatalf("second reply differs (-first +again):\n%s", diff)
		}
	}
}

func TestOrderNumber(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		text   string
		want   string
		wantOK bool
	}{
		{name: "ord prefix", text: "Where is ord-12345 now?", want: "ORD-12345", wantOK: true},
		{name: "hash", text: "My package #987654 never came", want: "987654", wantOK: true},
		{name: "order word", text: "about order 55512, it is late", want: "55512", wantOK: true},
		{name: "order number words", text: "Order number 77123 is broken", want: "77123", wantOK: true},
		{name: "no order", text: "I ordered 3 items in 2024", wantOK: false},
		{name: "short hash is not an order", text: "see step #2", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, ok := OrderNumber(tt.text)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("OrderNumber(%q) = %q, %v; want %q, %v", tt.text, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestGenerateToolUse(t *testing.T) {
	t.Parallel()

	tools := []provider.Tool{{Name: LookupOrderTool, Parameters: []byte(`{"type":"object"}`)}}
	question := user("Hello, where is my order ORD-12345? [PERSON_1]")

	// First turn: the provider asks for the order.
	req := provider.Request{Messages: []provider.Message{question}, Passages: helpArticles, Tools: tools}
	resp, err := New("local").Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.FinishReason != provider.FinishToolCalls {
		t.Fatalf("finish reason = %q, want tool_calls", resp.FinishReason)
	}
	if len(resp.ToolCalls) != 1 {
		t.Fatalf("tool calls = %+v, want one", resp.ToolCalls)
	}
	call := resp.ToolCalls[0]
	if call.Name != LookupOrderTool || call.Arguments != `{"order_id":"ORD-12345"}` || call.ID == "" {
		t.Fatalf("tool call = %+v", call)
	}

	// Second turn: the result is in and the reply carries the status.
	req.Messages = append(req.Messages,
		provider.Message{Role: provider.RoleAssistant, ToolCalls: resp.ToolCalls},
		provider.Message{
			Role:       provider.RoleTool,
			ToolCallID: call.ID,
			Content:    `{"order_id":"ORD-12345","status":"shipped"}`,
		},
	)
	resp, err = New("local").Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.FinishReason != provider.FinishStop || len(resp.ToolCalls) != 0 {
		t.Fatalf("second turn = %+v, want a final reply", resp)
	}
	if !strings.Contains(resp.Text, "order ORD-12345 is: shipped.") {
		t.Errorf("reply lacks the order status:\n%s", resp.Text)
	}
	if !strings.HasPrefix(resp.Text, "Hello [PERSON_1],") {
		t.Errorf("reply does not greet the placeholder name:\n%s", resp.Text)
	}
}

func TestGenerateNoToolWithoutOffer(t *testing.T) {
	t.Parallel()

	req := provider.Request{Messages: []provider.Message{user("Where is order 12345?")}}
	resp, err := New("local").Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(resp.ToolCalls) != 0 || resp.FinishReason != provider.FinishStop {
		t.Errorf("got tool calls %+v, finish %q; want none without tools offered", resp.ToolCalls, resp.FinishReason)
	}
}

func TestGenerateMaxOutputTokens(t *testing.T) {
	t.Parallel()

	req := provider.Request{
		Messages:        []provider.Message{user("How long does express shipping take?")},
		Passages:        helpArticles,
		MaxOutputTokens: 8,
	}
	resp, err := New("local").Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.FinishReason != provider.FinishLength {
		t.Errorf("finish reason = %q, want length", resp.FinishReason)
	}
	if got := len(strings.Fields(resp.Text)); got != 6 {
		t.Errorf("reply has %d words, want 6: %q", got, resp.Text)
	}
}

func TestStreamJoinsToGenerate(t *testing.T) {
	t.Parallel()

	req := provider.Request{
		Messages: []provider.Message{user("How long does express shipping take?")},
		Passages: helpArticles,
	}
	var b strings.Builder
	deltas := 0
	resp, err := New("local").Stream(context.Background(), req, func(d provider.Delta) error {
		deltas++
		b.WriteString(d.Text)
		return nil
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if b.String() != resp.Text {
		t.Errorf("joined deltas differ from the final text:\n%q\n%q", b.String(), resp.Text)
	}
	if deltas < 10 {
		t.Errorf("got %d deltas, want one per word", deltas)
	}

	// A callback error stops the stream.
	stop := errors.New("client went away")
	_, err = New("local").Stream(context.Background(), req, func(provider.Delta) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("Stream error = %v, want %v", err, stop)
	}
}

func TestGenerateCanceled(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New("local").Generate(ctx, provider.Request{Messages: []provider.Message{user("hi")}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func TestGenerateDeadlinePassed(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	_, err := New("local").Generate(ctx, provider.Request{Messages: []provider.Message{user("hi")}})
	if !errors.Is(err, provider.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want ErrTimedOut wrapping the deadline", err)
	}
}
