package hnsw

import "slices"

// graph is the layered proximity graph and its vectors. Nodes are numbered
// densely in the order they were added; a deleted node keeps its number,
// vector and links until the graph is rebuilt. graph does no locking.
type graph struct {
	dim int
	// maxLinks is M, the most links a node keeps on a level above 0;
	// maxLinks0 is the limit on level 0, 2*M.
	maxLinks, maxLinks0 int

	// vectors holds the unit vectors, in half precision (half.go), in pages
	// of pageNodes nodes: node n's is vectors[n/pageNodes] at
	// [(n%pageNodes)*dim, +dim). Pages, unlike one slice, never move once
	// allocated, so a growing graph does not copy every vector it holds
	// each time it outgrows its capacity.
	vectors [][]uint16
	// links0 holds node n's level-0 slot at [n*(maxLinks0+1), ...): a
	// count followed by maxLinks0 node numbers, the first count of them in
	// use and the rest zero.
	links0 []uint32
	// upper holds node n's slots for levels 1 to levels[n], each a count
	// and maxLinks node numbers; nil for a node on level 0 only.
	upper  [][]uint32
	levels []uint8

	// ids names each node; a deleted node's id is "".
	ids          []string
	deleted      []bool
	deletedCount int
	// live maps the id of each live node to its number.
	live map[string]uint32

	// entry is the node every search starts from, the first to reach
	// maxLevel, the highest level in the graph. maxLevel is -1 until a node
	// is linked, and entry meaningless.
	entry    uint32
	maxLevel int
}

// newGraph returns an empty graph with room for capacity nodes.
func newGraph(dim, m, capacity int) *graph {
	return &graph{
		dim:       dim,
		maxLinks:  m,
		maxLinks0: 2 * m,
		vectors:   make([][]uint16, 0, (capacity+pageNodes-1)/pageNodes),
		links0:    make([]uint32, 0, capacity*(2*m+1)),
		upper:     make([][]uint32, 0, capacity),
		levels:    make([]uint8, 0, capacity),
		ids:       make([]string, 0, capacity),
		deleted:   make([]bool, 0, capacity),
		live:      make(map[string]uint32, capacity),
		maxLevel:  -1,
	}
}

// nodeCount returns the number of nodes, live and deleted.
func (g *graph) nodeCount() int {
	return len(g.levels)
}

// pageNodes is the number of nodes whose vectors share one page.
const pageNodes = 1024

// vector returns node n's unit vector in half precision.
func (g *graph) vector(n uint32) []uint16 {
	start := int(n%pageNodes) * g.dim
	return g.vectors[n/pageNodes][start : start+g.dim : start+g.dim]
}

// decode writes node n's unit vector to buf, grown to the dimension, and
// returns it.
func (g *graph) decode(n uint32, buf []float32) []float32 {
	return decodeHalf(slices.Grow(buf[:0], g.dim)[:g.dim], g.vector(n))
}

// appendVector stores the vector of the next node, vec multiplied by
// factor, opening a page when the last one is full.
func (g *graph) appendVector(vec []float32, factor float64) {
	last := len(g.vectors) - 1
	if last < 0 || len(g.vectors[last]) == pageNodes*g.dim {
		g.vectors = append(g.vectors, make([]uint16, 0, pageNodes*g.dim))
		last++
	}
	page := g.vectors[last]
	for _, x := range vec {
		page = append(page, toHalf(float32(float64(x)*factor)))
	}
	g.vectors[last] = page
}

// slot returns node n's link slot on level: a count, then the links.
func (g *graph) slot(n uint32, level int) []uint32 {
	if level == 0 {
		start := int(n) * (g.maxLinks0 + 1)
		return g.links0[start : start+g.maxLinks0+1 : start+g.maxLinks0+1]
	}
	start := (level - 1) * (g.maxLinks + 1)
	return g.upper[n][start : start+g.maxLinks+1 : start+g.maxLinks+1]
}

// neighbours returns the nodes node n links to on level.
func (g *graph) neighbours(n uint32, level int) []uint32 {
	s := g.slot(n, level)
	return s[1 : 1+s[0]]
}

