package routing

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// splitRouter is a router whose route "r" splits its traffic 1:1 between a
// and b, with c as failover only.
func splitRouter(t *testing.T, sticky string, steps map[string][]step) (*Router, *callLog) {
	t.Helper()
	log := &callLog{}
	file := File{Routes: map[string]Route{"r": {
		Providers: []Candidate{
			{Provider: "a", Model: "ma", Weight: 1},
			{Provider: "b", Model: "mb", Weight: 1},
			{Provider: "c", Model: "mc"},
		},
		Sticky: sticky,
	}}}
	return newTestRouter(t, file, scripted(log, steps, "a", "b", "c"), Options{}), log
}

func TestWeightedSplit(t *testing.T) {
	t.Parallel()

	r, _ := splitRouter(t, "", nil)
	sides := map[string]int{}
	for i := range 200 {
		tn := fmt.Sprintf("tenant-%d", i)
		var first string
		for range 3 {
			res, err := r.Generate(tenantCtx(tn), "r", provider.Request{})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if first == "" {
				first = res.Provider
			} else if res.Provider != first {
				t.Fatalf("tenant %s went to %s then %s; want it to stay on one side", tn, first, res.Provider)
			}
		}
		sides[first]++
	}
	if sides["a"] == 0 || sides["b"] == 0 || sides["c"] != 0 {
		t.Errorf("sides = %v, want both a and b used and c never first", sides)
	}
}

func TestWeightedSplitFailover(t *testing.T) {
	t.Parallel()

	// Find a tenant assigned to b, the second candidate of the route.
	probe, _ := splitRouter(t, "", nil)
	var onB string
	for i := 0; onB == ""; i++ {
		if i == 1000 {
			t.Fatal("no tenant is assigned to b")
		}
		tn := fmt.Sprintf("tenant-%d", i)
		if res, err := probe.Generate(tenantCtx(tn), "r", provider.Request{}); err == nil && res.Provider == "b" {
			onB = tn
		}
	}

	server := classErr(provider.ErrServerFailed)
	r, log := splitRouter(t, "", map[string][]step{"b": {{err: server}}, "a": {{err: server}}})
	res, err := r.Generate(tenantCtx(onB), "r", provider.Request{})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	// b first, then the others in the route's order.
	if diff := cmp.Diff([]string{"b", "a", "c"}, log.get()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if res.Provider != "c" {
		t.Errorf("provider = %q, want c", res.Provider)
	}
}

func TestWeightedSplitStickyConversation(t *testing.T) {
	t.Parallel()

	call := func(r *Router, tn, conv string) string {
		t.Helper()
		res, err := r.Do(tenantCtx(tn), Call{UseCase: "r", Conversation: conv})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		return res.Provider
	}

	t.Run("by conversation", func(t *testing.T) {
		t.Parallel()
		r, _ := splitRouter(t, "conversation", nil)
		sides := map[string]int{}
		for i := range 200 {
			conv := fmt.Sprintf("conv-%d", i)
			first := call(r, "acme", conv)
			if again := call(r, "acme", conv); again != first {
				t.Fatalf("conversation %s went to %s then %s", conv, first, again)
			}
			sides[first]++
		}
		if sides["a"] == 0 || sides["b"] == 0 {
			t.Errorf("sides = %v, want one tenant's conversations on both sides", sides)
		}
		// Without a conversation the tenant decides.
		if a, b := call(r, "acme", ""), call(r, "acme", ""); a != b {
			t.Errorf("calls without a conversation went to %s and %s", a, b)
		}
	})

	t.Run("by tenant ignores the conversation", func(t *testing.T) {
		t.Parallel()
		r, _ := splitRouter(t, "tenant", nil)
		want := call(r, "acme", "")
		for i := range 50 {
			if got := call(r, "acme", fmt.Sprintf("conv-%d", i)); got != want {
				t.Fatalf("conversation %d went to %s, want the tenant's %s", i, got, want)
			}
		}
	})
}

func TestOrder(t *testing.T) {
	t.Parallel()

	r, _ := splitRouter(t, "", nil)
	route := r.file.Routes["r"]
	seen := map[string]bool{}
	for i := range 100 {
		got := r.order(route, fmt.Sprintf("tenant-%d", i), "")
		names := make([]string, len(got))
		for j, c := range got {
			names[j] = c.Provider
		}
		seen[names[0]] = true
		var want []string
		switch names[0] {
		case "a":
			want = []string{"a", "b", "c"}
		case "b":
			want = []string{"b", "a", "c"}
		}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Fatalf("order for tenant-%d (-want +got):\n%s", i, diff)
		}
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("first candidates seen = %v, want a and b", seen)
	}

	// A route without weights keeps its order for everybody.
	plain := Route{Providers: []Candidate{{Provider: "a"}, {Provider: "b"}}}
	for i := range 20 {
		if got := r.order(plain, fmt.Sprintf("tenant-%d", i), ""); got[0].Provider != "a" {
			t.Fatalf("unweighted route reordered: %+v", got)
		}
	}
}
