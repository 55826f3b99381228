package pii

import (
	"regexp"
	"strings"
)

// The project's generic PII detector before this package: the regular
// expressions of privacy/guard.go (e-mail; cards with the Luhn check;
// IBANs with the mod-97 check; US SSNs; phones of 7 to 15 digits not
// already covered), copied here so that EvalPUPA measures before and after
// with the same code.
var (
	beforeEmail = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	beforePhone = regexp.MustCompile(`(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{2,4})[\s.-]\d{2,4}[\s.-]\d{2,4}(?:[\s.-]\d{2,4})?`)
	beforeCard  = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)
	beforeIBAN  = regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b`)
	beforeSSN   = regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`)
)

// beforeDetect is the detector before this package, as a function for
// EvalPUPA. Its spans may overlap and are not sorted, as they were not.
func beforeDetect(text string) []Span {
	var out []Span
	add := func(k Kind, l []int) { out = append(out, Span{Kind: k, Start: l[0], End: l[1]}) }
	for _, l := range beforeEmail.FindAllStringIndex(text, -1) {
		add(Email, l)
	}
	for _, l := range beforeCard.FindAllStringIndex(text, -1) {
		if beforeLuhn(text[l[0]:l[1]]) {
			add(Card, l)
		}
	}
	for _, l := range beforeIBAN.FindAllStringIndex(text, -1) {
		if ibanValid(text[l[0]:l[1]]) {
			add(IBAN, l)
		}
	}
	for _, l := range beforeSSN.FindAllStringIndex(text, -1) {
		add(NationalID, l)
	}
	for _, l := range beforePhone.FindAllStringIndex(text, -1) {
		if d := countDigits(text[l[0]:l[1]]); d >= 7 && d <= 15 && !beforeCovered(out, l[0], l[1]) {
			add(Phone, l)
		}
	}
	return out
}

// beforeLuhn is guard.go's Luhn check: at least 13 digits.
func beforeLuhn(s string) bool {
	return countDigits(s) >= 13 && luhn(strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s))
}

func beforeCovered(ss []Span, start, end int) bool {
	for _, s := range ss {
		if s.Start <= start && end <= s.End {
			return true
		}
	}
	return false
}
