package routing

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/keelhq/keel/pkg/tenant"
	"github.com/keelhq/keel/services/router/internal/prompt"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// capturingProvider remembers the requests it was sent.
type capturingProvider struct {
	mu   sync.Mutex
	reqs []provider.Request
}

func (p *capturingProvider) Name() string { return "cap" }

func (p *capturingProvider) Generate(_ context.Context, req provider.Request) (provider.Response, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, req)
	return provider.Response{Text: "ok", FinishReason: provider.FinishStop}, nil
}

func (p *capturingProvider) Stream(ctx context.Context, req provider.Request, emit func(provider.Delta) error) (provider.Response, error) {
	resp, err := p.Generate(ctx, req)
	if err != nil {
		return resp, err
	}
	return resp, emit(provider.Delta{Text: resp.Text})
}

func templateFile() File {
	return File{
		Routes: map[string]Route{
			"reply": {
				Providers: []Candidate{{Provider: "cap", Model: "m"}},
				Template:  &TemplateRef{Name: "greet", Version: 2},
			},
			"plain": {Providers: []Candidate{{Provider: "cap", Model: "m"}}},
		},
		Providers: map[string]ProviderConfig{"cap": {Type: TypeLocal}},
		Templates: map[string][]prompt.Version{"greet": {
			{Version: 1, Variables: map[string]string{"name": "string"}, System: "Hi {{.name}}"},
			{Version: 2, Variables: map[string]string{"name": "string", "orders": "integer"},
				System: "Greet {{.name}}, who has {{.orders}} orders."},
		}},
	}
}

