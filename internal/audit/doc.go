// Package audit keeps the egress audit log: one record for every request
// that leaves the device, in an append-only, hash-chained JSON Lines file
// (DESIGN §7).
//
// # Records
//
// A [Record] holds the time, the strategy that caused the request, the
// destination host, method and path (never the query, which may hold
// credentials), the sha256 and length of the body, the guard's verdict and
// rules, and the body itself, so that the person can read exactly what left
// the device. Request bodies are public by construction: only text the
// privacy boundary let through is ever sent. A blocked request is recorded
// without its body. A line is at most [MaxLine] bytes; [Log.Append] refuses
// a larger record, so the request is not sent.
//
// # Chain
//
// Each line is the canonical JSON encoding of its record. A record's Hash is
// the sha256 of its canonical encoding without the hash field, and its Prev
// is the sha256 of the previous line (64 zeros for the first). [Verify]
// therefore detects an edited, removed, inserted or reordered record and
// names the first broken line in a [*ChainError]. From the file alone it
// cannot detect records removed from the end: that leaves a valid, shorter
// chain.
//
// # Head
//
// The head file PATH.head, beside the log, anchors the end of the chain: it
// holds the seq and Hash of the last record, rewritten in place (one
// fixed-size write and an fdatasync) after each record is on disk. It is
// never ahead of the log; after a crash between the two writes it is one
// record behind, which [Open] accepts and corrects. [VerifyFile] and
// [Open] compare the log with its head, so they detect:
//
//   - records removed from the end, or the whole log emptied or deleted
//     while its head remained ([*HeadError]);
//   - a log replaced by another whose record at the head's seq differs;
//   - a missing head file beside a non-empty log ([ErrNoHead]), which
//     means tail deletion cannot be checked.
//
// They cannot detect a log and head deleted or truncated together (an empty
// log without a head reads as a log that never recorded anything), an old
// copy of both restored together, or anyone with write access who rewrites
// log and head consistently: every hash is computed from the file's own
// contents, with no secret. The head is evidence against accidents
// (truncation, a restored backup, a crash, a full disk) and careless
// edits, not against a local attacker with write access; copy the head's
// seq and hash elsewhere (the output of "cogen audit verify") to check
// against that.
//
// # Writers and repair
//
// [Open] takes an exclusive lock on PATH.lock (flock, on Unix), holding the
// writer's pid, until [Log.Close]: a second writer, in this process or
// another, fails at once with an [*InUseError] naming that pid. The kernel
// releases the lock of a writer that crashed. Readers ([Read], [Verify],
// [VerifyFile]) take no lock. [Open] refuses a log whose last line is torn
// (cut short by a crash or a full disk); [Repair] cuts such a line, and
// only such a line, and appends a record saying it did.
//
// # Choke point
//
// [Transport] is the [net/http.RoundTripper] every cloud request goes
// through: it runs the guard, records the request, and only then sends it.
package audit
