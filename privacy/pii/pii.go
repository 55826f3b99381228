package pii

import (
	"cmp"
	"slices"
)

// Kind names what a [Span] found.
type Kind string

// The kinds. [DefaultKinds] lists those [Detect] looks for; Link, Date
// and Money are only found when a [Detector] asks for them.
const (
	// Email is an e-mail address.
	Email Kind = "email"
	// Phone is a telephone number that libphonenumber's metadata accepts
	// as valid: with a country code (+...), or of nine digits or more in
	// the national format of one of 13 common regions (US, GB, IN, ...),
	// written in groups.
	Phone Kind = "phone"
	// Card is a payment card number that passes the Luhn check.
	Card Kind = "card"
	// IBAN is an international bank account number whose mod-97 check
	// holds.
	IBAN Kind = "iban"
	// NationalID is a US social security number (AAA-GG-SSSS).
	NationalID Kind = "national_id"
	// URL is a web address that names someone: a profile page on a
	// social or code-hosting site (linkedin.com/in/NAME, github.com/NAME,
	// youtube.com/@NAME, ...), a personal subdomain (NAME.github.io) or
	// a user name before the host (ftp://user:pass@host).
	URL Kind = "url"
	// Link is any other web address: a scheme (https://, socks5://, ...),
	// www., or a host name under a common top-level domain (not found by
	// default: most web addresses in prompts are public pages).
	Link Kind = "link"
	// IPAddress is a public IPv4 address (private, loopback and
	// link-local ones name no one).
	IPAddress Kind = "ip"
	// Secret is a credential: the value of password=, token: and the like,
	// or a string shaped like an API key.
	Secret Kind = "secret"
	// Number is an identifier: a labelled number ("account number 1234")
	// or a token of a few letters and at least five digits
	// ("C1666544295").
	Number Kind = "number"
	// Username is a user name in a home directory path
	// (C:\Users\name, /home/name) or an @handle.
	Username Kind = "username"
	// Person is a person's name.
	Person Kind = "person"
	// Organization is a company, school, hospital or other body.
	Organization Kind = "organization"
	// Place is a country, region, city or street address.
	Place Kind = "place"
	// Name is a proper name the detector could not classify further.
	Name Kind = "name"
	// Date is a calendar date (not found by default).
	Date Kind = "date"
	// Money is an amount of money (not found by default).
	Money Kind = "money"
)

// DefaultKinds returns the kinds [Detect] looks for, in the order of
// precedence that decides between overlapping findings (names, the last
// four, rank by their score among themselves).
func DefaultKinds() []Kind {
	return []Kind{Email, URL, IBAN, Card, NationalID, Phone, IPAddress, Secret, Username, Number,
		Person, Organization, Place, Name}
}

// Span is one finding: its kind and its byte offsets [Start, End) in the
// text given to Detect.
type Span struct {
	Kind       Kind
	Start, End int
}

// Detector finds PII in text. Its zero value looks for [DefaultKinds].
// A Detector is safe for concurrent use; its gazetteer is loaded once per
// process, on first use.
type Detector struct {
	// Kinds lists the kinds to report; nil means DefaultKinds. Link,
	// Date and Money are reported only when listed here.
	Kinds []Kind
	// Precise reports only the names the scorer is surer of (a higher
	// threshold on its probability): fewer false findings, lower recall.
	// The package documentation gives both settings' figures.
	Precise bool
	// Threshold, when above 0, is the scorer's threshold for names
	// instead of the default or Precise one: lower finds more names and
	// more false ones. [RecallThreshold] is the privacy guard's.
	Threshold float64
}

// RecallThreshold is the threshold of the privacy guard, which would
// rather redact a public name than send a private one: on the Even half
// of PUPA, where the scorer was trained, it keeps the recall of the rules
// the scorer replaced (66.8% against 67.1%) at fewer false findings (0.57
// per prompt against 0.60); on the whole file 61.4% recall at 0.72 false
// findings per prompt (see doc.go).
const RecallThreshold = 0.35

// Detect returns the PII [Detector]{} finds in text: non-overlapping
// spans sorted by Start. It is safe for concurrent use.
func Detect(text string) []Span { return Detector{}.Detect(text) }

