package pii

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
	// reURL matches a scheme or www. and the rest up to white space or a
	// quote; trailing punctuation is trimmed afterwards.
	reURL = regexp.MustCompile(`(?i)\b(?:(?:https?|s?ftp|wss?|socks[45]?h?|ssh|git|rtsp|smb|jdbc:[a-z]+)://|www\.)[^\s<>"'\x60]+`)
	// reHost matches a bare host name under a common top-level domain,
	// with an optional path.
	reHost = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|org|net|edu|gov|io|co|ai|me|info|biz|app|dev|xyz|us|uk|ca|au|in|de|fr|tn|ru|cn|jp)\b(?:/[^\s<>"'\x60]*)?`)
	reIPv4 = regexp.MustCompile(`\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b`)
	reCard = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)
	reIBAN = regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b`)
	reSSN  = regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`)
	// rePhone matches a phone candidate: an optional +, then digits,
	// spaces, dots, dashes, slashes and parentheses, 7 to 15 digits in all
	// (checked after the match).
	rePhone = regexp.MustCompile(`(?:\+|\(|\b)\d[\d\t ().\-/]{4,24}\d\b`)
	// reSecretKV matches password=..., "api_key": "...", token: ...
	reSecretKV = regexp.MustCompile(`(?i)\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|client[_-]?secret|access[_-]?token|refresh[_-]?token|auth[_-]?token|token|password|passwd|pwd|passphrase)["']?\s*[:=]\s*["']?([A-Za-z0-9_\-./+=~!@#$%^&*]{6,})`)
	// reKeyShape matches strings shaped like API keys and tokens.
	reKeyShape = regexp.MustCompile(`\b(?:sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16}|xox[abpr]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})\b`)
	// reHomePath captures the user name of a home directory.
	reHomePath = regexp.MustCompile(`(?i)(?:\b[a-z]:\\{1,2}(?:users|documents and settings)\\{1,2}|(?:^|[\s"'(=])/(?:home|users)/)([^\\/\s"'<>:|*?]+)`)
	// reHandle matches an @handle that starts a word.
	reHandle = regexp.MustCompile(`(?:^|[\s(,;])(@[A-Za-z0-9_][A-Za-z0-9_.]{2,29}[A-Za-z0-9_])(?::[A-Za-z0-9.-]+\.[a-z]{2,})?`)
	// reLabelledID matches a number introduced by a label such as
	// "account number" or "passport no.".
	reLabelledID = regexp.MustCompile(`(?i)\b(?:account|acct|a/c|customer|client|member|membership|policy|passport|licen[cs]e|identification|reference|ref|invoice|order|case|claim|tracking|employee|student|patient|record|registration|tax|vat|routing|sort|swift|bic|national|insurance|certificate|permit|visa|ticket|booking|confirmation)\s*(?:number|no\.?|num\.?|#|id|code)\s*[:#.]?\s*([A-Za-z0-9][A-Za-z0-9/-]{3,})`)
	// reMixedID matches a token of letters and digits with at least five
	// digits ("c1666544295", "KJ046613").
	reMixedID = regexp.MustCompile(`\b[A-Za-z]{1,4}\d{5,}[A-Za-z]?\b|\b\d{5,}[A-Za-z]{1,3}\b`)
	// reDateNum matches dates written with digits only (2021-04-01,
	// 12/21/1997, 1.2.2020); reDateMonth dates with an English month name
	// (March 3, 2021; 3rd of March 2021; Jun 2015).
	reDateNum   = regexp.MustCompile(`\b(?:(?:19|20)\d\d[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])|(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)?\d\d|(?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])[-/.](?:19|20)?\d\d)\b`)
	reDateMonth = regexp.MustCompile(`(?i)\b(?:` + month + `\.?\s+(?:\d{1,2}(?:st|nd|rd|th)?,?\s+)?(?:19|20)\d\d|(?:\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?)` + month + `\.?,?\s+(?:19|20)\d\d|` + month + `\.?\s+\d{1,2}(?:st|nd|rd|th)?\b)`)
	// reYearRange matches year ranges such as 2019-2022 and 2015–2016.
	reYearRange = regexp.MustCompile(`\b(?:19|20)\d\d\s*[-–/]\s*(?:(?:19|20)\d\d|\d\d)\b`)
	// reMoney matches amounts with a currency sign or code.
	reMoney = regexp.MustCompile(`(?i)(?:[$€£¥₹]|\b(?:usd|eur|gbp|inr|aed|sar|rs\.?)\s?)\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|million|billion|thousand)\b)?|\b\d[\d,]*(?:\.\d+)?\s?(?:usd|eur|gbp|dollars|euros|pounds|rupees)\b`)
	// reStandard matches standard designations whose digits are no phone
	// (ISO 37301:2021, IEC 62304), reVersion version numbers (10.2.1.5).
	reStandard = regexp.MustCompile(`(?i)\b(?:iso|iec|din|astm|ieee|rfc|nist)\s?[\d.\-/: ]+\d`)
	reVersion  = regexp.MustCompile(`\bv?\d+(?:\.\d+){2,}\b`)
)

