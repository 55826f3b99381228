package pii

import (
	"math"
	"strings"
	"unicode/utf8"
)

// The name scorer is a logistic regression over the features below,
// trained on the candidates of the Even half of PUPA (see scorer_test.go,
// which also writes the weights into scorer_weights.go). Every candidate
// name the finder generates is scored, the candidates of one name
// together (see setScores); [Detector] reports those whose score reaches
// a threshold chosen on the Even half.

// feature indexes a feature of a name candidate. Every feature is 0 or 1,
// or a share or a scaled count between 0 and about 1.
type feature int

const (
	fBias feature = iota

	// The rule that made the candidate (see judgeRun and findCues).
	fRuleTitle
	fRuleMyName
	fRuleNamed
	fRuleGreeting
	fRuleIAm
	fRuleTitleLower
	fRuleLowerPlace
	fRuleAt
	fRuleLiveIn
	fRuleOrgStrong
	fRuleOrgCommon
	fRuleOrgWeak
	fRuleOrgWeakCommon
	fRuleStreet
	fRuleSuffixCommon
	fRulePlaceCountry
	fRulePlaceCapital
	fRulePlaceRegion
	fRulePlaceCity
	fRulePlaceMulti
	fRuleMultiNames
	fRuleMultiStrong2
	fRuleMultiStrong1
	fRuleSingleName
	fRuleSingleUnknown
	fRuleSingleTown
	fRuleSingleAcronym

	// Families of rules, which pool the evidence of rare rules.
	fPersonCue // a title, greeting or phrase that introduces a person
	fOrgRule   // an organisation word ends it
	fPlaceRule // a gazetteer place or a street

	// The candidate's shape.
	fSentStart  // its first word starts a sentence, line or list item
	fLineStart  // its first word starts a line (or the text)
	fWords2     // two words
	fWords3     // three or more
	fAllCaps    // every word in capitals
	fLowerCase  // its first word in lower case (a cue found it)
	fShort      // one word of three letters or fewer
	fHyphen     // a hyphen joins two of its words
	fNameShare  // share of its words that are gazetteer person names only
	fPlaceShare // ... gazetteer places only
	fUnknownShare
	fKnownShare     // ... proper nouns of the English dictionary
	fAmbiguousShare // ... names or places that are also common words
	fAcronymShare
	fFirstName      // its first word is in the person-name gazetteer
	fPlaceClass     // the gazetteer's class of its words as one place, 0 to 1
	fLowerElsewhere // one of its words is written in lower case elsewhere
	fJobTitle       // its last word names a job or role: Officer, Manager

	// The words around it.
	fPrevThe
	fPrevBy
	fPrevWithAnd
	fPrevPrep    // in, at, from, to, for, of, on
	fPrevVerb    // a word that precedes a person: met, told, asked, ...
	fPrevName    // "name:" or "name is" before it
	fPrevSign    // a sign-off (Regards, Sincerely, Thanks) before it
	fNextPoss    // 's after it
	fNextColon   // a colon after it: a speaker or a label
	fQuoted      // inside quotation marks
	fParen       // inside parentheses
	fNextLower   // a word in lower case right after it ("Parma ham")
	fNextVerb    // is, was, has, said ... after it
	fLineCaps    // share of the other words of its line that are capitalised
	fNearForeign // share of the lower-case words near it that no dictionary knows

	// The whole text.
	fRepeat      // how often its text recurs as a candidate, log scaled
	fRepeat5     // five times or more
	fForeign     // the text is mostly not English
	fDocLen      // the number of words of the text, log scaled
	fCapShare    // share of capitalised words in the text
	fCandidates  // the number of candidates in the text, log scaled
	fFirstGroup  // the first name the text mentions
	fCodeShare   // share of the words of the text that look like code
	fFirstPerson // share of the words of the text that are I, me, my, we ...
	fPosition    // where in the text it is, from 0 (start) to 1 (end)
	fDocLetter   // the text has words of a letter: dear, regards, sincerely
	fDocStory    // ... of a story: story, character, chapter, scene
	fDocPaper    // ... of a paper: et al, study, journal, abstract

	numFeatures
)

