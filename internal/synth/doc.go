// Package synth builds a context-aware dataset in the paper's format with
// a cloud model, in four steps: group portraits, user profiles, writing
// tasks and the users' own texts for those tasks.
//
// Every step asks for JSON and passes its JSON schema as a json_schema
// response_format, so a server that enforces it by grammar (cogen cloud,
// vLLM) can only answer with the right shape. Every answer is still
// validated against the step's Go type and its limits; an invalid answer
// is asked again with a new seed, and after the last retry the job is
// recorded as failed with its reason. Nothing is guessed or filled in.
//
// Jobs live in a SQLite [Store] keyed by a deterministic id. A result is
// committed before any job that depends on it starts, and every attempt is
// committed as it ends, so a run killed at any moment resumes from the
// same store without repeating a completed call (save the one whose
// answer arrived but was not yet committed) and without losing or
// duplicating a record.
//
// The data is synthetic from the start: no user's private context is sent
// anywhere. Logs and errors still carry only job ids, steps, fields and
// reasons, never generated text.
package synth
