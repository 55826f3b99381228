// Package judge holds the LLM-as-judge side of the CoGenesis evaluation
// (paper §4.3, appendix C and Table 9): the three judge prompts, the parser
// for the judge's "[[rating]]" verdict, and the win/tie/lose comparison of
// two ratings.
//
// # Prompts
//
// [Prompt] renders one of the paper's three judge prompts, named after the
// paper's table columns: [Overall] is Ovl.(w), overall quality judged with
// the user's profile; [Personalization] is Per., consistency with the
// profile; [OverallNoProfile] is Ovl.(w/o), overall quality without the
// profile. The instruction texts are copied word for word from Table 9.
//
// The judge prompts for [Overall] and [Personalization] contain the user's
// profile and writing history by design: the paper's judge sees the full
// private context. They are for evaluation on synthetic or consented data,
// sent to a judge the evaluator trusts; nothing in this package sends them
// anywhere.
//
// # Ratings
//
// [ParseRating] extracts the 1-10 rating from a judge answer; see its
// documentation for the rules on several ratings and on ratings inside
// quotes or code. [Compare] turns two ratings into a [Outcome].
//
// Everything here is pure and safe for concurrent use.
package judge

import (
	"fmt"
	"strings"
)

// Kind selects one of the paper's three judge prompts.
type Kind int

// The three judge prompts of the paper's Table 9. The zero Kind is invalid.
const (
	// Overall is the paper's Ovl.(w): "evaluation instruction for overall
	// quality of generated content", judged with the user's profile and
	// writing history.
	Overall Kind = iota + 1
	// Personalization is the paper's Per.: "evaluation instruction for
	// consistency between generated content and personal profile".
	Personalization
	// OverallNoProfile is the paper's Ovl.(w/o): "evaluation instruction
	// for overall quality of generated content without profile".
	OverallNoProfile
)

// Kinds lists every valid Kind in the order of the paper's Table 1 columns.
func Kinds() []Kind { return []Kind{Overall, Personalization, OverallNoProfile} }

// String returns the paper's column label for k: "Ovl.(w)", "Per." or
// "Ovl.(w/o)".
func (k Kind) String() string {
	switch k {
	case Overall:
		return "Ovl.(w)"
	case Personalization:
		return "Per."
	case OverallNoProfile:
		return "Ovl.(w/o)"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Input holds the values for the prompt placeholders.
type Input struct {
	// Question fills {question}: the user's instruction.
	Question string
	// Answer fills {answer}: the response being judged.
	Answer string
	// Profile fills {profile_info}: the user's profile. Unused by
	// [OverallNoProfile].
	Profile string
	// WritingHistory fills {writing_history}: the user's earlier texts.
	// Unused by [OverallNoProfile].
	WritingHistory string
}

// SystemPrompt is the judge's system message. Table 9 shows only the user
// message; the paper's judge setup follows MT-Bench (its [OverallNoProfile]
// instruction is MT-Bench's "single-v1" prompt word for word), whose
// single-answer grading uses this system prompt.
const SystemPrompt = "You are a helpful assistant."

// The instruction paragraphs of Table 9, word for word.
const (
	overallInstruction = `Please act as an impartial evaluator and assess the quality of the AI assistant's response to the user question shown below. Your assessment should focus on how well the response aligns with the user's personalized profile and writing history. Evaluate factors such as the response's adherence to the user's personal style, consistency with their profile, helpfulness, relevance, accuracy, depth, creativity, and level of detail. Begin your evaluation by providing a short explanation. Be as objective as possible. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".`

	overallNoProfileInstruction = `Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your evaluation by providing a short explanation. Be as objective as possible. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".`

	personalizationInstruction = `Please act as an impartial judge and evaluate the AI assistant's response based on its alignment with the user's personal profile and writing history. Focus your assessment on the personalization aspects of the response, including its adherence to the user's unique style, preferences, and consistency with their profile. Consider how well the response addresses the user's individual needs and interests. Begin your evaluation by providing a short explanation. Be as objective as possible. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".`
)

// The user-message templates. The words and placeholders are those of
// Table 9; the paper's text is extracted from a PDF, which flattens line
// breaks into spaces, so the line layout is MT-Bench's single-v1 layout
// ("[Instruction]\n...\n\n[Question]\n{question}\n\n[The Start of
// Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"), with the
// profile section laid out the same way.
const (
	withProfileTemplate = "[Instruction]\n{instruction}\n\n" +
		"[User Profile and Writing History]\n{profile_info}\n{writing_history}\n\n" +
		"[Question]\n{question}\n\n" +
		"[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"

	withoutProfileTemplate = "[Instruction]\n{instruction}\n\n" +
		"[Question]\n{question}\n\n" +
		"[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)

// Prompt returns the system and user messages of the judge prompt kind for
// in. Placeholders are filled in one pass over the template, so a
// placeholder-like text such as "{answer}" inside the question or the answer
// is left as it is. Prompt panics if kind is not one of the declared Kind
// constants: that is a programming error, not an input error.
func Prompt(kind Kind, in Input) (system, user string) {
	var instruction, tmpl string
	switch kind {
	case Overall:
		instruction, tmpl = overallInstruction, withProfileTemplate
	case Personalization:
		instruction, tmpl = personalizationInstruction, withProfileTemplate
	case OverallNoProfile:
		instruction, tmpl = overallNoProfileInstruction, withoutProfileTemplate
	default:
		panic(fmt.Sprintf("judge: invalid %v", kind))
	}
	r := strings.NewReplacer(
		"{instruction}", instruction,
		"{profile_info}", in.Profile,
		"{writing_history}", in.WritingHistory,
		"{question}", in.Question,
		"{answer}", in.Answer,
	)
	return SystemPrompt, r.Replace(tmpl)
}
