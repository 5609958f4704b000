package hnsw

import (
	"cmp"
	"slices"
)

// candidate is a node with its similarity to the vector being searched for
// or linked.
type candidate struct {
	score float32
	node  uint32
}

// sortBestFirst sorts candidates by falling score, then by node number so
// that equal scores come out in a fixed order.
func sortBestFirst(cs []candidate) {
	slices.SortFunc(cs, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.node, b.node))
	})
}

// nodeQueue is a binary heap of candidates with the best on top when
// bestOnTop is set and the worst on top otherwise.
type nodeQueue struct {
	items     []candidate
	bestOnTop bool
}

// reset empties q and sets which end of it is on top.
func (q *nodeQueue) reset(bestOnTop bool) {
	q.items = q.items[:0]
	q.bestOnTop = bestOnTop
}

func (q *nodeQueue) len() int { return len(q.items) }

// top returns the candidate on top; q must not be empty.
func (q *nodeQueue) top() candidate { return q.items[0] }

// above reports whether a belongs above b.
func (q *nodeQueue) above(a, b candidate) bool {
	if q.bestOnTop {
		return a.score > b.score
	}
	return a.score < b.score
}

func (q *nodeQueue) push(c candidate) {
	q.items = append(q.items, c)
	i := len(q.items) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !q.above(q.items[i], q.items[parent]) {
			break
		}
		q.items[i], q.items[parent] = q.items[parent], q.items[i]
		i = parent
	}
}

// pop removes and returns the candidate on top; q must not be empty.
func (q *nodeQueue) pop() candidate {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items = q.items[:last]

	i := 0
	for {
		first, left, right := i, 2*i+1, 2*i+2
		if left < last && q.above(q.items[left], q.items[first]) {
			first = left
		}
		if right < last && q.above(q.items[right], q.items[first]) {
			first = right
		}
		if first == i {
			return top
		}
		q.items[i], q.items[first] = q.items[first], q.items[i]
		i = first
	}
}

// visitedSet marks the nodes one search has seen. Marks carry the number of
// the search, so starting a new one does not need clearing them.
type visitedSet struct {
	marks []uint16
	epoch uint16
}

// reset starts a new search over n nodes.
func (v *visitedSet) reset(n int) {
	if len(v.marks) < n {
		v.marks = append(v.marks, make([]uint16, n-len(v.marks))...)
	}
	v.epoch++
	if v.epoch == 0 {
		clear(v.marks)
		v.epoch = 1
	}
}

// visit marks node n and reports whether it was marked already.
func (v *visitedSet) visit(n uint32) bool {
	if v.marks[n] == v.epoch {
		return true
	}
	v.marks[n] = v.epoch
	return false
}

// scratch is the working memory of one search or insert, pooled by Index
// so that searching allocates little.
type scratch struct {
	visited    visitedSet
	candidates nodeQueue
	results    nodeQueue
	// visits counts the nodes the last searchLayer scored.
	visits int
	// found holds the result of searchLayer, entries the entry points of
	// the next one.
	found   []candidate
	entries []candidate
	// plan, batch, candidatesOf, chosen, pool and kept hold the neighbour
	// selections of an insert.
	plan         insertPlan
	batch        []candidate
	candidatesOf []candidate
	chosen       []candidate
	pool         []candidate
	kept         []candidate
	// query holds the vector of the node being linked, decoded to float32.
	query []float32
}
