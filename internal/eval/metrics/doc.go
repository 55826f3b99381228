// Package metrics computes the word-overlap metrics of the CoGenesis paper's
// Table 3, BLEU and ROUGE-L, with the same definitions as the Hugging Face
// `evaluate` library's "bleu" and "rouge" (rougeL) metrics, which is what the
// paper used.
//
// # BLEU
//
// [BLEU] reproduces evaluate's bleu with its defaults: every text is split by
// [Tokenize13a] (evaluate's copy of the sacrebleu "13a" tokenizer), then
// scored by the tensorflow/nmt compute_bleu algorithm with max_order 4 and no
// smoothing. It is a corpus-level score: clipped n-gram matches and lengths
// are summed over all sentences before the precisions, their geometric mean
// and the brevity penalty are taken. The reference length of a sentence is
// the length of its SHORTEST reference (not the closest one, as sacrebleu
// would use).
//
// # ROUGE-L
//
// [ROUGEL] reproduces google rouge_score's rougeL (use_stemmer false, the
// default tokenizer, see [TokenizeROUGE]) for one prediction, and
// rouge_score's score_multi for several references (the score of the
// reference with the best F). [ROUGELCorpus] returns the per-pair scores,
// which are evaluate's rougeL with use_aggregator=False, and their plain
// mean F-measure. evaluate's default (use_aggregator=True) reports
// instead rouge_score's BootstrapAggregator mid F: the median of the means
// of 1,000 resamples of the per-pair F-measures, drawn with numpy's random
// generator seeded from its global state. That is close to the mean but
// not equal, and not reproducible without the seed.
//
// The tests check both metrics against published values: the examples of
// evaluate's bleu, and rouge_score's test pairs scored by the official
// ROUGE-1.5.5 script.
//
// # Differences from evaluate
//
// Where evaluate raises an exception the functions here return an error or a
// documented value, see each function. Invalid UTF-8 is read as U+FFFD, as a
// Go range loop does. All functions are pure and safe for concurrent use.
package metrics
