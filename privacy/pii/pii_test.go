package pii

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// marked turns "call {{phone:+1 415 555 2671}} now" into the text without
// the marks and the spans they mark.
func marked(t *testing.T, s string) (string, []Span) {
	t.Helper()
	var b strings.Builder
	var spans []Span
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i:], "}}")
		kind, body, ok := strings.Cut(s[i+2:i+j], ":")
		if j < 0 || !ok {
			t.Fatalf("bad mark in %q", s)
		}
		spans = append(spans, Span{Kind: Kind(kind), Start: b.Len(), End: b.Len() + len(body)})
		b.WriteString(body)
		s = s[i+j+2:]
	}
	return b.String(), spans
}

// show renders spans with their text, for failure messages.
func show(text string, spans []Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%s:%q", s.Kind, text[s.Start:s.End]))
	}
	return out
}

func checkDetect(t *testing.T, d Detector, cases []struct{ name, in string }) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text, want := marked(t, tc.in)
			got := d.Detect(text)
			if diff := cmp.Diff(show(text, want), show(text, got)); diff != "" {
				t.Errorf("Detect(%q) (-want +got):\n%s", text, diff)
			}
		})
	}
}

func TestDetectPatterns(t *testing.T) {
	checkDetect(t, Detector{}, []struct{ name, in string }{
		{"email", "write to {{email:jane.doe+cv@mail.example.co.uk}}."},
		{"email without domain", "root@localhost and user@ are not addresses"},
		{"card", "my card {{card:4111 1111 1111 1111}} expires soon"},
		{"card dashes", "card {{card:5500-0000-0000-0004}}"},
		{"card bad luhn", "card 4111 1111 1111 1112"},
		{"card repeated digit", "0000 0000 0000 0000"},
		{"iban", "pay to {{iban:DE89 3704 0044 0532 0130 00}} today"},
		{"iban compact", "IBAN {{iban:GB82WEST12345698765432}}"},
		{"iban bad checksum", "pay to DE89 3704 0044 0532 0130 01 today"},
		{"ssn", "SSN {{national_id:123-45-6789}}"},
		{"ssn never issued", "000-12-3456 666-12-3456 912-34-5678 123-00-4567"},
		{"public url", "see https://example.com/a?b=c. and www.example.org"},
		{"profile url", "see {{url:https://www.linkedin.com/in/tanya-example}}."},
		{"ip", "server {{ip:203.0.113.7}} is down"},
		{"private ip and version", "192.168.1.105 10.0.0.2 Chrome/110.0.0.0 v1.2.3.4"},
		{"secret", "password={{secret:hunter2x9}} and token: Request"},
		{"api key", "key {{secret:sk-abcdefghij0123456789abcd}}"},
		{"home path", `C:\Users\{{username:lidor}}\Desktop and /home/{{username:alice}}/x`},
		{"generic home", `C:\Users\Public\x and /home/user/x`},
		{"handle", "follow {{username:@xtension11}} there"},
		{"code annotation", "@Override\n@SuppressLint(\"x\")"},
		{"labelled number", "account number: {{number:12345678}}"},
		{"letter-digit id", "customer {{number:C1666544295}} and {{number:KJ046613}}"},
		{"hex is no id", "color: #81848F; x1 000000000000254b"},
	})
}

// TestPhoneNotDatesOrAmounts holds the phone finder to numbers: ranges
// of years, dates, amounts, grades, versions and standards have enough
// digits and separators to look like phone numbers to a loose pattern.
func TestPhoneNotDatesOrAmounts(t *testing.T) {
	checkDetect(t, Detector{Kinds: []Kind{Phone}}, []struct{ name, in string }{
		{"us", "call {{phone:+1 415 555 2671}} or {{phone:(415) 555-2671}}"},
		{"us dashes", "phone {{phone:415-555-2671}}"},
		{"spain", "Ivan Martin {{phone:+34 677 123 456}}"},
		{"uk", "ring {{phone:+44 20 7946 0958}}"},
		{"india", "mobile {{phone:+91 98765 43210}}"},
		{"year range", "Napco from Feb 2019-2022 and 2022-2023"},
		{"month year range", "from Jun 2015-Dec 2016 as coordinator"},
		{"years", "in 1998 2004 2015 2022"},
		{"amount", "it cost $1,200.00 or $1,200,000.00 in 2019"},
		{"gpa", "GPA: 3.69 of 4 and GPA: 2.47 of 4"},
		{"iso standard", "certified to ISO 37301:2021 and ISO 27001:2013"},
		{"date", "born 12/21/1997, joined 2021-04-01"},
		{"confidence interval", "95% CI: 1.090-14.294, P = 0.036"},
		{"version", "version 10.2.1.5 of the app"},
		{"ticker amounts", "TRANSFER 181.00 C1305486145 181.00 0.00"},
	})
}