const month = `(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`

// phoneRegions are the regions whose national formats a phone number
// without a country code is checked against.
const phoneRegions = "US GB IN AU CA DE FR KR AE SA PH NG PK"

// findPatterns adds the structured findings to c. The regular
// expressions run only on windows of the text around what each needs
// (digits, @, ://, a dot before a letter, a keyword such as "account" or
// "password"), which keeps long prose cheap; see windows for why the
// matches are those on the whole text.
func findPatterns(text string, c *candidates) {
	digits := windows(text, digitRuns(text), 8, 8, true)
	ats := windows(text, anchorsOf(text, "@"), 0, 0, true)
	schemes := windows(text, append(anchorsOf(text, "://"), anchorsOf(text, "www.")...), 0, 0, true)
	dots := windows(text, dotLetters(text), 0, 0, true)
	paths := windows(text, append(anchorsOf(text, ":\\"), anchorsOf(text, "/home/", "/Users/", "/users/")...), 2, 40, true)
	words := asciiWords(text)
	labels := windows(text, append(words.of(labelWords), anchorsOf(text, "a/c", "A/C")...), 0, 48, false)
	secrets := windows(text, words.of(secretWords), 0, 24, false)
	months := windows(text, words.of(monthWords), 16, 24, false)
	money := windows(text, append(words.of(moneyWords), anchorsOf(text, "$", "€", "£", "¥", "₹")...), 24, 24, false)
	standards := windows(text, words.of(standardWords), 0, 16, false)

	for _, l := range findIn(reEmail, text, ats) {
		c.add(Email, l[0], l[1], "email")
	}
	for _, l := range findIn(reURL, text, schemes) {
		u := trimURL(text[l[0]:l[1]])
		c.add(urlKind(u), l[0], l[0]+len(u), "url")
	}
	for _, l := range findIn(reHost, text, dots) {
		if hostValid(text, l[0], l[1]) {
			u := trimURL(text[l[0]:l[1]])
			c.add(urlKind(u), l[0], l[0]+len(u), "host")
		}
	}
	for _, l := range findIf(reIPv4, text, digits, func(w string) bool { return strings.Count(w, ".") >= 3 }) {
		if ipValid(text, l[0], l[1]) {
			c.add(IPAddress, l[0], l[1], "ipaddress")
		}
	}
	for _, l := range findIf(reIBAN, text, digits, ibanShape) {
		if ibanValid(text[l[0]:l[1]]) {
			c.add(IBAN, l[0], l[1], "iban")
		}
	}
	for _, l := range findIf(reCard, text, digits, func(w string) bool { return countDigits(w) >= 13 }) {
		if cardValid(text[l[0]:l[1]]) {
			c.add(Card, l[0], l[1], "card")
		}
	}
	for _, l := range findIf(reSSN, text, digits, func(w string) bool { return strings.Count(w, "-") >= 2 }) {
		if ssnValid(text[l[0]:l[1]]) {
			c.add(NationalID, l[0], l[1], "nationalid")
		}
	}
	for _, l := range findIf(reSecretKV, text, secrets, func(w string) bool { return strings.ContainsAny(w, ":=") }) {
		// A credential has a digit; "token: Request" is prose.
		if countDigits(text[l[2]:l[3]]) > 0 {
			c.add(Secret, l[2], l[3], "secret-kv")
		}
	}
	for _, l := range findIf(reKeyShape, text, digits, func(w string) bool { return containsAnyOf(w, "sk-", "gh", "AKIA", "xox", "eyJ") }) {
		c.add(Secret, l[0], l[1], "key-shape")
	}
	for _, l := range findIn(reHomePath, text, paths) {
		if !genericUser(text[l[2]:l[3]]) {
			c.add(Username, l[2], l[3], "home-path")
		}
	}
	for _, l := range findIn(reHandle, text, ats) {
		// Not a code annotation: @Override, @SuppressLint("...").
		if first := text[l[2]+1]; first >= 'A' && first <= 'Z' || l[3] < len(text) && text[l[3]] == '(' {
			continue
		}
		c.add(Username, l[2], l[3], "handle")
	}
	for _, l := range findIf(reLabelledID, text, labels, func(w string) bool { return containsAnyOf(strings.ToLower(w), "no", "num", "#", "id", "code") }) {
		if countDigits(text[l[2]:l[3]]) >= 4 {
			c.add(Number, l[2], l[3], "labelled-id")
		}
	}
	for _, l := range findIf(reMixedID, text, digits, func(w string) bool { return longDigitRun(w, 5) }) {
		if mixedIDValid(text, l[0], l[1]) {
			c.add(Number, l[0], l[1], "mixed-id")
		}
	}

	// Dates and amounts: found for their own kinds, and to keep their
	// digits from being read as phone numbers.
	var veto []Span
	for _, w := range [...]struct {
		re   *regexp.Regexp
		wins [][2]int
		pred func(string) bool
	}{{reDateNum, digits, dateShape}, {reDateMonth, months, hasDigit}} {
		for _, l := range findIf(w.re, text, w.wins, w.pred) {
			c.add(Date, l[0], l[1], "date")
			veto = append(veto, Span{Start: l[0], End: l[1]})
		}
	}
	for _, l := range findIf(reMoney, text, money, func(w string) bool { return countDigits(w) > 0 }) {
		c.add(Money, l[0], l[1], "money")
		veto = append(veto, Span{Start: l[0], End: l[1]})
	}
	for _, w := range [...]struct {
		re   *regexp.Regexp
		wins [][2]int
		pred func(string) bool
	}{{reYearRange, digits, yearRangeShape}, {reVersion, digits, func(w string) bool { return strings.Count(w, ".") >= 2 }}, {reStandard, standards, hasDigit}} {
		for _, l := range findIf(w.re, text, w.wins, w.pred) {
			veto = append(veto, Span{Start: l[0], End: l[1]})
		}
	}
	for _, l := range findIf(rePhone, text, digits, func(w string) bool { return countDigits(w) >= 7 }) {
		start, end := l[0], l[1]
		if start > 0 && (isWordByte(text[start-1]) || strings.ContainsRune("$€£.,:/-", lastRune(text[:start]))) {
			continue
		}
		if end < len(text) && text[end] == '%' {
			continue
		}
		if overlapsSpans(veto, start, end) || !phoneValid(text[start:end]) {
			continue
		}
		c.add(Phone, start, end, "phone")
	}
}