// featureNames names the features, for the weights file and reports.
var featureNames = [numFeatures]string{
	fBias:              "bias",
	fRuleTitle:         "rule title",
	fRuleMyName:        "rule cue:myname",
	fRuleNamed:         "rule cue:named",
	fRuleGreeting:      "rule cue:greeting",
	fRuleIAm:           "rule cue:iam",
	fRuleTitleLower:    "rule cue:title-lower",
	fRuleLowerPlace:    "rule lower:place",
	fRuleAt:            "rule cue:at",
	fRuleLiveIn:        "rule cue:livein",
	fRuleOrgStrong:     "rule org:strong",
	fRuleOrgCommon:     "rule org:common",
	fRuleOrgWeak:       "rule org:weak",
	fRuleOrgWeakCommon: "rule org:weakcommon",
	fRuleStreet:        "rule street",
	fRuleSuffixCommon:  "rule suffix:common",
	fRulePlaceCountry:  "rule place:country",
	fRulePlaceCapital:  "rule place:capital",
	fRulePlaceRegion:   "rule place:region",
	fRulePlaceCity:     "rule place:city",
	fRulePlaceMulti:    "rule place:multi",
	fRuleMultiNames:    "rule multi:names",
	fRuleMultiStrong2:  "rule multi:strong2",
	fRuleMultiStrong1:  "rule multi:strong1",
	fRuleSingleName:    "rule single:name",
	fRuleSingleUnknown: "rule single:unknown",
	fRuleSingleTown:    "rule single:town",
	fRuleSingleAcronym: "rule single:acronym",
	fPersonCue:         "family person cue",
	fOrgRule:           "family organisation",
	fPlaceRule:         "family place",
	fSentStart:         "sentence start",
	fLineStart:         "line start",
	fWords2:            "two words",
	fWords3:            "three or more words",
	fAllCaps:           "all capitals",
	fLowerCase:         "lower case",
	fShort:             "short word",
	fHyphen:            "hyphen",
	fNameShare:         "share of person names",
	fPlaceShare:        "share of places",
	fUnknownShare:      "share of unknown words",
	fKnownShare:        "share of known proper nouns",
	fAmbiguousShare:    "share of ambiguous words",
	fAcronymShare:      "share of acronyms",
	fFirstName:         "first word a person name",
	fPlaceClass:        "place class",
	fLowerElsewhere:    "in lower case elsewhere",
	fJobTitle:          "job title",
	fPrevThe:           "after the",
	fPrevBy:            "after by",
	fPrevWithAnd:       "after with or and",
	fPrevPrep:          "after a preposition",
	fPrevVerb:          "after a verb of people",
	fPrevName:          "after name: or name is",
	fPrevSign:          "after a sign-off",
	fNextPoss:          "before 's",
	fNextColon:         "before a colon",
	fQuoted:            "quoted",
	fParen:             "in parentheses",
	fNextLower:         "before a word in lower case",
	fNextVerb:          "before a verb",
	fLineCaps:          "capitalised line",
	fNearForeign:       "foreign words near",
	fRepeat:            "repeats",
	fRepeat5:           "repeats five times or more",
	fForeign:           "foreign text",
	fDocLen:            "text length",
	fCapShare:          "share of capitalised words",
	fCandidates:        "candidates in the text",
	fFirstGroup:        "first name of the text",
	fCodeShare:         "share of code words",
	fFirstPerson:       "share of first-person words",
	fPosition:          "position in the text",
	fDocLetter:         "text is a letter",
	fDocStory:          "text is a story",
	fDocPaper:          "text is a paper",
}

// features is one candidate's feature vector.
type features [numFeatures]float64

