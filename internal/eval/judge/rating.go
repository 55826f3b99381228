package judge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The rating scale of every Table 9 prompt: "a scale of 1 to 10".
const (
	// MinRating is the lowest valid rating.
	MinRating = 1
	// MaxRating is the highest valid rating.
	MaxRating = 10
)

var (
	// ErrNoRating reports a judge answer with no counted [[n]] rating.
	ErrNoRating = errors.New("no [[rating]] in judge answer")
	// ErrOutOfRange reports a counted rating outside [MinRating, MaxRating].
	ErrOutOfRange = errors.New("rating outside 1 to 10")
	// ErrConflictingRatings reports counted ratings with different values.
	ErrConflictingRatings = errors.New("conflicting ratings")
)

// ParseRating returns the rating in a judge answer written in the Table 9
// format, "[[rating]]" on a scale of 1 to 10 (for example "Rating: [[5]]").
//
// # What is a rating
//
// A rating is "[[", optional spaces or tabs, a decimal number (an optional
// sign, digits, optionally a point and more digits: "7", "7.5", "7."),
// optional spaces or tabs, and "]]". Anything else, such as the
// placeholder "[[rating]]", "[[8/10]]" or a single-bracket "[8]", is not a
// rating. (MT-Bench falls back to "[n]"; the paper's format does not, and a
// single-bracket number is too often a citation or list marker.)
//
// # Quoted ratings
//
// A judge often repeats the instruction's example, as in: the format
// "[[rating]]", for example: "Rating: [[5]]". A rating inside quoted text or
// code is therefore not counted. Quoted text and code are:
//
//   - a "double-quoted" or “curly-quoted” span within one line;
//   - a 'single-quoted' or ‘curly single-quoted’ span within one line, where
//     the opening quote does not follow a letter or digit and the closing
//     quote is not followed by one (so apostrophes, as in "don't" or
//     "user's", never open or close a quote);
//   - an inline `code` span (closed by a backtick run of the same length)
//     within one line;
//   - a fenced code block (``` or ~~~), up to its closing fence or the end of
//     the answer;
//   - a run of Markdown blockquote lines (lines starting with ">").
//
// A quote mark with no partner on its line is an ordinary character. One
// exception keeps a verdict that the judge itself put in quotes or code, as
// in Rating: "[[8]]" or `[[8]]`: when nothing but punctuation, symbols and
// white space follows the quoted span to the end of the answer, its ratings
// are counted. The prompts ask for the rating after the explanation, so the
// end of the answer is where the verdict belongs. (This also means that an
// answer consisting of nothing but the echoed example "Rating: [[5]]" is
// read as a 5; without the exception, a quoted verdict would be lost.)
//
// # Several ratings
//
// If no rating is counted, the error wraps [ErrNoRating]. If any counted
// rating lies outside [MinRating, MaxRating], the error wraps
// [ErrOutOfRange]. If the counted ratings are all equal as numbers ("[[8]]"
// and "[[8.0]]"), that value is the rating. If they differ, the error wraps
// [ErrConflictingRatings]: the answer does not say which one is the verdict,
// and this function does not guess. An unquoted echo of the instruction's
// example therefore conflicts with a verdict other than 5.
//
// The error text holds only counts and rating values, never answer text.
func ParseRating(answer string) (float64, error) {
	regions := quotedRegions(answer)
	var (
		counted []float64
		ignored int
	)
	for _, c := range findRatings(answer) {
		if r, ok := regionAt(regions, c.start); ok && !endsAnswer(answer, r.end) {
			ignored++
			continue
		}
		counted = append(counted, c.value)
	}
	if len(counted) == 0 {
		return 0, fmt.Errorf("parse rating: %d quoted ratings ignored: %w", ignored, ErrNoRating)
	}
	for _, v := range counted {
		if !(v >= MinRating && v <= MaxRating) {
			return 0, fmt.Errorf("parse rating: %g: %w", v, ErrOutOfRange)
		}
	}
	for _, v := range counted[1:] {
		if v != counted[0] {
			return 0, fmt.Errorf("parse rating: %g and %g: %w", counted[0], v, ErrConflictingRatings)
		}
	}
	return counted[0], nil
}