// Words that anchor the patterns that start with a keyword, in lower
// case.
var (
	labelWords = set("account", "acct", "customer", "client", "member", "membership", "policy", "passport",
		"license", "licence", "identification", "reference", "ref", "invoice", "order", "case", "claim", "tracking",
		"employee", "student", "patient", "record", "registration", "tax", "vat", "routing", "sort", "swift", "bic",
		"national", "insurance", "certificate", "permit", "visa", "ticket", "booking", "confirmation")
	secretWords = set("api", "apikey", "secret", "client", "access", "refresh", "auth", "token", "password",
		"passwd", "pwd", "passphrase")
	monthWords = set("jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june",
		"jul", "july", "aug", "august", "sep", "sept", "september", "oct", "october", "nov", "november", "dec",
		"december")
	moneyWords    = set("usd", "eur", "gbp", "inr", "aed", "sar", "rs", "dollars", "euros", "pounds", "rupees")
	standardWords = set("iso", "iec", "din", "astm", "ieee", "rfc", "nist")
)

// wordSpans are the runs of ASCII letters of a text, with the text.
type wordSpans struct {
	text  string
	spans [][2]int
}

// asciiWords finds the runs of ASCII letters in text ("api_key" is two).
func asciiWords(text string) wordSpans {
	w := wordSpans{text: text}
	for i := 0; i < len(text); i++ {
		if c := text[i] | 0x20; c < 'a' || c > 'z' {
			continue
		}
		j := i + 1
		for j < len(text) && text[j]|0x20 >= 'a' && text[j]|0x20 <= 'z' {
			j++
		}
		w.spans = append(w.spans, [2]int{i, j})
		i = j
	}
	return w
}