func TestTemplateRendered(t *testing.T) {
	t.Parallel()

	file := templateFile()
	if err := file.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	p := &capturingProvider{}
	rec := &recorderFunc{}
	r, err := New(file, map[string]provider.Provider{"cap": p}, Options{Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenant.With(context.Background(), "acme")

	res, err := r.Do(ctx, Call{
		UseCase:   "reply",
		Request:   userRequest("where is my parcel"),
		Variables: map[string]string{"name": "Ana", "orders": "3"},
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	sent := p.reqs[0].Messages
	if len(sent) != 2 || sent[0].Role != provider.RoleSystem || sent[0].Content != "Greet Ana, who has 3 orders." ||
		sent[1].Content != "where is my parcel" {
		t.Errorf("messages sent = %+v", sent)
	}
	if res.Template != "greet" || res.TemplateVersion != 2 {
		t.Errorf("result names template %q v%d", res.Template, res.TemplateVersion)
	}
	if got := rec.records[0]; got.Template != "greet" || got.TemplateVersion != 2 {
		t.Errorf("record names template %q v%d", got.Template, got.TemplateVersion)
	}
	// A stream says which template before its first piece.
	var starts []StreamStart
	if _, err := r.Do(ctx, Call{
		UseCase:   "reply",
		Request:   userRequest("where is my parcel"),
		Variables: map[string]string{"name": "Ana", "orders": "3"},
		Emit:      func(provider.Delta) error { return nil },
		Started:   func(s StreamStart) error { starts = append(starts, s); return nil },
	}); err != nil {
		t.Fatalf("Do streamed: %v", err)
	}
	if len(starts) != 1 || starts[0].Template != "greet" || starts[0].TemplateVersion != 2 || starts[0].Provider != "cap" {
		t.Errorf("stream starts %+v, want one naming greet v2 and cap", starts)
	}

	// Wrong or missing variables are the caller's error; nobody is called.
	for _, vars := range []map[string]string{
		{"name": "Ana", "orders": "three"},
		{"name": "Ana"},
		{"name": "Ana", "orders": "3", "extra": "x"},
	} {
		_, err := r.Do(ctx, Call{UseCase: "reply", Request: userRequest("hi"), Variables: vars})
		if !errors.Is(err, provider.ErrRequestRejected) {
			t.Errorf("variables %v: error = %v, want ErrRequestRejected", vars, err)
		}
	}
	// Variables for a route without a template are refused too.
	if _, err := r.Do(ctx, Call{UseCase: "plain", Request: userRequest("hi"), Variables: map[string]string{"a": "b"}}); !errors.Is(err, provider.ErrRequestRejected) {
		t.Errorf("variables on a plain route: %v", err)
	}
	if len(p.reqs) != 2 {
		t.Errorf("provider calls = %d, want 2", len(p.reqs))
	}
}

func TestTemplateValidation(t *testing.T) {
	t.Parallel()

	file := templateFile()
	route := file.Routes["reply"]
	route.Template = &TemplateRef{Name: "greet", Version: 9}
	file.Routes["reply"] = route
	if err := file.Validate(); err == nil || !strings.Contains(err.Error(), "greet version 9 is not declared") {
		t.Errorf("Validate = %v, want the missing version named", err)
	}

	file = templateFile()
	file.Templates["greet"] = append(file.Templates["greet"], prompt.Version{Version: 2, System: "again"})
	if err := file.Validate(); err == nil || !strings.Contains(err.Error(), "version 2 declared twice") {
		t.Errorf("Validate = %v, want the repeated version named", err)
	}

	file = templateFile()
	file.Templates["broken"] = []prompt.Version{{Version: 1, System: "{{.undeclared}}"}}
	if err := file.Validate(); !errors.Is(err, prompt.ErrInvalid) {
		t.Errorf("Validate = %v, want prompt.ErrInvalid", err)
	}
}

func TestExactRoute(t *testing.T) {
	t.Parallel()

	file := templateFile()
	file.DefaultRoute = "plain"
	rec := &recorderFunc{}
	r, err := New(file, map[string]provider.Provider{"cap": &capturingProvider{}}, Options{Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenant.With(context.Background(), "acme")
	if res, err := r.Do(ctx, Call{UseCase: "gpt-9", Request: userRequest("hi")}); err != nil || res.Route != "plain" {
		t.Errorf("unknown use case: %+v, %v; want the default route", res, err)
	}
	if _, err := r.Do(ctx, Call{UseCase: "gpt-9", Request: userRequest("hi"), ExactRoute: true}); !errors.Is(err, ErrRouteNotFound) {
		t.Errorf("unknown use case with ExactRoute: %v, want ErrRouteNotFound", err)
	}
	// The refused call is recorded too, under the name asked for, bounded.
	if last := rec.last(t); last.UseCase != "gpt-9" || last.Route != "" || !errors.Is(last.Err, ErrRouteNotFound) {
		t.Errorf("record of the refused call: %+v", last)
	}
	long := strings.Repeat("é", 40) + "\x00\xff"
	if _, err := r.Do(ctx, Call{UseCase: long, ExactRoute: true}); !errors.Is(err, ErrRouteNotFound) {
		t.Fatalf("long unknown name: %v", err)
	}
	if got := rec.last(t).UseCase; got != strings.Repeat("é", 32) {
		t.Errorf("recorded name %q, want the first 64 bytes on a character boundary", got)
	}
	if got := BoundedName("a\x00b\xffc"); got != "a\uFFFDb\uFFFDc" {
		t.Errorf("BoundedName = %q, want control and invalid bytes replaced", got)
	}
}

// TestShadowRendersItsOwnTemplate: a shadow with a template of its own gets
// that template's system message in place of the route's, not both.
func TestShadowRendersItsOwnTemplate(t *testing.T) {
	t.Parallel()

	// A shadow whose template renders with the call's variables gets its
	// own system message, not the route's.
	file2 := templateFile()
	file2.Templates["greet"] = append(file2.Templates["greet"], prompt.Version{
		Version: 3, Variables: map[string]string{"name": "string", "orders": "integer"}, System: "V3 {{.name}}",
	})
	r2route := file2.Routes["reply"]
	r2route.Shadow = &Shadow{Provider: "shadow", Model: "s", Share: 1, Template: &TemplateRef{Name: "greet", Version: 3}}
	file2.Routes["reply"] = r2route
	file2.Providers["shadow"] = ProviderConfig{Type: TypeLocal}
	main2, shadow2 := &capturingProvider{}, &capturingProvider{}
	rec2 := &recorderFunc{}
	r2, err := New(file2, map[string]provider.Provider{"cap": main2, "shadow": shadow2}, Options{Recorder: rec2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Do(tenant.With(context.Background(), "acme"), Call{
		UseCase: "reply", Request: userRequest("hi"), Variables: map[string]string{"name": "Ana", "orders": "3"},
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shadow call", func() bool {
		shadow2.mu.Lock()
		defer shadow2.mu.Unlock()
		return len(shadow2.reqs) > 0
	})
	shadow2.mu.Lock()
	defer shadow2.mu.Unlock()
	if len(shadow2.reqs) != 1 {
		t.Fatalf("shadow calls = %d, want 1", len(shadow2.reqs))
	}
	sent := shadow2.reqs[0].Messages
	if len(sent) != 2 || sent[0].Content != "V3 Ana" || sent[1].Content != "hi" {
		t.Errorf("shadow messages = %+v, want only its own template's system message first", sent)
	}
	if m := main2.reqs[0].Messages[0].Content; m != "Greet Ana, who has 3 orders." {
		t.Errorf("main system message = %q", m)
	}
}
