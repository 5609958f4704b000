package message

import (
	"fmt"
	"strconv"
	"strings"
)

// LineKind classifies one line of a diff.
type LineKind int

// Line kinds.
const (
	// LineOther is text outside any file: a commit message, a mail header
	// of a patch, a "-- " trailer, "Only in" notices.
	LineOther LineKind = iota
	// LineFileHeader is a file header: "diff --git", git's extended
	// headers ("index", "new file mode", "rename from", ...), "---" and
	// "+++" lines, "Binary files ... differ".
	LineFileHeader
	// LineHunkHeader is a hunk header: "@@ -1,3 +1,4 @@".
	LineHunkHeader
	// LineContext is an unchanged line of a hunk.
	LineContext
	// LineAdded is a line a hunk adds.
	LineAdded
	// LineRemoved is a line a hunk removes.
	LineRemoved
	// LineNoNewline is "\ No newline at end of file".
	LineNoNewline
	// LineBinary is data of a git binary patch.
	LineBinary
)

// String returns the kind's name.
func (k LineKind) String() string {
	switch k {
	case LineOther:
		return "other"
	case LineFileHeader:
		return "file-header"
	case LineHunkHeader:
		return "hunk-header"
	case LineContext:
		return "context"
	case LineAdded:
		return "added"
	case LineRemoved:
		return "removed"
	case LineNoNewline:
		return "no-newline"
	case LineBinary:
		return "binary"
	}

	return "LineKind(" + strconv.Itoa(int(k)) + ")"
}

// Diff is a parsed unified diff.
type Diff struct {
	// Files are the files the diff changes, in order.
	Files []DiffFile
	// Lines classifies every line of the text, in order: Lines[i] is line
	// i+1.
	Lines []DiffLine
}

// DiffFile is the part of a diff about one file.
type DiffFile struct {
	// OldPath and NewPath are the paths before and after the change,
	// without git's "a/" and "b/" prefixes; "" for the side of a created
	// or deleted file.
	OldPath, NewPath string
	// Created, Deleted, Renamed and Copied say what git reports about the
	// file; Binary that the diff only notes or encodes binary content.
	Created, Deleted, Renamed, Copied, Binary bool
	// Hunks are the file's hunks, in order.
	Hunks []Hunk
	// Start and End are the byte offsets of the file's lines in the text.
	Start, End int
}

// Hunk is one hunk of a file diff.
type Hunk struct {
	// OldStart, OldLines, NewStart and NewLines are the ranges in the
	// hunk header.
	OldStart, OldLines, NewStart, NewLines int
	// Section is the text after the header's closing "@@", often the
	// enclosing function.
	Section string
	// Line is the 1-based line of the hunk header in the text.
	Line int
	// Start and End are the byte offsets of the hunk, header included.
	Start, End int
}

// DiffLine is one classified line of a diff.
type DiffLine struct {
	Kind LineKind
	// Start and End are the byte offsets of the line without its line
	// break. For context, added and removed lines the first byte is the
	// " ", "+" or "-" marker (absent on an empty context line).
	Start, End int
	// File is the index in Diff.Files of the file the line belongs to, or
	// -1.
	File int
	// OldLine and NewLine are the line's numbers in the old and new file,
	// or 0 where it has none.
	OldLine, NewLine int
}

// IsDiff reports whether text looks like a unified diff: it has a
// "diff --git" line, or a "---" line followed by a "+++" line and a hunk
// header. It reads text once and allocates nothing.
func IsDiff(text string) bool {
	var prev2, prev1 string
	for rest := text; rest != ""; {
		line, tail, _ := strings.Cut(rest, "\n")
		rest = tail
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "diff --git ") {
			return true
		}
		hunkAfterHeaders := strings.HasPrefix(prev2, "--- ") && strings.HasPrefix(prev1, "+++ ")
		if hunkAfterHeaders && strings.HasPrefix(line, "@@ -") {
			return true
		}
		prev2, prev1 = prev1, line
	}

	return false
}

