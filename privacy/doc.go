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
// paper's context_dev.json ([LoadContext], [DecodeRecord], [LoadContextFile])
// or from a user file in TOML or JSON ([LoadVault]). One decoder reads the
// paper's records on every path: a profile value goes on over several
// lines ([ProfileFields]), a key the format does not know is kept as a
// private fact and reported by name, and a bad record fails the load with
// every bad record named unless [LoadOptions].SkipBad. A [Task] splits a
// writing task into its general section (a candidate for the cloud, still
// unchecked) and its personal section (never sent).
//
// # Guard
//
// A [Guard] is built from a Vault and knows exactly what is private (see
// DESIGN.md §7). It compares words folded on both sides (compatibility
// forms, format characters, look-alike letters of other scripts after
// UTS #39, diacritics, case) and finds three kinds of leaks:
//
//   - entities: the user's name and its parts, location and its parts,
//     e-mail addresses, phone numbers and other identifiers, and the proper
//     names and numbers inside private facts (facts.go);
//   - facts, as meaning rather than word order: the Snowball stems of a
//     fact's content words, weighed by their rarity in public writing
//     (rarity.go), matched unordered within a window when the window holds
//     all of them, most of their weight, a few rare ones, or two after
//     "your"/"my" (facts.go); a match is redacted as little as makes it no
//     match;
//   - generic PII (package [github.com/cogenesis/cogenesis/privacy/pii]):
//     e-mail, phone (libphonenumber), card (Luhn), IBAN (mod 97), national
//     IDs, URLs, secrets, and names of people, organisations and places
//     from gazetteers and cues. Names the vault does not know count for the
//     text a user wrote ([Guard.Public]), not for what the models write
//     ([Guard.PublicTokens], [Guard.CheckEgress]).
//
// Policies: [Block] fails closed with a [*LeakError], [Redact] replaces
// each finding with a placeholder such as [NAME] or [PRIVATE], and
// [StopCloud] tells the logit loop to stop consulting the cloud.
// [Guard.CheckEgress] is the hook for the egress choke point.
// [Guard.PublicWith] adds the findings of an on-device model (package
// [github.com/cogenesis/cogenesis/privacy/guardmodel]), which can only add.
//
// # Guarantees
//
// Nothing in this package puts private text into an error, a log record, a
// panic or a formatted value. Errors name files, record indices, fields,
// lines, rules and byte offsets only.
package privacy
