package auditlog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 6, 1, 10, 0, 0, 123456789, time.FixedZone("X", 7200))
	valid := Entry{ID: "ev-1", Actor: "ingest", Action: "email.redacted", OccurredAt: at}
	tests := []struct {
		name    string
		change  func(*Entry)
		wantErr string // substring; empty means valid
	}{
		{name: "valid", change: func(*Entry) {}},
		{name: "empty subject is fine", change: func(e *Entry) { e.Subject = "" }},
		{name: "missing id", change: func(e *Entry) { e.ID = " " }, wantErr: "id is required"},
		{name: "missing actor and action", change: func(e *Entry) { e.Actor, e.Action = "", "" },
			wantErr: "action is required; actor is required"},
		{name: "missing time", change: func(e *Entry) { e.OccurredAt = time.Time{} },
			wantErr: "occurred_at is required"},
		{name: "long id", change: func(e *Entry) { e.ID = strings.Repeat("x", MaxIDLen+1) },
			wantErr: "id is longer than"},
		{name: "nul in subject", change: func(e *Entry) { e.Subject = "a\x00b" },
			wantErr: "subject is not valid UTF-8 text"},
		{name: "invalid utf-8 attribute", change: func(e *Entry) {
			e.Attributes = map[string]string{"k": "\xff"}
		}, wantErr: `attribute "k" is not valid UTF-8 text`},
		{name: "empty attribute key", change: func(e *Entry) {
			e.Attributes = map[string]string{"": "v"}
		}, wantErr: "attribute key is required"},
		{name: "too many attributes", change: func(e *Entry) {
			e.Attributes = map[string]string{}
			for i := range MaxAttributes + 1 {
				e.Attributes[strings.Repeat("k", i+1)] = ""
			}
		}, wantErr: "more than 64 attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := valid
			tt.change(&e)
			_, err := normalize(e)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("normalize: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidEntry) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("normalize error = %v, want ErrInvalidEntry containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNormalizeTimeAndAttributes(t *testing.T) {
	t.Parallel()
	attrs := map[string]string{"k": "v"}
	e := Entry{ID: "a", Actor: "b", Action: "c", Attributes: attrs,
		OccurredAt: time.Date(2025, 6, 1, 10, 0, 0, 123456789, time.FixedZone("X", 7200))}

	got, err := normalize(e)
	if err != nil {
		t.Fatalf("normalize: %v", err)
	}
	wantTime := time.Date(2025, 6, 1, 8, 0, 0, 123456000, time.UTC)
	if !got.OccurredAt.Equal(wantTime) || got.OccurredAt.Location() != time.UTC {
		t.Errorf("OccurredAt = %v, want %v in UTC", got.OccurredAt, wantTime)
	}
	attrs["k"] = "changed by caller"
	if diff := cmp.Diff(map[string]string{"k": "v"}, got.Attributes); diff != "" {
		t.Errorf("attributes not copied (-want +got):\n%s", diff)
	}

	e.Attributes = nil
	got, err = normalize(e)
	if err != nil {
		t.Fatalf("normalize: %v", err)
	}
	if got.Attributes == nil {
		t.Error("nil attributes were not replaced by an empty map")
	}
}
