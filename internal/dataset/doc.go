// Package dataset reads, checks, splits and summarizes the CoGenesis
// paper's datasets, and builds the paper's LaMP-derived sets from raw LaMP
// files.
//
// # Formats
//
// Three kinds of file share one outer shape, a JSON array of records with a
// "tid" and a two-turn "conversations" list (user, then assistant):
//
//   - [KindContext]: the synthesized context-aware instructions
//     (context_dev.json). The user turn is the task, the assistant turn the
//     reference; each record also carries the user's writing history
//     ("profile"), a "Key: value" profile block ("additional_profile") and the
//     user's other tasks ("additional_tasks"). The tid is group_user_task.
//   - [KindPaper] and [KindEmail]: LaMP's citation-network abstracts and
//     Avocado emails as the paper processed them (paper_dev.json). The user
//     turn is the complete prompt: [SystemPrompt], the history section and
//     the task line (see [Prompt]). A paired "_wo" file (paper_dev_wo.json)
//     holds, at the same index, the prompt without context: the task line
//     alone.
//
// # Reading and checking
//
// [Load] and [LoadWith] read a whole file into a [File] of typed [Record]s
// and fail with a [*ProblemError] listing every defect, or, with
// [Options.SkipBad], leave the bad records out and list them in
// [File.Skipped]; [Validate] returns the same [Problem]s without failing;
// [Decoder] streams records one at a time. A problem names the file, the
// record index, the tid and the field, never the record's text: the
// records hold private context.
//
// Each record is decoded and checked by [privacy.DecodeRecord], the one
// decoder of the paper's records, which the loaders of generate, eval,
// fusion and sft and the vault's import use too: a record has the same
// verdict and the same private facts on every path. This package adds
// the conventions of a dataset file as a whole: a context-aware tid is
// group_user_task, and no tid comes twice. A profile value may go on over
// several lines; a profile key the format does not know is kept as a
// private fact and reported as a warning ([File.Warnings]), by its name.
//
// # Splits and statistics
//
// A user is one tid ([Record.User], [privacy.UserID]): the vault's import
// makes one user of each, and `cogen data stats` counts them. The
// "group_user" prefix of a context-aware tid names no user.
//
// [File.Split] divides a file by user, deterministically from a seed (the
// paper uses 9:1 train/validation and reuses the dev set as the test set).
// [File.Stats] computes the figures of the paper's Table 5, which
// [RenderTable] and [RenderMarkdown] lay out.
//
// # LaMP
//
// [ProcessLaMP] turns LaMP's raw questions and outputs files (LaMP-5
// citation network, LaMP-6 Avocado emails) into the paper's processed form
// (Appendix A.2): the target's title or subject becomes the task, the
// author's own text the reference, and the profile items closest to the
// title by [BM25] the history, with the paper's length filters.
//
// Nothing in this package is safe for concurrent mutation; a [File] may be
// read from several goroutines once loaded.
package dataset
