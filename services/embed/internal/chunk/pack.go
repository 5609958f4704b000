package chunk

// packing holds what packing the units of one document needs: running sums
// of the unit sizes, so the size of any run of units is two subtractions.
type packing struct {
	s *Splitter
	d *document
	// sum[i] is the size of units[:i]; gaps[i] the size of the text between
	// units up to unit i (the white space and separators between them).
	sum, gaps []measure
	// itemLast[i] is the index of the last unit of unit i's item.
	itemLast []int
	// headers[b] is the header of block b and its size, or empty when the
	// block has none or it would take more than half a chunk.
	headers []sizedText
}

// sizedText is a text with its measure.
type sizedText struct {
	text string
	size measure
}

// newPacking prepares d for packing.
func (s *Splitter) newPacking(d *document) *packing {
	n := len(d.units)
	p := &packing{
		s:        s,
		d:        d,
		sum:      make([]measure, n+1),
		gaps:     make([]measure, n+1),
		itemLast: make([]int, n),
		headers:  make([]sizedText, len(d.blocks)),
	}
	for i, u := range d.units {
		p.sum[i+1] = p.sum[i].add(u.size)
		gap := measure{}
		if i > 0 {
			gap = measureOf(d.text[d.units[i-1].end:u.start])
			gap.bytes = 0 // bytes are measured from offsets
		}
		p.gaps[i+1] = p.gaps[i].add(gap)
	}
	for i := n - 1; i >= 0; i-- {
		p.itemLast[i] = i
		if i+1 < n && d.units[i+1].item == d.units[i].item {
			p.itemLast[i] = p.itemLast[i+1]
		}
	}
	for i, b := range d.blocks {
		if b.header == "" {
			continue
		}
		h := sizedText{text: b.header, size: measureOf(b.header)}
		if s.halfWithin(h.size) {
			p.headers[i] = h
		}
	}
	return p
}

// size returns the size of the text from unit a to unit z, both included.
func (p *packing) size(a, z int) measure {
	m := p.sum[z+1]
	m.words -= p.sum[a].words
	m.tokens -= p.sum[a].tokens
	m.words += p.gaps[z+1].words - p.gaps[a+1].words
	m.tokens += p.gaps[z+1].tokens - p.gaps[a+1].tokens
	m.bytes = p.d.units[z].end - p.d.units[a].start
	return m
}

// header returns the header a chunk starting at unit a carries: its block's
// header when the chunk starts after what the header repeats (a table's
// header row, a code block's opening fence), or always for blocks whose
// every chunk carries it (diff hunks).
func (p *packing) header(a int) sizedText {
	u := p.d.units[a]
	b := p.d.blocks[u.block]
	if !b.headerAlways && a <= b.headerUntil {
		return sizedText{}
	}
	return p.headers[u.block]
}

// fits reports whether units a to z, with the header h, stay within the
// limits.
func (p *packing) fits(a, z int, h sizedText) bool {
	return p.s.within(p.size(a, z).add(h.size))
}

// fitsAlone reports whether units a to z fit in a chunk of their own.
func (p *packing) fitsAlone(a, z int) bool {
	return p.fits(a, z, p.header(a))
}

// pack cuts the units of d into chunks of the document docID.
func (s *Splitter) pack(docID string, d *document) []Chunk {
	if len(d.units) == 0 {
		return nil
	}
	p := s.newPacking(d)
	n := len(d.units)

	var chunks []Chunk
	seen := make(map[string]int)
	for first := 0; first < n; {
		h := p.header(first)
		if !p.fits(first, first, h) {
			h = sizedText{}
		}
		last := first
		for last+1 < n && p.extends(first, last, h) {
			last++
		}
		if c, ok := p.chunk(docID, first, last, h, seen); ok {
			c.Ordinal = len(chunks)
			chunks = append(chunks, c)
		}
		first = p.nextFirst(first, last)
	}
	return chunks
}

// extends reports whether the chunk of units first to last, with header h,
// should take the next unit too. A chunk ends at a section boundary; before
// a block or item that does not fit in what is left of the chunk when that
// block or item would fit in a chunk of its own, or when the chunk is
// already half full; and where the next unit does not fit.
func (p *packing) extends(first, last int, h sizedText) bool {
	units := p.d.units
	next := last + 1
	u, prev := units[next], units[last]
	if p.d.blocks[u.block].group != p.d.blocks[prev.block].group {
		return false
	}

	// Keep a whole block, then a whole item, together when it can be.
	var ends []int
	if u.block != prev.block {
		ends = append(ends, p.d.blocks[u.block].last)
	}
	if u.item != prev.item {
		ends = append(ends, p.itemLast[next])
	}
	for _, end := range ends {
		if p.fits(first, end, h) {
			break
		}
		if p.fitsAlone(next, end) || !p.s.halfWithin(p.size(first, last).add(h.size)) {
			return false
		}
	}

	return p.fits(first, next, h)
}

// nextFirst returns the first unit of the chunk after the units first to
// last: the next unit, or, when the cut falls inside an item, the trailing
// units of the chunk that overlap into the next one. The overlap stays
// within OverlapTokens and OverlapSentences and half the limits, never
// takes the whole chunk, and leaves room for the next unit.
func (p *packing) nextFirst(first, last int) int {
	units := p.d.units
	next := last + 1
	if next >= len(units) || p.s.opts.OverlapTokens <= 0 || units[next].item != units[last].item {
		return next
	}

	start := next
	for k := last; k > first; k-- {
		if units[k].item != units[next].item {
			break
		}
		if limit := p.s.opts.OverlapSentences; limit > 0 && last-k+1 > limit {
			break
		}
		overlap := p.size(k, last)
		if overlap.tokens > p.s.opts.OverlapTokens || !p.s.halfWithin(overlap) {
			break
		}
		if !p.fits(k, next, p.header(k)) {
			break
		}
		start = k
	}
	return start
}

// chunk returns the chunk of units first to last with the header h, or
// false when it is junk. seen counts the chunks already made by identity,
// to number repeats.
func (p *packing) chunk(docID string, first, last int, h sizedText, seen map[string]int) (Chunk, bool) {
	d := p.d
	a, z := d.units[first].start, d.units[last].end
	c := Chunk{
		Headings: d.blocks[d.units[first].block].headings,
		Header:   h.text,
		Quoted:   d.blocks[d.units[first].block].quoted,
		Text:     d.text[a:z],
		Start:    a,
		End:      z,
	}
	if d.spans != nil {
		c.Start, c.End = d.spans[a].start, d.spans[z-1].end
	}
	if isJunk(c.Text, p.s.opts.MinAlnum) {
		return Chunk{}, false
	}

	// The id of the first occurrence names the chunk's content.
	c.ID = ID(docID, c.Headings, c.Header, c.Text, 0)
	occurrence := seen[c.ID]
	seen[c.ID]++
	if occurrence > 0 {
		c.ID = ID(docID, c.Headings, c.Header, c.Text, occurrence)
	}
	return c, true
}
