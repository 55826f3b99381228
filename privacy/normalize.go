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

// confusable maps letters of other scripts that look like a Latin letter
// to it: the Cyrillic and Greek look-alikes a homoglyph attack uses (after
// Unicode's confusables.txt, UTS #39, restricted to single letters that
// are confused across scripts, so that no Latin word changes).
var confusable = map[rune]rune{
	// Cyrillic.
	'а': 'a', 'А': 'a', 'в': 'b', 'В': 'b', 'с': 'c', 'С': 'c', 'ԁ': 'd', 'е': 'e', 'Е': 'e',
	'ё': 'e', 'һ': 'h', 'Н': 'h', 'і': 'i', 'І': 'i', 'ї': 'i', 'ј': 'j', 'Ј': 'j', 'к': 'k',
	'К': 'k', 'ӏ': 'l', 'м': 'm', 'М': 'm', 'о': 'o', 'О': 'o', 'р': 'p', 'Р': 'p', 'ԛ': 'q',
	'ѕ': 's', 'Ѕ': 's', 'т': 't', 'Т': 't', 'у': 'y', 'У': 'y', 'х': 'x', 'Х': 'x', 'ԝ': 'w',
	'ү': 'y', 'ո': 'n',
	// Greek.
	'α': 'a', 'Α': 'a', 'Β': 'b', 'ε': 'e', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'ι': 'i', 'Ι': 'i',
	'κ': 'k', 'Κ': 'k', 'Μ': 'm', 'ν': 'v', 'Ν': 'n', 'ο': 'o', 'Ο': 'o', 'ρ': 'p', 'Ρ': 'p',
	'τ': 't', 'Τ': 't', 'υ': 'u', 'Υ': 'y', 'χ': 'x', 'Χ': 'x',
	// Latin look-alikes outside ASCII that NFKD keeps.
	'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɡ': 'g', 'ɩ': 'i', 'ʏ': 'y', 'ℓ': 'l',
}
