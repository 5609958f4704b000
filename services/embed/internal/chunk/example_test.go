package chunk_test

import (
	"fmt"

	"github.com/keelhq/keel/services/embed/internal/chunk"
)

func ExampleSplitter_SplitFormat() {
	doc := `# Plans

| Plan | Price |
|------|-------|
| Basic | 10 dollars a month |
| Standard | 20 dollars a month |
| Premium | 30 dollars a month |
`
	s := chunk.NewSplitter(chunk.Options{MaxChars: 80})
	for _, c := range s.SplitFormat("kb-1", doc, chunk.FormatMarkdown) {
		fmt.Printf("%d [%d:%d] %s\n%s\n", c.Ordinal, c.Start, c.End, c.HeadingPath(), c.EmbedText())
	}
	// Output:
	// 0 [9:73] Plans
	// | Plan | Price |
	// |------|-------|
	// | Basic | 10 dollars a month |
	// 1 [74:107] Plans
	// | Plan | Price |
	// |------|-------|
	// | Standard | 20 dollars a month |
	// 2 [108:140] Plans
	// | Plan | Price |
	// |------|-------|
	// | Premium | 30 dollars a month |
}
