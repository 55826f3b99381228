package privacy

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// lookAlikes maps each ASCII letter to the letters of other scripts that
// fold to it.
var lookAlikes = func() map[rune][]rune {
	m := map[rune][]rune{}
	for r, c := range confusable {
		if c >= 'a' && c <= 'z' {
			m[c] = append(m[c], r)
		}
	}
	for _, rs := range m {
		slices.Sort(rs)
	}
	return m
}()

var formatChars = []rune{'\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad'}

// disguise applies random edits that a fold must undo: look-alike letters
// of other scripts, format characters and soft hyphens inside words,
// fullwidth letters, combining accents, case, and punctuation and line
// breaks between words.
func disguise(rng *rand.Rand, s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r == ' ' && rng.IntN(3) == 0:
			b.WriteString([]string{" , ", "\n", "\r\n", " - ", "; ", "... ", " / "}[rng.IntN(7)])
			continue
		case unicode.IsLetter(r) && r < 0x80:
			lower := unicode.ToLower(r)
			switch rng.IntN(7) {
			case 0:
				if alts := lookAlikes[lower]; len(alts) > 0 {
					r = alts[rng.IntN(len(alts))]
				}
			case 1:
				if unicode.IsUpper(r) {
					r = r - 'A' + 'Ａ'
				} else {
					r = r - 'a' + 'ａ'
				}
			case 2:
				if unicode.IsUpper(r) {
					r = lower
				} else {
					r = unicode.ToUpper(r)
				}
			case 3:
				b.WriteRune(r)
				r = '\u0301' // a combining acute accent
			}
		}
		b.WriteRune(r)
		if i+1 < len(rs) && unicode.IsLetter(r) && unicode.IsLetter(rs[i+1]) && rng.IntN(6) == 0 {
			b.WriteRune(formatChars[rng.IntN(len(formatChars))])
		}
	}
	return b.String()
}

// disguiseProbes are the private facts, activity items, name and city of
// a user: what the guard must find however it is written.
func disguiseProbes(v *Vault) []string {
	var out []string
	for _, f := range v.PrivateFacts {
		out = append(out, f.UnsafeText())
	}
	for _, f := range v.ActivityLog {
		out = append(out, f.UnsafeText())
	}
	out = append(out, v.Name.UnsafeText())
	if city, _, _ := strings.Cut(v.Location.UnsafeText(), ","); city != "" {
		out = append(out, city)
	}
	return out
}

// checkDisguised reports whether the guard of v finds the disguised probe
// inside a carrier sentence, with a finding that overlaps it.
func checkDisguised(g *Guard, carrier, probe string) bool {
	text := carrier + " and " + probe + ". Thanks."
	start := len(carrier) + len(" and ")
	for _, f := range g.Check(text) {
		if f.Start < start+len(probe) && f.End > start {
			return true
		}
	}
	return false
}

// TestGuardFindsDisguisedFacts disguises every private fact, activity
// item, name and city of the 150 dev users three times and requires the
// guard of each user to find every one.
func TestGuardFindsDisguisedFacts(t *testing.T) {
	recs := devRecords(t)
	rng := rand.New(rand.NewPCG(17, 29))
	found, total := 0, 0
	for i, r := range recs {
		g := NewGuard(r.Vault)
		carrier := recs[(i+1)%len(recs)].Task.General.UnsafeText()
		for j, p := range disguiseProbes(r.Vault) {
			for round := range 3 {
				total++
				if checkDisguised(g, carrier, disguise(rng, p)) {
					found++
				} else {
					t.Errorf("record %d: probe %d, round %d: disguised probe not found", i, j, round)
				}
			}
		}
	}
	t.Logf("found %d of %d disguised facts, names and cities", found, total)
}

// FuzzGuardDisguise is the same property under the fuzzer: go test
// ./privacy -fuzz FuzzGuardDisguise.
func FuzzGuardDisguise(f *testing.F) {
	recs := devRecords(f)
	guards := make([]*Guard, len(recs))
	for i, r := range recs {
		guards[i] = NewGuard(r.Vault)
	}
	f.Add(uint64(1), uint8(0), uint8(0))
	f.Add(uint64(2), uint8(117), uint8(3))
	f.Fuzz(func(t *testing.T, seed uint64, rec, probe uint8) {
		i := int(rec) % len(recs)
		ps := disguiseProbes(recs[i].Vault)
		p := ps[int(probe)%len(ps)]
		d := disguise(rand.New(rand.NewPCG(seed, 1)), p)
		if !checkDisguised(guards[i], recs[(i+1)%len(recs)].Task.General.UnsafeText(), d) {
			t.Errorf("record %d: probe %d: disguised probe not found", i, int(probe)%len(ps))
		}
	})
}