// rating is one "[[n]]" found in an answer.
type rating struct {
	start, end int // byte offsets of "[[" and just past "]]"
	value      float64
}

// findRatings returns every "[[n]]" in s, left to right, not overlapping.
func findRatings(s string) []rating {
	var out []rating
	for i := 0; i+1 < len(s); {
		j := strings.Index(s[i:], "[[")
		if j < 0 {
			break
		}
		start := i + j
		if end, v, ok := scanRating(s, start); ok {
			out = append(out, rating{start: start, end: end, value: v})
			i = end
		} else {
			i = start + 1
		}
	}
	return out
}

// scanRating reports whether a rating starts at s[start:] (which begins with
// "[["), returning its end offset and value.
func scanRating(s string, start int) (end int, value float64, ok bool) {
	i := start + 2
	i = skipBlanks(s, i)
	numStart := i
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == digits {
		return 0, 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	num := s[numStart:i]
	i = skipBlanks(s, i)
	if !strings.HasPrefix(s[i:], "]]") {
		return 0, 0, false
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		// Only a range error is possible for this syntax: the value is ±Inf
		// (or rounds to 0), which the range check rejects.
		if numErr, ok := errors.AsType[*strconv.NumError](err); !ok || !errors.Is(numErr.Err, strconv.ErrRange) {
			return 0, 0, false
		}
	}
	return i + 2, v, true
}

// skipBlanks returns the first offset at or after i that is not a space or
// a tab.
func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// region is a quoted or code span of an answer: byte offsets [start, end).
type region struct{ start, end int }

// regionAt returns the region containing offset off.
func regionAt(rs []region, off int) (region, bool) {
	for _, r := range rs {
		if off >= r.start && off < r.end {
			return r, true
		}
	}
	return region{}, false
}

// endsAnswer reports whether nothing but punctuation, symbols and white
// space follows offset end in s.
func endsAnswer(s string, end int) bool {
	return strings.IndexFunc(s[end:], isWordRune) < 0
}

// isWordRune reports whether r is a letter or a digit.
func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// quotedRegions returns the quoted and code spans of s, in order and not
// overlapping, as documented on [ParseRating].
func quotedRegions(s string) []region {
	var (
		out        []region
		fenceStart = -1
		fenceChar  byte
		fenceLen   int
		quoteStart = -1 // start of the current run of blockquote lines
		quoteEnd   int
	)
	flushQuote := func() {
		if quoteStart >= 0 {
			out = append(out, region{quoteStart, quoteEnd})
			quoteStart = -1
		}
	}
	for ls := 0; ls < len(s); {
		le := len(s)
		next := len(s)
		if k := strings.IndexByte(s[ls:], '\n'); k >= 0 {
			le = ls + k
			next = le + 1
		}
		line := s[ls:le]
		switch {
		case fenceStart >= 0:
			if c, n, rest, ok := fenceMarker(line); ok && c == fenceChar && n >= fenceLen && strings.TrimSpace(rest) == "" {
				out = append(out, region{fenceStart, le})
				fenceStart = -1
			}
		case isFenceOpen(line):
			flushQuote()
			fenceChar, fenceLen, _, _ = fenceMarker(line)
			fenceStart = ls
		case strings.HasPrefix(strings.TrimLeft(line, " \t"), ">"):
			if quoteStart < 0 {
				quoteStart = ls
			}
			quoteEnd = le
		default:
			flushQuote()
			out = append(out, inlineRegions(line, ls)...)
		}
		ls = next
	}
	if fenceStart >= 0 {
		out = append(out, region{fenceStart, len(s)})
	}
	flushQuote()
	return out
}

// fenceMarker reports whether line, after at most three spaces, starts with
// a run of at least three backticks or tildes, returning the character, the
// run length and the rest of the line.
func fenceMarker(line string) (c byte, n int, rest string, ok bool) {
	i := 0
	for i < 3 && i < len(line) && line[i] == ' ' {
		i++
	}
	if i >= len(line) || (line[i] != '`' && line[i] != '~') {
		return 0, 0, "", false
	}
	c = line[i]
	j := i
	for j < len(line) && line[j] == c {
		j++
	}
	if j-i < 3 {
		return 0, 0, "", false
	}
	return c, j - i, line[j:], true
}

// isFenceOpen reports whether line opens a fenced code block.
func isFenceOpen(line string) bool {
	_, _, _, ok := fenceMarker(line)
	return ok
}

// inlineRegions returns the quoted and code spans within one line; base is
// the line's offset in the answer.
func inlineRegions(line string, base int) []region {
	var out []region
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRuneInString(line[i:])
		end := -1 // end of the span opened at i, if any
		switch r {
		case '`':
			n := 1
			for i+n < len(line) && line[i+n] == '`' {
				n++
			}
			if k := closingBackticks(line, i+n, n); k >= 0 {
				end = k + n
			} else {
				i += n // an unmatched run is literal
				continue
			}
		case '"':
			if k := strings.IndexRune(line[i+size:], '"'); k >= 0 {
				end = i + size + k + 1
			}
		case '“':
			if k := strings.IndexRune(line[i+size:], '”'); k >= 0 {
				end = i + size + k + len("”")
			}
		case '\'', '‘':
			closer := '\''
			if r == '‘' {
				closer = '’'
			}
			if prev, _ := utf8.DecodeLastRuneInString(line[:i]); i == 0 || !isWordRune(prev) {
				if k := closingSingle(line, i+size, closer); k >= 0 {
					end = k
				}
			}
		}
		if end >= 0 {
			out = append(out, region{base + i, base + end})
			i = end
			continue
		}
		i += size
	}
	return out
}

