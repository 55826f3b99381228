// Package pii finds personal information in free text, such as a user's
// prompt, without knowing anything about the user.
//
// [Detect] returns typed byte spans, sorted and disjoint. It combines
// validated patterns with a finder for the names of people, organisations
// and places:
//
//   - e-mail addresses; payment cards (Luhn check, card grouping); IBANs
//     (mod-97 check); phone numbers validated with libphonenumber's
//     metadata (github.com/nyaruka/phonenumbers), never years, year
//     ranges, dates, amounts, grades or standards such as ISO 37301:2021;
//     US social security numbers; URLs; public IPv4 addresses;
//     credentials (password=..., API-key shapes); labelled and
//     letter-digit identifiers; user names in home paths and @handles.
//   - names, from gazetteers of person names, places and English words
//     (see NOTICE) with capitalisation and context: a title (Mr, Dr), a
//     company, school or street word (Inc, University, Street), a
//     greeting ("Dear X"), a cue ("my name is X", "I live in X"), a full
//     name, a name or word that no dictionary knows where capitals are
//     not explained by a sentence start. Words the English dictionary
//     knows as common words, famous proper nouns ("Microsoft"), days,
//     months, nationalities, acronyms and code identifiers are not names
//     on their own. A lone word that recurs five times or more is taken
//     for the subject of the text (a story's character) and not reported.
//
// Dates and amounts of money are found only when a [Detector] asks for
// them: the PUPA annotators rarely count them as personal.
//
// The package is meant for English. In text that is mostly not English,
// words missing from the English dictionary say nothing, and the name
// finder relies on the gazetteers and cues only.
//
// # Measured on PUPA
//
// [EvalPUPA] measures any detector on the PUPA data set: 664 real prompts
// with annotated PII units (see [Tally] for the definitions). The name
// rules were chosen and sorted into two tiers by their precision on the
// Even half (conversation_hash starting with an even hex digit) only;
// Odd is held out. Figures as of this writing (pupa_test.go checks them):
//
//	                    recall (units)           false findings per prompt
//	                    all    even   odd        all    even   odd
//	Detector{}          63.4%  67.1%  60.2%      0.91   0.71   1.12
//	Detector{Precise}   39.0%  40.7%  37.5%      0.31   0.24   0.38
//	before (guard.go)    1.6%   1.2%   1.9%      0.12   0.11   0.12
//
// 1594 units occur in their prompts (59 more are absent from them, 35
// are Presidio placeholders). The default detector flags 75% of the
// prompts. The target, 60% recall with at most 0.2 false
// findings per prompt, is met for recall only: many false findings are
// names the annotators left out (characters of stories, people in
// articles) or wrote as a longer unit ("Therese" where the unit is
// "therese belivet").
//
// # Privacy
//
// The package never logs or returns text: spans are offsets into the
// caller's string, and errors name records and fields only. Nothing
// leaves the process.
//
// # Data
//
// The gazetteers are embedded files under data/, written by
// build/gazetteer.sh from pinned npm packages (see NOTICE); they are
// parsed once per process, on first use (about a quarter of a second).
// Detect takes about half a millisecond for a 2 KB prompt.
package pii
