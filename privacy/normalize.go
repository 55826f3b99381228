package privacy

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The guard compares words in a folded form, on the vault side and the
// request side alike, so that text written to slip past it reads as what
// it says: compatibility forms are decomposed (NFKC: fullwidth and
// mathematical letters, ligatures), format characters vanish (zero-width
// spaces and joiners, the soft hyphen, the byte-order mark) without ending
// a word, letters of other scripts that look like Latin ones become those
// (Cyrillic "а", Greek "ο"), diacritics are dropped ("é" is "e") and case
// is folded. Findings keep the byte spans of the original text, so that a
// redaction removes the disguised word whole.

// foldRune returns the folded form of r, and false when r is not part of
// a word at all (punctuation, spaces). A format character folds to "" and
// stays inside the word.
func foldRune(r rune) (string, bool) {
	if unicode.Is(unicode.Cf, r) {
		return "", true
	}
	if c, ok := confusable[r]; ok {
		return string(c), true
	}
	if r < utf8.RuneSelf {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToLower(r)), true
		}
		return "", false
	}
	// NFKD splits compatibility forms and accented letters into a base
	// and combining marks; the marks are dropped.
	var b strings.Builder
	word := false
	for _, d := range norm.NFKD.String(string(r)) {
		switch {
		case unicode.Is(unicode.Mn, d):
			word = true // a combining mark belongs to the word it follows
		case unicode.IsLetter(d) || unicode.IsDigit(d):
			if c, ok := confusable[d]; ok {
				d = c
			}
			b.WriteRune(unicode.ToLower(d))
			word = true
		}
	}
	return b.String(), word
}

// foldText is text with each rune folded as words fold it but keeping
// case and everything outside words (so that the generic detector, which
// reads capitals, punctuation and digits, sees "Ｊｏｈｎ@ｅｘａｍｐｌｅ.ｃｏｍ" as
// "John@example.com"), and the byte offset in text of each byte of the
// result, plus one for the end. It returns ok false when folding changes
// nothing.
func foldText(text string) (folded string, offsets []int, ok bool) {
	if isASCII(text) {
		return text, nil, false // folding keeps ASCII as it is
	}
	var b strings.Builder
	for i, r := range text {
		f, word := foldRune(r)
		switch {
		case !word:
			f = norm.NFKC.String(string(r)) // punctuation: compatibility forms only
		case unicode.IsUpper(r) || unicode.IsTitle(r):
			f = strings.ToUpper(f)
		case f != "" && !unicode.IsLower(r) && r >= utf8.RuneSelf:
			// a digit or a letter without case: as folded
		}
		if f != string(r) {
			ok = true
		}
		b.WriteString(f)
		for range len(f) {
			offsets = append(offsets, i)
		}
	}
	if !ok {
		return text, nil, false
	}
	offsets = append(offsets, len(text))
	return b.String(), offsets, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