// setNeighbours makes chosen the links of the slot, zeroing the unused
// places.
func setNeighbours(slot []uint32, chosen []candidate) {
	slot[0] = uint32(len(chosen))
	for i, c := range chosen {
		slot[1+i] = c.node
	}
	clear(slot[1+len(chosen):])
}

// grow makes room in the vector and level-0 slabs for n more nodes, so
// that a bulk load allocates them once and leaves no spare capacity.
func (g *graph) grow(n int) {
	g.links0 = slices.Grow(g.links0, n*(g.maxLinks0+1))
}

// appendNode stores a node without links and returns its number. Its
// vector is a copy of vec multiplied by factor, which must make it a unit
// vector.
func (g *graph) appendNode(id string, vec []float32, factor float64, level int) uint32 {
	n := uint32(g.nodeCount())
	g.appendVector(vec, factor)
	g.links0 = append(g.links0, make([]uint32, g.maxLinks0+1)...)
	var upper []uint32
	if level > 0 {
		upper = make([]uint32, level*(g.maxLinks+1))
	}
	g.upper = append(g.upper, upper)
	g.levels = append(g.levels, uint8(level))
	g.ids = append(g.ids, id)
	g.deleted = append(g.deleted, false)
	g.live[id] = n
	return n
}

// markDeleted turns live node n into a tombstone.
func (g *graph) markDeleted(n uint32) {
	delete(g.live, g.ids[n])
	g.ids[n] = ""
	g.deleted[n] = true
	g.deletedCount++
}

// insertPlan holds the candidate neighbours of a node about to be linked,
// found on the graph as it stood before.
type insertPlan struct {
	// top is the highest level searched, -1 when the graph was empty.
	top int
	// found[l] holds the candidates found on level l, best first.
	found [levelCap + 1][]candidate
}

// plan fills p for node n, already appended, as the first half of linking
// it into the graph (algorithm 1 of the paper): a greedy descent from the
// entry point to the node's top level, then on each level from there down
// a search for the efConstruction nodes most similar to it. plan only reads
// the graph, so several may run at once.
func (g *graph) plan(n uint32, efConstruction int, s *scratch, p *insertPlan) {
	level := int(g.levels[n])
	p.top = min(level, g.maxLevel)
	if g.maxLevel < 0 {
		return
	}

	s.query = g.decode(n, s.query)
	q := s.query
	start := candidate{node: g.entry, score: dotHalf(q, g.vector(g.entry))}
	start = g.descend(q, start, g.maxLevel, level)
	s.entries = append(s.entries[:0], start)
	entries := s.entries
	for l := p.top; l >= 0; l-- {
		found := g.searchLayer(q, entries, efConstruction, l, nil, s)
		p.found[l] = append(p.found[l][:0], found...)
		entries = p.found[l]
	}
}

// link gives node n its links on each of its levels and links back to it,
// choosing among the candidates of p and the nodes of earlier, appended
// and linked after p was made. The paper's heuristic picks M of them on
// every level; a neighbour whose slot is full prunes it by the same rule.
func (g *graph) link(n uint32, p *insertPlan, earlier []uint32, s *scratch) {
	level := int(g.levels[n])
	if g.maxLevel < 0 {
		g.entry, g.maxLevel = n, level
		return
	}

	s.query = g.decode(n, s.query)
	q := s.query
	s.batch = s.batch[:0]
	for _, e := range earlier {
		s.batch = append(s.batch, candidate{node: e, score: dotHalf(q, g.vector(e))})
	}
	for l := min(level, g.maxLevel); l >= 0; l-- {
		candidates := s.candidatesOf[:0]
		if l <= p.top {
			candidates = append(candidates, p.found[l]...)
		}
		for _, c := range s.batch {
			if int(g.levels[c.node]) >= l {
				candidates = append(candidates, c)
			}
		}
		if len(s.batch) > 0 {
			sortBestFirst(candidates)
		}
		s.candidatesOf = candidates

		s.chosen = g.selectNeighbours(candidates, g.maxLinks, s.chosen[:0])
		setNeighbours(g.slot(n, l), s.chosen)
		for _, c := range s.chosen {
			g.linkBack(c.node, n, c.score, l, s)
		}
	}

	if level > g.maxLevel {
		g.entry, g.maxLevel = n, level
	}
}