// of returns the spans of the words in set, compared in lower case.
func (w wordSpans) of(set map[string]bool) [][2]int {
	var out [][2]int
	var buf [16]byte
	for _, s := range w.spans {
		if s[1]-s[0] > len(buf) {
			continue
		}
		b := buf[:0]
		for i := s[0]; i < s[1]; i++ {
			b = append(b, w.text[i]|0x20)
		}
		if set[string(b)] {
			out = append(out, s)
		}
	}
	return out
}

// Cheap tests of a window before a regular expression runs on it.

func hasDigit(w string) bool { return strings.ContainsAny(w, "0123456789") }

func containsAnyOf(w string, lits ...string) bool {
	for _, l := range lits {
		if strings.Contains(w, l) {
			return true
		}
	}
	return false
}

// longDigitRun reports whether w has a run of n digits or more.
func longDigitRun(w string, n int) bool {
	run := 0
	for i := 0; i < len(w); i++ {
		if w[i] >= '0' && w[i] <= '9' {
			if run++; run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// ibanShape reports whether w has two capitals followed by two digits.
func ibanShape(w string) bool {
	for i := 0; i+3 < len(w); i++ {
		if w[i] >= 'A' && w[i] <= 'Z' && w[i+1] >= 'A' && w[i+1] <= 'Z' && w[i+2] >= '0' && w[i+2] <= '9' && w[i+3] >= '0' && w[i+3] <= '9' {
			return true
		}
	}
	return false
}

// dateShape reports whether w has digits, a separator (- / .) and digits
// twice: 2021-04-01, 12/21/1997.
func dateShape(w string) bool {
	for i := 0; i < len(w); i++ {
		if c := w[i]; (c == '-' || c == '/' || c == '.') && i > 0 && isDigitByte(w[i-1]) && i+1 < len(w) && isDigitByte(w[i+1]) {
			if j := strings.IndexByte(w[i+1:], c); j > 0 && i+1+j+1 < len(w) && isDigitByte(w[i+j]) && isDigitByte(w[i+1+j+1]) {
				return true
			}
		}
	}
	return false
}

// yearRangeShape reports whether w has 19xx or 20xx and a dash or slash.
func yearRangeShape(w string) bool {
	return (strings.Contains(w, "19") || strings.Contains(w, "20")) && strings.ContainsAny(w, "-–/")
}

func isDigitByte(b byte) bool { return b >= '0' && b <= '9' }

// digitRuns returns the spans of the runs of ASCII digits in text.
func digitRuns(text string) [][2]int {
	var out [][2]int
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			continue
		}
		j := i + 1
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

// anchorsOf returns the spans of every occurrence of the literals in text.
func anchorsOf(text string, lits ...string) [][2]int {
	var out [][2]int
	for _, lit := range lits {
		for i := 0; ; {
			j := strings.Index(text[i:], lit)
			if j < 0 {
				break
			}
			out = append(out, [2]int{i + j, i + j + len(lit)})
			i += j + len(lit)
		}
	}
	return out
}

// dotLetters returns the dots that a letter follows: where a host name
// may have a top-level domain.
func dotLetters(text string) [][2]int {
	var out [][2]int
	for i := 0; i+1 < len(text); i++ {
		if text[i] == '.' && (text[i+1]|0x20 >= 'a' && text[i+1]|0x20 <= 'z') {
			out = append(out, [2]int{i, i + 1})
		}
	}
	return out
}

// windows widens each anchor by left bytes, and then to the previous
// white space (wsLeft) or the previous ASCII character that is not a
// letter, digit or _ (so that \b means in the window what it means in the
// text); and by right bytes and then to the next white space (so that a
// value after a keyword stays whole). It merges the windows that touch.
// The regular expressions run on these windows find what they would find
// on the whole text as long as their matches start within left bytes of
// an anchor, or after the white space before it (wsLeft), and end within
// right bytes, or at white space, after it.
func windows(text string, anchors [][2]int, left, right int, wsLeft bool) [][2]int {
	if len(anchors) == 0 {
		return nil
	}
	slices.SortFunc(anchors, func(a, b [2]int) int { return a[0] - b[0] })
	var out [][2]int
	for _, a := range anchors {
		lo, hi := max(0, a[0]-left), min(len(text), a[1]+right)
		if wsLeft {
			lo = strings.LastIndexAny(text[:lo], " \t\n\r") + 1
		} else {
			for lo > 0 && (text[lo-1] >= 0x80 || isWordByte(text[lo-1])) {
				lo--
			}
		}
		if k := strings.IndexAny(text[hi:], " \t\n\r"); k >= 0 {
			hi += k
		} else {
			hi = len(text)
		}
		if n := len(out); n > 0 && lo <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], hi)
			continue
		}
		out = append(out, [2]int{lo, hi})
	}
	return out
}

