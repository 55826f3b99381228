// Package privacy is the trust boundary of cogenesis: it holds the user's
// private context, decides what text may leave the device, and checks every
// byte that does.
//
// # Values
//
// [Private] wraps text that must never leave the device: the profile,
// writing history, private facts, activity logs and the personal section of
// a task. It has no String method and no exported conversion to string.
// Printing it with fmt (any verb), logging it with log/slog (any handler)
// or marshaling it shows only its length and a hash prefix, for example
// private(len=42 sha=1a2b3c4d). The one way to read the text is
// [Private.UnsafeText], kept for the on-device model path and easy to grep.
//
// [Public] wraps text that may leave the device. Only this package can make
// one: from a [Guard] check that passed ([Guard.Public], [Guard.Declassify]),
// from redaction, or from a string constant written in the program source
// ([PublicConst]). Cloud clients accept only Public.
//
// [Vault] is one user's private context, loaded from a record of the
// paper's context_dev.json ([LoadContextFile], [ParseContextRecord]) or from
// a user file in TOML or JSON ([LoadVault]). A [Task] splits a writing task
// into its general section (a candidate for the cloud, still unchecked) and
// its personal section (never sent).
//
// # Guard
//
// A [Guard] is built from a Vault and knows exactly what is private (see
// DESIGN.md §7). It finds three kinds of leaks:
//
//   - entities: the user's name and its parts, location and its parts,
//     employer, e-mail addresses, phone numbers and other identifiers;
//   - facts: shingles of three consecutive content words of every private
//     fact, activity-log item and history text;
//   - generic PII: e-mail, phone, payment card (Luhn), IBAN (mod 97), US
//     SSN and labelled national identifiers.
//
// Entities and facts are matched with an Aho-Corasick automaton over
// normalized words (package [github.com/cogenesis/cogenesis/privacy/ahocorasick]),
// and PII with linear-time regular expressions, so a check is linear in the
// length of the text. Policies: [Block] fails closed with a [*LeakError],
// [Redact] replaces each finding with a placeholder such as [NAME] or
// [PRIVATE], and [StopCloud] tells the logit loop to stop consulting the
// cloud. [Guard.CheckEgress] is the hook for the egress choke point.
//
// # Guarantees
//
// Nothing in this package puts private text into an error, a log record, a
// panic or a formatted value. Errors name files, record indices, fields,
// lines, rules and byte offsets only.
package privacy
