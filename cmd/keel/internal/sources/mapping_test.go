package sources

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMapping(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		in       string
		want     Mapping
		wantErr  bool
		wantText string
	}{
		{
			name: "full",
			in:   "subject=subject,body=description,email=requester_email,name=requester_name,id=ticket_id,created=created_at",
			want: Mapping{Subject: "subject", Body: "description", CustomerEmail: "requester_email",
				CustomerName: "requester_name", TicketID: "ticket_id", CreatedAt: "created_at"},
		},
		{
			name: "repeated meta keys",
			in:   "body=b,meta=priority,meta=channel",
			want: Mapping{Body: "b", Metadata: []string{"priority", "channel"}},
		},
		{
			name: "spaces, upper-case keys, account and trailing comma",
			in:   " BODY = text , account=customer.id ,",
			want: Mapping{Body: "text", AccountID: "customer.id"},
		},
		{name: "empty", in: "", wantErr: true, wantText: "body is required"},
		{name: "no body", in: "subject=s", wantErr: true, wantText: "body is required"},
		{name: "unknown key", in: "body=b,priority=p", wantErr: true, wantText: `unknown key "priority"`},
		{name: "repeated key", in: "body=a,body=b", wantErr: true, wantText: "given twice"},
		{name: "no equals sign", in: "body", wantErr: true, wantText: "not key=column"},
		{name: "no column", in: "body=", wantErr: true, wantText: "has no column"},
		{name: "every error at once", in: "x=1,body=", wantErr: true, wantText: `unknown key "x"`},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ParseMapping(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidMapping) || !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("error = %v, want ErrInvalidMapping mentioning %q", err, tt.wantText)
				}

				return
			}
			if err != nil {
				t.Fatalf("ParseMapping: %v", err)
			}
			assertEqual(t, "mapping", tt.want, got)

			again, err := ParseMapping(got.String())
			if err != nil {
				t.Fatalf("ParseMapping(String()): %v", err)
			}
			assertEqual(t, "round trip", got, again)
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	t.Parallel()

	want := time.Date(2026, 11, 28, 10, 2, 11, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{name: "RFC 3339 UTC", in: "2026-11-28T10:02:11Z", want: want},
		{name: "RFC 3339 offset", in: "2026-11-28T05:02:11-05:00", want: want},
		{name: "fractional seconds", in: "2026-11-28T10:02:11.250Z", want: want.Add(250 * time.Millisecond)},
		{name: "no zone is UTC", in: "2026-11-28T10:02:11", want: want},
		{name: "space separated", in: "2026-11-28 10:02:11", want: want},
		{name: "RFC 1123", in: "Sat, 28 Nov 2026 10:02:11 +0000", want: want},
		{name: "date only", in: "2026-11-28", want: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		{name: "unix seconds", in: "1795860131", want: time.Unix(1795860131, 0).UTC()},
		{name: "unix milliseconds", in: "1795860131000", want: time.Unix(1795860131, 0).UTC()},
		{name: "words", in: "last Tuesday", wantErr: true},
		{name: "negative", in: "-5", wantErr: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := parseTimestamp(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("time = %v, want %v", got, tt.want)
			}
		})
	}
}