// ruleFeature maps a rule (without its "@start") to its feature.
var ruleFeature = map[string]feature{
	"title":               fRuleTitle,
	"cue:myname":          fRuleMyName,
	"cue:named":           fRuleNamed,
	"cue:greeting":        fRuleGreeting,
	"cue:iam":             fRuleIAm,
	"cue:title-lower":     fRuleTitleLower,
	"lower:place":         fRuleLowerPlace,
	"cue:at":              fRuleAt,
	"cue:livein":          fRuleLiveIn,
	"org:strong":          fRuleOrgStrong,
	"org:common":          fRuleOrgCommon,
	"org:weak":            fRuleOrgWeak,
	"org:weakcommon":      fRuleOrgWeakCommon,
	"street":              fRuleStreet,
	"suffix:common":       fRuleSuffixCommon,
	"place:country":       fRulePlaceCountry,
	"place:capital":       fRulePlaceCapital,
	"place:region":        fRulePlaceRegion,
	"place:city":          fRulePlaceCity,
	"place:bigcity":       fRulePlaceCity,
	"place:town":          fRuleSingleTown,
	"place:multi":         fRulePlaceMulti,
	"multi:names":         fRuleMultiNames,
	"multi:strong2":       fRuleMultiStrong2,
	"multi:strong1":       fRuleMultiStrong1,
	"single:name":         fRuleSingleName,
	"single:unknown":      fRuleSingleUnknown,
	"single:town":         fRuleSingleTown,
	"single:acronym":      fRuleSingleAcronym,
	"single:knownacronym": fRuleSingleAcronym,
}

// Words before a candidate that the scorer reads, lower case.
var (
	prepositions = set("in", "at", "from", "to", "for", "of", "on", "into", "near")
	jobWords     = set("officer", "manager", "specialist", "controller", "engineer", "director", "assistant",
		"coordinator", "analyst", "consultant", "administrator", "executive", "supervisor", "developer",
		"designer", "accountant", "clerk", "technician", "representative", "associate", "intern", "lead",
		"head", "president", "secretary", "chairman", "ceo", "cto", "cfo", "coo", "founder", "owner",
		"teacher", "professor", "lecturer", "nurse", "doctor", "physician", "surgeon", "lawyer", "attorney",
		"advisor", "adviser", "agent", "architect", "scientist", "researcher", "editor", "writer", "author",
		"student", "trainee", "volunteer", "member", "partner", "principal", "dean", "chief", "minister")
	peopleVerbs = set("met", "meet", "told", "tell", "asked", "ask", "love", "loves", "loved", "married", "wife",
		"husband", "son", "daughter", "friend", "boss", "manager", "colleague", "brother", "sister", "mother",
		"father", "mom", "dad", "girlfriend", "boyfriend", "partner", "said", "says", "thank", "thanks", "dear",
		"mr", "ms", "mrs", "miss", "sir", "called", "named", "contact", "email", "call", "hired", "introduce")
	signOffs   = set("regards", "sincerely", "thanks", "cheers", "yours", "best", "respectfully", "faithfully", "cordially")
	verbsAfter = set("is", "was", "has", "had", "said", "says", "will", "would", "can", "could", "did", "does",
		"asked", "told", "went", "wants", "wanted", "loves", "likes", "thinks", "felt", "feels")
	firstPerson = set("i", "me", "my", "mine", "myself", "we", "us", "our", "ours")
	// Words that say what kind of text it is.
	genreWords = map[string]genre{
		"dear": genreLetter, "regards": genreLetter, "sincerely": genreLetter, "faithfully": genreLetter,
		"story": genreStory, "character": genreStory, "characters": genreStory, "chapter": genreStory,
		"scene": genreStory, "novel": genreStory, "fiction": genreStory, "roleplay": genreStory,
		"al": genrePaper, "study": genrePaper, "journal": genrePaper, "abstract": genrePaper,
		"doi": genrePaper, "participants": genrePaper, "results": genrePaper,
	}
)