func TestValidators(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(string) bool
		in   string
		want bool
	}{
		{"luhn ok", luhn, "4111111111111111", true},
		{"luhn bad", luhn, "4111111111111112", false},
		{"luhn amex", luhn, "378282246310005", true},
		{"iban de", ibanValid, "DE89370400440532013000", true},
		{"iban spaces", ibanValid, "GB82 WEST 1234 5698 7654 32", true},
		{"iban short", ibanValid, "DE8937040044", false},
		{"iban bad", ibanValid, "DE89370400440532013001", false},
		{"ssn ok", ssnValid, "123-45-6789", true},
		{"ssn 9xx", ssnValid, "912-45-6789", false},
		{"phone plus", phoneValid, "+1 415 555 2671", true},
		{"phone national", phoneValid, "(415) 555-2671", true},
		{"phone too short", phoneValid, "555-2671", false},
		{"phone year range", phoneValid, "2019-2022", false},
		{"phone decimal", phoneValid, "1.090-14.294", false},
	} {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("%s(%q) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestDetectLinks checks the web addresses: those that name someone are
// URL, the others Link, which only a Detector that asks for it reports.
func TestDetectLinks(t *testing.T) {
	checkDetect(t, Detector{Kinds: append(DefaultKinds(), Link)}, []struct{ name, in string }{
		{"url", "see {{link:https://example.com/a?b=c}}."},
		{"url in parentheses", "(see {{link:https://en.wikipedia.org/wiki/Foo_(bar)}})"},
		{"www", "visit {{link:www.example.org}} now"},
		{"bare host", "Summarize {{link:forex.com}} as a broker"},
		{"socks", "proxy {{link:socks5://67.213.212.58:20010}}"},
		{"code is no host", "import java.io.File; using System.IO;"},
		{"linkedin", "{{url:https://www.linkedin.com/in/tanya-wasilew-12ab}} and {{url:linkedin.com/company/erxes}}"},
		{"linkedin page", "{{link:https://www.linkedin.com/jobs/view/123}}"},
		{"github user", "code at {{url:https://github.com/tanyaw}} and {{url:https://github.com/tanyaw/resume}}"},
		{"github page", "{{link:https://github.com/features}} and {{link:https://github.com}}"},
		{"social", "{{url:https://twitter.com/erxeshq}} {{url:https://www.facebook.com/erxesHQ/}} {{url:https://www.youtube.com/@tanya}}"},
		{"video", "{{link:https://www.youtube.com/watch?v=abc}}"},
		{"personal site", "{{url:https://tanyaw.github.io/cv}} and {{url:https://tanya.substack.com}}"},
	})
	for _, u := range []string{"https://www.linkedin.com/in/x", "http://m.facebook.com/someone", "https://t.me/someone", "reddit.com/u/someone", "ftp://tanya:pw@files.example.net/x"} {
		if !personalURL(u) {
			t.Errorf("personalURL(%q) = false, want true", u)
		}
	}
	for _, u := range []string{"https://www.linkedin.com/", "https://facebook.com/sharer.php?u=x", "https://x.com/home", "https://github.com/about", "https://medium.com/topic"} {
		if personalURL(u) {
			t.Errorf("personalURL(%q) = true, want false", u)
		}
	}
}

// TestDetectNames checks the name finder on short texts. Whether a name
// is reported depends on the trained scorer (scorer_weights.go): a case
// that fails after retraining says what the new weights changed.
func TestDetectNames(t *testing.T) {
	checkDetect(t, Detector{}, []struct{ name, in string }{
		{"my name is", "Hello, my name is {{person:Haneen Haitham}} and I need help"},
		{"my name is lower case", "my name is {{person:belal}} a gp doctor"},
		{"i am an adjective", "I am willing to relocate and I am happy"},
		{"company", "I worked at {{organization:Napco National Company}} for ten years"},
		{"university", "MBA from {{organization:Saudi Electronic University}}, 2022"},
		{"title", "Mr. {{person:Frazier}} asked Dr. {{person:Ruby Allen}} to call"},
		{"greeting", "Dear {{person:Maya}},\nNoted, I will send it."},
		{"full name", "The report was written by {{person:Tanya Wasilew}} last week."},
		{"first name", "I met {{person:Melissa}} yesterday."},
		{"unknown word", "We ordered from {{name:Aljoumaih}} twice."},
		{"country", "I live in {{place:Saudi Arabia}} with my family"},
		{"region", "Oral health barriers in {{place:Texas}} schools"},
		{"cities", "She moved from {{place:Dammam}} to {{place:Riyadh}} last year"},
		{"city after live in", "I live in {{place:Dammam}} now"},
		{"city after I'm from", "I'm from {{place:Kolkata}}."},
		{"lower-case place", "I am originally from {{place:washington}}."},
		{"common words", "Senior Compliance Officer, Account Payable Controller, Human Resource Specialist"},
		{"sentence start", "Please write. Thanks for the help. Create a resume."},
		{"days and months", "See you on Monday, 3 March, or in June."},
		{"code", "System.out.println(userName); ViewController getName"},
		{"plural acronyms", "NGOs and MPs and APIs"},
		{"nationality", "an Italian recipe and American football"},
	})
}

func TestDetectRepeatedName(t *testing.T) {
	text := strings.Repeat("Cassy smiled. Then Cassy wrote. ", 3)
	if got := Detect(text); len(got) != 0 {
		t.Errorf("a name repeated %d times: %v, want none", strings.Count(text, "Cassy"), show(text, got))
	}
	text = "Then Cassy wrote."
	if got := Detect(text); len(got) != 1 {
		t.Errorf("a name once: %v, want it", show(text, got))
	}
}

func TestDetectPrecise(t *testing.T) {
	checkDetect(t, Detector{Precise: true}, []struct{ name, in string }{
		{"full name", "The report was written by {{person:Tanya Wasilew}} last week."},
		{"company", "I worked at {{organization:Napco National Company}} for years"},
		{"weaker evidence", "She moved from Dammam to Riyadh last year"},
		{"no links", "see https://example.com/docs and {{email:jane@example.com}}"},
	})
	// The default reports what Precise leaves out.
	text := "She moved from Dammam to Riyadh last year"
	if got := Detect(text); len(got) != 2 {
		t.Errorf("Detect(%q) = %v, want two places", text, show(text, got))
	}
}

func TestDetectKinds(t *testing.T) {
	text := "Mail jane@example.com on 12/21/1997 about $1,200.00 for Tanya Wasilew."
	got := Detector{Kinds: []Kind{Date, Money, Email}}.Detect(text)
	want := []string{`email:"jane@example.com"`, `date:"12/21/1997"`, `money:"$1,200.00"`}
	if diff := cmp.Diff(want, show(text, got)); diff != "" {
		t.Errorf("Kinds date, money, email (-want +got):\n%s", diff)
	}
	if got := Detect(text); slices.ContainsFunc(got, func(s Span) bool { return s.Kind == Date || s.Kind == Money }) {
		t.Errorf("default kinds found dates or amounts: %v", show(text, got))
	}
}

// TestDetectInvariants checks, on assorted text, that spans are in
// bounds, sorted and disjoint.
func TestDetectInvariants(t *testing.T) {
	for _, text := range []string{"", "a", "İstanbul İİİ", "\xff\xfe bad utf8 John Smith", "告诉Tim，附件是", benchPrompt} {
		checkInvariants(t, text, Detect(text))
	}
}

func checkInvariants(t *testing.T, text string, spans []Span) {
	t.Helper()
	end := 0
	for _, s := range spans {
		if s.Start < end || s.End <= s.Start || s.End > len(text) {
			t.Fatalf("span %+v after end %d in a text of %d bytes", s, end, len(text))
		}
		end = s.End
	}
}

// TestDetectConcurrent runs Detect from several goroutines (with -race,
// this checks that the detector shares no mutable state).
func TestDetectConcurrent(t *testing.T) {
	want := Detect(benchPrompt)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				if got := Detect(benchPrompt); !slices.Equal(got, want) {
					t.Error("concurrent Detect differs")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestGazetteer(t *testing.T) {
	lx := loadLexicon()
	for _, tc := range []struct {
		word string
		want wclass
	}{
		{"Alex", wName}, {"Melissa", wName}, {"Dammam", wPlace}, {"Texas", wPlace},
		{"Compliance", wCommon}, {"Table", wCommon}, {"Mark", wAmbiguous}, {"Microsoft", wKnown},
		{"Aljoumaih", wUnknown}, {"Monday", wCommon}, {"Italian", wCommon}, {"Nigerian", wCommon},
	} {
		tok := tokenize(tc.word)[0]
		if got := lx.classify(&tok); got != tc.want {
			t.Errorf("classify(%q) = %d, want %d", tc.word, got, tc.want)
		}
	}
	if !IsEnglishWord("chess") || IsEnglishWord("napco") {
		t.Errorf("IsEnglishWord: chess %v, napco %v", IsEnglishWord("chess"), IsEnglishWord("napco"))
	}
}

// benchPrompt is a made-up prompt of about 2 KB: a résumé request with
// the usual personal details.
const benchPrompt = `Create a professional resume for a job application. My name is Tanya Wasilew and I live in Dammam, Saudi Arabia; phone +966 50 123 4567, e-mail tanya.wasilew@example.com, LinkedIn https://www.linkedin.com/in/tanya-example. I am working at Napco National Company as Senior Compliance Officer since Jun 2022. Before that I worked at Aljoumaih Automotive Company as Customer Service Coordinator from Jun 2015-Dec 2016.

Education: 2022 Saudi Electronic University, MBA, GPA: 3.69 of 4; 2015 Arab Open University, Bachelor of Arts, GPA: 2.47 of 4. Certifications: IELTS 5.5, ISO 37301:2021 lead implementer, 8 hours of volunteering with the Red Crescent.

Please list my achievements and write a cover letter to Mr. Frazier, the hiring manager, mentioning my salary expectation of $1,200.00 per week and my availability from 2023-04-01. Keep the tone formal but warm, and do not invent degrees I do not have.

Some context for the achievements: in 2021 I led the migration of our vendor files to a new compliance system, cutting the review time from ten days to three. I trained forty colleagues in Riyadh and Jeddah on the new anti-bribery policy, and I wrote the quarterly reports that went to the board. My manager, Khalid Al-Harbi, said my reports were the clearest the department had seen. Earlier, as an account payable controller, I reconciled about 1,500 invoices a month and reduced late payments by a third.

My references are Dr. Ruby Allen (ruby.allen@example.org, +44 20 7946 0958) and Samir Haddad, who supervised my MBA project on supplier risk at the university. You can mention that I am willing to relocate to Dubai or Abu Dhabi, and that my notice period is one month. Please format the resume in two columns, with the contact details at the top and the certifications in a box on the right.

One more thing: my old employer may still list me under my maiden name, Tanya Kowalczyk, so please add a short note about it in the cover letter. Thank you!
`

func BenchmarkDetect(b *testing.B) {
	Detect("warm up the gazetteer")
	b.SetBytes(int64(len(benchPrompt)))
	for b.Loop() {
		Detect(benchPrompt)
	}
}

func ExampleDetect() {
	text := "Hi, I'm Jane Doe (jane.doe@example.com, +1 415 555 2671) and I live in Austin."
	for _, s := range Detect(text) {
		fmt.Printf("%s %q\n", s.Kind, text[s.Start:s.End])
	}
	// Output:
	// person "Jane Doe"
	// email "jane.doe@example.com"
	// phone "+1 415 555 2671"
	// place "Austin"
}

// A web address that names someone is a URL; any other is a Link, which
// a Detector reports only when asked.
func ExampleDetector() {
	text := "Profile: https://www.linkedin.com/in/jane-doe-1234, docs at https://go.dev/doc"
	for _, s := range (Detector{Kinds: []Kind{URL, Link}}).Detect(text) {
		fmt.Printf("%s %q\n", s.Kind, text[s.Start:s.End])
	}
	fmt.Println(len(Detect(text)))
	// Output:
	// url "https://www.linkedin.com/in/jane-doe-1234"
	// link "https://go.dev/doc"
	// 1
}
