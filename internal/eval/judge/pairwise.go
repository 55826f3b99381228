package judge

import (
	"errors"
	"fmt"
	"strings"
)

// The paper reports win/tie/lose against the fine-tuned SLM (Table 3) from
// human annotators, "mirroring" Chatbot Arena, and gives no pairwise judge
// prompt. [PairPrompt] is this package's own pairwise prompt for an LLM
// judge: the evaluation criteria of the Table 9 Ovl.(w) prompt, both answers
// side by side, and a verdict in the MT-Bench pairwise format ("[[A]]",
// "[[B]]", "[[C]]" for a tie). Run it in both presentation orders and
// combine the two verdicts with [CombineOrders]; that cancels the judge's
// position bias.

// pairInstruction is the pairwise instruction: the Table 9 Ovl.(w)
// criteria, a two-answer comparison and a three-way verdict.
const pairInstruction = `Please act as an impartial evaluator and compare the quality of the responses provided by two AI assistants to the user question shown below. Your assessment should focus on how well each response aligns with the user's personalized profile and writing history. Evaluate factors such as the responses' adherence to the user's personal style, consistency with their profile, helpfulness, relevance, accuracy, depth, creativity, and level of detail. Do not let the order in which the responses are presented, their length, or the names of the assistants influence your evaluation. Begin your evaluation by comparing the two responses and providing a short explanation. Be as objective as possible. After providing your explanation, output your final verdict by strictly following this format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.`

const pairTemplate = "[Instruction]\n{instruction}\n\n" +
	"[User Profile and Writing History]\n{profile_info}\n{writing_history}\n\n" +
	"[Question]\n{question}\n\n" +
	"[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n" +
	"[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"

// PairInput holds the values of the pairwise prompt.
type PairInput struct {
	Question, Profile, WritingHistory string
	// AnswerA and AnswerB are the two responses, in presentation order.
	AnswerA, AnswerB string
}

// PairPrompt returns the system and user messages of the pairwise prompt.
// Placeholders are filled in one pass, as in [Prompt].
func PairPrompt(in PairInput) (system, user string) {
	r := strings.NewReplacer(
		"{instruction}", pairInstruction,
		"{profile_info}", in.Profile,
		"{writing_history}", in.WritingHistory,
		"{question}", in.Question,
		"{answer_a}", in.AnswerA,
		"{answer_b}", in.AnswerB,
	)
	return SystemPrompt, r.Replace(pairTemplate)
}

// Verdict is a pairwise judge's decision on one presentation order.
type Verdict int

// The verdicts of [ParseVerdict].
const (
	// VerdictA means assistant A (the first answer) is better.
	VerdictA Verdict = iota + 1
	// VerdictB means assistant B (the second answer) is better.
	VerdictB
	// VerdictTie means neither is better ("[[C]]").
	VerdictTie
)

// String returns "A", "B" or "tie".
func (v Verdict) String() string {
	switch v {
	case VerdictA:
		return "A"
	case VerdictB:
		return "B"
	case VerdictTie:
		return "tie"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

var (
	// ErrNoVerdict reports a pairwise answer with no counted verdict.
	ErrNoVerdict = errors.New("no [[A]], [[B]] or [[C]] verdict in judge answer")
	// ErrConflictingVerdicts reports counted verdicts that differ.
	ErrConflictingVerdicts = errors.New("conflicting verdicts")
)

// ParseVerdict returns the verdict of a pairwise judge answer: "[[A]]",
// "[[B]]" or "[[C]]" (tie), optionally with spaces inside the brackets.
// As in [ParseRating], verdicts inside quoted text or code are not counted
// unless the quoted span ends the answer, equal verdicts agree and
// different ones are an error wrapping [ErrConflictingVerdicts]; none is an
// error wrapping [ErrNoVerdict]. The error text never holds answer text.
func ParseVerdict(answer string) (Verdict, error) {
	regions := quotedRegions(answer)
	var (
		counted []Verdict
		ignored int
	)
	for i := 0; i+1 < len(answer); {
		j := strings.Index(answer[i:], "[[")
		if j < 0 {
			break
		}
		start := i + j
		v, end, ok := scanVerdict(answer, start)
		if !ok {
			i = start + 1
			continue
		}
		i = end
		if r, in := regionAt(regions, start); in && !endsAnswer(answer, r.end) {
			ignored++
			continue
		}
		counted = append(counted, v)
	}
	if len(counted) == 0 {
		return 0, fmt.Errorf("parse verdict: %d quoted verdicts ignored: %w", ignored, ErrNoVerdict)
	}
	for _, v := range counted[1:] {
		if v != counted[0] {
			return 0, fmt.Errorf("parse verdict: %v and %v: %w", counted[0], v, ErrConflictingVerdicts)
		}
	}
	return counted[0], nil
}

// scanVerdict reads "[[X]]" at s[start:] with X one of A, B, C.
func scanVerdict(s string, start int) (Verdict, int, bool) {
	i := skipBlanks(s, start+2)
	if i >= len(s) {
		return 0, 0, false
	}
	var v Verdict
	switch s[i] {
	case 'A':
		v = VerdictA
	case 'B':
		v = VerdictB
	case 'C':
		v = VerdictTie
	default:
		return 0, 0, false
	}
	i = skipBlanks(s, i+1)
	if !strings.HasPrefix(s[i:], "]]") {
		return 0, 0, false
	}
	return v, i + 2, true
}

// CombineOrders combines the verdicts of the two presentation orders into
// the outcome for the system against the baseline: first is the verdict
// with the system as assistant A, swapped the one with the system as
// assistant B. As in MT-Bench's pairwise evaluation with position swap, the
// system wins only when both orders prefer it and loses only when both
// prefer the baseline; every other combination, including a win and a tie,
// is a [Tie].
func CombineOrders(first, swapped Verdict) Outcome {
	switch {
	case first == VerdictA && swapped == VerdictB:
		return Win
	case first == VerdictB && swapped == VerdictA:
		return Lose
	}
	return Tie
}