// findIn returns the submatch indices of re in the windows of text, as
// offsets in text.
func findIn(re *regexp.Regexp, text string, wins [][2]int) [][]int {
	return findIf(re, text, wins, nil)
}

// findIf is findIn on the windows for which pred (a cheap test of what re
// needs) holds; a nil pred holds for all.
func findIf(re *regexp.Regexp, text string, wins [][2]int, pred func(string) bool) [][]int {
	var out [][]int
	for _, w := range wins {
		if pred != nil && !pred(text[w[0]:w[1]]) {
			continue
		}
		for _, l := range re.FindAllStringSubmatchIndex(text[w[0]:w[1]], -1) {
			for k := range l {
				if l[k] >= 0 {
					l[k] += w[0]
				}
			}
			out = append(out, l)
		}
	}
	return out
}

// hostValid reports whether the bare host name at text[start:end] is
// one, not a dotted identifier of code (java.io.File, System.IO).
func hostValid(text string, start, end int) bool {
	if start > 0 && strings.ContainsRune("@.-_/\\", rune(text[start-1])) {
		return false
	}
	if end < len(text) && (text[end] == '(' || text[end] == '.' && end+1 < len(text) && isWordByte(text[end+1])) {
		return false
	}
	host, _, _ := strings.Cut(text[start:end], "/")
	tld := host[strings.LastIndexByte(host, '.')+1:]
	return strings.ToLower(tld) == tld
}

// ipValid reports whether the dotted quad at text[start:end] is an
// address rather than a version ("Chrome/110.0.0.0", "v1.2.3.4").
func ipValid(text string, start, end int) bool {
	if start > 0 && strings.ContainsRune("/vV.", rune(text[start-1])) {
		return false
	}
	if end < len(text) && text[end] == '.' && end+1 < len(text) && text[end+1] >= '0' && text[end+1] <= '9' {
		return false
	}
	if strings.Count(text[start:end], ".0") >= 2 {
		return false
	}
	// Private, loopback and link-local addresses name no one.
	ip := text[start:end]
	for _, p := range [...]string{"10.", "127.", "192.168.", "169.254.", "0."} {
		if strings.HasPrefix(ip, p) {
			return false
		}
	}
	if rest, ok := strings.CutPrefix(ip, "172."); ok {
		second, _, _ := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(second); err == nil && n >= 16 && n <= 31 {
			return false
		}
	}
	return true
}

// mixedIDValid reports whether the letter-digit token at text[start:end]
// is an identifier, not a hex number or colour (#81848F,
// 000000000000254b, 0x1f2e3d4c).
func mixedIDValid(text string, start, end int) bool {
	if start > 0 && strings.ContainsRune("#x", rune(text[start-1])) {
		return false
	}
	s := text[start:end]
	hex := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F')
	}) < 0
	return !hex || s[0] < '0' || s[0] > '9'
}