// genre is a set of kinds of text.
type genre uint8

const (
	genreLetter genre = 1 << iota
	genreStory
	genrePaper
)

// features writes the features of c, one of n candidates in d, to x.
func (d *doc) features(c *nameCand, n int, x *features) {
	*x = features{}
	toks := d.toks
	run := toks[c.s:c.e]
	first, last := &run[0], &run[len(run)-1]
	text := d.text[first.start:last.end]

	x[fBias] = 1
	rule, _ := strings.CutSuffix(c.rule, "@start")
	if f, ok := ruleFeature[rule]; ok {
		x[f] = 1
		switch f {
		case fRuleTitle, fRuleMyName, fRuleNamed, fRuleGreeting, fRuleIAm, fRuleTitleLower:
			x[fPersonCue] = 1
		case fRuleOrgStrong, fRuleOrgCommon, fRuleOrgWeak, fRuleOrgWeakCommon, fRuleSuffixCommon, fRuleAt:
			x[fOrgRule] = 1
		case fRulePlaceCountry, fRulePlaceCapital, fRulePlaceRegion, fRulePlaceCity, fRulePlaceMulti,
			fRuleSingleTown, fRuleLowerPlace, fRuleLiveIn, fRuleStreet:
			x[fPlaceRule] = 1
		}
	}

	x[fSentStart] = b2f(first.sentStart)
	x[fLineStart] = b2f(c.s == 0 || strings.ContainsAny(first.sepBefore, "\n\r"))
	words := 0
	allCaps, hyphen := true, false
	var names, places, unknown, known, ambiguous, acronyms int
	lowerElsewhere := false
	for k := range run {
		t := &run[k]
		if k > 0 && strings.Contains(t.sepBefore, "-") {
			hyphen = true
		}
		if connectors[t.key] && !t.cap {
			continue
		}
		words++
		allCaps = allCaps && t.allCaps
		switch t.class {
		case wName:
			names++
		case wPlace:
			places++
		case wUnknown:
			unknown++
		case wKnown:
			known++
		case wAmbiguous:
			ambiguous++
		case wAcronym, wKnownAcronym:
			acronyms++
		}
		if d.lower[t.key] {
			lowerElsewhere = true
		}
	}
	words = max(words, 1)
	x[fWords2] = b2f(words == 2)
	x[fWords3] = b2f(words >= 3)
	x[fAllCaps] = b2f(allCaps)
	x[fLowerCase] = b2f(!first.cap && !first.allCaps)
	x[fShort] = b2f(len(run) == 1 && utf8.RuneCountInString(first.text) <= 3)
	x[fHyphen] = b2f(hyphen)
	fw := float64(words)
	x[fNameShare] = float64(names) / fw
	x[fPlaceShare] = float64(places) / fw
	x[fUnknownShare] = float64(unknown) / fw
	x[fKnownShare] = float64(known) / fw
	x[fAmbiguousShare] = float64(ambiguous) / fw
	x[fAcronymShare] = float64(acronyms) / fw
	x[fFirstName] = b2f(d.lx.names[first.key])
	x[fPlaceClass] = float64(d.lx.places[strings.ToLower(text)]) / float64(placeCountry)
	x[fLowerElsewhere] = b2f(lowerElsewhere)
	x[fJobTitle] = b2f(jobWords[last.key])

	// The word before, when no sentence break comes between.
	if c.s > 0 && !first.sentStart {
		p := &toks[c.s-1]
		x[fPrevThe] = b2f(p.key == "the")
		x[fPrevBy] = b2f(p.key == "by")
		x[fPrevWithAnd] = b2f(p.key == "with" || p.key == "and" || strings.TrimSpace(first.sepBefore) == "&")
		x[fPrevPrep] = b2f(prepositions[p.key])
		x[fPrevVerb] = b2f(peopleVerbs[p.key])
		x[fPrevName] = b2f(p.key == "is" && c.s > 1 && toks[c.s-2].key == "name")
	}
	if c.s > 0 {
		p := &toks[c.s-1]
		x[fPrevName] = max(x[fPrevName], b2f(p.key == "name" && strings.Contains(first.sepBefore, ":")))
		x[fPrevSign] = b2f(signOffs[p.key] && strings.ContainsAny(first.sepBefore, ",\n"))
	}
	after := d.text[last.end:]
	x[fNextPoss] = b2f(strings.HasPrefix(after, "'s") || strings.HasPrefix(after, "’s"))
	x[fNextColon] = b2f(strings.HasPrefix(after, ":"))
	before := d.text[:first.start]
	x[fQuoted] = b2f(endsWithAny(before, `"“'‘`) && startsWithAny(after, `"”'’`))
	x[fParen] = b2f(strings.HasSuffix(before, "(") && strings.HasPrefix(after, ")"))
	if c.e < len(toks) {
		nx := &toks[c.e]
		x[fNextLower] = b2f(nx.sepBefore == " " && !nx.cap && !nx.allCaps && d.lx.dict[nx.key]&dictLower != 0)
		x[fNextVerb] = b2f(nx.sepBefore == " " && verbsAfter[nx.key])
	}
	l := d.lines[first.line]
	lineWords, lineCaps := l.words, l.caps
	for k := range run {
		if t := &run[k]; len(t.key) >= 3 {
			lineWords--
			if t.cap || t.allCaps {
				lineCaps--
			}
		}
	}
	if lineWords > 0 {
		x[fLineCaps] = float64(lineCaps) / float64(lineWords)
	}
	near, foreign := 0, 0
	for k := max(c.s-6, 0); k < min(c.e+6, len(toks)); k++ {
		if t := &toks[k]; (k < c.s || k >= c.e) && !t.cap && !t.allCaps && !t.code && len(t.key) >= 3 {
			near++
			if d.lx.dict[t.key] == 0 {
				foreign++
			}
		}
	}
	if near > 0 {
		x[fNearForeign] = float64(foreign) / float64(near)
	}

	x[fRepeat] = math.Log(float64(c.reps)) / 3
	x[fRepeat5] = b2f(c.reps >= 5)
	x[fForeign] = b2f(d.foreign)
	x[fDocLen] = math.Log1p(float64(len(toks))) / 8
	x[fCapShare] = float64(d.caps) / float64(max(len(toks), 1))
	x[fCandidates] = math.Log1p(float64(n)) / 5
	x[fFirstGroup] = b2f(c.group == 0)
	x[fCodeShare] = float64(d.code) / float64(max(len(toks), 1))
	x[fFirstPerson] = float64(d.first) / float64(max(len(toks), 1))
	x[fPosition] = float64(first.start) / float64(max(len(d.text), 1))
	x[fDocLetter] = b2f(d.genre&genreLetter != 0)
	x[fDocStory] = b2f(d.genre&genreStory != 0)
	x[fDocPaper] = b2f(d.genre&genrePaper != 0)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func endsWithAny(s, chars string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && strings.ContainsRune(chars, r)
}

func startsWithAny(s, chars string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && strings.ContainsRune(chars, r)
}

// logistic is a logistic regression: the probability of a candidate is
// 1 / (1 + e^-(w·x)).
type logistic struct {
	w features
}

// nameModel is the trained name scorer (see scorer_weights.go). Weights
// missing from nameWeights are zero: a file written for other features
// still compiles, and TestTrainScorer fails until it is rewritten.
var nameModel = func() logistic {
	var m logistic
	copy(m.w[:], nameWeights)
	return m
}()

// logit returns w·x.
func (m *logistic) logit(x *features) float64 {
	z := 0.0
	for i, v := range x {
		if v != 0 {
			z += m.w[i] * v
		}
	}
	return z
}

// prob returns the probability the model gives x.
func (m *logistic) prob(x *features) float64 { return sigmoid(m.logit(x)) }

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