// descend walks greedily from start towards q on each level from top down
// to just above bottom, moving to any neighbour more similar to q, and
// returns the node where it stops.
func (g *graph) descend(q []float32, start candidate, top, bottom int) candidate {
	current := start
	for level := top; level > bottom; level-- {
		for moved := true; moved; {
			moved = false
			for _, nb := range g.neighbours(current.node, level) {
				if score := dotHalf(q, g.vector(nb)); score > current.score {
					current = candidate{node: nb, score: score}
					moved = true
				}
			}
		}
	}
	return current
}

// searchLayer finds the ef nodes of level most similar to q among those
// that eligible accepts (all of them when eligible is nil), starting from
// entries (algorithm 2 of the paper), and returns them best first. The
// result lives in s until its next use.
//
// Nodes that eligible rejects are still walked through, and the search
// stops only once it holds ef eligible nodes and no candidate can improve
// them, so a filter never starves it of results: with few eligible nodes it
// walks the whole reachable level. s.visits counts the nodes it scored.
func (g *graph) searchLayer(
	q []float32,
	entries []candidate,
	ef, level int,
	eligible func(uint32) bool,
	s *scratch,
) []candidate {
	s.visited.reset(g.nodeCount())
	s.candidates.reset(true)
	s.results.reset(false)
	s.visits = 0

	keep := func(c candidate) {
		if eligible != nil && !eligible(c.node) {
			return
		}
		s.results.push(c)
		if s.results.len() > ef {
			s.results.pop()
		}
	}
	for _, e := range entries {
		if s.visited.visit(e.node) {
			continue
		}
		s.visits++
		s.candidates.push(e)
		keep(e)
	}

	for s.candidates.len() > 0 {
		c := s.candidates.pop()
		if s.results.len() >= ef && c.score < s.results.top().score {
			break
		}
		for _, nb := range g.neighbours(c.node, level) {
			if s.visited.visit(nb) {
				continue
			}
			s.visits++
			score := dotHalf(q, g.vector(nb))
			if s.results.len() >= ef && score <= s.results.top().score {
				continue
			}
			next := candidate{node: nb, score: score}
			s.candidates.push(next)
			keep(next)
		}
	}

	s.found = append(s.found[:0], s.results.items...)
	sortBestFirst(s.found)
	return s.found
}

// selectNeighbours appends to dst at most limit of candidates, which are
// sorted best first by similarity to a base node, and returns it. When
// there are more candidates than places it applies the paper's heuristic
// (algorithm 4): a candidate is kept only when it is more similar to the
// base than to every candidate kept before it, so that links point in
// different directions instead of all into the nearest cluster.
func (g *graph) selectNeighbours(candidates []candidate, limit int, dst []candidate) []candidate {
	if len(candidates) <= limit {
		return append(dst, candidates...)
	}
	for _, c := range candidates {
		if len(dst) == limit {
			break
		}
		v := g.vector(c.node)
		diverse := true
		for _, kept := range dst {
			if dotHalves(v, g.vector(kept.node)) > c.score {
				diverse = false
				break
			}
		}
		if diverse {
			dst = append(dst, c)
		}
	}
	return dst
}

// linkBack adds a link from node from to node to on level; score is their
// similarity. A full slot is shrunk back to its limit by the same heuristic
// that picks a new node's links.
func (g *graph) linkBack(from, to uint32, score float32, level int, s *scratch) {
	slot := g.slot(from, level)
	count, limit := int(slot[0]), len(slot)-1
	if count < limit {
		slot[1+count] = to
		slot[0]++
		return
	}

	base := g.vector(from)
	s.pool = s.pool[:0]
	for _, nb := range slot[1:] {
		s.pool = append(s.pool, candidate{node: nb, score: dotHalves(base, g.vector(nb))})
	}
	s.pool = append(s.pool, candidate{node: to, score: score})
	sortBestFirst(s.pool)
	s.kept = g.selectNeighbours(s.pool, limit, s.kept[:0])
	setNeighbours(slot, s.kept)
}