// trimURL drops trailing punctuation that ends the sentence rather than
// the address.
func trimURL(u string) string {
	for len(u) > 0 {
		r, size := utf8.DecodeLastRuneInString(u)
		if !strings.ContainsRune(".,;:!?)]}'\"”’…", r) {
			break
		}
		if r == ')' && strings.Count(u, "(") >= strings.Count(u, ")") {
			break
		}
		u = u[:len(u)-size]
	}
	return u
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// phoneValid reports whether candidate is a phone number: 7 to 15
// digits on one line, no date or decimal shape, and valid by
// libphonenumber's metadata — for its country code when it starts with +,
// else, when it is written in groups, for one of phoneRegions.
func phoneValid(s string) bool {
	if strings.ContainsAny(s, "\n\r\t") {
		return false
	}
	n := countDigits(s)
	if n < 7 || n > 15 {
		return false
	}
	s = strings.TrimSpace(s)
	groups := strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if strings.HasPrefix(s, "+") {
		num, err := phonenumbers.Parse(s, "")
		return err == nil && phonenumbers.IsValidNumber(num)
	}
	// National formats: nine digits or more (a subscriber number with
	// its area code), in groups, none a lone decimal point or a
	// slash-separated date.
	if n < 9 || len(groups) < 2 || strings.Count(s, "/") > 0 || strings.Count(s, ".") == 1 {
		return false
	}
	// Dots separate all the groups or none ("1.090-14.294" is two
	// decimals).
	if strings.Contains(s, ".") && strings.ContainsAny(s, "- ()") {
		return false
	}
	if strings.Count(s, "(") != strings.Count(s, ")") {
		return false
	}
	// A list of years ("2021 2022 2023") is no phone number.
	years := 0
	for _, g := range groups {
		if len(g) == 4 && (g[:2] == "19" || g[:2] == "20") {
			years++
		}
	}
	if years == len(groups) {
		return false
	}
	for _, g := range groups {
		if len(g) > 5 && len(groups) > 2 {
			return false
		}
	}
	for region := range strings.FieldsSeq(phoneRegions) {
		num, err := phonenumbers.Parse(s, region)
		if err == nil && phonenumbers.IsValidNumberForRegion(num, region) {
			return true
		}
	}
	return false
}

// cardValid reports whether s is a plausible card number: a major
// network's first digit, not one digit repeated, and the Luhn check.
func cardValid(s string) bool {
	d := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(d) < 13 || len(d) > 19 || !strings.ContainsRune("23456", rune(d[0])) {
		return false
	}
	if strings.Count(d, d[:1]) == len(d) {
		return false
	}
	// Written in groups, the groups are those of a card: fours, with a
	// shorter last group, or Amex's 4-6-5.
	if groups := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '-' }); len(groups) > 1 {
		for i, g := range groups {
			if len(g) != 4 && !(i == len(groups)-1 && len(g) < 4 && len(g) >= 3) && !(len(groups) == 3 && (i == 1 && len(g) == 6 || i == 2 && len(g) == 5)) {
				return false
			}
		}
	}
	return luhn(d)
}

// luhn reports whether the digits of s pass the Luhn check.
func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ibanValid reports whether s (spaces allowed) is 15 to 34 characters
// long and passes the ISO 13616 mod-97 check.
func ibanValid(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = s[4:] + s[:4]
	rem := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			rem = (rem*10 + int(r-'0')) % 97
		case r >= 'A' && r <= 'Z':
			rem = (rem*100 + int(r-'A') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// ssnValid reports whether s (AAA-GG-SSSS) could be issued: no 000, 666
// or 9xx area, no 00 group, no 0000 serial.
func ssnValid(s string) bool {
	area, group, serial := s[:3], s[4:6], s[7:]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// genericUser reports whether a home directory name is a placeholder
// rather than someone's name.
func genericUser(s string) bool {
	switch strings.ToLower(s) {
	case "user", "username", "user_name", "yourname", "your_name", "yourusername", "your_username",
		"name", "admin", "administrator", "root", "public", "default", "default user", "all users",
		"me", "you", "runner", "ubuntu", "pi", "xxx", "...", "<user>", "<username>", "%username%", "$user", "~":
		return true
	}
	return strings.IndexFunc(s, unicode.IsLetter) < 0
}