// closingBackticks returns the offset of the first run of exactly n
// backticks in line at or after from, or -1.
func closingBackticks(line string, from, n int) int {
	for j := from; j < len(line); {
		if line[j] != '`' {
			j++
			continue
		}
		k := j
		for k < len(line) && line[k] == '`' {
			k++
		}
		if k-j == n {
			return j
		}
		j = k
	}
	return -1
}

// closingSingle returns the offset just past the first closer at or after
// from in line that is not followed by a letter or digit, or -1.
func closingSingle(line string, from int, closer rune) int {
	for j := from; j < len(line); {
		r, size := utf8.DecodeRuneInString(line[j:])
		if r == closer {
			next, _ := utf8.DecodeRuneInString(line[j+size:])
			if j+size == len(line) || !isWordRune(next) {
				return j + size
			}
		}
		j += size
	}
	return -1
}

// Outcome is the result of comparing two ratings: win, tie or lose for the
// first.
type Outcome int

// The outcomes of [Compare], as in the paper's Win/Tie/Lose columns.
const (
	// Win means the first rating is higher.
	Win Outcome = iota + 1
	// Tie means the ratings are equal.
	Tie
	// Lose means the first rating is lower.
	Lose
)

// String returns "win", "tie" or "lose".
func (o Outcome) String() string {
	switch o {
	case Win:
		return "win"
	case Tie:
		return "tie"
	case Lose:
		return "lose"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Compare returns the outcome for a system rated a against a baseline rated
// b on the same sample: [Win] if a > b, [Lose] if a < b, [Tie] if they are
// equal. The paper reports win/tie/lose of each setting against the
// fine-tuned SLM (Table 3, from human annotators, MT-Bench/Chatbot-Arena
// style); it gives no pairwise judge prompt, so a judge-based pairwise
// result compares the two systems' single ratings from [ParseRating] with
// this function. Ratings are compared exactly: 7.5 beats 7. A NaN, which
// [ParseRating] never returns, compares as [Tie].
func Compare(a, b float64) Outcome {
	switch {
	case a > b:
		return Win
	case a < b:
		return Lose
	}
	return Tie
}