// ParseDiff parses a unified diff, git's or plain diff's, and classifies
// every line. It keeps about 50 bytes per line of text, so callers bound
// the size of what they pass (decoding with Note applies Limits.MaxBytes). It returns an *Error of kind ErrMalformed, with the line
// number, for a hunk before any file header or a hunk whose line counts do
// not match its lines, and for a text with no file header at all.
func ParseDiff(text string) (*Diff, error) {
	p := &diffParser{text: text, file: -1, headerStart: -1}
	p.d = &Diff{Lines: make([]DiffLine, 0, strings.Count(text, "\n")+1)}
	for offset := 0; offset < len(text); offset = p.cur.next {
		p.cur, p.num = lineAt(text, offset), p.num+1
		if err := p.line(); err != nil {
			return nil, err
		}
	}
	if p.inHunk() {
		h := p.currentHunk()

		return nil, p.errorAt(h.Line, fmt.Sprintf("hunk ends with the text, %s", p.missing()))
	}
	if len(p.d.Files) == 0 {
		return nil, &Error{Kind: ErrMalformed, Input: inputDiff,
			Reason: "no file header (\"diff --git\" or \"---\"/\"+++\" lines)"}
	}

	return p.d, nil
}

// diffParser is the state of one ParseDiff call.
type diffParser struct {
	text string
	d    *Diff
	cur  textLine // the line being parsed
	num  int      // its 1-based number
	file int      // index of the current file, or -1
	// gitHeader is set between "diff --git" and the file's first "---"
	// or hunk, where git's extended headers appear.
	gitHeader bool
	// git is set when the current file began with "diff --git".
	git bool
	// binaryData is set after "GIT binary patch".
	binaryData bool
	// headerStart is the offset of a plain-diff header line ("diff -u",
	// "Index:") that precedes the file's "---" line, or -1.
	headerStart int
	// oldLeft and newLeft are the lines the current hunk still expects;
	// oldNo and newNo the numbers of its next old and new lines.
	oldLeft, newLeft int
	oldNo, newNo     int
	// hunkJustEnded is set on the line after a hunk's last line.
	hunkJustEnded bool
}

