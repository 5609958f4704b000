package chunk

import (
	"strconv"
	"strings"
)

// gitHeaderPrefixes open the extended header lines git writes between
// "diff --git" and the first hunk.
var gitHeaderPrefixes = []string{
	"index ", "old mode ", "new mode ", "deleted file mode ", "new file mode ",
	"similarity index ", "dissimilarity index ", "rename from ", "rename to ",
	"copy from ", "copy to ", "Binary files ", "GIT binary patch",
}

// signatureDelimiter is the line above the signature of a mail or patch.
const signatureDelimiter = "-- "

// diffParser reads a unified diff.
type diffParser struct {
	b     *builder
	src   string
	lines []line
}

// parseDiff reads the source of b as a unified diff. Every hunk is a section
// of its own, headed by the path of its file, cut into lines; every chunk of
// a hunk carries the hunk header ("@@ -1,4 +1,5 @@ func main") as its
// header. Text before, between and after files (a commit message) is read
// as plain text, up to a signature ("-- " line) outside the hunks.
func parseDiff(b *builder) {
	p := &diffParser{b: b, src: b.d.source}
	p.lines = splitLines(p.src)

	plainStart := -1
	flushPlain := func(end int) {
		if plainStart >= 0 {
			b.boundary()
			b.headings = nil
			parsePlain(b, plainStart, end)
		}
		plainStart = -1
	}
	for i := 0; i < len(p.lines); {
		if p.text(i) == signatureDelimiter {
			// The signature of git format-patch (its version) ends the
			// patch.
			flushPlain(p.lines[i].start)
			return
		}
		if p.fileStarts(i) {
			flushPlain(p.lines[i].start)
			i = p.file(i)
			continue
		}
		if plainStart < 0 {
			plainStart = p.lines[i].start
		}
		i++
	}
	flushPlain(len(p.src))
}

// text returns line i without its line ending.
func (p *diffParser) text(i int) string {
	return p.src[p.lines[i].start:p.lines[i].end]
}

// fileStarts reports whether line i starts the diff of a file: a "diff"
// command line, or a "---" line followed by a "+++" line.
func (p *diffParser) fileStarts(i int) bool {
	text := p.text(i)
	if strings.HasPrefix(text, "diff --git ") || strings.HasPrefix(text, "diff -") {
		return true
	}
	return strings.HasPrefix(text, "--- ") && i+1 < len(p.lines) && strings.HasPrefix(p.text(i+1), "+++ ")
}

// file reads the diff of one file at line i, its headers and hunks, and
// returns the line after it.
func (p *diffParser) file(i int) int {
	var diffPath, oldPath, newPath string
	if text := p.text(i); strings.HasPrefix(text, "diff ") {
		diffPath = commandPath(text)
		i++
	}

	// Headers.
	for ; i < len(p.lines); i++ {
		text := p.text(i)
		switch {
		case strings.HasPrefix(text, "--- ") && newPath == "":
			oldPath = headerPath(text[len("--- "):])
			continue
		case strings.HasPrefix(text, "+++ ") && newPath == "":
			newPath = headerPath(text[len("+++ "):])
			continue
		case hasAnyPrefix(text, gitHeaderPrefixes):
			continue
		}
		break
	}

	path := newPath
	if path == "" || path == "/dev/null" {
		path = oldPath
	}
	if path == "" || path == "/dev/null" {
		path = diffPath
	}
	var headings []string
	if path != "" {
		headings = []string{path}
	}

	for i < len(p.lines) && strings.HasPrefix(p.text(i), "@@ ") {
		i = p.hunk(i, headings)
	}
	return i
}

// hunk adds the hunk at line i as a section of lines headed by headings and
// returns the line after it. The line counts of the hunk header say where
// it ends; without them, the first line that is not context, removed or
// added ends it.
func (p *diffParser) hunk(i int, headings []string) int {
	header := strings.TrimRight(p.text(i), " \t")
	oldLeft, newLeft, counted := hunkCounts(header)

	p.b.boundary()
	p.b.headings = headings
	p.b.beginBlock(header, true)
	for i++; i < len(p.lines); i++ {
		text := p.text(i)
		if strings.HasPrefix(text, `\`) {
			// "\ No newline at end of file".
			continue
		}
		if counted && oldLeft <= 0 && newLeft <= 0 {
			break
		}
		if !counted && p.fileStarts(i) {
			break
		}
		marker := byte(' ')
		if text != "" {
			marker = text[0]
		}
		switch marker {
		case ' ':
			oldLeft--
			newLeft--
		case '-':
			oldLeft--
		case '+':
			newLeft--
		}
		if marker != ' ' && marker != '-' && marker != '+' {
			break
		}
		if len(text) > 1 && !isBlank(text[1:]) {
			p.b.line(p.lines[i].start, p.lines[i].end)
		}
	}
	p.b.endBlock()
	return i
}

// hunkCounts returns the old and new line counts of a hunk header
// "@@ -a,b +c,d @@", each 1 when left out, or false when the header does not
// parse.
func hunkCounts(header string) (int, int, bool) {
	rest, ok := strings.CutPrefix(header, "@@ -")
	if !ok {
		return 0, 0, false
	}
	ranges, _, ok := strings.Cut(rest, " @@")
	if !ok {
		return 0, 0, false
	}
	oldRange, newRange, ok := strings.Cut(ranges, " +")
	if !ok {
		return 0, 0, false
	}
	oldCount, ok1 := rangeCount(oldRange)
	newCount, ok2 := rangeCount(newRange)
	return oldCount, newCount, ok1 && ok2
}

// rangeCount returns the count of a hunk range "start,count" or "start".
func rangeCount(r string) (int, bool) {
	start, count, hasCount := strings.Cut(r, ",")
	if _, err := strconv.Atoi(start); err != nil {
		return 0, false
	}
	if !hasCount {
		return 1, true
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// commandPath returns the path a "diff --git a/x b/x" or "diff -u x y" line
// names: the new one.
func commandPath(text string) string {
	if rest, ok := strings.CutPrefix(text, "diff --git "); ok {
		if _, newPath, ok := strings.Cut(rest, " b/"); ok {
			return newPath
		}
		return ""
	}
	fields := strings.Fields(text)
	return headerPath(fields[len(fields)-1])
}

// headerPath returns the path of a "---" or "+++" header: without a
// timestamp after a tab, quotes or the "a/" and "b/" prefixes of git.
func headerPath(text string) string {
	path, _, _ := strings.Cut(text, "\t")
	path = strings.TrimSpace(path)
	if strings.HasPrefix(path, `"`) {
		if unquoted, err := strconv.Unquote(path); err == nil {
			path = unquoted
		}
	}
	if path == "/dev/null" {
		return path
	}
	if rest, ok := strings.CutPrefix(path, "a/"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(path, "b/"); ok {
		return rest
	}
	return path
}
