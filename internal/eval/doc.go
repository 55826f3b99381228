// Package eval runs the CoGenesis evaluation (paper §4.3, Tables 1 and 3,
// Figs. 6 and 7; DESIGN §8): datasets × strategies × models × seeds.
//
// [Run] generates every output the job store lacks with the collaboration
// strategies, judges every output with the paper's Table 9 prompts through
// any OpenAI-compatible judge (optionally grammar-constrained to end in a
// "[[n]]" rating, with retries and a median over repeats), compares each
// strategy with a baseline pairwise in both presentation orders, computes
// BLEU and ROUGE-L against the references, and writes Table 1 (Markdown,
// CSV, HTML), Table 3, a usage/cost/egress table, the score-vs-samples
// stability plot (PNG) and the per-token weight view (HTML).
//
// # Cache and resume
//
// Every finished job (one generation, or one judge request series) is one
// committed SQLite row in OUT/eval.db, keyed by the SHA-256 of everything
// that determines it: the record's JSON, the strategy and its options, the
// models' file contents (SHA-256), the cloud and judge targets, the seed,
// the sampling and the token limits, and for judging the judged text. A
// rerun makes no model call; a run killed at any point resumes, repeating
// at most the jobs that were in flight.
//
// # Concurrency
//
// Config.Concurrency generations run at once, each with its own seeded
// sampler; the engine decodes them together, one batch per step. Each
// worker takes a record and runs its outputs one after another, so that
// they share the record's evaluated prompt. The concurrency is not in the
// cache keys, because it changes no output. On a model whose logits are
// bit for bit the same whatever else the engine decodes beside them (Q8_0
// and Q4_0 weights, measured), a generation run beside others gives the
// output it gives alone. A model that fails this check before the first
// output (F32 and F16 weights: a probe decodes a prompt in one call and in
// pieces, some of one token) generates one output at a time, on the model
// opened as for concurrency 1; so does a local: cloud that fails it. A
// remote cloud's answers are as reproducible as its server makes them, at
// any concurrency. Generations that wait on a cloud overlap their round
// trips; the engine's batching itself gains little on few CPU cores.
//
// # Privacy
//
// Generation goes through the collaboration strategies and their egress
// choke point: each strategy's cloud requests are checked by the record's
// guard and recorded in OUT/audit/STRATEGY.jsonl, whose verdicts give the
// leak count per strategy. The judge prompts, as in the paper, carry the
// user's profile, writing history and task to the judge: that needs
// judge.allow_private = true, and every judge request is recorded in
// OUT/judge-audit.jsonl (verdict "private" where the guard finds private
// context). Generated texts and judge answers stay in OUT; log lines and
// errors name datasets, records, strategies and seeds, never text.
package eval
