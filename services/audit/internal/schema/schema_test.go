package schema

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/pkg/pgdb"
	"github.com/keelhq/keel/pkg/pgtest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(pool.Close)

	for range 2 { // applying again is a no-op
		if err := Migrate(ctx, pool); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}

	tests := []struct {
		table      string
		privileges map[string]bool
	}{
		{"audit_records", map[string]bool{
			"SELECT": true, "INSERT": true, "UPDATE": false, "DELETE": false, "TRUNCATE": false}},
		{"audit_heads", map[string]bool{
			"SELECT": true, "INSERT": true, "UPDATE": true, "DELETE": false, "TRUNCATE": false}},
		{"usage_records", map[string]bool{
			"SELECT": true, "INSERT": true, "UPDATE": false, "DELETE": false, "TRUNCATE": false}},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			var enabled, forced bool
			err := pool.QueryRow(ctx,
				"SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1",
				tt.table).Scan(&enabled, &forced)
			if err != nil {
				t.Fatalf("read row security of %s: %v", tt.table, err)
			}
			if !enabled || !forced {
				t.Errorf("row security enabled %v, forced %v; want both", enabled, forced)
			}

			got := map[string]bool{}
			for p := range tt.privileges {
				var has bool
				err := pool.QueryRow(ctx, "SELECT has_table_privilege($1, $2, $3)",
					pgdb.AppRole, tt.table, p).Scan(&has)
				if err != nil {
					t.Fatalf("check privilege %s: %v", p, err)
				}
				got[p] = has
			}
			if diff := cmp.Diff(tt.privileges, got); diff != "" {
				t.Errorf("%s privileges of %s mismatch (-want +got):\n%s", pgdb.AppRole, tt.table, diff)
			}
		})
	}
}
