package hnsw_test

import (
	"fmt"
	"log"

	"github.com/keelhq/keel/services/retrieve/internal/hnsw"
)

func ExampleIndex_Search() {
	x, err := hnsw.New(3, hnsw.Options{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	chunks := map[string][]float32{
		"refunds":  {0.9, 0.1, 0},
		"shipping": {0.8, 0.3, 0},
		"warranty": {0, 0.2, 0.9},
	}
	for id, vec := range chunks {
		if err := x.Add(id, vec); err != nil {
			log.Fatal(err)
		}
	}

	// Only chunks the caller may read are results.
	mayRead := func(id string) bool { return id != "refunds" }
	results, err := x.Search([]float32{1, 0, 0}, 2, 0, mayRead)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Printf("%s %.2f\n", r.ID, r.Score)
	}
	// Output:
	// shipping 0.94
	// warranty 0.00
}
