package redact

// recognizer appends to out the candidates of its entity types that it finds
// in s. Recognisers may return overlapping candidates, including with each
// other; overlaps are resolved once, after all of them have run.
type recognizer func(r *Redactor, s *scan, out []candidate) []candidate

// recognizers is every built-in recogniser, in the order they run. The order
// does not change the result: resolveOverlaps decides between candidates.
var recognizers = []recognizer{
	func(r *Redactor, s *scan, out []candidate) []candidate { return r.findEmails(s.text, out) },
	(*Redactor).findPhones,
	(*Redactor).findCards,
	(*Redactor).findIBANs,
	(*Redactor).findSSNs,
	(*Redactor).findIPs,
	(*Redactor).findSecrets,
	(*Redactor).findCrypto,
	(*Redactor).findMACs,
	(*Redactor).findURLs,
	(*Redactor).findNationalIDs,
	(*Redactor).findNames,
	(*Redactor).findAddresses,
	(*Redactor).findBirthDates,
}

// candidates runs every recogniser over s and appends what they find to
// out, overlapping findings included.
func (r *Redactor) candidates(s *scan, out []candidate) []candidate {
	for _, rec := range recognizers {
		out = rec(r, s, out)
	}
	return out
}