// Detect returns the findings in text, sorted by Start and not
// overlapping: where two candidates overlap, the one of the earlier kind
// in [DefaultKinds] order (structured patterns before names) wins; of two
// names, the one the scorer gives the higher probability; then the
// longer one.
func (d Detector) Detect(text string) []Span {
	cs := d.detect(text)
	out := make([]Span, len(cs))
	for i, c := range cs {
		out[i] = c.Span
	}
	return out
}

// detect is Detect with the rule behind each finding.
func (d Detector) detect(text string) []cand {
	want := d.wants()
	c, names := d.candidates(text, want)
	th := nameThreshold
	switch {
	case d.Threshold > 0:
		th = d.Threshold
	case d.Precise:
		th = preciseThreshold
	}
	return pick(c, names, th, want)
}

// wants returns whether d reports a kind.
func (d Detector) wants() func(Kind) bool {
	kinds := d.Kinds
	if kinds == nil {
		kinds = DefaultKinds()
	}
	return func(k Kind) bool { return slices.Contains(kinds, k) }
}

// candidates returns the pattern findings in text and, when d wants
// names, the scored name candidates.
func (d Detector) candidates(text string, want func(Kind) bool) (candidates, []nameCand) {
	var c candidates
	findPatterns(text, &c)
	var names []nameCand
	if want(Person) || want(Organization) || want(Place) || want(Name) {
		names = findNames(text, c.taken())
	}
	return c, names
}

// pick keeps the name candidates whose score reaches th and resolves
// the overlaps.
func pick(c candidates, names []nameCand, th float64, want func(Kind) bool) []cand {
	c = slices.Clone(c)
	for _, n := range names {
		if n.p >= th {
			c = append(c, cand{Span: Span{Kind: n.kind, Start: n.start, End: n.end}, rule: n.rule, score: n.p})
		}
	}
	return c.resolve(want)
}

// rank orders kinds for overlap resolution: lower wins.
func rank(k Kind) int {
	switch k {
	case Email:
		return 0
	case URL, Link:
		return 1
	case IBAN:
		return 2
	case Card:
		return 3
	case NationalID:
		return 4
	case Phone:
		return 5
	case IPAddress:
		return 6
	case Secret:
		return 7
	case Username:
		return 8
	case Money:
		return 9
	case Date:
		return 10
	case Number:
		return 11
	case Person:
		return 12
	case Organization:
		return 13
	case Place:
		return 14
	}
	return 15
}

// cand is a candidate finding, the rule that found it and, for a name,
// the scorer's probability (0 for the patterns).
type cand struct {
	Span
	rule  string
	score float64
}

// candidates collects possibly overlapping spans.
type candidates []cand

func (c *candidates) add(k Kind, start, end int, rule string) {
	if end > start {
		*c = append(*c, cand{Span: Span{Kind: k, Start: start, End: end}, rule: rule})
	}
}

// taken returns the spans found so far (the structured patterns), so that
// the name finder skips them.
func (c candidates) taken() []Span {
	out := make([]Span, len(c))
	for i, x := range c {
		out[i] = x.Span
	}
	return out
}

// resolve drops the kinds not wanted (Date and Money, which only veto
// phone candidates by default, and Link included) and overlaps.
func (c candidates) resolve(want func(Kind) bool) []cand {
	ss := slices.DeleteFunc(slices.Clone(c), func(s cand) bool { return !want(s.Kind) })
	slices.SortFunc(ss, func(a, b cand) int {
		if ra, rb := rank(a.Kind), rank(b.Kind); ra != rb && (ra < rank(Person) || rb < rank(Person)) {
			return ra - rb
		}
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		if la, lb := a.End-a.Start, b.End-b.Start; la != lb {
			return lb - la
		}
		return a.Start - b.Start
	})
	var out []cand
	var kept []Span
	for _, s := range ss {
		if !overlapsSpans(kept, s.Start, s.End) {
			out = append(out, s)
			kept = append(kept, s.Span)
		}
	}
	slices.SortFunc(out, func(a, b cand) int { return a.Start - b.Start })
	return out
}

func overlapsSpans(ss []Span, start, end int) bool {
	for _, s := range ss {
		if s.Start < end && start < s.End {
			return true
		}
	}
	return false
}
