package dataset

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Stats are a file's figures in the layout of the paper's Table 5. Lengths
// are means per record, in words (whitespace-separated) and characters
// (Unicode code points); Table 5 reports words.
type Stats struct {
	// Name labels the file (its base name).
	Name string
	Kind Kind
	// WithoutContext is true for a "_wo" file (no history).
	WithoutContext bool
	// Users counts distinct users (context-aware): one per tid, as
	// [Record.User] and the vault's import define a user; 0 for
	// LaMP-derived files, whose records name no user (Table 5's N/A).
	Users int
	// Profiles counts distinct profiles, the profile block and the
	// writing history together, and TIDPrefixes the distinct "group_user"
	// prefixes of the tids ([Record.TIDPrefix]), which name no user
	// (context-aware only).
	Profiles, TIDPrefixes int
	Records               int
	// HistoryWords and HistoryChars measure the writing history, titles
	// and texts of its items: Table 5's "Avg Profile Length".
	HistoryWords, HistoryChars float64
	// ProfileWords and ProfileChars measure the additional_profile block
	// (context-aware only).
	ProfileWords, ProfileChars float64
	// OutputWords and OutputChars measure the reference: Table 5's
	// "Output Length".
	OutputWords, OutputChars float64
	// Train and Validation count records on each side of [File.Split];
	// TrainUsers and ValidationUsers count users (context-aware).
	Train, Validation           int
	TrainUsers, ValidationUsers int
}

// Stats computes the file's figures, splitting it as o says.
func (f *File) Stats(o SplitOptions) Stats {
	s := Stats{Name: filepath.Base(f.Path), Kind: f.Kind, WithoutContext: f.WithoutContext, Records: len(f.Records)}
	if f.Path == "" {
		s.Name = string(f.Kind)
	}
	users, profiles, prefixes := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var hw, hc, pw, pc, ow, oc int
	for _, r := range f.Records {
		users[r.User()] = true
		profiles[profileKey(r)] = true
		prefixes[r.TIDPrefix()] = true
		for _, it := range r.History() {
			hw += words(it.Title) + words(it.Text)
			hc += chars(it.Title) + chars(it.Text)
		}
		pw += words(r.AdditionalProfile)
		pc += chars(r.AdditionalProfile)
		ow += words(r.Reference())
		oc += chars(r.Reference())
	}
	if n := float64(len(f.Records)); n > 0 {
		s.HistoryWords, s.HistoryChars = float64(hw)/n, float64(hc)/n
		s.ProfileWords, s.ProfileChars = float64(pw)/n, float64(pc)/n
		s.OutputWords, s.OutputChars = float64(ow)/n, float64(oc)/n
	}
	sp := f.Split(o)
	s.Train, s.Validation = len(sp.Train), len(sp.Validation)
	if f.Kind == KindContext {
		s.Users, s.Profiles, s.TIDPrefixes = len(users), len(profiles), len(prefixes)
		s.TrainUsers = countUsers(f, sp.Train)
		s.ValidationUsers = countUsers(f, sp.Validation)
	}
	return s
}

// profileKey identifies a record's profile: its profile block and its
// writing history, each part prefixed by its length.
func profileKey(r Record) string {
	var b strings.Builder
	part := func(s string) { fmt.Fprintf(&b, "%d:%s", len(s), s) }
	part(r.AdditionalProfile)
	for _, it := range r.Profile {
		part(it.Title)
		part(it.Text)
	}
	return b.String()
}

func countUsers(f *File, idx []int) int {
	u := map[string]bool{}
	for _, i := range idx {
		u[f.Records[i].User()] = true
	}
	return len(u)
}

// statRows are the table's rows: a label and a cell for each file.
var statRows = []struct {
	label string
	cell  func(Stats) string
}{
	{"Kind", func(s Stats) string {
		if s.WithoutContext {
			return string(s.Kind) + " (without context)"
		}
		return string(s.Kind)
	}},
	{"Total Users (one per tid)", func(s Stats) string { return usersCell(s.Users, s) }},
	{"Distinct Profiles", func(s Stats) string { return contextOnly(s, strconv.Itoa(s.Profiles)) }},
	{"Distinct tid Prefixes (group_user)", func(s Stats) string { return contextOnly(s, strconv.Itoa(s.TIDPrefixes)) }},
	{"Records", func(s Stats) string { return strconv.Itoa(s.Records) }},
	{"Avg Profile (History) Length, words", func(s Stats) string { return mean(s.HistoryWords) }},
	{"Avg Profile (History) Length, chars", func(s Stats) string { return mean(s.HistoryChars) }},
	{"Avg Additional Profile Length, words", func(s Stats) string { return contextOnly(s, mean(s.ProfileWords)) }},
	{"Avg Additional Profile Length, chars", func(s Stats) string { return contextOnly(s, mean(s.ProfileChars)) }},
	{"Output Length, words", func(s Stats) string { return mean(s.OutputWords) }},
	{"Output Length, chars", func(s Stats) string { return mean(s.OutputChars) }},
	{"Train Samples (split)", func(s Stats) string { return splitCell(s.Train, s.TrainUsers, s) }},
	{"Validation Samples (split)", func(s Stats) string { return splitCell(s.Validation, s.ValidationUsers, s) }},
}

func mean(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func usersCell(n int, s Stats) string {
	if s.Kind != KindContext {
		return "N/A"
	}
	return strconv.Itoa(n)
}

func contextOnly(s Stats, v string) string {
	if s.Kind != KindContext {
		return "N/A"
	}
	return v
}

func splitCell(records, users int, s Stats) string {
	if s.Kind != KindContext {
		return strconv.Itoa(records)
	}
	return fmt.Sprintf("%d (%d users)", records, users)
}

// RenderTable lays the figures out as a plain-text table, one column per
// file, in the row order of the paper's Table 5.
func RenderTable(stats ...Stats) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "Dataset")
	for _, s := range stats {
		fmt.Fprint(tw, "\t", s.Name)
	}
	fmt.Fprintln(tw)
	for _, row := range statRows {
		fmt.Fprint(tw, row.label)
		for _, s := range stats {
			fmt.Fprint(tw, "\t", row.cell(s))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush() // a strings.Builder never fails to write
	return b.String()
}

// RenderMarkdown lays the figures out as a Markdown table, one column per
// file.
func RenderMarkdown(stats ...Stats) string {
	var b strings.Builder
	b.WriteString("| Dataset |")
	for _, s := range stats {
		fmt.Fprintf(&b, " %s |", mdEscape(s.Name))
	}
	b.WriteString("\n|---|")
	for range stats {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, row := range statRows {
		fmt.Fprintf(&b, "| %s |", row.label)
		for _, s := range stats {
			fmt.Fprintf(&b, " %s |", mdEscape(row.cell(s)))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
