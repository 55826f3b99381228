// Package guardmodel is the guard's optional second opinion: it asks the
// local model which spans of a candidate request reveal anything from the
// user's private context or generic personal data (DESIGN.md §7,
// `--guard-model local`).
//
// A [Checker] holds one user's private context (from a [privacy.Vault]) and
// the local model. [Checker.Check] gives the model a fixed prompt
// ([SystemPrompt], [UserPrompt]) with that context and the candidate
// request, and constrains its answer with a grammar made from a JSON
// schema ([Schema]), so that any model, even one with random weights,
// answers with JSON of that shape. Each span the model names is found in
// the request (every occurrence, case folded) and becomes a
// [privacy.Finding] with rule [RuleContext] or [RulePII]; a span that is
// not in the request is dropped and counted. [Merge] adds these findings
// to the rule-based guard's: it never removes or shrinks one.
//
// # What it can and cannot promise
//
// The model check only adds findings. Its recall and precision are those
// of the model: a small model misses paraphrase as the rules do, and a
// model that names every word makes redaction remove everything. What is
// measured here is its cost ([Stats]: prompt, evaluated and generated
// tokens, and time), not its quality.
//
// # Privacy
//
// Everything runs on the device: the private context goes only to the
// local model. Errors and log records name token counts, byte offsets and
// rules, never the text of the context, the request or the answer.
package guardmodel