// line parses the current line.
func (p *diffParser) line() error {
	l := p.cur
	s := strings.TrimSuffix(p.text[l.start:l.end], "\r")
	justEnded := p.hunkJustEnded
	p.hunkJustEnded = false

	if p.inHunk() {
		return p.hunkLine(s)
	}

	switch {
	case strings.HasPrefix(s, `\`) && justEnded:
		p.add(LineNoNewline, p.file)
		p.hunkJustEnded = true
	case strings.HasPrefix(s, "diff --git "):
		p.startGitFile(s)
	case p.binaryData:
		p.add(LineBinary, p.file)
	case strings.HasPrefix(s, "--- ") && p.nextStartsWith("+++ "):
		p.fileHeaderPair(s)
	case strings.HasPrefix(s, "@@ "):
		return p.hunkHeader(s)
	case strings.HasPrefix(s, "@@@ "):
		// TODO: combined diffs of merges ("@@@") are not parsed.
		return p.errorAt(p.num, "combined diffs (\"@@@\") are not supported")
	case p.gitHeader && p.gitExtendedHeader(s):
	case strings.HasPrefix(s, "Binary files ") && strings.HasSuffix(s, " differ"):
		p.binaryNotice(s)
	case strings.HasPrefix(s, "diff ") || strings.HasPrefix(s, "Index: ") ||
		(p.headerStart >= 0 && strings.HasPrefix(s, "====")):
		if p.headerStart < 0 {
			p.headerStart = l.start
		}
		p.endFile()
		p.add(LineFileHeader, -1)
	case justEnded && s != "-- " && s != "--" && s != "" && strings.ContainsRune(" +-", rune(s[0])):
		h := p.currentHunk()

		return p.errorAt(p.num, fmt.Sprintf("line after the hunk at line %d, which is already complete: "+
			"the hunk has more lines than its header counts", h.Line))
	default:
		p.endFile()
		p.headerStart = -1
		p.add(LineOther, -1)
	}

	return nil
}

// hunkLine classifies a line inside a hunk.
func (p *diffParser) hunkLine(s string) error {
	marker := byte(' ') // an empty line is a context line whose space was trimmed
	if s != "" {
		marker = s[0]
	}

	switch {
	case marker == ' ' && p.oldLeft > 0 && p.newLeft > 0:
		p.addNumbered(LineContext, p.oldNo, p.newNo)
		p.oldNo, p.newNo = p.oldNo+1, p.newNo+1
		p.oldLeft, p.newLeft = p.oldLeft-1, p.newLeft-1
	case marker == '-' && p.oldLeft > 0:
		p.addNumbered(LineRemoved, p.oldNo, 0)
		p.oldNo++
		p.oldLeft--
	case marker == '+' && p.newLeft > 0:
		p.addNumbered(LineAdded, 0, p.newNo)
		p.newNo++
		p.newLeft--
	case marker == '\\':
		p.add(LineNoNewline, p.file)
	default:
		h := p.currentHunk()

		return p.errorAt(p.num, fmt.Sprintf("hunk at line %d does not match its header: %s",
			h.Line, p.missing()))
	}

	if !p.inHunk() {
		p.hunkJustEnded = true
	}

	return nil
}

// missing describes the lines the current hunk still expects.
func (p *diffParser) missing() string {
	return fmt.Sprintf("%d old and %d new lines missing", p.oldLeft, p.newLeft)
}

// startGitFile begins a file at a "diff --git" line.
func (p *diffParser) startGitFile(s string) {
	p.endFile()
	oldPath, newPath := parseGitPaths(strings.TrimPrefix(s, "diff --git "))
	p.d.Files = append(p.d.Files, DiffFile{OldPath: oldPath, NewPath: newPath, Start: p.cur.start})
	p.file = len(p.d.Files) - 1
	p.git, p.gitHeader = true, true
	p.add(LineFileHeader, p.file)
}

// fileHeaderPair handles a "---" line and the "+++" line after it: they
// name the paths of the current git file or begin a plain diff's file.
func (p *diffParser) fileHeaderPair(minus string) {
	next := lineAt(p.text, p.cur.next)
	plus := strings.TrimSuffix(p.text[next.start:next.end], "\r")
	oldPath := headerPath(strings.TrimPrefix(minus, "--- "))
	newPath := headerPath(strings.TrimPrefix(plus, "+++ "))

	if !(p.gitHeader && p.file >= 0) {
		start := p.cur.start
		if p.headerStart >= 0 {
			start = p.headerStart
		}
		p.endFile()
		p.d.Files = append(p.d.Files, DiffFile{Start: start})
		p.file = len(p.d.Files) - 1
		p.git = strings.HasPrefix(oldPath, "a/") && strings.HasPrefix(newPath, "b/")
	}
	p.headerStart = -1
	p.gitHeader = false

	f := &p.d.Files[p.file]
	if p.git {
		oldPath, newPath = strings.TrimPrefix(oldPath, "a/"), strings.TrimPrefix(newPath, "b/")
	}
	switch {
	case oldPath == "/dev/null":
		f.Created, f.OldPath, f.NewPath = true, "", newPath
	case newPath == "/dev/null":
		f.Deleted, f.OldPath, f.NewPath = true, oldPath, ""
	default:
		f.OldPath, f.NewPath = oldPath, newPath
	}

	p.add(LineFileHeader, p.file)
	p.cur, p.num = next, p.num+1
	p.add(LineFileHeader, p.file)
}

// hunkHeader begins a hunk.
func (p *diffParser) hunkHeader(s string) error {
	if p.file < 0 {
		return p.errorAt(p.num, "hunk header before any file header")
	}
	h, ok := parseHunkHeader(s)
	if !ok {
		return p.errorAt(p.num, "malformed hunk header")
	}
	h.Line, h.Start = p.num, p.cur.start

	f := &p.d.Files[p.file]
	f.Hunks = append(f.Hunks, h)
	p.gitHeader = false
	p.oldLeft, p.newLeft = h.OldLines, h.NewLines
	p.oldNo, p.newNo = h.OldStart, h.NewStart
	p.add(LineHunkHeader, p.file)
	if !p.inHunk() {
		p.hunkJustEnded = true
	}

	return nil
}

// gitExtendedHeader handles one of git's extended header lines and reports
// whether s was one.
func (p *diffParser) gitExtendedHeader(s string) bool {
	f := &p.d.Files[p.file]
	switch {
	case strings.HasPrefix(s, "new file mode "):
		f.Created, f.OldPath = true, ""
	case strings.HasPrefix(s, "deleted file mode "):
		f.Deleted, f.NewPath = true, ""
	case strings.HasPrefix(s, "rename from "):
		f.Renamed, f.OldPath = true, unquotePath(strings.TrimPrefix(s, "rename from "))
	case strings.HasPrefix(s, "rename to "):
		f.Renamed, f.NewPath = true, unquotePath(strings.TrimPrefix(s, "rename to "))
	case strings.HasPrefix(s, "copy from "):
		f.Copied, f.OldPath = true, unquotePath(strings.TrimPrefix(s, "copy from "))
	case strings.HasPrefix(s, "copy to "):
		f.Copied, f.NewPath = true, unquotePath(strings.TrimPrefix(s, "copy to "))
	case strings.HasPrefix(s, "Binary files ") && strings.HasSuffix(s, " differ"):
		f.Binary = true
	case s == "GIT binary patch":
		f.Binary, p.binaryData = true, true
	case strings.HasPrefix(s, "old mode "), strings.HasPrefix(s, "new mode "),
		strings.HasPrefix(s, "index "), strings.HasPrefix(s, "similarity index "),
		strings.HasPrefix(s, "dissimilarity index "), strings.HasPrefix(s, "rename old "),
		strings.HasPrefix(s, "rename new "):
	default:
		return false
	}
	p.add(LineFileHeader, p.file)

	return true
}

// binaryNotice handles "Binary files a and b differ" outside a git file
// header: plain diff -r reports binary files this way.
func (p *diffParser) binaryNotice(s string) {
	p.endFile()
	names := strings.TrimSuffix(strings.TrimPrefix(s, "Binary files "), " differ")
	oldPath, newPath, _ := strings.Cut(names, " and ")
	p.d.Files = append(p.d.Files, DiffFile{OldPath: oldPath, NewPath: newPath, Binary: true,
		Start: p.cur.start})
	p.file = len(p.d.Files) - 1
	p.add(LineFileHeader, p.file)
	p.file = -1
}

// endFile closes the current file.
func (p *diffParser) endFile() {
	p.file, p.git, p.gitHeader, p.binaryData = -1, false, false, false
}

// inHunk reports whether the current hunk expects more lines.
func (p *diffParser) inHunk() bool {
	return p.oldLeft > 0 || p.newLeft > 0
}

// currentHunk returns the last hunk started.
func (p *diffParser) currentHunk() Hunk {
	if p.file < 0 || len(p.d.Files[p.file].Hunks) == 0 {
		return Hunk{}
	}
	hunks := p.d.Files[p.file].Hunks

	return hunks[len(hunks)-1]
}

// nextStartsWith reports whether the line after the current one starts
// with prefix.
func (p *diffParser) nextStartsWith(prefix string) bool {
	if p.cur.next >= len(p.text) {
		return false
	}

	return strings.HasPrefix(p.text[p.cur.next:], prefix)
}

// lineAt returns the line of text that starts at offset.
func lineAt(text string, offset int) textLine {
	end := strings.IndexByte(text[offset:], '\n')
	if end < 0 {
		return textLine{start: offset, end: len(text), next: len(text)}
	}

	return textLine{start: offset, end: offset + end, next: offset + end + 1}
}

// add records the current line with kind, belonging to file (or -1).
func (p *diffParser) add(kind LineKind, file int) {
	p.addLine(DiffLine{Kind: kind, File: file})
}

// addNumbered records a hunk line with its old and new line numbers.
func (p *diffParser) addNumbered(kind LineKind, oldLine, newLine int) {
	p.addLine(DiffLine{Kind: kind, File: p.file, OldLine: oldLine, NewLine: newLine})
}

// addLine fills in the offsets of the current line and extends its file
// and hunk.
func (p *diffParser) addLine(dl DiffLine) {
	l := p.cur
	end := l.end
	if end > l.start && p.text[end-1] == '\r' {
		end--
	}
	dl.Start, dl.End = l.start, end
	p.d.Lines = append(p.d.Lines, dl)

	if dl.File < 0 {
		return
	}
	f := &p.d.Files[dl.File]
	f.End = end
	if n := len(f.Hunks); n > 0 && dl.Kind != LineFileHeader {
		f.Hunks[n-1].End = end
	}
}

// errorAt returns an ErrMalformed error for line n.
func (p *diffParser) errorAt(n int, reason string) error {
	return &Error{Kind: ErrMalformed, Input: inputDiff, Line: n, Reason: reason}
}

// parseHunkHeader parses "@@ -l[,s] +l[,s] @@ section".
func parseHunkHeader(s string) (Hunk, bool) {
	ranges, section, ok := strings.Cut(strings.TrimPrefix(s, "@@ "), " @@")
	if !ok {
		return Hunk{}, false
	}
	oldRange, newRange, ok := strings.Cut(ranges, " ")
	if !ok || !strings.HasPrefix(oldRange, "-") || !strings.HasPrefix(newRange, "+") {
		return Hunk{}, false
	}

	var h Hunk
	if h.OldStart, h.OldLines, ok = parseRange(oldRange[1:]); !ok {
		return Hunk{}, false
	}
	if h.NewStart, h.NewLines, ok = parseRange(newRange[1:]); !ok {
		return Hunk{}, false
	}
	h.Section = strings.TrimSpace(section)

	return h, true
}

// maxHunkLines bounds the numbers in a hunk header so that arithmetic on
// them cannot overflow.
const maxHunkLines = 1 << 30

// parseRange parses "start[,count]"; count defaults to 1.
func parseRange(s string) (start, count int, ok bool) {
	startText, countText, hasCount := strings.Cut(s, ",")
	start, err := strconv.Atoi(startText)
	if err != nil || start < 0 || start > maxHunkLines {
		return 0, 0, false
	}
	count = 1
	if hasCount {
		count, err = strconv.Atoi(countText)
		if err != nil || count < 0 || count > maxHunkLines {
			return 0, 0, false
		}
	}

	return start, count, true
}

// parseGitPaths returns the paths of a "diff --git" line, without their
// "a/" and "b/" prefixes. Paths with spaces are split where both halves
// name the same file, as git writes them when the file is not renamed.
func parseGitPaths(rest string) (string, string) {
	if strings.HasPrefix(rest, `"`) {
		if end := closingQuote(rest); end > 0 {
			return stripPrefix(unquotePath(rest[:end+1]), "a/"),
				stripPrefix(unquotePath(strings.TrimSpace(rest[end+1:])), "b/")
		}
	}
	if strings.HasSuffix(rest, `"`) {
		if open := strings.LastIndex(rest, ` "`); open >= 0 {
			return stripPrefix(rest[:open], "a/"), stripPrefix(unquotePath(rest[open+1:]), "b/")
		}
	}

	if mid := len(rest) / 2; len(rest)%2 == 1 && rest[mid] == ' ' {
		oldPath, newPath := stripPrefix(rest[:mid], "a/"), stripPrefix(rest[mid+1:], "b/")
		if oldPath == newPath {
			return oldPath, newPath
		}
	}
	if i := strings.Index(rest, " b/"); i >= 0 {
		return stripPrefix(rest[:i], "a/"), rest[i+3:]
	}
	oldPath, newPath, _ := strings.Cut(rest, " ")

	return oldPath, newPath
}

// headerPath returns the path of a "---" or "+++" line, without the
// timestamp that plain diff appends after a tab.
func headerPath(s string) string {
	if tab := strings.IndexByte(s, '\t'); tab >= 0 {
		s = s[:tab]
	}

	return unquotePath(strings.TrimRight(s, " "))
}

// unquotePath undoes git's C-style quoting of a path; other paths are
// returned as they are.
func unquotePath(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	u, err := strconv.Unquote(s)
	if err != nil {
		return s
	}
	u, _ = validUTF8(u)

	return u
}

// closingQuote returns the index of the quote that closes the quoted
// string at the start of s, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}

	return -1
}

// stripPrefix removes prefix from s when s has more after it.
func stripPrefix(s, prefix string) string {
	if rest, ok := strings.CutPrefix(s, prefix); ok && rest != "" {
		return rest
	}

	return s
}
